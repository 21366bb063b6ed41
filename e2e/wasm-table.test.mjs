// scripts/wasm-table.mjs: a private function table's entries that no call can reach are
// pointed at a live function, so wasm-opt drops the functions only they kept; every entry
// a call can reach still calls what it called.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./lib.mjs";
import { pruneTable } from "../scripts/wasm-table.mjs";
import { readSections, readUleb } from "../scripts/wasm-binary.mjs";

const WASM_OPT = join(ROOT, "tools/node_modules/.bin/wasm-opt");

// Slots 1-5 of the table:
// 1 $by_constant: its slot is an `i32.const` that `run` calls through;
// 2 $other_signature: its slot is a constant too, but no call_indirect has its signature;
// 3 $unnamed: the right signature, but its slot is written nowhere;
// 4 $by_data: its slot is only a word of the data, which `run` loads and calls through;
// 5 $by_wide_constant: its slot is only the high half of an `i64.const`, stored and loaded.
function text({ exportTable = false, more = "" } = {}) {
  return `(module
  (type $unary (func (param i32) (result i32)))
  (type $wide (func (param i64) (result i64)))
  (memory 1)
  (table $t 6 6 funcref)
  ${exportTable ? '(export "table" (table $t))' : ""}
  (elem (i32.const 1) $by_constant $other_signature $unnamed $by_data $by_wide_constant)
  (data (i32.const 16) "\\04\\00\\00\\00")
  (func $by_constant (type $unary) (i32.add (local.get 0) (i32.const 100)))
  (func $other_signature (type $wide) (i64.mul (local.get 0) (i64.const 7)))
  (func $unnamed (type $unary) (i32.sub (local.get 0) (i32.const 1000)))
  (func $by_data (type $unary) (i32.mul (local.get 0) (i32.const 6)))
  (func $by_wide_constant (type $unary) (i32.xor (local.get 0) (i32.const 255)))
  (func (export "run") (param i32) (result i32)
    (i64.store (i32.const 24) (i64.const 0x0000000500000000))
    (i32.add
      (i32.add
        (call_indirect (type $unary) (local.get 0) (i32.const 1))
        (call_indirect (type $unary) (local.get 0) (i32.load (i32.const 16))))
      (i32.add
        (call_indirect (type $unary) (local.get 0) (i32.load (i32.const 28)))
        (i32.const 2))))
  ${more}
)`;
}

function slots(bytes) {
  const element = readSections(bytes).find((s) => s.id === 9).body;
  let [count, at] = readUleb(element, 5); // one segment, flags 0, i32.const 1, end
  const out = [];
  for (; count > 0; count--) {
    const [f, next] = readUleb(element, at);
    out.push(f);
    at = next;
  }
  return out;
}

async function compiled(wat, ...features) {
  const dir = await mkdtemp(join(tmpdir(), "wasm-table-"));
  try {
    await writeFile(join(dir, "m.wat"), wat);
    execFileSync(WASM_OPT, [join(dir, "m.wat"), "-o", join(dir, "m.wasm"), ...features]);
    return await readFile(join(dir, "m.wasm"));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function optimised(bytes) {
  const dir = await mkdtemp(join(tmpdir(), "wasm-table-"));
  try {
    await writeFile(join(dir, "in.wasm"), bytes);
    execFileSync(WASM_OPT, [join(dir, "in.wasm"), "-o", join(dir, "out.wasm"), "--remove-unused-module-elements"]);
    return await readFile(join(dir, "out.wasm"));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const run = async (bytes, x) => (await WebAssembly.instantiate(bytes)).instance.exports.run(x);
const functionCount = (bytes) => readUleb(readSections(bytes).find((s) => s.id === 3).body, 0)[0];

test("unreachable table entries point at a live function, and their functions go", async () => {
  const before = await compiled(text());
  assert.deepEqual(slots(before), [0, 1, 2, 3, 4]);
  const { bytes, pruned, entries } = pruneTable(before);
  assert.equal(entries, 5);
  assert.equal(pruned, 2);
  // $other_signature and $unnamed point at the first reachable entry's function.
  assert.deepEqual(slots(bytes), [0, 0, 0, 3, 4]);
  for (const x of [0, 3, -40]) assert.equal(await run(bytes, x), await run(before, x));
  assert.equal(await run(bytes, 3), 103 + 18 + (3 ^ 255) + 2);
  assert.equal(functionCount(await optimised(before)), 6);
  assert.equal(functionCount(await optimised(bytes)), 4);
  // A second run finds nothing more.
  assert.equal(pruneTable(bytes).pruned, 0);
});

test("a slot read by a global stays; pruned slots point at an export no call_indirect can reach", async () => {
  const more = `(global $slot i32 (i32.const 3)) (export "slot" (global $slot))
  (func $other (export "other") (param f32))
  (func (export "callSlot") (param i32) (result i32) (call_indirect (type $unary) (i32.const 1) (local.get 0)))`;
  const before = await compiled(text({ more }));
  const { bytes, pruned } = pruneTable(before);
  assert.equal(pruned, 1);
  // Only $other_signature goes, to $other (function 6): a call through its slot traps
  // on the signature check instead of running another function.
  assert.deepEqual(slots(bytes), [0, 6, 2, 3, 4]);
  const { instance } = await WebAssembly.instantiate(bytes);
  assert.equal(instance.exports.callSlot(3), 1 - 1000);
  assert.throws(() => instance.exports.callSlot(2), WebAssembly.RuntimeError);
  assert.equal(await run(bytes, 3), await run(before, 3));
});

test("a table an instruction reads or writes, or an exported one, is left as it is", async () => {
  // The same module with reference types on is pruned: only the instruction stops it.
  assert.equal(pruneTable(await compiled(text(), "--enable-reference-types")).pruned, 2);
  for (const before of [
    await compiled(text({ exportTable: true })),
    await compiled(text({ more: "(func (drop (table.get $t (i32.const 0))))" }), "--enable-reference-types"),
  ]) {
    const { bytes, pruned } = pruneTable(before);
    assert.equal(pruned, 0);
    assert.deepEqual(bytes, before);
  }
});

test("an instruction the script does not know fails the build", async () => {
  const simd = await compiled(text({ more: "(func (drop (v128.const i32x4 0 0 0 0)))" }), "--enable-simd");
  assert.throws(() => pruneTable(simd), /wasm-table: unknown (instruction|value type)/);
});
