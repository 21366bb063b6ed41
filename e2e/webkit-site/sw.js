// The service worker of the WebKit e2e site: pwa-sync's helper, nothing else.
import { installSyncWorker } from "./pkg/sw.js";

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
