// Table entries that no call can reach, pointed at one live function so that wasm-opt
// drops the functions only they kept. wasm-bindgen leaves them: a js-sys import's
// descriptor takes the address of a closure shim (a typed array's `forEach` callback, …),
// so the linker puts the shim in the function table; wasm-bindgen then removes the import
// and its descriptor, but not the table entry, and the table is beyond what wasm-opt can
// prove unused. ARCHITECTURE.md "Release size".
//
//     node scripts/wasm-table.mjs MODULE.wasm     (wasm-bindgen's output, before wasm-opt)
//
// An entry is unreachable when either holds:
// - no `call_indirect` of the module has its function's signature (the call would trap on
//   the signature check, so the entry is never called), or
// - its table index appears nowhere the module could read it from: as no `i32.const` (or
//   half of an `i64.const`) in any function or global, and as no four bytes, at any
//   offset, of the data. A linked module holds a function's address only that way:
//   LLVM leaves addresses to the linker, which writes them as constants of the code and
//   words of the data (vtables); nothing computes one. So this runs before wasm-opt,
//   whose folding of constants could make that untrue.
// Only a table the module neither imports nor exports, filled by one active segment, and
// never read, written or copied by an instruction (`table.get`, `table.copy`, …: a
// funcref taken out or moved escapes both rules), is looked at; anything else is left as
// it is. An unknown instruction or value type fails the build. A pruned slot points at
// a function no `call_indirect` has the signature of, when one stays in the module
// anyway (an export), so that a slot misjudged would trap rather than call another
// function.
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { concat, readExports, readFunctionBodies, readImports, readSections, readUleb, uleb, writeSections } from "./wasm-binary.mjs";

/** The module with its unreachable table entries pointed at a live entry's function. */
export function pruneTable(bytes) {
  const sections = readSections(bytes);
  const section = (id) => sections.find((s) => s.id === id);
  const element = section(9);
  if (!element || !privateTable(section(2), section(7))) return { bytes, pruned: 0, entries: 0 };
  const segment = readSegment(element.body);
  if (!segment) return { bytes, pruned: 0, entries: 0 };

  const signatures = readTypes(section(1));
  const funcTypes = functionTypes(section(2), section(3));
  const seen = { constants: new Set(), indirectTypes: new Set(), tableInstructions: false };
  if (section(10)) readCode(section(10).body, seen);
  if (section(6)) readGlobalConstants(section(6).body, seen);
  if (seen.tableInstructions) return { bytes, pruned: 0, entries: segment.functions.length };
  const data = section(11)?.body ?? new Uint8Array();
  const words = new Set();
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  for (let at = 0; at + 4 <= data.length; at++) words.add(view.getUint32(at, true));
  const called = new Set([...seen.indirectTypes].map((t) => signatures[t]));

  const reachable = (f, slot) =>
    called.has(signatures[funcTypes[f]]) && (seen.constants.has(slot) || words.has(slot));
  const firstLive = segment.functions.find((f, j) => reachable(f, segment.offset + j));
  if (firstLive === undefined) return { bytes, pruned: 0, entries: segment.functions.length };
  const trapping = exportedFunctions(section(7)).find((f) => !called.has(signatures[funcTypes[f]]));
  const live = trapping ?? firstLive;
  let pruned = 0;
  const functions = segment.functions.map((f, j) => {
    if (reachable(f, segment.offset + j) || f === live) return f;
    pruned++;
    return live;
  });
  element.body = writeSegment(segment.offset, functions);
  return { bytes: writeSections(bytes.subarray(0, 8), sections), pruned, entries: functions.length };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const [path] = process.argv.slice(2);
  if (!path) throw new Error("usage: node scripts/wasm-table.mjs MODULE.wasm");
  const { bytes, pruned, entries } = pruneTable(readFileSync(path));
  writeFileSync(path, bytes);
  console.log(`wasm-table: ${path}: ${pruned} of ${entries} table entries unreachable, pointed at a live function`);
}

// The functions the module exports: kept by wasm-opt whatever the table holds.
function exportedFunctions(exports) {
  const functions = exports ? readExports(exports.body).filter((e) => e.description[0] === 0) : [];
  return functions.map((e) => readUleb(e.description, 1)[0]);
}

// Neither imported nor exported (kind 1: a table).
function privateTable(imports, exports) {
  const isTable = (e) => e.description[0] === 1;
  return !(imports && readImports(imports.body).some(isTable)) && !(exports && readExports(exports.body).some(isTable));
}

// One segment of the MVP form: active, table 0, an `i32.const` offset, function indices.
function readSegment(body) {
  let [count, at] = readUleb(body, 0);
  if (count !== 1 || body[at] !== 0 || body[at + 1] !== 0x41) return null;
  const [offset, next] = readSleb(body, at + 2);
  if (body[next] !== 0x0b) return null;
  let [length, cursor] = readUleb(body, next + 1);
  const functions = [];
  for (; length > 0; length--) {
    const [f, after] = readUleb(body, cursor);
    functions.push(f);
    cursor = after;
  }
  return { offset, functions };
}

function writeSegment(offset, functions) {
  return concat([uleb(1), Uint8Array.of(0, 0x41), sleb(offset), Uint8Array.of(0x0b), uleb(functions.length), ...functions.map(uleb)]);
}

// Each type's bytes as text: two indices of the same signature are the same type to
// `call_indirect`'s check.
function readTypes(types) {
  const out = [];
  if (!types) return out;
  let [count, at] = readUleb(types.body, 0);
  for (; count > 0; count--) {
    const start = at;
    if (types.body[at++] !== 0x60) throw new Error("wasm-table: a type that is not a function's");
    for (let lists = 0; lists < 2; lists++) {
      const [n, next] = readUleb(types.body, at);
      at = next;
      for (let k = 0; k < n; k++) valueType(types.body[at++]);
    }
    out.push(types.body.subarray(start, at).join(","));
  }
  return out;
}

