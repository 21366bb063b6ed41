// Fold wasm-bindgen's snippets (the crate's JS, `#[wasm_bindgen(module = "/js/…")]`) into
// the glue: each becomes a namespace object built in pwa_sync.js instead of a module of
// its own. A page importing the package unbundled then fetches one module, not a second
// wave of snippet modules after the glue is parsed (cold start: bench/README "Snippets
// folded into the glue"). Relative `import()` specifiers in a snippet are rewritten to
// stay right from the glue's place (seal-loader.js's `../../../seal/…` becomes `./seal/…`).
import { readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative, resolve, sep } from "node:path";

export async function inlineSnippets(pkg, glueName = "pwa_sync.js") {
  const gluePath = join(pkg, glueName);
  let glue = await readFile(gluePath, "utf8");
  const importLine = /^import (\* as (\w+)|\{([^}]*)\}) from ["'](\.\/snippets\/[^"']+)["'];?$/gm;
  const namespaces = new Map();
  const definitions = [];
  for (const [, , , , path] of glue.matchAll(importLine)) {
    if (namespaces.has(path)) continue;
    const file = join(pkg, path);
    let source = await readFile(file, "utf8");
    const names = [...source.matchAll(/^export (?:async )?(?:function\*? |const |let |class )(\w+)/gm)].map((m) => m[1]);
    if (/^export (?!(?:async )?(?:function|const|let|class) )/m.test(source) || /^import /m.test(source)) {
      throw new Error(`${path}: only \`export function/const/let/class\` and no static import can be folded into the glue`);
    }
    source = source.replace(/^export /gm, "");
    // import("./x") relative to the snippet, made relative to the glue.
    source = source.replace(/import\((["'])(\.{1,2}\/[^"']+)\1\)/g, (_, q, spec) => {
      let target = relative(pkg, resolve(dirname(file), spec)).split(sep).join("/");
      if (target.startsWith("..")) throw new Error(`${path}: import("${spec}") leaves the package`);
      return `import(${q}./${target}${q})`;
    });
    const id = `__snippet${namespaces.size}`;
    namespaces.set(path, id);
    definitions.push(`const ${id} = (() => {\n${source}\nreturn Object.freeze({ __proto__: null, ${names.join(", ")} });\n})();`);
  }
  if (namespaces.size === 0) return 0;
  glue = glue.replace(importLine, (_, __, star, named, path) =>
    star ? `const ${star} = ${namespaces.get(path)};` : `const {${named}} = ${namespaces.get(path)};`);
  // The namespaces first: every former import line refers to them.
  const firstUse = glue.search(/^const (\w+|\{[^}]*\}) = __snippet\d+;$/m);
  glue = glue.slice(0, firstUse) + definitions.join("\n") + "\n" + glue.slice(firstUse);
  // (The wasm module's import names keep the snippets' paths: they are names, not files.)
  if (/^import .* from ["']\.\/snippets\//m.test(glue)) throw new Error(`${glueName} still imports a snippet file`);
  await writeFile(gluePath, glue);
  await rm(join(pkg, "snippets"), { recursive: true, force: true });
  return namespaces.size;
}
