// Finish pkg/ after wasm-pack: add the hand-written entries (service-worker helper, and
// the React hooks once present) and describe them in package.json, so `npm install`
// of pkg/ gives `pwa-sync`, `pwa-sync/sw` (and `pwa-sync/react`) with their types.
import { copyFile, readFile, writeFile, access } from "node:fs/promises";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = join(root, "pkg");
const exists = (p) => access(p).then(() => true, () => false);

const entries = { ".": { types: "./pwa_sync.d.ts", default: "./pwa_sync.js" } };
const files = ["pwa_sync_bg.wasm", "pwa_sync.js", "pwa_sync.d.ts", "pwa_sync_bg.wasm.d.ts"];
for (const name of ["sw", "react"]) {
  if (!(await exists(join(root, "js", `${name}.js`)))) continue;
  for (const ext of [".js", ".d.ts"]) await copyFile(join(root, "js", name + ext), join(pkg, name + ext));
  entries[`./${name}`] = { types: `./${name}.d.ts`, default: `./${name}.js` };
  files.push(`${name}.js`, `${name}.d.ts`);
}
entries["./pwa_sync_bg.wasm"] = "./pwa_sync_bg.wasm";
entries["./package.json"] = "./package.json";

const manifest = JSON.parse(await readFile(join(pkg, "package.json"), "utf8"));
manifest.exports = entries;
manifest.files = files;
manifest.module = "pwa_sync.js";
// Importing the package has no side effect but the wasm-bindgen snippets it may load.
manifest.sideEffects = ["./snippets/*"];
if (await exists(join(root, "js", "react.js"))) {
  manifest.peerDependencies = { react: ">=18" };
  manifest.peerDependenciesMeta = { react: { optional: true } };
}
await writeFile(join(pkg, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log(`pkg/: ${Object.keys(entries).filter((e) => !e.includes(".json") && !e.endsWith(".wasm")).join(", ")}`);
