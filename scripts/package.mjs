// Finish pkg/ after wasm-pack: add the hand-written entries (the main entry index.js, the
// service-worker helper, the React hooks), the generated names and the package README,
// and describe them in package.json, so `npm install` of pkg/ gives `pwa-sync`,
// `pwa-sync/sw`, `pwa-sync/react` and `pwa-sync/names` with their types.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFile, readFile, writeFile, access, rm, mkdir } from "node:fs/promises";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { shortenExports, shortenImports } from "./wasm-imports.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const pkg = join(root, "pkg");
const exists = (p) => access(p).then(() => true, () => false);

// Names shared by Rust and JS (events, error codes, the sync tag), defined once in
// core/src/names.rs, become names.js and names.d.ts.
const names = JSON.parse(
  execFileSync("cargo", ["run", "-q", "-p", "pwa-sync-core", "--example", "names"], { cwd: root, encoding: "utf8" }),
);
await writeFile(join(pkg, "names.js"), namesJs(names));
await writeFile(join(pkg, "names.d.ts"), namesDts(names));

// The scripts (js/values.js: the copy of a value the app writes, a query's checks, the field
// checks of stored objects and the server's answers; js/store.js:
// the store's IndexedDB requests; js/http.js: the requests to the server; js/tabs.js: the
// channels between contexts; js/events.js: the DOM events; js/background.js: the listeners
// and timers that trigger syncs; js/export.js: the text of `export()`; js/config.js: the
// config taken apart and checked; it and js/http.js use js/values.js's helpers, so that
// comes first) go at
// the top of the generated glue, whose imports reach them as `pwaSyncValues`,
// `pwaSyncStore`, `pwaSyncHttp`, `pwaSyncTabs`, `pwaSyncEvents`, `pwaSyncBackground`,
// `pwaSyncExport` and `pwaSyncConfig`: every entry
// (index.js, sw.js,
// an app importing pwa_sync.js itself) then has it, and the crate keeps no JS module of its
// own (Firefox's classic service workers load none). Then terser minifies the whole glue
// (the script's comments and wasm-bindgen's JSDoc and names are most of their bytes; the
// exports keep their names, the types are in pwa_sync.d.ts); once, however often this runs.
const glue = join(pkg, "pwa_sync.js");
let glueText = await readFile(glue, "utf8");
const MARK = "/* pwa-sync: js/ and the glue, minified */";
if (!glueText.includes(MARK)) {
  // The imports' hashed names and the exports' long ones shortened in the module, the glue and
  // the types alike (wasm-imports.mjs).
  glueText = await shortenModuleNames("pwa_sync_bg.wasm", glueText, "./pwa_sync_bg.js", [
    "pwa_sync.d.ts",
    "pwa_sync_bg.wasm.d.ts",
  ]);
  const script = (await Promise.all(["values.js", "store.js", "http.js", "tabs.js", "events.js", "background.js", "export.js", "config.js"].map((f) => readFile(join(root, "js", f), "utf8")))).join("\n");
  // The glue's leading `@ts-self-types` directive must stay first, and minifying drops it.
  const directive = glueText.match(/^\/\* @ts-self-types=[^\n]*\n/)?.[0] ?? "";
  // terser, not esbuild: it reuses the same few short names in every function, which gzip
  // finds again (790 bytes less gzip than esbuild's minifier on the same glue, 2026-12-05).
  // A third pass, no comma sequences (each statement's shape repeats, which gzip finds) and
  // anonymous functions that use no `this` as arrows (none is called with `new`): 129
  // bytes less than two passes alone (2026-12-06).
  const minified = execFileSync(
    join(root, "tools", "node_modules", ".bin", "terser"),
    ["--module", "--compress", "passes=3,sequences=false,unsafe_arrows=true,ecma=2020", "--mangle"],
    { input: `${script}\n${glueText.slice(directive.length)}\n${clientMethods(names.clientMethods, names.clientGetters)}`, encoding: "utf8", maxBuffer: 64 << 20 },
  );
  await writeFile(glue, `${directive}${MARK}\n${minified}`);
}

// The main entry is js/index.js: the generated module with a browser check in init().
const entries = { "./names": { types: "./names.d.ts", default: "./names.js" } };
const files = ["pwa_sync_bg.wasm", "pwa_sync.js", "pwa_sync.d.ts", "pwa_sync_bg.wasm.d.ts", "names.js", "names.d.ts"];
for (const name of ["index", "sw", "react"]) {
  for (const ext of [".js", ".d.ts"]) await copyFile(join(root, "js", name + ext), join(pkg, name + ext));
  entries[name === "index" ? "." : `./${name}`] = { types: `./${name}.d.ts`, default: `./${name}.js` };
  files.push(`${name}.js`, `${name}.d.ts`);
}
// npm shows the package's own README (install, use, service worker, server rendering),
// not the repository's (make targets, benchmarks, paths that are not in the package).
await copyFile(join(root, "js", "README.md"), join(pkg, "README.md"));
files.push("README.md");
entries["./pwa_sync_bg.wasm"] = "./pwa_sync_bg.wasm";
// Encryption at rest's cipher, for an app that gives `encryption.loadCipher` itself.
entries["./seal"] = { types: "./seal/pwa_sync_seal.d.ts", default: "./seal/pwa_sync_seal.js" };
entries["./seal/pwa_sync_seal_bg.wasm"] = "./seal/pwa_sync_seal_bg.wasm";
entries["./package.json"] = "./package.json";

