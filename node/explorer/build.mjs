// Bundles the explorer (src/main.ts and the TypeScript client it imports from sdk/ts) into
// dist/explorer.js, which the node embeds and serves at /explorer/explorer.js. The bundle is
// committed so the node builds without Node.js; `--check` fails if it is stale.
//
//   npm run build     # rewrite dist/explorer.js
//   npm run check     # compare only (the explorer test runs it)

import { build } from "esbuild";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "dist/explorer.js");
const result = await build({
  entryPoints: [join(here, "src/main.ts")],
  bundle: true,
  format: "esm",
  target: ["es2022"],
  platform: "browser",
  minify: true,
  legalComments: "eof",
  charset: "utf8",
  write: false,
  // Paths relative to this directory, so the output does not depend on where the
  // repository is checked out.
  absWorkingDir: here,
  logLevel: "warning",
});
const js = result.outputFiles[0].text;
if (process.argv.includes("--check")) {
  let current = "";
  try {
    current = readFileSync(out, "utf8");
  } catch {}
  if (current !== js) {
    console.error("dist/explorer.js is stale: run `npm run build` in node/explorer");
    process.exit(1);
  }
  console.log(`dist/explorer.js is current (${js.length} bytes)`);
} else {
  writeFileSync(out, js);
  console.log(`wrote dist/explorer.js (${js.length} bytes)`);
}
