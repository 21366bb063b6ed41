// Short names for the module's imports. wasm-bindgen names each import after its JS
// function plus a 16-digit hash (`__wbg_addEventListener_847fd86b8c33ec43`), and the
// names are written twice: in the module's import section and as the keys of the glue's
// import object. Random hex does not compress, so ~180 of them cost ~5.7 KB gzipped
// (bench/README.md "Size"). The glue is the only reader of those names (`--target web`
// instantiates the module itself), so both sides are renamed together, to `a`, `b`, ….
// wasm-bindgen has no option for it, and binaryen's `--minify-imports` renames only
// Emscripten's modules (its `-and-modules` variant renames the exports too, which the
// package's types name).
import { readExports, readImports, readSections, writeExports, writeImports, writeSections } from "./wasm-binary.mjs";

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

