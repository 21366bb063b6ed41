// The channels between the contexts (tabs, workers, the service worker) of one database,
// and the lock they take turns under to flush, run as JavaScript (ARCHITECTURE.md "The
// store's script"): the hints a client posts and hears on `pwa-sync:<database>`, their
// encoding and the batching of changed keys, and, in a page, the events workers relay on
// `pwa-sync:<database>:events`. What a client
// does with a hint it hears is Rust's (`src/client/tabs.rs`); hints carry no data, peers
// re-read IndexedDB, so a lost or stale hint costs nothing.
//
// A script, not a module, like js/store.js: scripts/package.mjs puts it at the top of the
// wasm-bindgen glue, whose imports reach it as `pwaSyncTabs`.
const pwaSyncTabs = (() => {
  // How long changed keys wait to be posted together: a `putMany`, a pulled page or a run
  // of awaited `put`s posts once per collection instead of once per key (a post costs
  // ~0.1 ms of the writer's thread).
  const HINT_DELAY_MS = 16;

  // The message on the hints channel is `{kind: "change" | "changes" | "status" | "wipe",
  // collection?, key?, keys?, worker?}`. "change" (one key) is what versions before
  // "changes" sent: still heard, no longer sent.
  const changedKeys = (data) => {
    if (data.kind === "change") return typeof data.key === "string" ? [data.key] : null;
    if (data.kind !== "changes" || !Array.isArray(data.keys)) return null;
    return data.keys.every((key) => typeof key === "string") ? data.keys : null;
  };

  // The channel a database's workers relay their events on (`js/events.js` posts there).
  const relayChannel = (database) => `pwa-sync:${database}:events`;

  // A context's ties to the others of `database`, or `null` where BroadcastChannel does
  // not exist (peers then learn on their next read). `heard(kind, collection, keys)` gets
  // each hint: "change" with the changed keys of one collection, "status" or "wipe".
  // Anything else on the channel (a newer version's message, a field missing or of
  // another type) is not for us. A worker's change hints are for workers only: pages get
  // its events relayed, and `relayed(name, detail)` gets each of those (pages only).
  // Nothing is posted or heard after `close()`.
  const open = (database, inWorker, heard, relayed) => {
    if (typeof BroadcastChannel !== "function") return null;
    const hints = new BroadcastChannel(`pwa-sync:${database}`);
    const events = inWorker ? null : new BroadcastChannel(relayChannel(database));
    let closed = false;
    hints.onmessage = ({ data }) => {
      if (closed || data === null || typeof data !== "object") return;
      if (data.kind === "status" || data.kind === "wipe") return heard(data.kind);
      const keys = changedKeys(data);
      if (keys === null || typeof data.collection !== "string" || typeof data.worker !== "boolean") return;
      if (data.worker && !inWorker) return;
      heard("change", data.collection, keys);
    };
    if (events !== null) {
      events.onmessage = ({ data }) => {
        if (!closed && typeof data?.name === "string") relayed(data.name, data.detail);
      };
    }

    // Changed keys by collection, not yet posted, each once however often it changed.
    const changed = new Map();
    let timer = 0;
    const send = (message) => {
      if (!closed) hints.postMessage(message);
    };
    // The buffered changes go before any other hint, to keep their order.
    const flush = () => {
      clearTimeout(timer);
      timer = 0;
      for (const [collection, keys] of changed) send({ kind: "changes", collection, keys: [...keys], worker: inWorker });
      changed.clear();
    };
    return {
      post(kind) {
        flush();
        send({ kind });
      },
      change(collection, key) {
        const keys = changed.get(collection);
        if (keys === undefined) changed.set(collection, new Set([key]));
        else keys.add(key);
        if (timer === 0) timer = setTimeout(flush, HINT_DELAY_MS);
      },
      close() {
        closed = true;
        clearTimeout(timer);
        hints.close();
        events?.close();
      },
    };
  };

  // Run `work()` (it answers a promise) while holding the exclusive Web Lock `name`: one
  // flusher at a time across tabs, workers and the service worker, and the browser
  // releases a lock when its holder's context dies, so a killed holder never blocks the
  // others. Resolves to `true` once `work` ran, `false` when `wait` is false and another
  // context holds the lock. Without Web Locks, `work` runs at once.
  const withLock = (name, wait, work) => {
    const locks = globalThis.navigator?.locks;
    if (locks === undefined) return work().then(() => true);
    return locks.request(name, { mode: "exclusive", ifAvailable: !wait }, (lock) =>
      lock === null ? false : work().then(() => true),
    );
  };

  return { open, relayChannel, withLock };
})();
