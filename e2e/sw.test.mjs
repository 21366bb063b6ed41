// The service worker and several tabs, end to end in Chromium: Background Sync flushes
// with no page open, a worker killed mid-flush loses nothing and applies nothing twice,
// the outbox drains without Background Sync, a logout in one tab wipes every tab, a
// .wasm another build cached is never read, and a new version waiting to take over opens
// nothing under the tabs of the one before.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, startServer, startProxy, serviceWorkerControl, siteWithPkg, until, pullAll } from "./lib.mjs";

let site;
before(async () => { site = await siteWithPkg("sw-site"); });
after(async () => site.remove());

async function openApp(context, url) {
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  await page.goto(url);
  await page.waitForFunction(() => window.app, null, { timeout: 20_000 });
  return { page, errors };
}

async function goOffline(context) {
  await context.setOffline(true);
  // setOffline does not cut a service worker's own requests.
  await context.route("**/sync/**", (route) => route.abort("internetdisconnected"));
}

async function goOnline(context) {
  await context.unrouteAll({ behavior: "ignoreErrors" });
  await context.setOffline(false);
}

test("writes queued offline reach the server through the worker's sync event, page closed", async () => {
  const server = await startServer(["--static", site.dir, "--cors-any-origin"]);
  const browser = await launch();
  try {
    const context = await browser.newContext();
    const { page, errors } = await openApp(context, `${server.url}/?user=ana`);
    await goOffline(context);
    for (const [id, title] of [["a", "passport"], ["b", "charger"], ["c", "socks"]]) {
      await page.evaluate(([id, title]) => window.app.put(id, title), [id, title]);
    }
    assert.equal(await page.evaluate(() => window.app.pending()), 3);
    assert.deepEqual(errors, []);
    await page.close();
    assert.equal((await pullAll(server.url, "ana")).changes.length, 0, "nothing reached the server while offline");

    await goOnline(context);
    const worker = await serviceWorkerControl(context, server.url);
    await worker.dispatchSync();
    const page2 = await until("the server to hold the writes", async () => {
      const { changes } = await pullAll(server.url, "ana");
      return changes.length === 3 ? changes : null;
    });
    assert.deepEqual(page2.map((c) => c.value.title).sort(), ["charger", "passport", "socks"]);
  } finally {
    await browser.close();
    await server.stop();
  }
});

test("with a custom syncTag, pages register it and the worker's sync event for it flushes", async () => {
  const server = await startServer(["--static", site.dir, "--cors-any-origin"]);
  const browser = await launch();
  try {
    const context = await browser.newContext();
    const { page, errors } = await openApp(context, `${server.url}/?user=cy&tag=trip-outbox`);
    await goOffline(context);
    await page.evaluate(() => window.app.put("a", "tent"));
    // The page asks Background Sync for the config's tag, the one the worker answers.
    const tags = await until("a Background Sync registration", async () => {
      const tags = await page.evaluate(() => window.app.syncTags());
      return tags.length > 0 ? tags : null;
    });
    assert.deepEqual(tags, ["trip-outbox"]);
    assert.deepEqual(errors, []);
    await page.close();

    await goOnline(context);
    const worker = await serviceWorkerControl(context, server.url);
    await worker.dispatchSync(false, "trip-outbox");
    await until("the server to hold the write", async () => (await pullAll(server.url, "cy")).changes.length === 1);
  } finally {
    await browser.close();
    await server.stop();
  }
});

