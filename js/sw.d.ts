import type { AnyCollections, CollectionTypes, SyncClient, SyncConfig } from "./pwa_sync.js";

export interface SyncWorkerOptions<C extends CollectionTypes<C> = AnyCollections> {
  /** The same config a page opens its client with (`autoSync` is forced off: the worker flushes on its events). */
  config: SyncConfig<C>;
  /**
   * Background Sync and Periodic Sync tag: the config's `syncTag` (default "pwa-sync"),
   * which pages register too. Given here, it must equal that (else `invalid-config`).
   */
  tag?: string;
  /** Where the .wasm is. Default: next to this module. */
  wasmUrl?: string | URL;
  /**
   * With `config.encryption`: where the cipher's .wasm is (fetched and cached only then).
   * Default: `seal/pwa_sync_seal_bg.wasm` next to this module. Ignored when the config's
   * `encryption.loadCipher` is given.
   */
  sealWasmUrl?: string | URL;
}

export interface SyncWorker<C extends CollectionTypes<C> = AnyCollections> {
  /** The worker's client, once open (a fresh one after a logout in a page). */
  client(): Promise<SyncClient<C>>;
}

/** Call once at the top level of a module service worker. */
export function installSyncWorker<C extends CollectionTypes<C> = AnyCollections>(options: SyncWorkerOptions<C>): SyncWorker<C>;

/** What `registerPeriodicSync` achieved. */
export type PeriodicSyncRegistration =
  | { registered: true; tag: string; minIntervalMs: number }
  /** `unsupported`: no Periodic Background Sync here, or no service worker registered for the page (said in `message`); `denied`: the browser refused (Chromium grants it to installed apps); `failed`: another error, in `message`. */
  | { registered: false; reason: "unsupported" | "denied" | "failed"; message?: string };

/**
 * From a page: ask the browser to wake the service worker about every `minIntervalMs`
 * (default 24 h) to sync. `tag` must be the config's `syncTag` (default "pwa-sync").
 * Unsupported browsers and refusals are reported in the answer, not thrown.
 */
export function registerPeriodicSync(options?: { minIntervalMs?: number; tag?: string }): Promise<PeriodicSyncRegistration>;

/** From a page: ask the active service worker to flush now (resolves at once when the page has none). */
export function requestFlush(): Promise<void>;
