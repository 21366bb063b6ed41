// What a memory client's in-memory IndexedDB is made of (`memory` in js/store.js): the
// entry of its two bundles, the package's module memory/idb.js (scripts/package.mjs) and
// the browser suites' classic script (the Makefile's target/js/memory-idb.js). Bundled
// from tools/, where fake-indexeddb is pinned.
export { IDBFactory, IDBKeyRange } from "fake-indexeddb";
