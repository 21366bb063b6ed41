// Encryption at rest through the built package: the cipher is pkg/seal/, a module of its
// own that a page loads (the import() index.js's init() sets up) only when its config has
// `encryption`, and that the service-worker helper loads itself (a worker cannot
// import()). Values reach IndexedDB sealed, and the worker opens a page's sealed writes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, startServer, serviceWorkerControl, siteWithPkg, until, pullAll, withPage } from "./lib.mjs";

// 32 bytes, base64.
const KEY = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=";

const page = `<!doctype html><meta charset="utf-8">
<script type="module">
  import init, { SyncClient } from "/pkg/index.js";
  await init();
  window.openClient = (name, key) => SyncClient.open({
    name, collections: { notes: { key: "id" } }, ...(key ? { encryption: { key } } : {}),
  });
  window.dump = (name) => new Promise((ok, fail) => {
    const req = indexedDB.open(name);
    req.onerror = () => fail(req.error);
    req.onsuccess = () => {
      const db = req.result;
      const q = db.transaction("notes").objectStore("notes").getAll();
      q.onsuccess = () => { db.close(); ok(JSON.stringify(q.result)); };
      q.onerror = () => fail(q.error);
    };
  });
  window.ready = true;
</script>`;

test("seal/ is fetched only by a client with encryption, and then nothing reaches IndexedDB unsealed", async () => {
  await withPage("/sealed.html", page, async ({ tab, requests, errors }) => {
    await tab.evaluate(async () => {
      const client = await window.openClient("plain");
      await client.put("notes", { id: "n1", text: "plain words" });
      client.close();
    });
    assert.deepEqual(requests.filter((p) => p.includes("/seal/")), [], "a client without encryption loaded seal/");
    assert.match(await tab.evaluate(() => window.dump("plain")), /plain words/);

    const read = await tab.evaluate(async (key) => {
      const client = await window.openClient("sealed", key);
      await client.put("notes", { id: "n1", text: "tops3cret diary" });
      const back = await client.get("notes", "n1");
      client.close();
      return back;
    }, KEY);
    assert.deepEqual(read, { id: "n1", text: "tops3cret diary" });
    assert.ok(requests.includes("/pkg/seal/pwa_sync_seal.js"), `seal/ glue loaded: ${requests.join(", ")}`);
    assert.ok(requests.includes("/pkg/seal/pwa_sync_seal_bg.wasm"), "seal/ module fetched");
    const raw = await tab.evaluate(() => window.dump("sealed"));
    assert.doesNotMatch(raw, /tops3cret/);
    assert.match(raw, /pwa-sync:sealed:v1:/);

    // A wrong key is the cipher's to refuse: invalid-config, as before the split.
    const refused = await tab.evaluate(() => window.openClient("short-key", "AQID").then(() => "opened", (e) => e.code));
    assert.equal(refused, "invalid-config");
    assert.deepEqual(errors, []);
  });
});

let site;
before(async () => { site = await siteWithPkg("sw-site"); });
after(async () => site.remove());

test("the service worker loads seal/ itself and pushes a page's sealed offline writes, page closed", async () => {
  const server = await startServer(["--static", site.dir, "--cors-any-origin"]);
  const browser = await launch();
  try {
    const context = await browser.newContext();
    const tab = await context.newPage();
    const errors = [];
    tab.on("pageerror", (e) => errors.push(e.message));
    await tab.goto(`${server.url}/?user=sealed-ana&key=${encodeURIComponent(KEY)}`);
    await tab.waitForFunction(() => window.app, null, { timeout: 20_000 });
    await context.setOffline(true);
    await context.route("**/sync/**", (route) => route.abort("internetdisconnected"));
    await tab.evaluate(() => window.app.put("a", "passport"));
    assert.equal(await tab.evaluate(() => window.app.pending()), 1);
    assert.deepEqual(errors, []);
    await tab.close();

    await context.unrouteAll({ behavior: "ignoreErrors" });
    await context.setOffline(false);
    const worker = await serviceWorkerControl(context, server.url);
    await worker.dispatchSync();
    const changes = await until("the server to hold the write", async () => {
      const { changes } = await pullAll(server.url, "sealed-ana");
      return changes.length === 1 ? changes : null;
    });
    // The worker opened the sealed value: the server holds the app's value.
    assert.deepEqual(changes[0].value, { id: "a", title: "passport" });
  } finally {
    await browser.close();
    await server.stop();
  }
});
