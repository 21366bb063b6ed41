// Orders a wasm module's functions so that gzip finds more of each function in the ones
// before it: names them in that order, for `wasm-opt --reorder-functions-by-name`, which
// renumbers every reference (the Makefile's `build`). Function order means nothing to the
// module's behaviour; to deflate it is everything, as matches reach back 32 KB only (a
// shuffled order of the same module is ~10 % larger gzipped, the linker's ~2 % larger
// than this one's). ARCHITECTURE.md "Release size".
//
//     node scripts/wasm-order.mjs MODULE.wasm
//
// The order is greedy: from the largest function, each next one is the function whose
// byte k-grams the last few kilobytes placed cover best, as a share of its own. Which k
// and how many kilobytes suit a module varies, so a few of each are tried and the order
// whose code deflates smallest is kept.
import { readFileSync, writeFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { gzipSync } from "node:zlib";

const GRAMS = [4, 5, 6];
const WINDOWS = [2048, 4096, 8192, 16384];

// The module's bytes with a name section that names each function by its place in the
// order found, and what was found (`order: null` when the linker's order deflates best:
// then the names keep it, as a module without names would be sorted by binaryen's
// numbers spelled as text, 1, 10, 100, …).
export function orderFunctions(bytes) {
  const module = parse(bytes);
  const deflated = (order) =>
    gzipSync(Buffer.concat(order.map((f) => module.bodies[f])), { level: 9 }).length;
  const original = deflated(module.bodies.map((_, f) => f));
  let best = { size: original, grams: 0, window: 0, order: null };
  for (const grams of GRAMS) {
    for (const window of WINDOWS) {
      const order = greedyOrder(module.bodies, grams, window);
      const size = deflated(order);
      if (size < best.size) best = { size, grams, window, order };
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
      ? `wasm-order: ${path}: code ${found.original} -> ${found.size} bytes gzipped (${found.grams}-grams, ${found.window}-byte window)`
      : `wasm-order: ${path}: no order deflates smaller than the linker's (${found.original})`,
  );
}

function greedyOrder(bodies, k, windowBytes) {
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
  let largest = 0;
  for (let f = 1; f < n; f++) if (bodies[f].length > bodies[largest].length) largest = f;
  place(largest);
  while (order.length < n) {
    let next = -1;
    let share = -1;
    for (let f = 0; f < n; f++) {
      if (placed[f]) continue;
      const s = covered[f] / (grams[f].length || 1);
      if (s > share) [next, share] = [f, s];
    }
    place(next);
  }
  return order;
}

// A cursor over the module's bytes that reads unsigned LEB128 numbers.
function cursor(b, at) {
  return {
    get at() {
      return at;
    },
    skip(n) {
      at += n;
    },
    byte() {
      return b[at++];
    },
    number() {
      let value = 0;
      let shift = 0;
      let byte;
      do {
        byte = b[at++];
        value += (byte & 0x7f) * 2 ** shift;
        shift += 7;
      } while (byte & 0x80);
      return value;
    },
  };
}

// The function imports' count (they come first in the index space), each body, and where
// each section lies.
function parse(b) {
  const c = cursor(b, 8);
  const limits = () => {
    const flags = c.number();
    c.number();
    if (flags & 1) c.number();
  };
  let imported = 0;
  const bodies = [];
  const sections = [];
  while (c.at < b.length) {
    const headerStart = c.at;
    const id = c.byte();
    const size = c.number();
    const start = c.at;
    const end = start + size;
    sections.push({ id, headerStart, start, end });
    if (id === 2) {
      for (let n = c.number(); n > 0; n--) {
        c.skip(c.number()); // module name
        c.skip(c.number()); // field name
        const kind = c.byte();
        if (kind === 0) {
          c.number();
          imported++;
        } else if (kind === 1) {
          c.byte();
          limits();
        } else if (kind === 2) limits();
        else if (kind === 3) c.skip(2);
        else if (kind === 4) {
          c.byte();
          c.number();
        } else throw new Error(`wasm-order: import of unknown kind ${kind}`);
      }
    } else if (id === 10) {
      for (let n = c.number(); n > 0; n--) {
        const length = c.number();
        bodies.push(b.subarray(c.at, c.at + length));
        c.skip(length);
      }
    }
    c.skip(end - c.at);
  }
  return { imported, bodies, sections };
}

// The module with its name section replaced by one naming each function by its place.
function withNames(b, { imported, bodies, sections }, order) {
  const place = new Array(bodies.length);
  order.forEach((f, p) => (place[f] = p));
  const width = String(bodies.length).length;
  const names = [...encode(bodies.length)];
  for (let f = 0; f < bodies.length; f++) {
    const name = Buffer.from(`f${String(place[f]).padStart(width, "0")}`);
    names.push(...encode(imported + f), ...encode(name.length), ...name);
  }
  const payload = [...encode(4), ...Buffer.from("name"), 1, ...encode(names.length), ...names];
  const isNames = (s) => {
    if (s.id !== 0) return false;
    const c = cursor(b, s.start);
    const length = c.number();
    return b.subarray(c.at, c.at + length).toString() === "name";
  };
  return Buffer.concat([
    b.subarray(0, 8),
    ...sections.filter((s) => !isNames(s)).map((s) => b.subarray(s.headerStart, s.end)),
    Buffer.from([0, ...encode(payload.length), ...payload]),
  ]);
}

function encode(n) {
  const out = [];
  do {
    const low = n & 0x7f;
    n = Math.floor(n / 128);
    out.push(n ? low | 0x80 : low);
  } while (n);
  return out;
}
