// The service worker of the WebKit and Firefox e2e site: pwa-sync's helper, and a note in
// Cache Storage each time the script runs, so a test can tell that the browser started
// the worker again. A module; fallback.mjs also bundles it into sw-classic.js, a classic
// script, for browsers without module service workers.
import { installSyncWorker } from "./pkg/sw.js";

caches.open("worker-starts").then((c) => c.put(`/start/${Date.now()}-${Math.random()}`, new Response("")));

const params = new URL(self.location.href).searchParams;
const user = params.get("user");
installSyncWorker({
  // Where the .wasm is, from this script's own address: the classic bundle of this worker
  // (sw-classic.js) has no `import.meta.url` for the helper's default.
  wasmUrl: new URL("./pkg/pwa_sync_bg.wasm", self.location.href),
  config: {
    name: `webkit-e2e-${user}`,
    endpoint: params.get("endpoint"),
    token: `dev:${user}`,
    collections: { items: { key: "id" } },
  },
});
