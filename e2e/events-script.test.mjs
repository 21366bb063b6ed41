// js/events.js, the DOM events a client fires, on Node's EventTarget, CustomEvent and
// BroadcastChannel: a change's two events and their details, what a worker relays to
// pages and what it does not, and that an app's throwing target or a closed client throws
// nothing back into the module. The browser suites cover the same through clients.
import { test } from "node:test";
import assert from "node:assert/strict";
import { closedAfterEach, loadScript, uniqueName, wait } from "./script-harness.mjs";

const tabs = await loadScript("tabs.js", "pwaSyncTabs");
const events = await loadScript("events.js", "pwaSyncEvents", { pwaSyncTabs: tabs });
const database = () => uniqueName("events-test");
const settle = () => wait(30);
const opened = closedAfterEach();

// An EventTarget that records `[type, detail]` of each event of `types`.
function recorder(types) {
  const target = new EventTarget();
  const seen = [];
  for (const type of types) target.addEventListener(type, (event) => seen.push([event.type, event.detail]));
  return { target, seen };
}

function emitter(target, name, inWorker) {
  const made = events.open(target, name, inWorker);
  opened.push(made);
  return made;
}

function relayed(name) {
  const channel = new BroadcastChannel(tabs.relayChannel(name));
  opened.push(channel);
  const seen = [];
  channel.onmessage = ({ data }) => seen.push(data);
  return seen;
}

test("a change fires pwa-sync:change, then the collection's own event with a copy of its detail", () => {
  const { target, seen } = recorder(["pwa-sync:change", "attendee-data-updated"]);
  const emit = emitter(target, database(), false);
  const before = Date.now();
  emit.change("pwa-sync:change", "attendees", "a1", { id: "a1" }, "remote", 7, "attendee-data-updated", "attendee");
  assert.equal(seen.length, 2);
  const [[firstType, first], [ownType, own]] = seen;
  assert.equal(firstType, "pwa-sync:change");
  assert.deepEqual(first, { collection: "attendees", key: "a1", value: { id: "a1" }, origin: "remote", version: 7 });
  assert.equal(ownType, "attendee-data-updated");
  assert.notEqual(own, first, "the own event's detail is a copy");
  assert.ok(own.timestamp >= before && own.timestamp <= Date.now());
  assert.deepEqual(own, { ...first, timestamp: own.timestamp, syncVersion: 7, attendee: { id: "a1" } });
  assert.deepEqual(Object.keys(first), ["collection", "key", "value", "origin", "version"], "the first detail kept");
});

test("a collection without an own event fires pwa-sync:change only, and one without valueField adds no field", () => {
  const { target, seen } = recorder(["pwa-sync:change", "trip-changed"]);
  const emit = emitter(target, database(), false);
  emit.change("pwa-sync:change", "trips", "t1", null, "local", null, undefined, undefined);
  assert.deepEqual(seen, [
    ["pwa-sync:change", { collection: "trips", key: "t1", value: null, origin: "local", version: null }],
  ]);
  seen.length = 0;
  emit.change("pwa-sync:change", "trips", "t1", null, "local", null, "trip-changed", undefined);
  assert.deepEqual(Object.keys(seen[1][1]), ["collection", "key", "value", "origin", "version", "timestamp", "syncVersion"]);
});

test("a worker relays what it emits, but not what each context fires by itself, nor another's change; a page relays nothing", async () => {
  const name = database();
  const heard = relayed(name);
  const worker = emitter(new EventTarget(), name, true);
  const page = emitter(new EventTarget(), name, false);
  worker.emit("pwa-sync:status", { pending: 1 }, true);
  worker.emit("pwa-sync:cleared", {}, false);
  worker.dispatch("pwa-sync:progress", { done: 1 });
  worker.change("pwa-sync:change", "trips", "t1", { id: "t1" }, "local", null, undefined, undefined);
  // Learned from another context's hint: the pages heard it, or get it from its writer.
  worker.change("pwa-sync:change", "trips", "t2", { id: "t2" }, "tab", null, "trip-changed", undefined);
  page.emit("pwa-sync:status", { pending: 2 }, true);
  await settle();
  assert.deepEqual(heard, [
    { name: "pwa-sync:status", detail: { pending: 1 } },
    {
      name: "pwa-sync:change",
      detail: { collection: "trips", key: "t1", value: { id: "t1" }, origin: "local", version: null },
    },
  ]);
});

test("each detail says which database's client fired it, where the app does not see it", async () => {
  const name = database();
  const heard = relayed(name);
  const { target, seen } = recorder(["pwa-sync:change", "trip-changed", "pwa-sync:status"]);
  const worker = emitter(target, name, true);
  worker.change("pwa-sync:change", "trips", "t1", { id: "t1" }, "local", null, "trip-changed", undefined);
  worker.emit("pwa-sync:status", { pending: 1 }, true);
  assert.equal(seen.length, 3);
  for (const [, detail] of seen) {
    assert.ok(events.isFrom(detail, name));
    assert.ok(!events.isFrom(detail, `${name}-other`));
  }
  assert.deepEqual(Object.keys(seen[0][1]), ["collection", "key", "value", "origin", "version"]);
  assert.equal(JSON.stringify(seen[2][1]), '{"pending":1}');
  await settle();
  // Not cloned into the relay: each page's client marks what it dispatches itself.
  assert.equal(heard.length, 3);
  assert.ok(heard.every(({ detail }) => !events.isFrom(detail, name)));
  assert.ok(!events.isFrom(null, name) && !events.isFrom(undefined, name));
});

test("a target that throws, and a closed worker's relay, throw nothing back", async () => {
  const throwing = { dispatchEvent: () => { throw new Error("the app's target"); } };
  const emit = emitter(throwing, database(), false);
  assert.doesNotThrow(() => emit.emit("pwa-sync:status", {}, true));
  assert.doesNotThrow(() => emit.change("pwa-sync:change", "trips", "t1", null, "local", null, "own", "field"));
  const name = database();
  const heard = relayed(name);
  const worker = emitter(new EventTarget(), name, true);
  worker.close();
  assert.doesNotThrow(() => worker.emit("pwa-sync:status", {}, true));
  await settle();
  assert.deepEqual(heard, []);
});

test("a status snapshot holds the state, the pending count, the last sync and the last error or null", () => {
  assert.deepEqual(events.status("idle", 3, null, undefined, undefined), {
    state: "idle",
    pending: 3,
    lastSyncedAt: null,
    lastError: null,
  });
  assert.deepEqual(events.status("error", 0, 1700000000000, "network", "offline"), {
    state: "error",
    pending: 0,
    lastSyncedAt: 1700000000000,
    lastError: { code: "network", message: "offline" },
  });
  assert.deepEqual(Object.keys(events.status("syncing", 1, null, undefined, undefined)), [
    "state", "pending", "lastSyncedAt", "lastError",
  ]);
});