test("a worker stopped mid-flush loses nothing and applies nothing twice", async () => {
  const server = await startServer(["--static", site.dir, "--cors-any-origin"]);
  const proxy = await startProxy(server.url);
  const browser = await launch();
  try {
    const context = await browser.newContext();
    const endpoint = `${proxy.url}/sync`;
    const { page } = await openApp(context, `${server.url}/?user=bo&endpoint=${encodeURIComponent(endpoint)}`);
    await goOffline(context);
    for (let i = 0; i < 5; i++) await page.evaluate((i) => window.app.put(`k${i}`, `item ${i}`), i);
    await page.close();
    await goOnline(context);

    const worker = await serviceWorkerControl(context, server.url);
    const kill = async () => {
      const running = await until("the worker to run", () => worker.running());
      await worker.stop(running.versionId);
      await until("the worker to stop", () => !worker.running());
    };

    // 1. The push is held at the proxy; the worker is killed while it waits.
    await proxy.faults({ rules: [{ path: "/sync/push", fault: { kind: "delay", ms: 3000 } }] });
    await worker.dispatchSync().catch(() => {});
    await new Promise((r) => setTimeout(r, 1000));
    await kill();

    // 2. The server applies the push but its answer is lost; the worker is killed too.
    await proxy.faults({ rules: [{ path: "/sync/push", fault: { kind: "drop_response" } }] });
    await worker.dispatchSync().catch(() => {});
    await until("the server to apply the push", async () => (await pullAll(server.url, "bo")).changes.length === 5);
    await kill();

    // 3. The next flush (a fresh worker) sends the same mutations again: the server
    // answers as before and applies nothing twice.
    await proxy.faults({ rules: [] });
    await worker.dispatchSync();
    const reopened = await openApp(context, `${server.url}/?user=bo&endpoint=${encodeURIComponent(endpoint)}`);
    await until("the outbox to drain", () => reopened.page.evaluate(async () => (await window.app.pending()) === 0));
    const { changes, checkpoint } = await pullAll(server.url, "bo");
    assert.equal(changes.length, 5);
    // A fresh server numbers versions 1, 2, …: a second application would go past 5.
    assert.equal(checkpoint, 5, "each mutation applied exactly once");
    assert.deepEqual((await reopened.page.evaluate(() => window.app.list())).map((v) => v.id), ["k0", "k1", "k2", "k3", "k4"]);
  } finally {
    await browser.close();
    await proxy.stop();
    await server.stop();
  }
});

test("without Background Sync the outbox drains when the page is back online", async () => {
  const server = await startServer(["--static", site.dir, "--cors-any-origin"]);
  const browser = await launch();
  try {
    const context = await browser.newContext();
    // As in Firefox and Safari.
    await context.addInitScript(() => {
      delete window.SyncManager;
      if (window.ServiceWorkerRegistration) delete ServiceWorkerRegistration.prototype.sync;
    });
    const { page } = await openApp(context, `${server.url}/?user=cy`);
    assert.equal(await page.evaluate(() => "SyncManager" in window), false);
    await goOffline(context);
    await page.evaluate(() => window.app.put("x", "offline write"));
    assert.equal(await page.evaluate(() => window.app.pending()), 1);
    await goOnline(context);
    await until("the page to flush on `online`", () => page.evaluate(async () => (await window.app.pending()) === 0));
    assert.equal((await pullAll(server.url, "cy")).changes.length, 1);
  } finally {
    await browser.close();
    await server.stop();
  }
});

