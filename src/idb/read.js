// `SyncClient.get` in one IndexedDB request and one promise, settled by a function each
// client makes once (`Client::get_now`): no Rust future, no closure per call. What is
// left over IndexedDB's own `get` is the call into wasm and the check of the record's
// metadata (issue 16).
export function readRecord(db, store, key, settle) {
  const request = db.transaction(store, "readonly").objectStore(store).get(key);
  return new Promise((resolve) => {
    request.onsuccess = request.onerror = resolve;
  }).then(() => settle(request, store, key));
}
