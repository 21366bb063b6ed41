// The documentation's code, checked: every js/jsx/ts/tsx block of README.md and of the
// package README (js/README.md, what npm shows) is type-checked in strict mode against
// the built package, and the package README's first example runs in Chromium. The package
// README's blocks that are files of the newcomer app (first line `// src/App.tsx`,
// `// vite.config.ts`, ...) are that app's files to the letter, and newcomer.test.mjs
// type-checks them with the app's own `tsc -b` (they import Vite, Workbox, each other).
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { access, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { tmpdir } from "node:os";
import { ROOT, runExample } from "./lib.mjs";

// TypeScript and React's types come with the demo app (www/), which make test-e2e builds first.
const WWW = join(ROOT, "www/node_modules");
const EXTENSIONS = { js: "js", jsx: "jsx", ts: "ts", tsx: "tsx" };

/** The code blocks of a markdown file: {lang, code, line, file}. A block whose first line
 * is a comment naming a file (`// src/sync.ts`) is that file of one app, so blocks can
 * import each other as the README's app does. */
export async function codeBlocks(markdown) {
  const text = await readFile(join(ROOT, markdown), "utf8");
  const blocks = [];
  for (const m of text.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)) {
    if (!EXTENSIONS[m[1]]) continue;
    const line = text.slice(0, m.index).split("\n").length;
    const named = m[2].match(/^\/\/ (src\/[\w./-]+\.(?:ts|tsx|js|jsx))\n/);
    blocks.push({ lang: m[1], code: m[2], line, file: named?.[1] ?? `block-${line}.${EXTENSIONS[m[1]]}` });
  }
  return blocks;
}

/** Whether a block is a file of the newcomer app (`// <path>` on its first line). */
async function isNewcomerFile(code) {
  const path = code.match(/^\/\/ (\S+)\n/)?.[1];
  return path !== undefined && (await access(join(ROOT, "e2e/newcomer", path)).then(() => true, () => false));
}

/** Write each document's blocks into its own folder, with a strict tsconfig; run tsc. */
async function typeCheck(docs) {
  const dir = await mkdtemp(join(tmpdir(), "pwa-sync-docs-"));
  const files = [];
  try {
    for (const doc of docs) {
      const blocks = await codeBlocks(doc);
      assert.ok(blocks.length > 0, `${doc} has code blocks`);
      for (const block of blocks) {
        if (doc === "js/README.md" && (await isNewcomerFile(block.code))) continue;
        const path = join(dir, doc.replace(/[/.]/g, "_"), block.file);
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, block.code);
        files.push({ path, where: `${doc}:${block.line}` });
      }
    }
    const pkg = join(ROOT, "pkg");
    await writeFile(join(dir, "tsconfig.json"), JSON.stringify({
      compilerOptions: {
        // The strict settings of Vite's react-ts template, and skipLibCheck off.
        target: "ES2022", lib: ["ES2022", "DOM", "DOM.Iterable"],
        module: "ESNext", moduleResolution: "bundler", moduleDetection: "force", jsx: "react-jsx",
        strict: true, noFallthroughCasesInSwitch: true, noUncheckedSideEffectImports: true,
        skipLibCheck: false, noEmit: true, allowJs: true, checkJs: true, types: [],
        paths: {
          "pwa-sync": [join(pkg, "index.d.ts")], "pwa-sync/*": [join(pkg, "*.d.ts")],
          "react": [join(WWW, "@types/react/index.d.ts")], "react/*": [join(WWW, "@types/react/*")],
          "react-dom/*": [join(WWW, "@types/react-dom/*")],
        },
      },
      files: files.map((f) => f.path),
    }));
    try {
      execFileSync(join(WWW, ".bin/tsc"), ["-p", dir], { encoding: "utf8" });
      return { ok: true, count: files.length };
    } catch (e) {
      // Name the README line instead of the temporary file.
      let report = `${e.stdout}${e.stderr}`;
      // (tsc prints paths relative to its working directory.)
      for (const f of files) report = report.replaceAll(relative(process.cwd(), f.path), f.where);
      return { ok: false, report };
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test("every code block of README.md and js/README.md type-checks in strict mode against pkg/", async () => {
  const result = await typeCheck(["README.md", "js/README.md"]);
  assert.ok(result.ok, `tsc found errors in the READMEs' code:\n${result.report}`);
});

test("the package README's first example runs and prints what its comment says", async () => {
  const readme = await readFile(join(ROOT, "js/README.md"), "utf8");
  const block = readme.match(/<!-- package-example:start -->\s*```ts\n([\s\S]*?)```\s*<!-- package-example:end -->/);
  assert.ok(block, "js/README.md has the marked example block");
  // The browser runs JavaScript: the types are stripped as a bundler would.
  const ts = createRequire(join(WWW, "x.js"))("typescript");
  const js = ts.transpileModule(block[1], { compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext } }).outputText;
  const { logs, errors, stores } = await runExample(js, { entry: "index.js", db: "travel-ana" });
  assert.deepEqual(errors, []);
  assert.deepEqual(logs, ["Lisbon in May 1 2"]);
  const stored = JSON.stringify(stores.attendees);
  assert.ok(stored.includes("vegetarian") && !stored.includes("#4711"), `attendees as stored: ${stored}`);
});
