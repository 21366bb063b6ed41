// Reading and writing a wasm module's sections, imports and LEB128 numbers: what the
// build's module rewriters (wasm-imports.mjs, wasm-table.mjs, wasm-order.mjs) share.

export function readSections(wasm) {
  const magic = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
  if (!magic.every((b, i) => wasm[i] === b)) throw new Error("not a wasm module (version 1)");
  const sections = [];
  let at = 8;
  while (at < wasm.length) {
    const id = wasm[at];
    const [size, start] = readUleb(wasm, at + 1);
    if (start + size > wasm.length) throw new Error(`a section of ${size} bytes runs past the module's end`);
    sections.push({ id, body: wasm.subarray(start, start + size) });
    at = start + size;
  }
  return sections;
}

export function writeSections(header, sections) {
  const parts = [header];
  for (const { id, body } of sections) parts.push(Uint8Array.of(id), uleb(body.length), body);
  return concat(parts);
}

// An import: module and name (UTF-8 strings), then its kind and description, kept as bytes.
export function readImports(body) {
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
    else throw new Error(`unknown import kind ${kind}`);
    entries.push({ module, name, description: body.subarray(start, at) });
  }
  return entries;
}

export function writeImports(entries) {
  const encoder = new TextEncoder();
  const string = (s) => {
    const bytes = encoder.encode(s);
    return [uleb(bytes.length), bytes];
  };
  const parts = [uleb(entries.length)];
  for (const e of entries) parts.push(...string(e.module), ...string(e.name), e.description);
  return concat(parts);
}

// An export: its name, then its kind and index, kept as bytes.
export function readExports(body) {
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

export function writeExports(entries) {
  const encoder = new TextEncoder();
  const parts = [uleb(entries.length)];
  for (const e of entries) {
    const bytes = encoder.encode(e.name);
    parts.push(uleb(bytes.length), bytes, e.description);
  }
  return concat(parts);
}

// Each function body of the code section (`body`), its locals first.
export function readFunctionBodies(body) {
  const bodies = [];
  let [count, at] = readUleb(body, 0);
  for (; count > 0; count--) {
    const [length, start] = readUleb(body, at);
    at = start + length;
    bodies.push(body.subarray(start, at));
  }
  return bodies;
}

export function readUleb(bytes, at) {
  let value = 0;
  let shift = 0;
  for (;;) {
    const byte = bytes[at++];
    if (byte === undefined) throw new Error("a number runs past the end of its bytes");
    value += (byte & 0x7f) * 2 ** shift;
    shift += 7;
    if (byte < 0x80) return [value, at];
  }
}

export function uleb(value) {
  const bytes = [];
  do {
    let byte = value % 128;
    value = Math.floor(value / 128);
    if (value > 0) byte |= 0x80;
    bytes.push(byte);
  } while (value > 0);
  return Uint8Array.from(bytes);
}

export function concat(parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  return out;
}
