// Periodic Background Sync from a page (registerPeriodicSync in pwa-sync/sw), in Chromium:
// refused without the permission (reported, not thrown), registered with it, and the
// worker's periodicsync event (dispatched through CDP) syncs what a closed page queued.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { launch, startServer, serviceWorkerControl, siteWithPkg, pullAll, until } from "./lib.mjs";

let site;
before(async () => { site = await siteWithPkg("sw-site"); });
after(async () => site.remove());

async function openApp(context, url) {
  const page = await context.newPage();
  await page.goto(url);
  await page.waitForFunction(() => window.app, null, { timeout: 20_000 });
  return page;
}

test("registerPeriodicSync reports a refusal, registers with the permission, and the event syncs", async () => {
  const server = await startServer(["--static", site.dir]);
  const browser = await launch();
  try {
    const context = await browser.newContext();
    const page = await openApp(context, `${server.url}/?user=pia`);
    const refused = await page.evaluate(() => window.app.registerPeriodicSync({ minIntervalMs: 60_000 }));
    assert.equal(refused.registered, false);
    assert.equal(refused.reason, "denied", JSON.stringify(refused));
    const bad = await page.evaluate(() => window.app.registerPeriodicSync({ minIntervalMs: -1 }).catch((e) => e.code));
    assert.equal(bad, "invalid-config");

    // As an installed app would have it.
    const cdp = await context.newCDPSession(page);
    const { targetInfo } = await cdp.send("Target.getTargetInfo");
    await cdp.send("Browser.grantPermissions", {
      origin: server.url, permissions: ["periodicBackgroundSync"], browserContextId: targetInfo.browserContextId,
    });
    const done = await page.evaluate(() => window.app.registerPeriodicSync());
    assert.deepEqual(done, { registered: true, tag: "pwa-sync", minIntervalMs: 24 * 60 * 60 * 1000 });
    assert.deepEqual(await page.evaluate(() => window.app.periodicTags()), ["pwa-sync"]);

    // A write queued while the server is unreachable, the page closed; the periodic
    // event syncs it.
    await context.route("**/sync/**", (route) => route.abort("internetdisconnected"));
    await page.evaluate(() => window.app.put("p1", "tent"));
    await page.close();
    await context.unrouteAll({ behavior: "ignoreErrors" });
    const worker = await serviceWorkerControl(context, server.url);
    await worker.dispatchPeriodicSync();
    const titles = await until("the server to hold the write", async () => {
      const found = (await pullAll(server.url, "pia")).changes.map((c) => c.value?.title);
      return found.length ? found : null;
    });
    assert.deepEqual(titles, ["tent"]);
  } finally {
    await browser.close();
    await server.stop();
  }
});

test("registerPeriodicSync and requestFlush settle on a page without a service worker", async () => {
  const server = await startServer(["--static", site.dir]);
  const browser = await launch();
  try {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${server.url}/blank.html`);
    // `navigator.serviceWorker.ready` never settles without a registration: each call must
    // settle on its own, well inside the race's 5 s.
    const answers = await page.evaluate(async () => {
      const { registerPeriodicSync, requestFlush } = await import("./pkg/sw.js");
      const within = (promise) =>
        Promise.race([promise, new Promise((resolve) => setTimeout(() => resolve("hung"), 5_000))]);
      return [await within(registerPeriodicSync()), await within(requestFlush().then(() => "flushed"))];
    });
    assert.deepEqual(answers, [
      { registered: false, reason: "unsupported", message: "no service worker is registered for this page" },
      "flushed",
    ]);
  } finally {
    await browser.close();
    await server.stop();
  }
});
