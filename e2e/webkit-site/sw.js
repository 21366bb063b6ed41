// The service worker of the WebKit e2e site: pwa-sync's helper, and a note in Cache
// Storage each time the script runs, so a test can tell that the browser started the
// worker again.
import { installSyncWorker } from "./pkg/sw.js";

caches.open("worker-starts").then((c) => c.put(`/start/${Date.now()}-${Math.random()}`, new Response("")));

const params = new URL(self.location.href).searchParams;
const user = params.get("user");
installSyncWorker({
  config: {
    name: `webkit-e2e-${user}`,
    endpoint: params.get("endpoint"),
    token: `dev:${user}`,
    collections: { items: { key: "id" } },
  },
});
