// What makes a client sync by itself, run as JavaScript (ARCHITECTURE.md "The store's
// script"): the global `online` and `offline` events, a page coming back to the
// foreground (it may have missed pokes while it slept), the pull interval, and one timer
// for the next attempt (debounced writes, backoff). Each says what happened through
// `fired(kind)`; what a client does about it is the session's rule, in Rust
// (`src/background.rs`, `src/client/sync.rs`).
//
// A script, not a module, like js/store.js: scripts/package.mjs puts it at the top of the
// wasm-bindgen glue, whose imports reach it as `pwaSyncBackground`.
const pwaSyncBackground = (() => {
  // Browsers run a timer of more than 2^31 - 1 ms at once; longer waits are cut to that.
  const MAX_DELAY_MS = 2 ** 31 - 1;

  // Listen on `scope` (the global scope: a window, a worker) and its `document`, if it has
  // one; `fired("online" | "offline" | "interval" | "timer")`. `pullIntervalMs`: 0 for
  // none. Nothing fires after `stop()`.
  const start = (scope, pullIntervalMs, fired) => {
    let stopped = false;
    const fire = (kind) => {
      if (!stopped) fired(kind);
    };
    const online = () => fire("online");
    const offline = () => fire("offline");
    const document = scope.document ?? null;
    const visible = () => {
      if (document.visibilityState === "visible") fire("online");
    };
    scope.addEventListener("online", online);
    scope.addEventListener("offline", offline);
    document?.addEventListener("visibilitychange", visible);
    const interval =
      pullIntervalMs > 0 ? setInterval(() => fire("interval"), Math.min(pullIntervalMs, MAX_DELAY_MS)) : 0;

    // The next scheduled attempt and when it is due; one at a time, the sooner kept.
    let timer = 0;
    let due = Infinity;
    return {
      // Fire "timer" in `delayMs`, unless it is due sooner already.
      schedule(delayMs) {
        const at = Date.now() + delayMs;
        if (timer !== 0 && due <= at) return;
        clearTimeout(timer);
        due = at;
        timer = setTimeout(() => {
          // The scheduled attempt is starting: the next one may be set.
          timer = 0;
          due = Infinity;
          fire("timer");
        }, Math.min(delayMs, MAX_DELAY_MS));
      },
      stop() {
        stopped = true;
        scope.removeEventListener("online", online);
        scope.removeEventListener("offline", offline);
        document?.removeEventListener("visibilitychange", visible);
        clearInterval(interval);
        clearTimeout(timer);
      },
    };
  };

  // A promise that resolves in `ms` (Rust's waits: the event stream's backoff, a sync
  // waiting for the one running).
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, Math.min(ms, MAX_DELAY_MS)));

  // From a page: ask its service worker's Background Sync to flush once the browser is
  // online again, with `tag` (Rust's `background_sync::request_background_sync`). Nothing
  // where there is no service worker for this scope or no Background Sync (Firefox,
  // Safari; a getter that throws where service workers are disabled), and a refusal (no
  // permission) is left: the other flush paths still run.
  const requestSync = async (tag) => {
    try {
      const registration = await globalThis.navigator?.serviceWorker?.getRegistration();
      await registration?.sync?.register(tag);
    } catch {
      // Left to the other flush paths.
    }
  };

  return { start, sleep, requestSync };
})();