const manifest = JSON.parse(await readFile(join(pkg, "package.json"), "utf8"));
// wasm-bindgen declares `[Symbol.dispose]` on every class, which fails to type-check
// (`skipLibCheck: false`) in apps whose `lib` predates esnext.disposable; the runtime only
// adds it where `Symbol.dispose` exists. The types keep `free()`.
const dts = join(pkg, "pwa_sync.d.ts");
await writeFile(dts, (await readFile(dts, "utf8")).replaceAll("  [Symbol.dispose](): void;\n", ""));

// The licenses the package is offered under (MIT OR Apache-2.0) travel with it.
for (const license of ["LICENSE-MIT", "LICENSE-APACHE"]) {
  await copyFile(join(root, license), join(pkg, license));
  files.push(license);
}
// Encryption at rest's own module (make build puts it in seal/): imported by index.js's
// default loader and by sw.js, fetched only by clients configured with `encryption`.
// wasm-pack's .gitignore there would keep it out of the npm package.
await rm(join(pkg, "seal", ".gitignore"), { force: true });
for (const name of ["pwa_sync_seal.js", "pwa_sync_seal.d.ts", "pwa_sync_seal_bg.wasm", "pwa_sync_seal_bg.wasm.d.ts"]) {
  if (!(await exists(join(pkg, "seal", name)))) throw new Error(`pkg/seal/${name} is missing: run make build`);
  files.push(`seal/${name}`);
}
// Its imports and exports shortened too (its glue is not minified: it is small and loaded
// rarely).
const sealGlue = join(pkg, "seal", "pwa_sync_seal.js");
await writeFile(
  sealGlue,
  await shortenModuleNames("seal/pwa_sync_seal_bg.wasm", await readFile(sealGlue, "utf8"), "./pwa_sync_seal_bg.js", [
    "seal/pwa_sync_seal.d.ts",
    "seal/pwa_sync_seal_bg.wasm.d.ts",
  ]),
);
// The in-memory IndexedDB of `storage: "memory"` clients (fake-indexeddb, pinned in tools/,
// Apache-2.0: its license travels with it): one module, imported by index.js's default
// loader only when a memory client opens, so no other app fetches it.
await mkdir(join(pkg, "memory"), { recursive: true });
execFileSync(
  join(root, "tools", "node_modules", ".bin", "esbuild"),
  ["--bundle", "--format=esm", "--minify", "--log-level=warning", `--outfile=${join(pkg, "memory", "idb.js")}`],
  { input: await readFile(join(root, "js", "memory-idb.js"), "utf8"), cwd: join(root, "tools"), encoding: "utf8" },
);
await copyFile(join(root, "tools", "node_modules", "fake-indexeddb", "LICENSE"), join(pkg, "memory", "LICENSE"));
files.push("memory/idb.js", "memory/LICENSE");

// The service-worker helper's cache of the .wasm files is this build's own (js/sw.js's
// WASM_CACHE): named by a hash of the modules and the glue as they ship, so a worker of
// one build never reads another's module, whose exports and imports would not match its
// glue (their short names make such a pair instantiate and call the wrong functions).
const build = createHash("sha256");
for (const file of ["pwa_sync_bg.wasm", "pwa_sync.js", "seal/pwa_sync_seal_bg.wasm", "seal/pwa_sync_seal.js"]) {
  build.update(await readFile(join(pkg, file)));
}
const swPath = join(pkg, "sw.js");
const swText = await readFile(swPath, "utf8");
if (!swText.includes('"__PWA_SYNC_BUILD__"')) throw new Error("js/sw.js lost its build placeholder");
await writeFile(swPath, swText.replace('"__PWA_SYNC_BUILD__"', JSON.stringify(build.digest("hex").slice(0, 16))));

// wasm-bindgen writes inline JS of the crate into snippets/ when there is any: shipped
// then, and the only files with side effects on import. (The crate has none: Firefox's
// classic service-worker suite, `--target no-modules`, cannot load them.)
const snippets = await exists(join(pkg, "snippets"));
if (snippets) files.push("snippets/");

