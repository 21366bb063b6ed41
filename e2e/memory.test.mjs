// Memory clients through the built package: `storage: "memory"` runs the IndexedDB store's
// code over an in-memory IndexedDB (pkg/memory/idb.js, fake-indexeddb), a module that a
// page loads (the import() index.js's init() sets up) only when a memory client opens.
import { test } from "node:test";
import assert from "node:assert/strict";
import { withPage } from "./lib.mjs";

const page = `<!doctype html><meta charset="utf-8">
<script type="module">
  import init, { SyncClient } from "/pkg/index.js";
  await init();
  const collections = { trips: { key: "id", indexes: ["day", { field: "tags", multiEntry: true }] } };
  window.openClient = (name, storage) => SyncClient.open({ name, collections, ...(storage ? { storage } : {}) });
  window.databases = async () => (await indexedDB.databases()).map((d) => d.name);
  window.ready = true;
</script>`;

test("memory/ is fetched only by a memory client, which keeps its data to itself and out of IndexedDB", async () => {
  await withPage("/memory.html", page, async ({ tab, requests, errors }) => {
    await tab.evaluate(async () => {
      const client = await window.openClient("durable");
      await client.put("trips", { id: "t1", day: 1, tags: [] });
      client.close();
    });
    assert.deepEqual(requests.filter((p) => p.includes("/memory/")), [], "an IndexedDB client loaded memory/");

    const seen = await tab.evaluate(async () => {
      const a = await window.openClient("mem", "memory");
      const b = await window.openClient("mem", "memory");
      await a.putMany("trips", [
        { id: "t1", day: 2, tags: ["rust", "wasm"] },
        { id: "t2", day: 1, tags: ["wasm"] },
        { id: "t3", day: 3, tags: [] },
      ]);
      const out = {
        got: await a.get("trips", "t1"),
        other: await b.get("trips", "t1"),
        ordered: (await a.query("trips", { orderBy: "-day", limit: 2 })).records.map((r) => r.id),
        tagged: await a.count("trips", { where: { tags: "wasm" } }),
        pending: await a.pending(),
        storage: (await a.health()).storage,
      };
      a.close();
      b.close();
      return out;
    });
    assert.deepEqual(seen.got, { id: "t1", day: 2, tags: ["rust", "wasm"] });
    assert.equal(seen.other, undefined, "two memory clients of one name share nothing");
    assert.deepEqual(seen.ordered, ["t3", "t1"]);
    assert.equal(seen.tagged, 2);
    assert.equal(seen.pending, 3);
    assert.equal(seen.storage.kind, "memory");
    assert.equal(seen.storage.durable, false);
    assert.deepEqual(requests.filter((p) => p.includes("/memory/")), ["/pkg/memory/idb.js"]);
    const databases = await tab.evaluate(() => window.databases());
    assert.ok(databases.includes("durable"), `the IndexedDB client's database: ${databases}`);
    assert.ok(!databases.includes("mem"), `a memory client wrote to IndexedDB: ${databases}`);
    assert.deepEqual(errors, []);
  });
});

test("where IndexedDB throws, open rejects with storage and a memory client of the same config works", async () => {
  // As some private modes and sandboxed frames do: the global's getter throws.
  const init = () => Object.defineProperty(globalThis, "indexedDB", {
    get() { throw new DOMException("The user denied permission to access the database.", "SecurityError"); },
  });
  await withPage("/memory.html", page, async ({ tab }) => {
    const result = await tab.evaluate(async () => {
      const refused = await window.openClient("private").then(() => "opened", (e) => e.code);
      const client = await window.openClient("private", "memory");
      await client.put("trips", { id: "t1", day: 1, tags: [] });
      const back = await client.get("trips", "t1");
      client.close();
      return { refused, back };
    });
    assert.equal(result.refused, "storage");
    assert.deepEqual(result.back, { id: "t1", day: 1, tags: [] });
  }, { init });
});

test("without the package's init (the glue imported itself), a memory client rejects with storage and says what to do", async () => {
  const bare = `<!doctype html><meta charset="utf-8">
<script type="module">
  import init, { SyncClient } from "/pkg/pwa_sync.js";
  await init();
  window.result = await SyncClient.open({ name: "bare", collections: { trips: { key: "id" } }, storage: "memory" })
    .then(() => ({ opened: true }), (e) => ({ code: e.code, message: e.message }));
  window.ready = true;
</script>`;
  await withPage("/bare.html", bare, async ({ tab }) => {
    const result = await tab.evaluate(() => window.result);
    assert.equal(result.code, "storage");
    assert.match(result.message, /in-memory IndexedDB.*init/);
  });
});
