//! Rendering the ABI JSON at expansion time: type names, doc comments, escaping.

use syn::{Attribute, Expr, GenericArgument, Lit, Meta, PathArguments, ReturnType, Type};

/// `s` as a quoted JSON string.
pub fn json_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The doc comment of an item, lines trimmed and joined with spaces ("" if none).
pub fn doc(attrs: &[Attribute]) -> String {
    let mut lines = Vec::new();
    for a in attrs {
        if !a.path().is_ident("doc") {
            continue;
        }
        if let Meta::NameValue(nv) = &a.meta
            && let Expr::Lit(lit) = &nv.value
            && let Lit::Str(s) = &lit.lit
        {
            let line = s.value();
            let line = line.trim();
            if !line.is_empty() {
                lines.push(line.to_string());
            }
        }
    }
    lines.join(" ")
}

/// The ABI name of a Rust type: the last path segment with its type arguments
/// (`Option<Info>`, `Vec<Address>`, `(Address,u64)`); references are dropped.
pub fn type_name(ty: &Type) -> String {
    match ty {
        Type::Path(p) => {
            let Some(last) = p.path.segments.last() else {
                return "?".into();
            };
            let mut s = last.ident.to_string();
            if let PathArguments::AngleBracketed(args) = &last.arguments {
                let inner: Vec<String> = args
                    .args
                    .iter()
                    .filter_map(|a| match a {
                        GenericArgument::Type(t) => Some(type_name(t)),
                        _ => None,
                    })
                    .collect();
                if !inner.is_empty() {
                    s.push('<');
                    s.push_str(&inner.join(","));
                    s.push('>');
                }
            }
            s
        }
        Type::Reference(r) => type_name(&r.elem),
        Type::Paren(p) => type_name(&p.elem),
        Type::Group(g) => type_name(&g.elem),
        Type::Tuple(t) => {
            let inner: Vec<String> = t.elems.iter().map(type_name).collect();
            format!("({})", inner.join(","))
        }
        Type::Slice(s) => format!("[{}]", type_name(&s.elem)),
        Type::Array(a) => {
            let len = &a.len;
            let len = quote::quote!(#len).to_string().replace(' ', "");
            format!("[{};{len}]", type_name(&a.elem))
        }
        other => quote::quote!(#other).to_string().replace(' ', ""),
    }
}

/// The type a method's JSON result decodes to: `T` of `Result<T, E>`, the type itself
/// otherwise, `()` for none.
pub fn result_type(ret: &ReturnType) -> Type {
    match ret {
        ReturnType::Default => syn::parse_quote!(()),
        ReturnType::Type(_, ty) => ok_type(ty).unwrap_or_else(|| (**ty).clone()),
    }
}

/// `T` if `ty` is `Result<T, ...>`.
pub fn ok_type(ty: &Type) -> Option<Type> {
    let Type::Path(p) = ty else { return None };
    let last = p.path.segments.last()?;
    if last.ident != "Result" {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return None;
    };
    args.args.iter().find_map(|a| match a {
        GenericArgument::Type(t) => Some(t.clone()),
        _ => None,
    })
}

/// `[{"name": ..., "type": ..., "doc": ...}, ...]` for named fields or parameters.
pub fn fields_json<'a>(fields: impl Iterator<Item = (String, &'a Type, String)>) -> String {
    let items: Vec<String> = fields
        .map(|(name, ty, doc)| {
            let mut s = format!(
                "{{\"name\":{},\"type\":{}",
                json_str(&name),
                json_str(&type_name(ty))
            );
            if !doc.is_empty() {
                s.push_str(&format!(",\"doc\":{}", json_str(&doc)));
            }
            s.push('}');
            s
        })
        .collect();
    format!("[{}]", items.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_compact() {
        let t: Type = syn::parse_quote!(::core::option::Option<Vec<(Address, u64)>>);
        assert_eq!(type_name(&t), "Option<Vec<(Address,u64)>>");
        let r: ReturnType = syn::parse_quote!(-> Result<Amount, ContractError>);
        assert_eq!(type_name(&result_type(&r)), "Amount");
        assert_eq!(type_name(&result_type(&ReturnType::Default)), "()");
        assert_eq!(json_str("a\"b\n\u{1}"), "\"a\\\"b\\n\\u0001\"");
    }
}
