// scripts/wasm-order.mjs and the Makefile's renumbering after it: the functions of a module
// put in an order that deflates smaller, each still the same function (calls, the table's
// indirect calls, exports and the import all reach what they reached before).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { ROOT } from "./lib.mjs";
import { orderFunctions } from "../scripts/wasm-order.mjs";
import { readSections, readUleb } from "../scripts/wasm-binary.mjs";

const WASM_OPT = join(ROOT, "tools/node_modules/.bin/wasm-opt");

// Stores of constants that do not compress (the same for the same seed), each to its own
// address, so no optimisation can drop one.
function stores(seed, count) {
  let x = seed;
  const out = [];
  for (let i = 0; i < count; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out.push(`(i32.store (i32.const ${i * 4}) (i32.const ${x | 0}))`);
  }
  return out.join("\n    ");
}

// $twin_a and $twin_b store the same constants but for one more of $twin_b's; $filler,
// ~40 KB of other stores, sits between them, so in this order gzip cannot reach back from
// one twin to the other (its window is 32 KB). $twin_b reaches $filler through the table.
function text() {
  return `(module
  (import "env" "seen" (func $seen (param i32)))
  (memory 1)
  (type $unary (func (param i32) (result i32)))
  (table 2 funcref)
  (elem (i32.const 0) $filler $small)
  (func $twin_a (export "twinA") (param i32) (result i32)
    ${stores(7, 400)}
    (i32.add (i32.load (i32.const 8)) (call $small (local.get 0))))
  (func $filler (type $unary)
    (call $seen (local.get 0))
    ${stores(99, 4000)}
    (i32.add (local.get 0) (i32.load (i32.const 12))))
  (func $twin_b (export "twinB") (param i32) (result i32)
    ${stores(7, 400)}
    (i32.store (i32.const 8) (i32.const 5))
    (i32.add (i32.load (i32.const 8))
      (call_indirect (type $unary) (local.get 0) (i32.const 0))))
  (func $small (type $unary) (i32.mul (local.get 0) (i32.const 3)))
)`;
}

function wasmOpt(dir, input, output, ...flags) {
  execFileSync(WASM_OPT, [join(dir, input), "-o", join(dir, output), ...flags]);
}

async function answers(bytes) {
  const seen = [];
  const { instance } = await WebAssembly.instantiate(bytes, { env: { seen: (v) => seen.push(v) } });
  return [instance.exports.twinA(4), instance.exports.twinB(4), instance.exports.twinB(-9), seen];
}

test("functions are put in an order that deflates smaller, each the same function", async () => {
  const dir = await mkdtemp(join(tmpdir(), "wasm-order-"));
  try {
    await writeFile(join(dir, "m.wat"), text());
    wasmOpt(dir, "m.wat", "m.wasm", "--strip-debug");
    const before = await readFile(join(dir, "m.wasm"));
    const found = orderFunctions(before);
    // The twins side by side.
    assert.equal(Math.abs(found.order.indexOf(0) - found.order.indexOf(2)), 1, `order ${found.order}`);
    assert.deepEqual([...found.order].sort(), [0, 1, 2, 3]);
    assert.ok(found.size < found.original - 1000, `${found.original} -> ${found.size}`);
    const names = WebAssembly.Module.customSections(new WebAssembly.Module(found.bytes), "name");
    assert.equal(names.length, 1);
    await writeFile(join(dir, "named.wasm"), found.bytes);
    wasmOpt(dir, "named.wasm", "ordered.wasm", "-ol", "2", "-s", "1", "--reorder-functions-by-name", "--strip-debug");
    wasmOpt(dir, "m.wasm", "kept.wasm", "-ol", "2", "-s", "1", "--strip-debug");
    const ordered = await readFile(join(dir, "ordered.wasm"));
    const kept = await readFile(join(dir, "kept.wasm"));
    assert.equal(ordered.length, kept.length);
    assert.ok(gzipSync(ordered, { level: 9 }).length < gzipSync(kept, { level: 9 }).length - 1000);
    assert.equal(WebAssembly.Module.customSections(new WebAssembly.Module(ordered), "name").length, 0);
    const expected = await answers(before);
    assert.equal(expected[3].length, 2, "twin b reached $filler through the table twice");
    assert.deepEqual(await answers(ordered), expected);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("a module whose order cannot improve keeps it, named so that sorting keeps it", async () => {
  const dir = await mkdtemp(join(tmpdir(), "wasm-order-"));
  try {
    await writeFile(join(dir, "one.wat"), `(module (func (export "f") (result i32) (i32.const 1)))`);
    wasmOpt(dir, "one.wat", "one.wasm", "--strip-debug");
    const found = orderFunctions(await readFile(join(dir, "one.wasm")));
    assert.equal(found.order, null);
    assert.equal(WebAssembly.Module.customSections(new WebAssembly.Module(found.bytes), "name").length, 1);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

// Each export's function index, by name.
function exportIndices(bytes) {
  const body = readSections(bytes).find((s) => s.id === 7).body;
  let [count, at] = readUleb(body, 0);
  const out = {};
  for (; count > 0; count--) {
    const [length, start] = readUleb(body, at);
    const name = new TextDecoder().decode(body.subarray(start, start + length));
    const [index, next] = readUleb(body, start + length + 1);
    out[name] = index;
    at = next;
  }
  return out;
}

test("the module's functions end up in the order found, past ten of them too", async () => {
  const dir = await mkdtemp(join(tmpdir(), "wasm-order-"));
  try {
    // Twelve functions, three families of four that share their stores, interleaved.
    const funcs = Array.from({ length: 12 }, (_, f) => `(func (export "f${f}") (result i32)
    ${stores(f % 3, 60 + f)}
    (i32.const ${f}))`);
    await writeFile(join(dir, "m.wat"), `(module (memory 1)\n${funcs.join("\n")})`);
    wasmOpt(dir, "m.wat", "m.wasm", "--strip-debug");
    const found = orderFunctions(await readFile(join(dir, "m.wasm")));
    const order = found.order ?? [...Array(12).keys()];
    await writeFile(join(dir, "named.wasm"), found.bytes);
    wasmOpt(dir, "named.wasm", "ordered.wasm", "-ol", "2", "-s", "1", "--reorder-functions-by-name", "--strip-debug");
    const ordered = await readFile(join(dir, "ordered.wasm"));
    const indices = exportIndices(ordered);
    // Function f sits at its place in the order (names f00-f11: f10 sorts after f09).
    order.forEach((f, place) => assert.equal(indices[`f${f}`], place, `order ${order}`));
    const { instance } = await WebAssembly.instantiate(ordered);
    for (let f = 0; f < 12; f++) assert.equal(instance.exports[`f${f}`](), f);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
