// The end-to-end behaviour where there is no Background Sync, for every engine that lacks
// it (WebKit: every iOS browser; Firefox): the outbox drains when the page loads, comes
// back online, becomes visible and by its retry timer; the service-worker helper caches
// the wasm, flushes on request, and when the browser starts it again with the .wasm
// unreachable opens from its cache; and where there is no periodic sync, an open page
// pulls by its `pullIntervalMs`. Driven through WebDriver (./engines.mjs); the sync API
// sits behind the fault proxy, which plays "offline" by dropping every push.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { readFile, stat } from "node:fs/promises";
import { extname, join } from "node:path";
import { build } from "esbuild";
import { startServer, startProxy, siteWithPkg, sleep, until, pullAll } from "./lib.mjs";
import { activeWorkerState, cachedWasmBytes } from "./engines.mjs";


const pushedCount = async (server, user) => (await pullAll(server, user)).changes.length;

/** The fault proxy drops every push ("offline"), or forwards everything again. */
const offline = (proxy) => proxy.faults({ rules: [{ path: "/sync/push", fault: { kind: "drop_request" }, times: 1_000_000 }] });
const online = async (proxy) => {
  const res = await fetch(`${proxy.url}/_faults`, { method: "DELETE" });
  assert.equal(res.status, 200);
};

async function open(driver, url) {
  await driver.get(url);
  await until("the app to open", async () => {
    const [ready, error] = await driver.executeScript("return [!!window.app, window.appError ?? null]");
    if (error) throw new Error(`the page failed: ${error}`);
    return ready;
  });
}

const pending = (driver) => driver.executeAsyncScript("const done = arguments[arguments.length - 1]; window.app.pending().then(done, (e) => done(-1));");

/** Queue a write while offline: the push after it fails, so it stays queued. */
async function queueOffline(driver, proxy, id) {
  await offline(proxy);
  await driver.executeAsyncScript(`const done = arguments[arguments.length - 1];
    window.app.put(${JSON.stringify(id)}, "queued offline").then(() => done(), (e) => done(String(e)));`);
  await until(`the push of ${id} to fail`, async () =>
    (await driver.executeScript("return window.app.client.status().state")) === "offline");
  assert.equal(await pending(driver), 1);
}

/**
 * The site from a plain static server whose .wasm can be made unreachable (503), as when
 * the device is offline, while pages and scripts still load; counts the .wasm requests.
 */
