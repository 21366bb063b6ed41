// Short names for the module's imports. wasm-bindgen names each import after its JS
// function plus a 16-digit hash (`__wbg_addEventListener_847fd86b8c33ec43`), and the
// names are written twice: in the module's import section and as the keys of the glue's
// import object. Random hex does not compress, so ~180 of them cost ~5.7 KB gzipped
// (bench/README.md "Size"). The glue is the only reader of those names (`--target web`
// instantiates the module itself), so both sides are renamed together, to `a`, `b`, ….
// wasm-bindgen has no option for it, and binaryen's `--minify-imports` renames only
// Emscripten's modules (its `-and-modules` variant renames the exports too, which the
// package's types name).

// The glue's import object, as wasm-bindgen writes it: one key per line, eight spaces in.
const KEY_INDENT = "\n        ";

/**
 * Rename every import of `module` in `wasm` (bytes) and in `glue` (wasm-bindgen's
 * unminified JS). Throws when an import is not a key of the glue exactly once, so a
 * change in wasm-bindgen's output fails the build instead of shipping a broken glue.
 * Imports already short (a second run) are left as they are.
 */
export function shortenImports(wasm, glue, module) {
  const sections = readSections(wasm);
  const imports = sections.find((s) => s.id === 2);
  if (!imports) return { wasm, glue, renamed: 0 };
  const entries = readImports(imports.body);
  const long = entries.filter((e) => e.module === module && e.name.startsWith("__wb"));
  if (long.length === 0) return { wasm, glue, renamed: 0 };
  const taken = new Set(entries.filter((e) => e.module === module).map((e) => e.name));
  const names = shortNames(taken);
  for (const entry of long) {
    const key = `${KEY_INDENT}${entry.name}:`;
    const count = glue.split(key).length - 1;
    if (count !== 1) {
      throw new Error(`wasm-imports: the import ${entry.name} is a key of the glue ${count} times, expected once`);
    }
    const short = names.next().value;
    glue = glue.replace(key, `${KEY_INDENT}${short}:`);
    entry.name = short;
  }
  imports.body = writeImports(entries);
  return { wasm: writeSections(wasm.subarray(0, 8), sections), glue, renamed: long.length };
}

/**
 * Rename the module's exports that the glue calls as `wasm.<name>` (every export but
 * `memory`, which apps and the bench read off `init()`'s answer, and any the glue never
 * names) in `wasm`, in `glue` and in the type declarations `dts` (texts: `InitOutput`'s
 * `readonly <name>:` and the `.wasm.d.ts`'s `export const <name>:`). wasm-bindgen names
 * them after the class and method (`syncclient_putMany`, `__wasm_bindgen_func_elem_1067`),
 * and each is written in the module and again in the glue, where minifying keeps
 * property names. Exports already short (a second run) are left as they are.
 */
export function shortenExports(wasm, glue, dts = []) {
  const sections = readSections(wasm);
  const exports = sections.find((s) => s.id === 7);
  if (!exports) return { wasm, glue, dts, renamed: 0 };
  const entries = readExports(exports.body);
  const called = new Set(Array.from(glue.matchAll(/\bwasm\.([\w$]+)/g), ([, name]) => name));
  const long = entries.filter((e) => e.name !== "memory" && e.name.length > 2 && called.has(e.name));
  if (long.length === 0) return { wasm, glue, dts, renamed: 0 };
  const names = shortNames(new Set(entries.map((e) => e.name)));
  const short = new Map(long.map((e) => [e.name, names.next().value]));
  for (const entry of long) entry.name = short.get(entry.name);
  // A name after `before` renamed where it is one of `short`'s.
  const rename = (text, pattern) =>
    text.replace(pattern, (whole, before, name) => (short.has(name) ? `${before}${short.get(name)}` : whole));
  glue = rename(glue, /(\bwasm\.)([\w$]+)/g);
  dts = dts.map((text) => rename(text, /(\breadonly |\bexport const )([\w$]+)(?=:)/g));
  exports.body = writeExports(entries);
  return { wasm: writeSections(wasm.subarray(0, 8), sections), glue, dts, renamed: long.length };
}

// An export: its name, then its kind and index, kept as bytes.
function readExports(body) {
  const decoder = new TextDecoder();
  let [count, at] = readUleb(body, 0);
  const entries = [];
  while (count-- > 0) {
    const [length, start] = readUleb(body, at);
    const name = decoder.decode(body.subarray(start, start + length));
    const described = start + length;
    at = readUleb(body, described + 1)[1];
    entries.push({ name, description: body.subarray(described, at) });
  }
  return entries;
}

function writeExports(entries) {
  const encoder = new TextEncoder();
  const parts = [uleb(entries.length)];
  for (const e of entries) {
    const bytes = encoder.encode(e.name);
    parts.push(uleb(bytes.length), bytes, e.description);
  }
  return concat(parts);
}

// `a`…`z`, `A`…`Z`, then two letters and so on, skipping names already taken.
function* shortNames(taken) {
  const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";
  for (let n = 0; ; n++) {
    let name = "";
    for (let k = n; ; k = Math.floor(k / letters.length) - 1) {
      name = letters[k % letters.length] + name;
      if (k < letters.length) break;
    }
    if (!taken.has(name)) yield name;
  }
}

function readSections(wasm) {
  const magic = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  if (!magic.every((b, i) => wasm[i] === b)) throw new Error("wasm-imports: not a wasm module (version 1)");
  const sections = [];
  let at = 8;
  while (at < wasm.length) {
    const id = wasm[at];
    const [size, start] = readUleb(wasm, at + 1);
    sections.push({ id, body: wasm.subarray(start, start + size) });
    at = start + size;
  }
  return sections;
}

function writeSections(header, sections) {
  const parts = [header];
  for (const { id, body } of sections) parts.push(Uint8Array.of(id), uleb(body.length), body);
  return concat(parts);
}

// An import: module and name (UTF-8 strings), then its kind and description, kept as bytes.
function readImports(body) {
  const decoder = new TextDecoder();
  let [count, at] = readUleb(body, 0);
  const entries = [];
  const string = () => {
    const [length, start] = readUleb(body, at);
    at = start + length;
    return decoder.decode(body.subarray(start, at));
  };
  while (count-- > 0) {
    const module = string();
    const name = string();
    const start = at;
    const kind = body[at++];
    const limits = () => {
      const flags = body[at++];
      at = readUleb(body, at)[1];
      if (flags & 1) at = readUleb(body, at)[1];
    };
    if (kind === 0) at = readUleb(body, at)[1]; // function: its type
    else if (kind === 1) (at++, limits()); // table: element type, limits
    else if (kind === 2) limits(); // memory
    else if (kind === 3) at += 2; // global: value type, mutability
    else if (kind === 4) at = readUleb(body, at + 1)[1]; // tag: attribute, type
    else throw new Error(`wasm-imports: unknown import kind ${kind}`);
    entries.push({ module, name, description: body.subarray(start, at) });
  }
  return entries;
}

function writeImports(entries) {
  const encoder = new TextEncoder();
  const string = (s) => {
    const bytes = encoder.encode(s);
    return [uleb(bytes.length), bytes];
  };
  const parts = [uleb(entries.length)];
  for (const e of entries) parts.push(...string(e.module), ...string(e.name), e.description);
  return concat(parts);
}

function readUleb(bytes, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = bytes[at++];
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if (byte < 0x80) return [value, at];
  }
}

function uleb(value) {
  const bytes = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    bytes.push(byte);
  } while (value > 0);
  return Uint8Array.from(bytes);
}

function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  return out;
}
