import type { SyncClient, SyncConfig } from "./pwa_sync.js";

export interface SyncWorkerOptions {
  /** The same config a page opens its client with (`autoSync` is forced off: the worker flushes on its events). */
  config: SyncConfig;
  /**
   * Background Sync and Periodic Sync tag: the config's `syncTag` (default "pwa-sync"),
   * which pages register too. Given here, it must equal that (else `invalid-config`).
   */
  tag?: string;
  /** Where the .wasm is. Default: next to this module. */
  wasmUrl?: string | URL;
}

export interface SyncWorker {
  /** The worker's client, once open (a fresh one after a logout in a page). */
  client(): Promise<SyncClient>;
}

/** Call once at the top level of a module service worker. */
export function installSyncWorker(options: SyncWorkerOptions): SyncWorker;

/** From a page: ask the active service worker to flush now. */
export function requestFlush(): Promise<void>;
