// pwa-sync in a module service worker. Call `installSyncWorker` once, at the top level of
// your sw.js: it registers every listener synchronously (the browser only delivers events
// to listeners added during the script's first evaluation). The client opens at the first
// event that needs it, once this worker is the active one (`install` does not run again
// when the browser restarts an idle worker, so nothing may depend on it): a new version
// waiting for the app's tabs to close must not upgrade the database under them.
import init, { SyncClient } from "./pwa_sync.js";
// Encryption at rest's module: a service worker cannot import(), so its glue is imported
// here; its .wasm is fetched (and cached) only when the config has `encryption`.
import * as seal from "./seal/pwa_sync_seal.js";
// Generated from the Rust core by scripts/package.mjs: the one source of these names.
import { EVENTS, SYNC_TAG, FLUSH_MESSAGE } from "./names.js";

// The cache of this build's .wasm files: scripts/package.mjs writes the build's id in (a
// hash of the modules), so a worker never reads another build's module, whose exports
// and imports would not match its glue; the others are deleted when this one activates.
const WASM_CACHE_PREFIX = "pwa-sync-wasm-";
const WASM_CACHE = `${WASM_CACHE_PREFIX}${"__PWA_SYNC_BUILD__"}`;

function configError(message) {
  const error = new Error(`invalid config: ${message}`);
  error.name = "PwaSyncError";
  error.code = "invalid-config";
  return error;
}

export function installSyncWorker({ config, tag, wasmUrl = new URL("./pwa_sync_bg.wasm", import.meta.url), sealWasmUrl }) {
  if (!config || typeof config !== "object") throw new TypeError("installSyncWorker needs { config }");
  // The worker sends the outbox pages share in IndexedDB; a memory client would hold its
  // own, empty one (and a service worker cannot import() the in-memory IndexedDB).
  if (config.storage === "memory") {
    throw configError('installSyncWorker needs the IndexedDB config: a service worker flushes the outbox pages ' +
      'share in IndexedDB, and a storage: "memory" client would have its own, empty one');
  }
  // Pages register Background Sync with their config's `syncTag`: the worker answers the
  // same tag, read from the same config. A `tag` that differs could never fire.
  const syncTag = config.syncTag ?? SYNC_TAG;
  if (tag !== undefined && tag !== syncTag) {
    throw configError(`installSyncWorker's tag "${tag}" differs from the config's syncTag "${syncTag}"; ` +
      "set syncTag in the config that pages and the worker share");
  }
  const url = String(wasmUrl);
  // Evaluated only with `encryption`: a classic worker bundle has no import.meta.url, and
  // one without encryption must not need it.
  const encryption = config.encryption ?? null;
  const sealUrl = encryption && !encryption.loadCipher
    ? String(sealWasmUrl ?? new URL("./seal/pwa_sync_seal_bg.wasm", import.meta.url))
    : null;
  const wasmUrls = sealUrl ? [url, sealUrl] : [url];

  // A worker's own fetch() does not go through its fetch handler: the .wasm files are
  // cached at install and read from that cache, so the worker starts offline too.
  // Fetched past the HTTP cache's unchecked copies: it may hold an older build's module.
  const fresh = (url) => new Request(url, { cache: "no-cache" });
  const loadWasm = async (url) => {
    const cache = await caches.open(WASM_CACHE);
    const cached = await cache.match(url);
    if (cached) return cached;
    const response = await fetch(fresh(url));
    if (response.ok) await cache.put(url, response.clone());
    return response;
  };
  const workerConfig = { ...config, autoSync: false };
  if (sealUrl) {
    const loadCipher = () => seal.default({ module_or_path: loadWasm(sealUrl) }).then(() => seal);
    workerConfig.encryption = { ...encryption, loadCipher };
  }
  const open = () => init({ module_or_path: loadWasm(url) }).then(() => SyncClient.open(workerConfig));

  // Opened at the first event that asks for it, and again after a failed open (a storage
  // error, an older worker finding a newer database) or a logout in a page, which closes
  // it: the next event opens a fresh one.
  let ready = null;
  const client = () => {
    ready ??= open().catch((error) => {
      ready = null;
      throw error;
    });
    return ready;
  };
  (config.eventTarget ?? self).addEventListener(EVENTS.cleared, () => { ready = null; });
  // Browsers without Background Sync (Firefox, Safari): flush whenever the active worker
  // starts, and when a new version takes over.
  const flushNow = () => client().then((c) => c.sync()).catch(() => {});

  self.addEventListener("install", (event) => {
    event.waitUntil(caches.open(WASM_CACHE).then((cache) => cache.addAll(wasmUrls.map(fresh))));
  });
  self.addEventListener("activate", (event) => {
    const old = (name) => name.startsWith(WASM_CACHE_PREFIX) && name !== WASM_CACHE;
    event.waitUntil(caches.keys().then((names) => Promise.all(names.filter(old).map((name) => caches.delete(name)))));
    flushNow();
  });
  self.addEventListener("sync", (event) => {
    if (event.tag !== syncTag) return;
    // Rejecting tells the browser to try again later; on the last chance flush() resolves
    // and keeps the outbox, with the reason in status().lastError.
    event.waitUntil(client().then((c) => c.flush({ lastChance: event.lastChance })));
  });
  self.addEventListener("periodicsync", (event) => {
    if (event.tag !== syncTag) return;
    event.waitUntil(client().then((c) => c.sync()));
  });
  self.addEventListener("message", (event) => {
    if (event.data?.type !== FLUSH_MESSAGE) return;
    // Failures are relayed to pages as pwa-sync:status; nothing to throw at.
    event.waitUntil(client().then((c) => c.sync()).catch(() => {}));
  });
  // Started again by the browser (an idle worker is stopped), or a browser that cannot
  // tell whether this worker is the active one: as when it activates.
  if ((self.serviceWorker?.state ?? "activated") === "activated") flushNow();

  return { client };
}

