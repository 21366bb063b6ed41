// The package's metadata as npm shows it: licenses shipped, no placeholder fields, and a
// sideEffects that matches what is shipped.
import { test } from "node:test";
import { execFileSync } from "node:child_process";
import assert from "node:assert/strict";
import { access, readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { ROOT } from "./lib.mjs";

const pkg = (name) => join(ROOT, "pkg", name);
const exists = (p) => access(p).then(() => true, () => false);

test("pkg/package.json: licenses shipped, no placeholders, sideEffects as shipped", async () => {
  const text = await readFile(pkg("package.json"), "utf8");
  const manifest = JSON.parse(text);
  assert.equal(manifest.license, "MIT OR Apache-2.0");
  for (const license of ["LICENSE-MIT", "LICENSE-APACHE"]) {
    assert.ok(manifest.files.includes(license), `${license} in files`);
    assert.ok(await exists(pkg(license)), `${license} in pkg/`);
  }
  assert.ok(!/example\.invalid/.test(text), "no placeholder URL");
  assert.equal(manifest.repository, undefined);
  const snippets = await exists(pkg("snippets"));
  assert.deepEqual(manifest.sideEffects, snippets ? ["./snippets/*"] : false);
  assert.equal(manifest.files.includes("snippets/"), snippets);
  assert.ok(manifest.keywords.includes("offline-first"));
  assert.match(manifest.engines.node, /^>=\d+/);
  assert.equal(manifest.exports["."].default, "./index.js");
});

test("seal/ ships with the package, where index.js's import() and sw.js find it", async () => {
  const manifest = JSON.parse(await readFile(pkg("package.json"), "utf8"));
  for (const name of ["pwa_sync_seal.js", "pwa_sync_seal_bg.wasm", "pwa_sync_seal.d.ts"]) {
    assert.ok(manifest.files.includes(`seal/${name}`), `seal/${name} in files`);
    assert.ok(await exists(pkg(`seal/${name}`)), `seal/${name} in pkg/`);
  }
  // npm leaves out what a .gitignore in a folder names (wasm-pack writes one with "*").
  assert.ok(!(await exists(pkg("seal/.gitignore"))), "no seal/.gitignore");
  // The default loader, set by index.js's init(): its import() resolves to the shipped file.
  const entry = await readFile(pkg("index.js"), "utf8");
  const targets = [...entry.matchAll(/import\("([^"]+)"\)/g)].map((m) => m[1]);
  assert.deepEqual(targets, ["./seal/pwa_sync_seal.js", "./memory/idb.js"]);
  assert.equal(fileURLToPath(new URL(targets[0], pathToFileURL(pkg("index.js")))), pkg("seal/pwa_sync_seal.js"));
  assert.equal(manifest.exports["./seal"].default, "./seal/pwa_sync_seal.js");
  const sw = await readFile(pkg("sw.js"), "utf8");
  assert.match(sw, /from "\.\/seal\/pwa_sync_seal\.js"/);
});

test("memory/ ships with the package and its license, where index.js's import() finds it", async () => {
  const manifest = JSON.parse(await readFile(pkg("package.json"), "utf8"));
  for (const name of ["idb.js", "LICENSE"]) {
    assert.ok(manifest.files.includes(`memory/${name}`), `memory/${name} in files`);
    assert.ok(await exists(pkg(`memory/${name}`)), `memory/${name} in pkg/`);
  }
  assert.match(await readFile(pkg("memory/LICENSE"), "utf8"), /Apache License/);
  const entry = await readFile(pkg("index.js"), "utf8");
  const target = [...entry.matchAll(/import\("([^"]+)"\)/g)].map((m) => m[1]).find((t) => t.includes("memory"));
  assert.equal(fileURLToPath(new URL(target, pathToFileURL(pkg("index.js")))), pkg("memory/idb.js"));
  // A module exporting what the store's script takes of it.
  const memory = await readFile(pkg("memory/idb.js"), "utf8");
  assert.match(memory, /export\s*\{[^}]*\bIDBFactory\b/);
  assert.match(memory, /export\s*\{[^}]*\bIDBKeyRange\b/);
});

test("the crate has no wasm-bindgen snippets: Firefox's classic service-worker suite cannot load them", async () => {
  assert.ok(!(await exists(pkg("snippets"))), "no snippets/ in pkg/");
  const glue = await readFile(pkg("pwa_sync.js"), "utf8");
  assert.deepEqual([...glue.matchAll(/^import .* from ["']([^"']+)["']/gm)].map((m) => m[1]), []);
});

test("pkg/README.md is the package's own README, with links that work on the registry", async () => {
  const readme = await readFile(pkg("README.md"), "utf8");
  assert.equal(readme, await readFile(join(ROOT, "js/README.md"), "utf8"));
  // The registry shows the README alone: a relative link or image would break there, and
  // the repository's make targets and paths mean nothing to an npm user.
  const links = [...readme.matchAll(/!?\[[^\]]*\]\(([^)]+)\)/g)].map((m) => m[1]);
  assert.deepEqual(links.filter((href) => !/^https:\/\//.test(href)), []);
  assert.doesNotMatch(readme, /\bmake (test|demo|build)\b|scripts\/|cargo /);
  for (const section of ["npm install pwa-sync", "## React", "## Service worker", "## Server rendering"]) {
    assert.ok(readme.includes(section), `has ${section}`);
  }
});

test("the built types compile under strict settings with skipLibCheck off; optional parameters are optional; collections are typed", () => {
  // TypeScript comes with the demo app (www/), which make test-e2e builds first.
  const tsc = join(ROOT, "www/node_modules/.bin/tsc");
  try {
    execFileSync(tsc, ["-p", join(ROOT, "e2e/types/tsconfig.json")], { encoding: "utf8" });
  } catch (e) {
    assert.fail(`tsc found type errors:\n${e.stdout}${e.stderr}`);
  }
});

test("SyncClient's hand-written declaration lists exactly the members the module has", async () => {
  // types.rs declares the class by hand (it is generic); a method added in Rust and not
  // declared, or declared and gone, fails here.
  const { SyncClient } = await import(pkg("pwa_sync.js"));
  const runtime = new Set([
    ...Object.getOwnPropertyNames(SyncClient.prototype).filter((m) => m !== "constructor"),
    ...Object.getOwnPropertyNames(SyncClient).filter((m) => !["length", "name", "prototype"].includes(m)),
  ].filter((m) => !m.startsWith("__")));
  const dts = await readFile(pkg("pwa_sync.d.ts"), "utf8");
  const body = dts.match(/export class SyncClient<[^\n]*\{\n([\s\S]*?)\n\}\n/)?.[1];
  assert.ok(body, "pwa_sync.d.ts declares class SyncClient");
  const declared = new Set([...body.matchAll(/^ +(?:static |readonly )?(\w+)[<(:]/gm)].map((m) => m[1]));
  declared.delete("constructor");
  assert.deepEqual([...declared].sort(), [...runtime].sort());
  // The methods and properties scripts/package.mjs defines over the one export `__call`
  // are a class's: methods not enumerable, `clientId` and `name` read-only properties.
  for (const member of runtime) {
    const described = Object.getOwnPropertyDescriptor(SyncClient.prototype, member);
    if (!described) continue; // a static (`open`)
    assert.equal(described.enumerable, false, member);
    if (["clientId", "name"].includes(member)) {
      assert.equal(typeof described.get, "function", member);
      assert.equal(described.set, undefined, member);
    } else {
      assert.equal(typeof described.value, "function", member);
    }
  }
});

test("pwa-sync, pwa-sync/react and pwa-sync/sw import in Node; init() there rejects, saying to use the browser", () => {
  // As server rendering does: Node resolves the packages as an app's bundle would (from
  // www/, where pwa-sync is the built pkg/ and react is installed).
  const script = `
    const main = await import("pwa-sync");
    const react = await import("pwa-sync/react");
    const sw = await import("pwa-sync/sw");
    const names = await import("pwa-sync/names");
    const out = { hooks: typeof react.useDoc, sw: typeof sw.installSyncWorker, events: names.EVENTS.change,
                  open: typeof main.SyncClient.open };
    try { await main.default(); out.init = "resolved"; }
    catch (e) { out.init = { name: e.name, code: e.code, message: e.message }; }
    console.log(JSON.stringify(out));`;
  const output = execFileSync(process.execPath, ["--preserve-symlinks", "--input-type=module", "-e", script],
    { cwd: join(ROOT, "www"), encoding: "utf8" });
  const out = JSON.parse(output.trim().split("\n").pop());
  assert.deepEqual({ ...out, init: undefined },
    { hooks: "function", sw: "function", events: "pwa-sync:change", open: "function", init: undefined });
  assert.equal(out.init.name, "PwaSyncError");
  assert.equal(out.init.code, "storage");
  assert.match(out.init.message, /in the browser/);
});
