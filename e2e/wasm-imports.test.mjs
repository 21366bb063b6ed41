// scripts/wasm-imports.mjs: the module's imports and the glue's keys renamed together, so
// the module still finds every import, each the same function as before; its exports and
// the glue's calls of them (and their types) renamed together too; and the shipped package
// is built that way.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ROOT } from "./lib.mjs";
import { shortenExports, shortenImports } from "../scripts/wasm-imports.mjs";

const uleb = (n) => {
  const out = [];
  do {
    out.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>>= 7;
  } while (n > 0);
  return out;
};
const name = (s) => [...uleb(s.length), ...new TextEncoder().encode(s)];
const section = (id, bytes) => [id, ...uleb(bytes.length), ...bytes];

// Two function imports of "./m.js" with wasm-bindgen's hashed names, a memory of "env"
// (with a maximum) and a global of "./m.js" between them; `run` calls the second import.
function module() {
  const imports = [
    [...name("./m.js"), ...name("__wbg_first_0123456789abcdef"), 0x00, 0x00],
    [...name("env"), ...name("mem"), 0x02, 0x01, 0x01, 0x02],
    [...name("./m.js"), ...name("__wbindgen_flag"), 0x03, 0x7f, 0x00],
    [...name("./m.js"), ...name("__wbg_second_fedcba9876543210"), 0x00, 0x00],
  ];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [0x01, 0x60, 0x00, 0x00]),
    ...section(2, [...uleb(imports.length), ...imports.flat()]),
    ...section(3, [0x01, 0x00]),
    ...section(7, [0x01, ...name("run"), 0x00, 0x02]),
    ...section(10, [0x01, 0x04, 0x00, 0x10, 0x01, 0x0b]),
  ]);
}

const glue = `function imports(calls) {
    const import0 = {
        __proto__: null,
        __wbg_first_0123456789abcdef: function() { calls.push("first"); },
        __wbindgen_flag: new WebAssembly.Global({ value: "i32" }, 7),
        __wbg_second_fedcba9876543210: function() { calls.push("second"); },
    };
    return import0;
}`;

async function run(wasm, glueText) {
  const calls = [];
  const provide = new Function(`${glueText}; return imports;`)();
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 2 });
  const { instance } = await WebAssembly.instantiate(wasm, { "./m.js": provide(calls), env: { mem: memory } });
  instance.exports.run();
  return calls;
}

test("shortened imports are found in the glue, each the same function as before", async () => {
  const before = module();
  assert.deepEqual(await run(before, glue), ["second"]);
  const { wasm, glue: shortGlue, renamed } = shortenImports(before, glue, "./m.js");
  assert.equal(renamed, 3);
  const names = WebAssembly.Module.imports(new WebAssembly.Module(wasm)).map((i) => `${i.module} ${i.name} ${i.kind}`);
  assert.deepEqual(names, ["./m.js a function", "env mem memory", "./m.js b global", "./m.js c function"]);
  assert.ok(!shortGlue.includes("__wb"), shortGlue);
  assert.deepEqual(await run(wasm, shortGlue), ["second"]);
  // A second run finds nothing to shorten and changes nothing.
  const again = shortenImports(wasm, shortGlue, "./m.js");
  assert.equal(again.renamed, 0);
  assert.deepEqual(again.wasm, wasm);
  assert.equal(again.glue, shortGlue);
});

test("an import the glue does not provide exactly once fails the build", () => {
  const missing = glue.replace("__wbg_second_fedcba9876543210", "__wbg_other");
  assert.throws(() => shortenImports(module(), missing, "./m.js"), /__wbg_second_fedcba9876543210 is a key of the glue 0 times/);
  const twice = glue.replace("return import0;", "const again = {\n        __wbg_first_0123456789abcdef: null };\n    return import0;");
  assert.throws(() => shortenImports(module(), twice, "./m.js"), /__wbg_first_0123456789abcdef is a key of the glue 2 times/);
  assert.throws(() => shortenImports(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8), glue, "./m.js"), /not a wasm module/);
});

test("the package's modules import short names, each a key of their glue", async () => {
  for (const [wasmFile, glueFile, moduleName] of [
    ["pwa_sync_bg.wasm", "pwa_sync.js", "./pwa_sync_bg.js"],
    ["seal/pwa_sync_seal_bg.wasm", "seal/pwa_sync_seal.js", "./pwa_sync_seal_bg.js"],
  ]) {
    const wasm = await readFile(join(ROOT, "pkg", wasmFile));
    const glueText = await readFile(join(ROOT, "pkg", glueFile), "utf8");
    const imports = WebAssembly.Module.imports(new WebAssembly.Module(wasm));
    assert.ok(imports.length > 10, `${wasmFile}: ${imports.length} imports`);
    for (const { module: m, name: n } of imports) {
      assert.equal(m, moduleName);
      assert.match(n, /^[a-zA-Z]{1,2}$/, `${wasmFile}: ${n}`);
      assert.ok(new RegExp(`[{,\\s]${n}:`).test(glueText), `${glueFile} provides ${n}`);
    }
  }
});

