// src/sw-classic.ts
import { installSyncWorker } from "pwa-sync/sw";
import { config } from "./sync.ts";

// The .wasm served at this address (copied there by the build below).
installSyncWorker({ config, wasmUrl: new URL("/pwa_sync_bg.wasm", self.location.href) });
