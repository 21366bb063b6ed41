// Runs the README's usage example, exactly as written there, in headless Chromium
// against the built pkg/, and checks what it prints and what IndexedDB then holds.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { ROOT, runExample } from "./lib.mjs";

async function readmeExample() {
  const readme = await readFile(join(ROOT, "README.md"), "utf8");
  const block = readme.match(/<!-- readme-example:start -->\s*```js\n([\s\S]*?)```\s*<!-- readme-example:end -->/);
  assert.ok(block, "README.md has the marked example block");
  return block[1];
}

test("the README example runs and does what its comments say", async () => {
  const { logs, errors, stores: raw } = await runExample(await readmeExample(), { db: "travel-ana" });
  assert.deepEqual(errors, []);
  assert.deepEqual(logs.slice(0, 6), ["dining: vegetarian", "Lisbon in May", "1", "false", "2", logs[5]]);
  const csv = logs[5].split("\r\n");
  // The fields in the order first seen, each record's in its own order.
  assert.equal(csv[0], "collection,id,name,dining,items,owner,title");
  assert.equal(csv[1], "attendees,a1,Ana,vegetarian,,,");
  assert.equal(csv[2], "trips,t1,,,\"[\"\"passport\"\"]\",ana,Lisbon in May");

  // Nothing of the omitted field reached IndexedDB, in any store.
  assert.deepEqual(Object.keys(raw).sort(), ["attendees", "audit", "conflicts", "meta", "outbox", "trips"]);
  assert.equal(raw.outbox.length, 2);
  assert.equal(raw.outbox[0].op, "put");
  assert.equal(raw.outbox[0].value.title, "Lisbon in May");
  assert.ok(!JSON.stringify(raw).includes("#4711"), "accessCode must never be written to IndexedDB");
});