/** From a page: ask the service worker to flush now (e.g. a "Sync now" button). */
const DAY_MS = 24 * 60 * 60 * 1000;

// From a page: ask the browser to wake the service worker about every `minIntervalMs`
// (Periodic Background Sync) to sync, with the tag its `periodicsync` handler answers.
// Browsers without it, or that refuse it (it needs an installed app in Chromium, and the
// permission), are reported in the answer, never thrown: the outbox drains anyway when
// pages load and come online.
export async function registerPeriodicSync({ minIntervalMs = DAY_MS, tag = SYNC_TAG } = {}) {
  if (!Number.isFinite(minIntervalMs) || minIntervalMs < 0) {
    throw configError(`registerPeriodicSync's minIntervalMs must be a number of ms, got ${minIntervalMs}`);
  }
  const registration = await activeRegistration();
  if (registration === null) return { registered: false, reason: "unsupported", message: NO_WORKER };
  if (!registration?.periodicSync) return { registered: false, reason: "unsupported" };
  try {
    const permission = await navigator.permissions?.query({ name: "periodic-background-sync" });
    if (permission?.state === "denied") return { registered: false, reason: "denied" };
  } catch {
    // A browser that does not know the permission's name: register() decides.
  }
  try {
    await registration.periodicSync.register(tag, { minInterval: minIntervalMs });
    return { registered: true, tag, minIntervalMs };
  } catch (error) {
    const reason = error?.name === "NotAllowedError" ? "denied" : "failed";
    return { registered: false, reason, message: String(error?.message ?? error) };
  }
}

export async function requestFlush() {
  const registration = await activeRegistration();
  registration?.active?.postMessage({ type: FLUSH_MESSAGE });
}

const NO_WORKER = "no service worker is registered for this page";

// The page's service worker registration once its worker is active (`serviceWorker.ready`);
// `null` when the page has none, where `ready` would never settle; `undefined` without
// service workers at all.
async function activeRegistration() {
  const container = globalThis.navigator?.serviceWorker;
  if (!container) return undefined;
  let registration;
  try {
    registration = await container.getRegistration();
  } catch {
    // A context that may not use service workers (a sandboxed or opaque origin).
    return undefined;
  }
  return registration ? container.ready : null;
}
