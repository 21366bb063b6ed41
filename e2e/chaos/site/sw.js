// The chaos app's service worker: pwa-sync's helper over the shared config.
import { installSyncWorker } from "./pkg/sw.js";
import { chaosConfig } from "./config.js";

const params = new URL(self.location.href).searchParams;
installSyncWorker({ config: chaosConfig({ user: params.get("user"), endpoint: params.get("endpoint") }) });
