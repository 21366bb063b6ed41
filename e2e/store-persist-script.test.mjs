// js/store.js's `persist`: `persist()` as the app gets it (Rust hands the promise on).
// Whether the browser granted persistent storage, false where the context cannot ask, and
// a refusal as the `storage` PwaSyncError Rust's errors are. The browser suites ask a real
// browser (`persist_resolves_whether_storage_is_persistent`), which never refuses.
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { loadScript } from "./script-harness.mjs";

const values = await loadScript("values.js", "pwaSyncValues");
const store = await loadScript("store.js", "pwaSyncStore", { pwaSyncValues: values });

const original = Object.getOwnPropertyDescriptor(globalThis, "navigator");
const withStorage = (storage) => Object.defineProperty(globalThis, "navigator", { value: { storage }, configurable: true });
afterEach(() => {
  if (original) Object.defineProperty(globalThis, "navigator", original);
  else delete globalThis.navigator;
});

test("persist resolves whether the browser granted it, and false where it cannot ask", async () => {
  withStorage({ persist: async () => true });
  assert.equal(await store.persist(), true);
  withStorage({ persist: async () => false });
  assert.equal(await store.persist(), false);
  withStorage({});
  assert.equal(await store.persist(), false);
  withStorage(undefined);
  assert.equal(await store.persist(), false);
});

test("a refusal rejects with the storage error Rust would make", async () => {
  withStorage({ persist: async () => Promise.reject(new DOMException("no", "InvalidStateError")) });
  await assert.rejects(store.persist(), (e) => {
    assert.equal(e.name, "PwaSyncError");
    assert.equal(e.code, "storage");
    assert.equal(e.message, "storage error: navigator.storage.persist() failed: InvalidStateError: no");
    return true;
  });
});
