// The DOM events a client fires for the app, run as JavaScript (ARCHITECTURE.md "The
// store's script"): each `CustomEvent` made and dispatched on the client's target and, in
// a worker, which has no UI, relayed to the pages on the database's relay channel, where
// each page's client dispatches it again (`js/tabs.js` listens there). Rust decides which
// events fire and builds their details (`src/events.rs`); a change event's detail, the
// one fired per changed record, is built here whole, in one call from Rust.
//
// A script, not a module, like js/store.js: scripts/package.mjs puts it at the top of the
// wasm-bindgen glue, whose imports reach it as `pwaSyncEvents`.
const pwaSyncEvents = (() => {
  // Which database's client fired an event: a mark on its detail that the app does not
  // see (a symbol property, not enumerable, not cloned), so that a watch follows its own
  // client's events where two clients (two users' databases) share one target.
  const SOURCE = Symbol("pwa-sync database");
  const isFrom = (detail, database) => detail?.[SOURCE] === database;

  // A client's events, dispatched on `target` (the app's `eventTarget`, or the global
  // scope); in a worker, also posted as `{name, detail}` on `database`'s relay channel.
  // `emit`'s `relayed` is false for an event each context fires by itself (a wipe);
  // `dispatch` fires here only (an event a worker relayed).
  const open = (target, database, inWorker) => {
    const channel =
      inWorker && typeof BroadcastChannel === "function"
        ? new BroadcastChannel(pwaSyncTabs.relayChannel(database))
        : null;
    const dispatch = (name, detail) => {
      // Our details are plain objects; one relayed or given out before is marked already.
      if (detail && typeof detail === "object" && !(SOURCE in detail)) Object.defineProperty(detail, SOURCE, { value: database });
      try {
        target.dispatchEvent(new CustomEvent(name, { detail }));
      } catch {
        // A fresh event with one of our names throws only where the app's own target's
        // `dispatchEvent` does; its listeners' exceptions are reported, not thrown. What
        // the event says is in storage and the status either way.
      }
    };
    const emit = (name, detail, relayed) => {
      dispatch(name, detail);
      if (channel === null || !relayed) return;
      try {
        channel.postMessage({ name, detail });
      } catch {
        // Only a closed channel (the client closed) or a detail that does not clone:
        // ours are plain data, and an app value that is not would not have been stored.
      }
    };
    return {
      dispatch,
      emit,
      // `changed` (`pwa-sync:change`) with `{collection, key, value, origin, version}`, then
      // the collection's own event `own` when it has one, with a copy of that detail (a
      // listener may keep the first, which must not change under it) plus `timestamp`,
      // `syncVersion` and the value under `valueField` when one is configured, so an
      // app's existing listeners keep reading `detail.attendee`. A change a worker learned
      // from another context's hint (`origin` "tab") is not relayed: the pages heard a
      // page's hint themselves, and get a worker's change from the worker that made it;
      // relayed again, each page would see every change twice, and its own as another tab's.
      change(changed, collection, key, value, origin, version, own, valueField) {
        const detail = { collection, key, value, origin, version };
        const relayed = origin !== "tab";
        emit(changed, detail, relayed);
        if (own === undefined) return;
        const copy = { ...detail, timestamp: Date.now(), syncVersion: version };
        if (valueField !== undefined) copy[valueField] = value;
        emit(own, copy, relayed);
      },
      close() {
        channel?.close();
      },
    };
  };

  // A client's status snapshot (`status()`, `pwa-sync:status`'s detail): one call from
  // Rust where setting each field was a call of its own, on every change of the pending
  // count (every write). `code` undefined: no last error.
  const status = (state, pending, lastSyncedAt, code, message) => ({
    state,
    pending,
    lastSyncedAt,
    lastError: code === undefined ? null : { code, message },
  });

  return { open, status, isFrom };
})();
