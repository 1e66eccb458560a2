// Generates src/api.ts, the types of the node's JSON-RPC API, from the OpenRPC document the
// node's Rust types generate (docs/openrpc.json). `--check` fails if src/api.ts is stale.
//
//   npm run gen:api            # rewrite src/api.ts
//   node scripts/gen-api.mjs --check

import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { compile } from "json-schema-to-typescript";

const here = dirname(fileURLToPath(import.meta.url));
const docPath = join(here, "../../../docs/openrpc.json");
const outPath = join(here, "../src/api.ts");
const doc = JSON.parse(readFileSync(docPath, "utf8"));
const schemas = doc.components.schemas;

// One root schema naming every shared type, so each becomes one exported declaration under
// its own name (the title), and references between them stay references.
const definitions = {};
for (const [name, schema] of Object.entries(schemas)) {
  definitions[name] = { ...schema, title: name };
}
// References point into `definitions`. A reference with a description beside it (or wrapped
// in a one-element allOf, as draft-07 needs for that) is the bare reference: otherwise the
// generator would declare a copy of the type (Hash1, Address2, ...). A schema that allows any
// JSON (contract data, ABIs) is `unknown`, not an object.
const shaped = ["type", "anyOf", "oneOf", "allOf", "enum", "const", "properties", "items", "tsType"];
const schema = (v) => {
  if (typeof v === "boolean" || !v || typeof v !== "object") return v;
  if (Array.isArray(v.allOf) && v.allOf.length === 1 && v.allOf[0].$ref) return schema(v.allOf[0]);
  if (typeof v.$ref === "string") return { $ref: v.$ref.replace("#/components/schemas/", "#/definitions/") };
  if (!shaped.some((k) => k in v)) return { ...v, tsType: "unknown" };
  const out = {};
  for (const [k, x] of Object.entries(v)) {
    if (k === "properties" || k === "definitions") {
      out[k] = Object.fromEntries(Object.entries(x).map(([n, s]) => [n, schema(s)]));
    } else if (k === "anyOf" || k === "oneOf" || k === "allOf") {
      out[k] = x.map(schema);
    } else if (k === "items" || k === "additionalProperties") {
      out[k] = schema(x);
    } else {
      out[k] = x;
    }
  }
  return out;
};

// The methods: parameters object and result per method name.
const methods = {};
for (const m of doc.methods) {
  const properties = {};
  const required = [];
  for (const p of m.params) {
    properties[p.name] = p.schema;
    if (p.required) required.push(p.name);
  }
  methods[m.name] = {
    type: "object",
    properties: {
      params: { type: "object", properties, required, additionalProperties: false },
      result: m.result.schema,
    },
    required: ["params", "result"],
    additionalProperties: false,
  };
}
const root = schema({
  title: "Methods",
  description: "Every method of the node's JSON-RPC API: its parameters (by name) and result.",
  type: "object",
  properties: methods,
  required: Object.keys(methods),
  additionalProperties: false,
  definitions,
});

const banner = `/* eslint-disable */
/**
 * The node's JSON-RPC API types, generated from docs/openrpc.json (itself generated from the
 * node's Rust API types, node/rpc/src/api) by scripts/gen-api.mjs. Do not edit: run
 * \`npm run gen:api\` after the document changes.
 *
 * Integers are JSON numbers: heights, nonces and gas stay below 2^53 in practice; amounts a
 * contract returns are its own JSON (the token's are strings).
 */`;
const ts = await compile(root, "Methods", {
  bannerComment: banner,
  unreachableDefinitions: true,
  additionalProperties: false,
  strictIndexSignatures: true,
  format: true,
  style: { printWidth: 110, semi: true },
});

if (process.argv.includes("--check")) {
  const current = readFileSync(outPath, "utf8");
  if (current !== ts) {
    console.error("src/api.ts is stale: run `npm run gen:api` (docs/openrpc.json changed)");
    process.exit(1);
  }
  console.log("src/api.ts matches docs/openrpc.json");
} else {
  writeFileSync(outPath, ts);
  console.log(`wrote ${outPath}`);
}
