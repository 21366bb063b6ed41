// The names shared by Rust and JS reach the package from the core, and the service-worker
// helper refuses a tag that pages would never register.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./lib.mjs";

const pkg = (name) => import(join(ROOT, "pkg", name));

test("pkg/names.js carries the core's names", async () => {
  const core = JSON.parse(
    execFileSync("cargo", ["run", "-q", "-p", "pwa-sync-core", "--example", "names"], { cwd: ROOT, encoding: "utf8" }),
  );
  const names = await pkg("names.js");
  assert.deepEqual({ ...names.EVENTS }, core.events);
  assert.equal(names.SYNC_TAG, core.syncTag);
  assert.equal(names.FLUSH_MESSAGE, core.flushMessage);
  assert.deepEqual([...names.ERROR_CODES], core.errorCodes);
  assert.equal(names.EVENTS.change, "pwa-sync:change");
});

test("installSyncWorker refuses a tag other than the config's syncTag", async () => {
  const { installSyncWorker } = await pkg("sw.js");
  const config = { name: "a", collections: { items: { key: "id" } } };
  for (const [cfg, tag] of [[config, "custom"], [{ ...config, syncTag: "trips" }, "pwa-sync"]]) {
    assert.throws(() => installSyncWorker({ config: cfg, tag }), (e) => e.code === "invalid-config" && /syncTag/.test(e.message));
  }
});

test("installSyncWorker refuses a storage: \"memory\" config: the worker flushes the outbox pages share in IndexedDB", async () => {
  const { installSyncWorker } = await pkg("sw.js");
  const config = { name: "a", collections: { items: { key: "id" } }, storage: "memory" };
  assert.throws(() => installSyncWorker({ config }), (e) => e.code === "invalid-config" && /storage: "memory"/.test(e.message));
});
