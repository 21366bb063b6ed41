// The package's metadata as npm shows it: licenses shipped, no placeholder fields, and a
// sideEffects that matches what is shipped.
import { test } from "node:test";
import { execFileSync } from "node:child_process";
import assert from "node:assert/strict";
import { access, readFile } from "node:fs/promises";
import { join } from "node:path";
import { ROOT } from "./lib.mjs";

const pkg = (name) => join(ROOT, "pkg", name);
const exists = (p) => access(p).then(() => true, () => false);

test("pkg/package.json: licenses shipped, no placeholders, sideEffects as shipped", async () => {
  const text = await readFile(pkg("package.json"), "utf8");
  const manifest = JSON.parse(text);
  assert.equal(manifest.license, "MIT OR Apache-2.0");
  for (const license of ["LICENSE-MIT", "LICENSE-APACHE"]) {
    assert.ok(manifest.files.includes(license), `${license} in files`);
    assert.ok(await exists(pkg(license)), `${license} in pkg/`);
  }
  assert.ok(!/example\.invalid/.test(text), "no placeholder URL");
  assert.equal(manifest.repository, undefined);
  const snippets = await exists(pkg("snippets"));
  assert.deepEqual(manifest.sideEffects, snippets ? ["./snippets/*"] : false);
  assert.equal(manifest.files.includes("snippets/"), snippets);
  assert.ok(manifest.keywords.includes("offline-first"));
  assert.match(manifest.engines.node, /^>=\d+/);
});

test("the built types compile under strict settings with skipLibCheck off; optional parameters are optional", () => {
  // TypeScript comes with the demo app (www/), which make test-e2e builds first.
  const tsc = join(ROOT, "www/node_modules/.bin/tsc");
  try {
    execFileSync(tsc, ["-p", join(ROOT, "e2e/types/tsconfig.json")], { encoding: "utf8" });
  } catch (e) {
    assert.fail(`tsc found type errors:\n${e.stdout}${e.stderr}`);
  }
});
