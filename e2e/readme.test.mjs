// Runs the README's usage example, exactly as written there, in headless Chromium
// against the built pkg/, and checks what it prints and what IndexedDB then holds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ROOT, serve, launch } from "./lib.mjs";

async function readmeExample() {
  const readme = await readFile(join(ROOT, "README.md"), "utf8");
  const block = readme.match(/<!-- readme-example:start -->\s*```js\n([\s\S]*?)```\s*<!-- readme-example:end -->/);
  assert.ok(block, "README.md has the marked example block");
  return block[1];
}

test("the README example runs and does what its comments say", async () => {
  const example = await readmeExample();
  const page = `<!doctype html><meta charset="utf-8">
<script type="importmap">{"imports": {"pwa-sync": "/pkg/pwa_sync.js"}}</script>
<script type="module">
${example}
window.__exampleDone = true;
</script>`;
  const server = await serve(ROOT, { "/readme-example.html": page });
  const browser = await launch();
  try {
    const tab = await browser.newPage();
    const logs = [];
    const errors = [];
    tab.on("console", (m) => m.type() === "log" && logs.push(m.text()));
    tab.on("pageerror", (e) => errors.push(e.message));
    await tab.goto(`${server.url}/readme-example.html`);
    await tab.waitForFunction(() => window.__exampleDone === true || undefined, null, { timeout: 30_000 })
      .catch(() => assert.fail(`example did not finish; errors: ${errors.join("; ")}; logs: ${logs.join(" | ")}`));
    assert.deepEqual(errors, []);
    assert.deepEqual(logs.slice(0, 6), ["dining: vegetarian", "Lisbon in May", "1", "false", "2", logs[5]]);
    const csv = logs[5].split("\r\n");
    assert.equal(csv[0], "collection,dining,id,name,items,owner,title");
    assert.equal(csv[1], "attendees,vegetarian,a1,Ana,,,");
    assert.equal(csv[2], "trips,,t1,,\"[\"\"passport\"\"]\",ana,Lisbon in May");

    // Nothing of the omitted field reached IndexedDB, in any store.
    const raw = await tab.evaluate(async () => {
      const db = await new Promise((ok, fail) => {
        const req = indexedDB.open("travel-ana");
        req.onsuccess = () => ok(req.result);
        req.onerror = () => fail(req.error);
      });
      const dump = {};
      for (const name of db.objectStoreNames) {
        dump[name] = await new Promise((ok, fail) => {
          const req = db.transaction(name).objectStore(name).getAll();
          req.onsuccess = () => ok(req.result);
          req.onerror = () => fail(req.error);
        });
      }
      db.close();
      return dump;
    });
    assert.deepEqual(Object.keys(raw).sort(), ["attendees", "audit", "conflicts", "meta", "outbox", "trips"]);
    assert.equal(raw.outbox.length, 2);
    assert.equal(raw.outbox[0].op, "put");
    assert.equal(raw.outbox[0].value.title, "Lisbon in May");
    assert.ok(!JSON.stringify(raw).includes("4711"), "accessCode must never be written to IndexedDB");
  } finally {
    await browser.close();
    await server.close();
  }
});
