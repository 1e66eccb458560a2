//! The OpenRPC document (`rpc.discover`), generated from the API types ([`crate::api`]):
//! every method's parameters and result schema, and the shared types under
//! `components.schemas`. The dispatcher's names are checked against the table by a test, and
//! docs/RPC.md against it too, so the three cannot drift apart. `docs/openrpc.json` is this
//! document, checked by a test; the TypeScript client's types are generated from it.

pub use crate::api::{METHODS, MethodSpec};
use schemars::generate::SchemaSettings;
use schemars::{Schema, SchemaGenerator};
use serde_json::{Value, json};

/// True if `name` is a method callable over HTTP.
pub fn is_http_method(name: &str) -> bool {
    METHODS.iter().any(|s| s.name == name && !s.ws_only)
}

/// Where shared schemas live in the document.
const COMPONENTS: &str = "/components/schemas";

/// The parameters object's schema as OpenRPC content descriptors, one per property.
fn params(schema: Schema, generator: &mut SchemaGenerator) -> Vec<Value> {
    // A parameters type is an object by name; a `$ref` to one is looked up.
    let mut object = schema.to_value();
    if let Some(name) = object
        .get("$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
    {
        object = generator
            .definitions()
            .get(name)
            .cloned()
            .unwrap_or(Value::Null);
    }
    let required: Vec<&str> = object["required"]
        .as_array()
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let Some(properties) = object["properties"].as_object() else {
        return Vec::new();
    };
    properties
        .iter()
        .map(|(name, schema)| {
            let mut d = json!({
                "name": name,
                "required": required.contains(&name.as_str()),
                "schema": schema,
            });
            if let Some(text) = schema.get("description") {
                d["description"] = text.clone();
            }
            d
        })
        .collect()
}

/// A generator of draft-07 schemas whose shared types go under `components.schemas`,
/// describing how values are serialized (results) or deserialized (parameters: a field
/// with a default is optional).
fn generator(serialize: bool) -> SchemaGenerator {
    let settings = SchemaSettings::draft07().with(|s| {
        s.definitions_path = COMPONENTS.into();
        s.meta_schema = None;
    });
    if serialize {
        settings.for_serialize().into_generator()
    } else {
        settings.for_deserialize().into_generator()
    }
}

/// The document `rpc.discover` serves: built once (generating the schemas is not free, and a
/// batch of discovers must not make the node do it each time).
pub fn served() -> &'static Value {
    static DOC: std::sync::OnceLock<Value> = std::sync::OnceLock::new();
    DOC.get_or_init(document)
}

/// The OpenRPC 1.2 document.
pub fn document() -> Value {
    let mut results = generator(true);
    let mut inputs = generator(false);
    let methods: Vec<Value> = METHODS
        .iter()
        .map(|s| {
            let params_schema = (s.params)(&mut inputs);
            let result = (s.result)(&mut results);
            json!({
                "name": s.name,
                "summary": s.summary,
                "paramStructure": "by-name",
                "params": params(params_schema, &mut inputs),
                "result": {"name": "result", "schema": result},
            })
        })
        .collect();
    // What subscriptions send (not the result of a method).
    results.subschema_for::<crate::api::NewBlock>();
    results.subschema_for::<crate::api::LocatedEvent>();
    // Parameter and result types are distinct but for the leaves (hashes, addresses), which
    // have one form: the two sets merge without conflict (a test checks).
    let mut schemas = inputs.take_definitions(true);
    for (name, schema) in results.take_definitions(true) {
        schemas.entry(name).or_insert(schema);
    }
    schemas.sort_keys();
    json!({
        "openrpc": "1.2.6",
        "info": {"title": "Phalanx JSON-RPC", "version": env!("CARGO_PKG_VERSION")},
        "servers": [{"name": "http", "url": "http://127.0.0.1:8645"}, {"name": "websocket", "url": "ws://127.0.0.1:8645/ws"}],
        "methods": methods,
        "components": {"schemas": schemas},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_documents_every_method() {
        let doc = include_str!("../../../docs/RPC.md");
        for s in METHODS {
            assert!(
                doc.contains(&format!("`{}`", s.name)),
                "docs/RPC.md lacks {}",
                s.name
            );
        }
        let d = document();
        assert_eq!(d["methods"].as_array().unwrap().len(), METHODS.len());
    }

    /// Every `$ref` in `v`.
    fn refs<'a>(v: &'a Value, out: &mut Vec<&'a str>) {
        match v {
            Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("$ref", Value::String(r)) => out.push(r),
                        _ => refs(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_schema_reference_resolves_and_every_method_is_typed() {
        let d = document();
        let schemas = d["components"]["schemas"].as_object().unwrap();
        let mut found = Vec::new();
        refs(&d, &mut found);
        assert!(found.len() > 20, "the shared types are referenced");
        for r in found {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("{r} points outside components"));
            assert!(schemas.contains_key(name), "{r} does not resolve");
        }
        for m in d["methods"].as_array().unwrap() {
            let result = &m["result"]["schema"];
            assert!(
                result.get("$ref").is_some()
                    || result.get("type").is_some()
                    || result.get("anyOf").is_some(),
                "{} has no result schema: {result}",
                m["name"]
            );
        }
        // The parameters of a method with some are typed too.
        let query = d["methods"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["name"] == "contract_query")
            .unwrap();
        let names: Vec<&str> = query["params"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["address", "args", "caller", "height", "method"]);
        let address = &query["params"][0];
        assert_eq!(address["required"], true);
        assert_eq!(address["schema"]["$ref"], "#/components/schemas/Address");
        assert_eq!(schemas["Address"]["pattern"], "^[0-9a-f]{64}$");
        // A parameter with a default is optional.
        let args = query["params"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "args");
        assert_eq!(args.unwrap()["required"], false);
    }

    #[test]
    fn parameter_and_result_types_share_only_leaves() {
        let (mut results, mut inputs) = (generator(true), generator(false));
        for s in METHODS {
            (s.params)(&mut inputs);
            (s.result)(&mut results);
        }
        let results = results.take_definitions(true);
        for (name, schema) in inputs.take_definitions(true) {
            if let Some(other) = results.get(&name) {
                assert_eq!(
                    &schema, other,
                    "{name} differs between parameters and results"
                );
            }
        }
    }

    /// docs/openrpc.json is this document (the TypeScript client's types are generated from
    /// it): `PHALANX_UPDATE_VECTORS=1` rewrites it after a change of the API types.
    #[test]
    fn the_published_document_is_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openrpc.json");
        let fresh = serde_json::to_string_pretty(&document()).unwrap() + "\n";
        if std::env::var_os("PHALANX_UPDATE_VECTORS").is_some() {
            std::fs::write(path, &fresh).unwrap();
        }
        let published = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            published == fresh,
            "docs/openrpc.json is stale: run PHALANX_UPDATE_VECTORS=1 cargo test -p phalanx-rpc openrpc"
        );
    }
}