// Three exports: `memory`, `run_long` (calls the import) and `run_longer` (its name starts
// with the other's), and a glue that calls both functions as `wasm.<name>`.
function exporting() {
  const exports = [[...name("memory"), 0x02, 0x00], [...name("run_long"), 0x00, 0x01], [...name("run_longer"), 0x00, 0x02]];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [0x02, 0x60, 0x00, 0x00, 0x60, 0x00, 0x01, 0x7f]),
    ...section(2, [0x01, ...name("./m.js"), ...name("hit"), 0x00, 0x00]),
    ...section(3, [0x02, 0x00, 0x01]),
    ...section(5, [0x01, 0x00, 0x01]),
    ...section(7, [...uleb(exports.length), ...exports.flat()]),
    ...section(10, [0x02, 0x04, 0x00, 0x10, 0x00, 0x0b, 0x04, 0x00, 0x41, 0x07, 0x0b]),
  ]);
}
const callingGlue = `let wasm;
function start(instance, calls) { wasm = instance.exports; wasm.run_long(); calls.push(wasm.run_longer(), wasm.memory.buffer.byteLength); }`;
const dts = ["export interface InitOutput {\n  readonly memory: WebAssembly.Memory;\n  readonly run_long: () => void;\n  readonly run_longer: () => number;\n}\n",
  "export const memory: WebAssembly.Memory;\nexport const run_long: () => void;\nexport const run_longer: () => number;\n"];

async function start(wasm, glueText) {
  const calls = [];
  const { instance } = await WebAssembly.instantiate(wasm, { "./m.js": { hit: () => calls.push("hit") } });
  new Function(`${glueText}; return start;`)()(instance, calls);
  return calls;
}

test("shortened exports are what the glue calls and the types name, each the same function", async () => {
  const before = exporting();
  assert.deepEqual(await start(before, callingGlue), ["hit", 7, 65536]);
  const { wasm, glue: shortGlue, dts: shortDts, renamed } = shortenExports(before, callingGlue, dts);
  assert.equal(renamed, 2);
  const names = WebAssembly.Module.exports(new WebAssembly.Module(wasm)).map((e) => `${e.name} ${e.kind}`);
  assert.deepEqual(names, ["memory memory", "a function", "b function"]);
  assert.ok(!shortGlue.includes("run_long"), shortGlue);
  assert.deepEqual(await start(wasm, shortGlue), ["hit", 7, 65536]);
  assert.match(shortDts[0], /readonly memory: WebAssembly.Memory;\n  readonly a: \(\) => void;\n  readonly b: \(\) => number;/);
  assert.match(shortDts[1], /export const memory: WebAssembly.Memory;\nexport const a: \(\) => void;\nexport const b: \(\) => number;/);
  // A second run finds nothing to shorten.
  const again = shortenExports(wasm, shortGlue, shortDts);
  assert.equal(again.renamed, 0);
  assert.deepEqual(again.wasm, wasm);
  // An export the glue never calls keeps its name.
  assert.equal(shortenExports(before, "let wasm; wasm.run_long();", []).renamed, 1);
});

test("the package's modules export short names the glue calls, and memory by its name", async () => {
  for (const [wasmFile, glueFile] of [["pwa_sync_bg.wasm", "pwa_sync.js"], ["seal/pwa_sync_seal_bg.wasm", "seal/pwa_sync_seal.js"]]) {
    const wasm = await readFile(join(ROOT, "pkg", wasmFile));
    const glueText = await readFile(join(ROOT, "pkg", glueFile), "utf8");
    const exports = WebAssembly.Module.exports(new WebAssembly.Module(wasm)).map((e) => e.name);
    assert.ok(exports.includes("memory"), wasmFile);
    const long = exports.filter((n) => n !== "memory" && n.length > 2);
    for (const n of long) assert.ok(!new RegExp(`\\.${n}\\b`).test(glueText), `${glueFile} calls ${n} by its long name`);
    assert.ok(exports.length - long.length > 5, `${wasmFile}: ${exports.join(" ")}`);
  }
});
