// The service worker of the e2e site: pwa-sync's helper, nothing else.
import { installSyncWorker } from "./pkg/sw.js";

const params = new URL(self.location.href).searchParams;
const user = params.get("user");
const syncTag = params.get("tag");
// Encryption at rest, with the key the page uses (sealed=1).
const key = params.get("key");
installSyncWorker({
  config: {
    name: `sw-e2e-${user}`,
    endpoint: params.get("endpoint") ?? `${self.location.origin}/sync`,
    token: `dev:${user}`,
    collections: { items: { key: "id" } },
    ...(syncTag ? { syncTag } : {}),
    ...(key ? { encryption: { key } } : {}),
    // A newer app version (schema `version`), for the update tests.
    ...(params.get("version") ? { version: Number(params.get("version")) } : {}),
  },
});
