//! Checks a method's JSON arguments against a contract's ABI before anything is signed, so a
//! mistake costs no gas and the error names the field (docs/CONTRACTS.md, "The ABI").
//!
//! Types the SDK defines are checked exactly (`Address`, `Amount`, integers, `bool`,
//! `String`, `Option`, `Vec`, tuples); a contract's own types and `Json` are left to the
//! contract.

use serde_json::Value;

/// The method `name` of `abi`, or an error listing the methods there are.
pub fn method<'a>(abi: &'a Value, name: &str) -> Result<&'a Value, String> {
    let methods = abi["methods"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    methods.iter().find(|m| m["name"] == name).ok_or_else(|| {
        let names: Vec<&str> = methods.iter().filter_map(|m| m["name"].as_str()).collect();
        format!(
            "the contract has no method `{name}` (its methods: {})",
            names.join(", ")
        )
    })
}

/// Checks `args` (an object, or null for none) against the parameters of method `name`.
pub fn check_args(abi: &Value, name: &str, args: &Value) -> Result<(), String> {
    let m = method(abi, name)?;
    let params = m["params"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    let empty = serde_json::Map::new();
    let given = match args {
        Value::Null => &empty,
        Value::Object(o) => o,
        other => {
            return Err(format!(
                "the arguments of `{name}` must be a JSON object of named fields, got {}",
                kind(other)
            ));
        }
    };
    let names: Vec<&str> = params.iter().filter_map(|p| p["name"].as_str()).collect();
    if let Some(unknown) = given.keys().find(|k| !names.contains(&k.as_str())) {
        return Err(format!(
            "`{name}` has no parameter `{unknown}` (its parameters: {})",
            if names.is_empty() {
                "none".to_string()
            } else {
                names.join(", ")
            }
        ));
    }
    for p in params {
        let (Some(field), Some(ty)) = (p["name"].as_str(), p["type"].as_str()) else {
            continue;
        };
        match given.get(field) {
            Some(v) => check_type(ty, v).map_err(|e| format!("argument `{field}`: {e}"))?,
            None if ty.starts_with("Option<") => {}
            None => return Err(format!("missing argument `{field}` ({ty})")),
        }
    }
    Ok(())
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `Name<A,B>` split into `Name` and its top-level arguments.
fn generic(ty: &str) -> (&str, Vec<&str>) {
    let Some(open) = ty.find('<') else {
        return (ty, Vec::new());
    };
    let inner = ty[open + 1..].strip_suffix('>').unwrap_or(&ty[open + 1..]);
    (&ty[..open], split_top(inner))
}

/// Splits `A,B<C,D>,(E,F)` at its top-level commas.
fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    if !s[start..].is_empty() {
        out.push(&s[start..]);
    }
    out
}

fn expected(ty: &str, what: &str, v: &Value) -> Result<(), String> {
    Err(format!("expected {ty} ({what}), got {}", short(v)))
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 40 {
        format!("{}…", &s[..s.floor_char_boundary(40)])
    } else {
        s
    }
}

fn int_range(name: &str) -> Option<(i128, i128)> {
    Some(match name {
        "u8" => (0, u8::MAX.into()),
        "u16" => (0, u16::MAX.into()),
        "u32" => (0, u32::MAX.into()),
        "u64" | "usize" => (0, u64::MAX.into()),
        "i8" => (i8::MIN.into(), i8::MAX.into()),
        "i16" => (i16::MIN.into(), i16::MAX.into()),
        "i32" => (i32::MIN.into(), i32::MAX.into()),
        "i64" | "isize" => (i64::MIN.into(), i64::MAX.into()),
        _ => return None,
    })
}

/// Checks one JSON value against an ABI type name.
pub fn check_type(ty: &str, v: &Value) -> Result<(), String> {
    let ty = ty.trim();
    if let Some(inner) = ty.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
        let parts = split_top(inner);
        if parts.is_empty() {
            return match v {
                Value::Null => Ok(()),
                _ => expected("()", "null", v),
            };
        }
        let Value::Array(items) = v else {
            return expected(ty, &format!("an array of {}", parts.len()), v);
        };
        if items.len() != parts.len() {
            return expected(ty, &format!("an array of {}", parts.len()), v);
        }
        for (i, (t, item)) in parts.iter().zip(items).enumerate() {
            check_type(t, item).map_err(|e| format!("[{i}]: {e}"))?;
        }
        return Ok(());
    }
    let (name, args) = generic(ty);
    if let Some((lo, hi)) = int_range(name) {
        // Unsigned types take what decodes as u64 (not `-0`), signed ones what decodes as i64.
        let n = if lo < 0 {
            v.as_i64().map(i128::from)
        } else {
            v.as_u64().map(i128::from)
        };
        return match n {
            Some(n) if (lo..=hi).contains(&n) => Ok(()),
            _ => expected(ty, &format!("an integer from {lo} to {hi}"), v),
        };
    }
    match (name, args.as_slice()) {
        ("bool", _) => match v {
            Value::Bool(_) => Ok(()),
            _ => expected(ty, "true or false", v),
        },
        ("String" | "str", _) => match v {
            Value::String(_) => Ok(()),
            _ => expected(ty, "a string", v),
        },
        ("Address", _) => match v.as_str() {
            Some(s) if s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(()),
            _ => expected(ty, "64 hex digits", v),
        },
        ("Amount", _) => {
            let ok = match v {
                // As the SDK parses it: 1 to 39 ASCII digits that fit a u128.
                Value::String(s) => {
                    (1..=39).contains(&s.len())
                        && s.bytes().all(|b| b.is_ascii_digit())
                        && s.parse::<u128>().is_ok()
                }
                Value::Number(n) => n.as_u64().is_some(),
                _ => false,
            };
            if ok {
                Ok(())
            } else {
                expected(ty, "a decimal string of at most 39 digits", v)
            }
        }
        ("Option", [inner]) => match v {
            Value::Null => Ok(()),
            v => check_type(inner, v),
        },
        ("Vec", [inner]) => {
            let Value::Array(items) = v else {
                return expected(ty, "an array", v);
            };
            for (i, item) in items.iter().enumerate() {
                check_type(inner, item).map_err(|e| format!("[{i}]: {e}"))?;
            }
            Ok(())
        }
        // `Json`, a contract's own types, anything newer: the contract checks them.
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn abi() -> Value {
        json!({"phalanx_abi": 1, "methods": [
            {"name": "transfer", "kind": "call", "params": [
                {"name": "to", "type": "Address"}, {"name": "amount", "type": "Amount"}]},
            {"name": "init", "kind": "init", "params": [
                {"name": "start", "type": "Option<u64>"}, {"name": "owners", "type": "Vec<Address>"},
                {"name": "pair", "type": "(u8,bool)"}, {"name": "extra", "type": "Info"}]},
        ]})
    }

    #[test]
    fn good_arguments_pass_and_bad_ones_name_the_field() {
        let a = "ab".repeat(32);
        assert_eq!(
            check_args(&abi(), "transfer", &json!({"to": a, "amount": "10"})),
            Ok(())
        );
        let err = |m, v| check_args(&abi(), m, &v).unwrap_err();
        assert!(err("transfer", json!({"to": "xyz", "amount": "1"})).contains("argument `to`"));
        assert!(err("transfer", json!({"to": a, "amount": "-1"})).contains("argument `amount`"));
        assert!(err("transfer", json!({"to": a, "amount": 1.5})).contains("argument `amount`"));
        let padded = format!("{}1", "0".repeat(39));
        assert!(err("transfer", json!({"to": a, "amount": padded})).contains("argument `amount`"));
        assert!(err("transfer", json!({"to": a, "amount": "+1"})).contains("argument `amount`"));
        assert!(err("transfer", json!({"to": a})).contains("missing argument `amount`"));
        assert!(
            err("transfer", json!({"to": a, "amount": "1", "memo": 1}))
                .contains("no parameter `memo`")
        );
        assert!(err("transfer", json!([1])).contains("JSON object"));
        assert!(err("tranfser", json!({})).contains("no method `tranfser`"));
        // Options may be left out; vectors and tuples are checked item by item; a contract's
        // own type is not checked.
        assert_eq!(
            check_args(
                &abi(),
                "init",
                &json!({"owners": [a], "pair": [255, true], "extra": {"x": 1}})
            ),
            Ok(())
        );
        assert!(
            err("init", json!({"owners": ["nope"], "pair": [1, true]})).contains("owners`: [0]")
        );
        assert!(err("init", json!({"owners": [], "pair": [256, true]})).contains("pair`: [0]"));
        assert!(err("init", json!({"owners": [], "pair": [1]})).contains("pair"));
        assert!(
            err(
                "init",
                json!({"owners": [], "pair": [1, true], "start": -1})
            )
            .contains("start")
        );
    }
}