async function staticSite(dir) {
  const types = { ".html": "text/html", ".js": "text/javascript", ".wasm": "application/wasm", ".json": "application/json" };
  const site = { blockWasm: false, wasmRequests: 0, blockedWasmRequests: 0 };
  const http = createServer(async (req, res) => {
    const path = new URL(req.url, "http://site").pathname;
    const file = path === "/" ? "/index.html" : path;
    if (extname(file) === ".wasm") {
      site.wasmRequests++;
      if (site.blockWasm) {
        site.blockedWasmRequests++;
        return res.writeHead(503).end();
      }
    }
    try {
      const body = await readFile(join(dir, file));
      res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise((r) => http.listen(0, "127.0.0.1", r));
  site.url = `http://127.0.0.1:${http.address().port}`;
  site.stop = () => new Promise((r) => http.close(r));
  return site;
}

/** The worker this engine must run: classic in Firefox before 147 (no module service
 * workers there), a module everywhere else. */
async function workerKind(driver) {
  const caps = await driver.getCapabilities();
  const firefox = caps.get("browserName") === "firefox";
  return firefox && Number.parseInt(caps.get("browserVersion"), 10) < 147 ? "classic" : "module";
}

const workerStarts = (driver) => driver.executeAsyncScript(`const done = arguments[arguments.length - 1];
  caches.open("worker-starts").then((c) => c.keys()).then((k) => done(k.length), (e) => done(String(e)));`);

/** The tests of an engine without Background Sync, `launch` starting its browser. */
export function fallbackTests(engine, launch) {
  let site;
  before(async () => {
    site = await siteWithPkg("webkit-site");
    // The worker as a classic script too, for engines without module service workers: one
    // file, as a bundler makes it (the worker passes `wasmUrl`, so the empty
    // `import.meta` of a classic script is never read).
    await build({
      entryPoints: [join(site.dir, "sw.js")], outfile: join(site.dir, "sw-classic.js"),
      bundle: true, format: "iife", logLevel: "warning", logOverride: { "empty-import-meta": "silent" },
    });
  });
  after(async () => site.remove());

  test(`in ${engine}, without Background Sync, the outbox drains on load, online, visible and by the retry timer`, async () => {
    const server = await startServer(["--static", site.dir, "--cors-any-origin"]);
    const proxy = await startProxy(server.url);
    const { driver, stop } = await launch();
    const user = `wk-${Date.now()}`;
    const page = (retryMs) => `${server.url}/?user=${user}&endpoint=${encodeURIComponent(`${proxy.url}/sync`)}&retryMs=${retryMs}`;
    try {
      // The retry timer waits 10 minutes here: only the trigger under test can drain.
      await open(driver, page(600_000));
      assert.equal(await driver.executeScript("return 'SyncManager' in self || !!ServiceWorkerRegistration?.prototype?.sync"), false,
        `${engine} has Background Sync now: this test no longer covers the fallback alone`);

      // On page load.
      await queueOffline(driver, proxy, "on-load");
      await online(proxy);
      await sleep(1000);
      assert.equal(await pending(driver), 1, "drained before the page loaded again");
      await open(driver, page(600_000));
      await until("the outbox to drain on load", async () => (await pending(driver)) === 0);
      assert.equal(await pushedCount(server.url, user), 1);

      // On `online` (WebDriver cannot take these browsers offline: the event is what the page hears).
      await queueOffline(driver, proxy, "on-online");
      await online(proxy);
      await sleep(1000);
      assert.equal(await pending(driver), 1, "drained before `online`");
      await driver.executeScript("window.dispatchEvent(new Event('online'))");
      await until("the outbox to drain on `online`", async () => (await pending(driver)) === 0);
      assert.equal(await pushedCount(server.url, user), 2);

      // On becoming visible (the page is in front, so `visibilityState` is "visible").
      await queueOffline(driver, proxy, "on-visible");
      await online(proxy);
      await sleep(1000);
      assert.equal(await pending(driver), 1, "drained before `visibilitychange`");
      assert.equal(await driver.executeScript("return document.visibilityState"), "visible");
      await driver.executeScript("document.dispatchEvent(new Event('visibilitychange'))");
      await until("the outbox to drain on `visibilitychange`", async () => (await pending(driver)) === 0);
      assert.equal(await pushedCount(server.url, user), 3);

      // By the retry timer alone (2 s here), no event.
      await open(driver, page(2_000));
      await queueOffline(driver, proxy, "by-timer");
      await online(proxy);
      await until("the retry timer to drain the outbox", async () => (await pending(driver)) === 0, 15_000);
      assert.equal(await pushedCount(server.url, user), 4);
    } finally {
      await stop();
      await proxy.stop();
      await server.stop();
    }
  });

  test(`in ${engine}, a page with encryption loads seal/ by the package's import() and stores only sealed values`, async () => {
    const server = await startServer(["--static", site.dir, "--cors-any-origin"]);
    const { driver, stop } = await launch();
    try {
      await driver.get(`${server.url}/sealed.html`);
      const result = await until("the sealed page to finish", () => driver.executeScript("return window.result ?? null"));
      assert.equal(result.error, undefined, result.error);
      assert.deepEqual(result.back, { id: "n1", text: "tops3cret diary" });
      assert.doesNotMatch(result.raw, /tops3cret/);
      assert.match(result.raw, /pwa-sync:sealed:v1:/);
      assert.ok(result.sealFetched, "seal/'s .wasm was fetched");
    } finally {
      await stop();
      await server.stop();
    }
  });

  test(`in ${engine}, the service-worker helper caches the wasm and flushes the outbox`, async () => {
    const server = await startServer(["--static", site.dir, "--cors-any-origin"]);
    const proxy = await startProxy(server.url);
    const { driver, stop } = await launch();
    const user = `wksw-${Date.now()}`;
    try {
      await open(driver, `${server.url}/?user=${user}&endpoint=${encodeURIComponent(`${proxy.url}/sync`)}&sw=1`);
      assert.equal(await activeWorkerState(driver), "activated");
      assert.equal(await driver.executeScript("return window.swKind"), await workerKind(driver));
      // Installed with the .wasm in its cache, byte for byte.
      const wasmBytes = (await stat(join(site.dir, "pkg/pwa_sync_bg.wasm"))).size;
      assert.equal(await cachedWasmBytes(driver, "./pkg/pwa_sync_bg.wasm"), wasmBytes);
      // No Periodic Background Sync here: said, not thrown.
      const periodic = await driver.executeAsyncScript(`const done = arguments[arguments.length - 1];
        window.app.registerPeriodicSync().then(done, (e) => done("threw " + e));`);
      assert.deepEqual(periodic, { registered: false, reason: "unsupported" });

      // A write queued offline; the page's own retry waits 10 minutes, so the worker's flush
      // (a pwa-sync:flush message, what requestFlush sends) is what drains it.
      await queueOffline(driver, proxy, "via-worker");
      await online(proxy);
      await sleep(1000);
      assert.equal(await pending(driver), 1, "drained before the flush message");
      await driver.executeAsyncScript("const done = arguments[arguments.length - 1]; window.app.requestFlush().then(() => done(), (e) => done(String(e)));");
      await until("the worker to flush the outbox", async () => (await pending(driver)) === 0);
      assert.equal(await pushedCount(server.url, user), 1);
    } finally {
      await stop();
      await proxy.stop();
      await server.stop();
    }
  });

  test(`in ${engine}, a service worker started again with the .wasm unreachable opens from its cache and flushes`, async () => {
    const server = await startServer(["--cors-any-origin"]);
    const proxy = await startProxy(server.url);
    const statics = await staticSite(site.dir);
    const { driver, stop } = await launch();
    const user = `wkcold-${Date.now()}`;
    try {
      await open(driver, `${statics.url}/?user=${user}&endpoint=${encodeURIComponent(`${proxy.url}/sync`)}&sw=1`);
      assert.equal(await activeWorkerState(driver), "activated");
      assert.equal(await driver.executeScript("return window.swKind"), await workerKind(driver));
      await queueOffline(driver, proxy, "cold-start");
      const startsBefore = await workerStarts(driver);

      // The .wasm goes unreachable and no page of the site stays open: the browser stops a
      // worker with no clients once it has been idle (WebKit: 5-15 s here, measured;
      // Firefox: 2 s, by the preference engines.mjs sets).
      statics.blockWasm = true;
      await driver.get("about:blank");
      await sleep(20_000);
      await online(proxy);

      // A page that never loads the wasm asks for a flush: the browser starts the worker
      // again, the helper opens the client from the cached .wasm, and the write is pushed.
      await driver.get(`${statics.url}/blank.html`);
      await until("the blank page", async () => (await driver.executeScript("return document.getElementById('state')?.textContent")) === "ready");
      await driver.executeAsyncScript("const done = arguments[arguments.length - 1]; window.requestFlush().then(() => done(), (e) => done(String(e)));");
      await until("the restarted worker to push the queued write", async () => (await pushedCount(server.url, user)) === 1, 30_000);
      assert.ok((await workerStarts(driver)) > startsBefore, `${engine} started the worker again`);
      assert.equal(statics.blockedWasmRequests, 0, "the restarted worker never asked the network for the .wasm");
    } finally {
      await stop();
      await statics.stop();
      await proxy.stop();
      await server.stop();
    }
  });

  pullIntervalTest(engine, launch, () => site);
}

/**
 * Without periodic sync (and with no event stream), an open page pulls by its
 * `pullIntervalMs`: a write another device made reaches it with no other trigger.
 */
export function pullIntervalTest(engine, launch, currentSite) {
  test(`in ${engine}, an open page pulls another device's write by its pull interval`, async () => {
    const server = await startServer(["--static", currentSite().dir, "--cors-any-origin"]);
    const { driver, stop } = await launch();
    const user = `pull-${engine.toLowerCase()}-${Date.now()}`;
    try {
      // The retry timer waits 10 minutes and there is no event stream: only the interval pulls.
      await open(driver, `${server.url}/?user=${user}&endpoint=${encodeURIComponent(`${server.url}/sync`)}&retryMs=600000&pullMs=1500`);
      await until("the first sync", async () => (await driver.executeScript("return window.app.client.status().state")) === "synced");
      const res = await fetch(`${server.url}/sync/push`, {
        method: "POST",
        headers: { authorization: `Bearer dev:${user}`, "x-sync-protocol": "1", "content-type": "application/json" },
        body: JSON.stringify({ clientId: "another-device", mutations: [{ id: 1, collection: "items", key: "from-elsewhere", op: "put",
          value: { id: "from-elsewhere", title: "written elsewhere" }, baseVersion: null, hlc: `${String(Date.now()).padStart(15, "0")}-0000-other` }] }),
        signal: AbortSignal.timeout(10_000),
      });
      assert.equal((await res.json()).results?.[0]?.status, "applied");
      await until("the interval pull to bring the other device's write", async () =>
        (await driver.executeAsyncScript(`const done = arguments[arguments.length - 1];
          window.app.client.get("items", "from-elsewhere").then((r) => done(r?.title ?? null), (e) => done(String(e)));`)) === "written elsewhere", 15_000);
    } finally {
      await stop();
      await server.stop();
    }
  });
}