function functionTypes(imports, functions) {
  const out = [];
  if (imports) {
    for (const { description } of readImports(imports.body)) {
      if (description[0] === 0) out.push(readUleb(description, 1)[0]);
    }
  }
  if (functions) {
    let [count, at] = readUleb(functions.body, 0);
    for (; count > 0; count--) {
      const [type, next] = readUleb(functions.body, at);
      out.push(type);
      at = next;
    }
  }
  return out;
}

function readGlobalConstants(body, seen) {
  let [count, at] = readUleb(body, 0);
  for (; count > 0; count--) {
    valueType(body[at]);
    at += 2; // value type, mutability
    at = readInstructions(body, at, seen, true);
  }
}

// One byte of a value type the module may use (numbers, v128, funcref, externref).
function valueType(byte) {
  if (![0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f].includes(byte)) {
    throw new Error(`wasm-table: unknown value type 0x${byte?.toString(16)}`);
  }
}

function readCode(body, seen) {
  for (const code of readFunctionBodies(body)) {
    let [groups, cursor] = readUleb(code, 0);
    for (; groups > 0; groups--) {
      cursor = readUleb(code, cursor)[1]; // how many locals
      valueType(code[cursor++]);
    }
    readInstructions(code, cursor, seen, false);
  }
}

// Walks instructions from `at` to the end of `body` (or, for a constant expression, to
// its `end`), noting every integer constant and every `call_indirect`'s type.
function readInstructions(body, at, seen, oneExpression) {
  const skip = (n) => {
    for (; n > 0; n--) at = readUleb(body, at)[1];
  };
  while (at < body.length) {
    const op = body[at++];
    if (op === 0x0b && oneExpression) return at;
    if (op <= 0x01 || op === 0x05 || op === 0x0b || op === 0x0f || op === 0x1a || op === 0x1b || op === 0xd1) continue;
    if (op >= 0x45 && op <= 0xc4) continue; // numeric, sign extension
    if (op >= 0x02 && op <= 0x04) {
      const b = body[at];
      if (b === 0x40) at++;
      else if (b >= 0x40) (valueType(b), at++);
      else at = readSleb(body, at)[1]; // a type index (multi-value), non-negative
    } else if (op === 0x0c || op === 0x0d || op === 0x10 || op === 0x12 || op === 0xd2) skip(1);
    else if (op === 0x0e) {
      const [n, next] = readUleb(body, at);
      at = next;
      skip(n + 1);
    } else if (op === 0x11 || op === 0x13) {
      const [type, next] = readUleb(body, at);
      seen.indirectTypes.add(type);
      at = readUleb(body, next)[1];
    } else if (op === 0x1c) {
      const [n, next] = readUleb(body, at);
      at = next;
      for (let k = 0; k < n; k++) valueType(body[at++]);
    } else if (op === 0x25 || op === 0x26) {
      seen.tableInstructions = true; // table.get, table.set
      skip(1);
    } else if ((op >= 0x20 && op <= 0x24) || op === 0x3f || op === 0x40) skip(1);
    else if (op >= 0x28 && op <= 0x3e) {
      const [align, next] = readUleb(body, at);
      at = next;
      skip(align & 0x40 ? 2 : 1); // a memory index when bit 6 is set, then the offset
    } else if (op === 0x41) {
      const [value, next] = readSleb(body, at);
      seen.constants.add(value >>> 0);
      at = next;
    } else if (op === 0x42) {
      const [value, next] = readSleb64(body, at);
      seen.constants.add(Number(value & 0xffffffffn));
      seen.constants.add(Number((value >> 32n) & 0xffffffffn));
      at = next;
    } else if (op === 0x43) at += 4;
    else if (op === 0x44) at += 8;
    else if (op === 0xd0) at = readSleb(body, at)[1];
    else if (op === 0xfc) {
      const [sub, next] = readUleb(body, at);
      at = next;
      if (sub <= 7) continue;
      const immediates = { 8: 2, 9: 1, 10: 2, 11: 1, 12: 2, 13: 1, 14: 2, 15: 1, 16: 1, 17: 1 }[sub];
      if (immediates === undefined) throw new Error(`wasm-table: unknown instruction 0xfc ${sub}`);
      // table.init, table.copy, table.grow, table.fill: entries written or moved
      if ([12, 14, 15, 17].includes(sub)) seen.tableInstructions = true;
      skip(immediates);
    } else throw new Error(`wasm-table: unknown instruction 0x${op.toString(16)}`);
  }
  return at;
}

function readSleb(bytes, at) {
  let value = 0;
  let shift = 0;
  let byte;
  do {
    byte = bytes[at++];
    value |= (byte & 0x7f) << shift;
    shift += 7;
  } while (byte & 0x80);
  if (shift < 32 && byte & 0x40) value |= -1 << shift;
  return [value, at];
}

function readSleb64(bytes, at) {
  let value = 0n;
  let shift = 0n;
  let byte;
  do {
    byte = bytes[at++];
    value |= BigInt(byte & 0x7f) << shift;
    shift += 7n;
  } while (byte & 0x80);
  if (shift < 64n && byte & 0x40) value |= -1n << shift;
  return [BigInt.asUintN(64, value), at];
}

function sleb(value) {
  const out = [];
  for (;;) {
    const byte = value & 0x7f;
    value >>= 7;
    if ((value === 0 && !(byte & 0x40)) || (value === -1 && byte & 0x40)) {
      out.push(byte);
      return Uint8Array.from(out);
    }
    out.push(byte | 0x80);
  }
}
