// The demo's service worker in the engines www.test.mjs does not drive: Firefox (ESR 140
// has no module service workers, so the demo's worker is a classic script) and WebKit.
// Served as `make demo` serves it (`--static www/dist`); the worker must activate, with
// the .wasm in the helper's cache byte for byte and the app shell precached.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import { access, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { ROOT, startServer, until } from "./lib.mjs";
import { activeWorkerState, cachedWasmBytes, launchFirefox, launchWebKit } from "./engines.mjs";

const DIST = join(ROOT, "www/dist");

before(async () => {
  await access(join(DIST, "sw.js")).catch(() => {
    throw new Error("www/dist is not built: run `make test-e2e` (or `cd www && npm run build`)");
  });
});

for (const [engine, launch] of [["Firefox", launchFirefox], ["WebKit", launchWebKit]]) {
  test(`in ${engine}, the demo's service worker activates with the .wasm and the app shell cached`, async () => {
    const wasm = (await readdir(join(DIST, "assets"))).find((f) => f.endsWith(".wasm"));
    assert.ok(wasm, "the demo build has a .wasm");
    const wasmBytes = (await stat(join(DIST, "assets", wasm))).size;
    const server = await startServer(["--static", DIST]);
    const { driver, stop } = await launch();
    try {
      await driver.get(server.url);
      // `ready` resolves once the worker is active, which may still be "activating".
      let state;
      await until("the worker to activate", async () => {
        state = await activeWorkerState(driver);
        return state === "activated";
      }).catch((e) => assert.fail(`${e.message}: the worker is ${state}`));
      // The helper caches the .wasm at install, so the worker starts offline.
      assert.equal(await cachedWasmBytes(driver, `/assets/${wasm}`), wasmBytes);
      // The app shell: index.html among the worker's precached files.
      await until("the app shell in the cache", async () => driver.executeAsyncScript(`const done = arguments[arguments.length - 1];
        caches.keys()
          .then((names) => Promise.all(names.map((n) => caches.open(n).then((c) => c.match("/index.html")))))
          .then((hits) => done(hits.some(Boolean)), (e) => done(false));`));
    } finally {
      await stop();
      await server.stop();
    }
  });
}
