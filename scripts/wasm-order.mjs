// Orders a wasm module's functions so that gzip finds more of each function in the ones
// before it: names them in that order, for `wasm-opt --reorder-functions-by-name`, which
// renumbers every reference (the Makefile's `build`). Function order means nothing to the
// module's behaviour; to deflate it is everything, as matches reach back 32 KB only (a
// shuffled order of the same module is ~10 % larger gzipped, the linker's ~2 % larger
// than this one's). ARCHITECTURE.md "Release size".
//
//     node scripts/wasm-order.mjs MODULE.wasm
//
// The order is greedy: from one of the largest functions, each next one is the function
// whose byte k-grams the last few kilobytes placed cover best, as a share of its own
// (its count of k-grams raised to a power a little under 1, which favours larger
// functions a little). Which k, window, start and power suit a module varies, and small
// changes of them move the result by a few hundred bytes either way, so a grid of them is
// tried and the order whose code deflates smallest is kept.
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";
import { concat, readFunctionBodies, readImports, readSections, readUleb, uleb, writeSections } from "./wasm-binary.mjs";

const GRAMS = [5, 6];
const WINDOWS = [4096, 8192, 16384];
const STARTS = [0, 1]; // the largest function, the second largest
const POWERS = [1, 0.95, 0.9];

// The module's bytes with a name section that names each function by its place in the
// order found, and what was found (`order: null` when the linker's order deflates best:
// then the names keep it, as a module without names would be sorted by binaryen's
// numbers spelled as text, 1, 10, 100, …).
export function orderFunctions(bytes) {
  const module = parse(bytes);
  if (module.bodies.length < 2) return { order: null, size: 0, original: 0, bytes: withNames(bytes, module, module.bodies.map((_, f) => f)) };
  const deflated = (order) =>
    gzipSync(concat(order.map((f) => module.bodies[f])), { level: 9 }).length;
  const original = deflated(module.bodies.map((_, f) => f));
  let best = { size: original, order: null };
  for (const grams of GRAMS) {
    for (const window of WINDOWS) {
      for (const start of STARTS) {
        for (const power of POWERS) {
          const order = greedyOrder(module.bodies, { grams, window, start, power });
          const size = deflated(order);
          if (size < best.size) best = { size, order, grams, window, start, power };
        }
      }
    }
  }
  const order = best.order ?? module.bodies.map((_, f) => f);
  return { ...best, original, bytes: withNames(bytes, module, order) };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const [path] = process.argv.slice(2);
  if (!path) throw new Error("usage: node scripts/wasm-order.mjs MODULE.wasm");
  const found = orderFunctions(readFileSync(path));
  writeFileSync(path, found.bytes);
  console.log(
    found.order
      ? `wasm-order: ${path}: code ${found.original} -> ${found.size} bytes gzipped (${found.grams}-grams, ${found.window}-byte window, start ${found.start}, power ${found.power})`
      : `wasm-order: ${path}: no order deflates smaller than the linker's (${found.original})`,
  );
}

function greedyOrder(bodies, { grams: k, window: windowBytes, start, power }) {
  const n = bodies.length;
  const grams = bodies.map((body) => {
    const seen = new Set();
    for (let i = 0; i + k <= body.length; i++) {
      let h = 0;
      for (let q = 0; q < k; q++) h = (h * 257 + body[i + q]) >>> 0;
      seen.add(h);
    }
    return [...seen];
  });
  const holders = new Map();
  grams.forEach((list, f) => {
    for (const g of list) {
      const fs = holders.get(g);
      if (fs) fs.push(f);
      else holders.set(g, [f]);
    }
  });
  // covered[f]: how many of f's grams the window holds; inWindow: each gram's count there
  const covered = new Float64Array(n);
  const inWindow = new Map();
  const placed = new Uint8Array(n);
  const window = [];
  let windowSize = 0;
  const count = (f, delta) => {
    for (const g of grams[f]) {
      const before = inWindow.get(g) ?? 0;
      inWindow.set(g, before + delta);
      if ((delta > 0 && before === 0) || (delta < 0 && before === 1)) {
        for (const h of holders.get(g)) covered[h] += delta;
      }
    }
  };
  const place = (f) => {
    order.push(f);
    placed[f] = 1;
    count(f, 1);
    window.push(f);
    windowSize += bodies[f].length;
    while (windowSize > windowBytes && window.length > 1) {
      const old = window.shift();
      windowSize -= bodies[old].length;
      count(old, -1);
    }
  };
  const order = [];
  const bySize = [...bodies.keys()].sort((a, b) => bodies[b].length - bodies[a].length || a - b);
  place(bySize[Math.min(start, n - 1)]);
  while (order.length < n) {
    let next = -1;
    let share = -1;
    for (let f = 0; f < n; f++) {
      if (placed[f]) continue;
      const s = covered[f] / (grams[f].length || 1) ** power;
      if (s > share) [next, share] = [f, s];
    }
    place(next);
  }
  return order;
}

// The function imports' count (they come first in the index space) and each body.
function parse(bytes) {
  const sections = readSections(bytes);
  const imports = sections.find((s) => s.id === 2);
  const imported = imports ? readImports(imports.body).filter((e) => e.description[0] === 0).length : 0;
  const code = sections.find((s) => s.id === 10);
  const bodies = code ? readFunctionBodies(code.body) : [];
  return { imported, bodies, sections };
}

// The module with its name section replaced by one naming each function by its place.
function withNames(bytes, { imported, bodies, sections }, order) {
  const encoder = new TextEncoder();
  const place = new Array(bodies.length);
  order.forEach((f, p) => (place[f] = p));
  const width = String(bodies.length).length;
  const names = [uleb(bodies.length)];
  for (let f = 0; f < bodies.length; f++) {
    const name = encoder.encode(`f${String(place[f]).padStart(width, "0")}`);
    names.push(uleb(imported + f), uleb(name.length), name);
  }
  const list = concat(names);
  const nameSection = concat([uleb(4), encoder.encode("name"), Uint8Array.of(1), uleb(list.length), list]);
  const isNames = ({ id, body }) => {
    if (id !== 0) return false;
    const [length, at] = readUleb(body, 0);
    return new TextDecoder().decode(body.subarray(at, at + length)) === "name";
  };
  const kept = sections.filter((s) => !isNames(s));
  return writeSections(bytes.subarray(0, 8), [...kept, { id: 0, body: nameSection }]);
}