test("a logout in one tab wipes the data in every tab", async () => {
  const server = await startServer(["--static", site.dir, "--cors-any-origin"]);
  const browser = await launch();
  try {
    const context = await browser.newContext();
    const one = await openApp(context, `${server.url}/?user=di`);
    const two = await openApp(context, `${server.url}/?user=di`);
    await one.page.evaluate(() => window.app.put("secret", "diary"));
    await until("the other tab to see the write", () => two.page.evaluate(async () => (await window.app.list()).length === 1));
    await one.page.evaluate(() => window.app.client.clear());
    await until("the other tab to hear of the logout", () => two.page.evaluate(() => window.app.events.some((e) => e.name === "pwa-sync:cleared")));
    const code = await two.page.evaluate(() => window.app.list().then(() => "open", (e) => e.code));
    assert.equal(code, "closed", "the other tab's client is closed: it cannot write into the wiped data");
    const raw = await two.page.evaluate(async () => {
      const db = await new Promise((ok, fail) => { const r = indexedDB.open("sw-e2e-di"); r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
      const count = (store) => new Promise((ok) => { const r = db.transaction(store).objectStore(store).count(); r.onsuccess = () => ok(r.result); });
      const counts = { items: await count("items"), outbox: await count("outbox") };
      db.close();
      return counts;
    });
    assert.deepEqual(raw, { items: 0, outbox: 0 });
    assert.deepEqual(await one.page.evaluate(() => window.app.list()), [], "the clearing tab goes on, empty");
  } finally {
    await browser.close();
    await server.stop();
  }
});

test("a .wasm another build cached is never read, and its cache goes once this build is active", async () => {
  const server = await startServer(["--static", site.dir, "--cors-any-origin"]);
  const browser = await launch();
  try {
    const context = await browser.newContext();
    // What an older release left: its cache, holding its module at the same address (the
    // bytes here are not a module at all, so reading them fails the worker's init).
    const blank = await context.newPage();
    await blank.goto(`${server.url}/blank.html`);
    await blank.evaluate(async () => {
      const url = new URL("/pkg/pwa_sync_bg.wasm", location.href).href;
      for (const name of ["pwa-sync-wasm-v1", "pwa-sync-wasm-0000000000000000"]) {
        await (await caches.open(name)).put(url, new Response("not this build's module", { headers: { "content-type": "application/wasm" } }));
      }
    });
    const { page, errors } = await openApp(context, `${server.url}/?user=el`);
    await goOffline(context);
    await page.evaluate(() => window.app.put("a", "lamp"));
    assert.deepEqual(errors, []);
    await page.close();
    await goOnline(context);
    const worker = await serviceWorkerControl(context, server.url);
    await worker.dispatchSync();
    await until("the worker to flush the write", async () => ((await pullAll(server.url, "el")).changes.length === 1 ? true : null));
    const names = await blank.evaluate(() => caches.keys());
    const ours = names.filter((n) => n.startsWith("pwa-sync-wasm-"));
    assert.equal(ours.length, 1, `only this build's cache is left: ${names}`);
    assert.match(ours[0], /^pwa-sync-wasm-[0-9a-f]{16}$/);
    assert.notEqual(ours[0], "pwa-sync-wasm-0000000000000000");
  } finally {
    await browser.close();
    await server.stop();
  }
});

test("a new version waiting to take over opens nothing: the tabs of the one before keep working", async () => {
  const server = await startServer(["--static", site.dir, "--cors-any-origin"]);
  const browser = await launch();
  try {
    const context = await browser.newContext();
    const { page, errors } = await openApp(context, `${server.url}/?user=fa`);
    // From this load on, the first version controls the page: a new one has to wait.
    await page.reload();
    await page.waitForFunction(() => window.app, null, { timeout: 20_000 });
    assert.ok(await page.evaluate(() => navigator.serviceWorker.controller !== null));
    await page.evaluate(() => window.app.put("a", "tent"));
    // The app's next release declares schema version 2: its worker installs and waits.
    const state = await page.evaluate(async () => {
      const url = `./sw.js?user=fa&endpoint=${encodeURIComponent(`${location.origin}/sync`)}&version=2`;
      const registration = await navigator.serviceWorker.register(url, { type: "module" });
      const worker = registration.installing ?? registration.waiting;
      await new Promise((resolve) => {
        if (worker.state === "installed") return resolve();
        worker.addEventListener("statechange", () => worker.state !== "installing" && resolve());
      });
      return worker.state;
    });
    assert.equal(state, "installed", "the new version waits for the tabs of the first to close");
    // A worker that opened its client while waiting would have upgraded the database to
    // version 2 now, closing this tab's connection: its next call would reject with
    // schema-downgrade, and a reload would meet the same first version's page again.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await page.evaluate(() => window.app.put("b", "stove"));
    assert.deepEqual((await page.evaluate(() => window.app.list())).map((r) => r.id).sort(), ["a", "b"]);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
    await server.stop();
  }
});