manifest.exports = entries;
manifest.files = files;
manifest.module = "index.js";
manifest.types = "index.d.ts";
manifest.main = "index.js";
manifest.sideEffects = snippets ? ["./snippets/*"] : false;
// No placeholder for a repository we cannot name yet: the field is left out.
delete manifest.repository;
manifest.keywords = ["offline-first", "sync", "indexeddb", "pwa", "service-worker", "background-sync", "wasm", "react"];
// Importing in Node (server rendering, tests) needs ES modules and a global fetch.
manifest.engines = { node: ">=18" };
manifest.peerDependencies = { react: ">=18" };
manifest.peerDependenciesMeta = { react: { optional: true } };
await writeFile(join(pkg, "package.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log(`pkg/: ${Object.keys(entries).filter((e) => !e.includes(".json") && !e.endsWith(".wasm")).join(", ")}`);

// SyncClient's methods and read-only properties (core/src/names.rs `CLIENT_METHODS`, of
// which `CLIENT_GETTERS` are properties), after the glue's class: the module exports one
// function for all of them, `__call`, which takes a method's number. Defined as a class's
// are (not enumerable, named, `this` the client).
function clientMethods(methods, getters) {
  return `${JSON.stringify(methods)}.forEach((name, method) => {
  const call = { [name](a, b, c) { return this.__call(method, a, b, c); } }[name];
  Object.defineProperty(SyncClient.prototype, name, ${JSON.stringify(getters)}.includes(name)
    ? { get: call, configurable: true }
    : { value: call, writable: true, configurable: true });
});`;
}

function namesJs({ events, syncTag, flushMessage, errorCodes }) {
  return `// Generated by scripts/package.mjs from pwa-sync-core (core/src/names.rs). Do not edit.
export const EVENTS = Object.freeze(${JSON.stringify(events, null, 2)});
export const SYNC_TAG = ${JSON.stringify(syncTag)};
export const FLUSH_MESSAGE = ${JSON.stringify(flushMessage)};
export const ERROR_CODES = Object.freeze(${JSON.stringify(errorCodes)});
`;
}

function namesDts({ events, eventDetails, syncTag, flushMessage, errorCodes }) {
  const q = JSON.stringify;
  // Detail types that are names (not inline object types; `ChangeDetail<C>` names
  // `ChangeDetail`) come from pwa_sync.d.ts, as do the collection types `C` ranges over.
  const named = Object.values(eventDetails).map((t) => t.match(/^([A-Za-z_]\w*)(<C>)?$/)?.[1]).filter(Boolean);
  const imported = [...new Set([...named, "AnyCollections", "CollectionTypes"])].sort();
  return `// Generated by scripts/package.mjs from pwa-sync-core (core/src/names.rs). Do not edit.
import type { ${imported.join(", ")} } from "./pwa_sync.js";

/** The DOM events a client dispatches, by name. */
export declare const EVENTS: {
${Object.entries(events).map(([key, name]) => `  readonly ${key}: ${q(name)};`).join("\n")}
};
export type SyncEventName = (typeof EVENTS)[keyof typeof EVENTS];

/** Each event's \`CustomEvent\` type; \`C\` is the client's collection types. */
export interface SyncEventMap<C extends CollectionTypes<C> = AnyCollections> {
${Object.entries(eventDetails).map(([name, detail]) => `  ${q(name)}: CustomEvent<${detail}>;`).join("\n")}
}

/** The Background Sync tag used when the config gives no \`syncTag\`. */
export declare const SYNC_TAG: ${q(syncTag)};
/** The message \`requestFlush\` posts to the service worker. */
export declare const FLUSH_MESSAGE: ${q(flushMessage)};

/** Every \`code\` a PwaSyncError can carry (a failed sync carries its error class). */
export type SyncErrorCode =
${errorCodes.map((c) => `  | ${q(c)}`).join("\n")};
export declare const ERROR_CODES: readonly SyncErrorCode[];
`;
}

// Shorten the imports of pkg/`wasmFile` and the keys of `glueText` that provide them, and
// the exports the glue calls, in the module, the glue and the type declarations `dtsFiles`
// (wasm-imports.mjs); writes the module and the declarations, returns the glue. A no-op
// when they are short already.
async function shortenModuleNames(wasmFile, glueText, module, dtsFiles) {
  const path = join(pkg, wasmFile);
  const imported = shortenImports(await readFile(path), glueText, module);
  const dtsPaths = dtsFiles.map((file) => join(pkg, file));
  const dts = await Promise.all(dtsPaths.map((p) => readFile(p, "utf8")));
  const exported = shortenExports(imported.wasm, imported.glue, dts);
  if (imported.renamed + exported.renamed > 0) await writeFile(path, exported.wasm);
  if (exported.renamed > 0) await Promise.all(dtsPaths.map((p, i) => writeFile(p, exported.dts[i])));
  return exported.glue;
}
