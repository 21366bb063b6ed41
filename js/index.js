// The package's main entry: wasm-bindgen's module as it is, except that `init()` outside a
// browser (server rendering, Node) rejects with a PwaSyncError that says what to do,
// instead of failing inside `fetch` with a TypeError. Importing stays free of side
// effects, so `pwa-sync` can be imported where the page is rendered on the server.
import wasmInit, { __setSealLoader, __setMemoryLoader } from "./pwa_sync.js";

export * from "./pwa_sync.js";

// A window or a worker (dedicated, shared, service): where the client can run.
const inBrowser = () => typeof document !== "undefined" ||
  (typeof WorkerGlobalScope !== "undefined" && globalThis instanceof WorkerGlobalScope);

export default function init(input) {
  // Given the module itself (tests under Node with an IndexedDB shim), init as asked.
  if (input === undefined && !inBrowser()) {
    const error = new Error("storage: pwa-sync runs in the browser (IndexedDB, and the .wasm fetched from " +
      "the page's origin): call init() and SyncClient.open in the browser, e.g. in a React effect, " +
      "not during server rendering");
    error.name = "PwaSyncError";
    error.code = "storage";
    return Promise.reject(error);
  }
  return wasmInit(input).then((exports) => {
    // Encryption at rest's cipher, a module of its own: fetched only when a client with
    // `encryption` opens (a bundler splits it into a chunk of its own).
    __setSealLoader(() => import("./seal/pwa_sync_seal.js"));
    // A `storage: "memory"` client's in-memory IndexedDB, a module of its own too:
    // fetched only when such a client opens.
    __setMemoryLoader(() => import("./memory/idb.js"));
    return exports;
  });
}
