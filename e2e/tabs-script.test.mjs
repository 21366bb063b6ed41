// js/tabs.js, the channels between the contexts of one database, on Node's own
// BroadcastChannel: what it posts (changed keys batched per collection, other hints after
// them), what it hears and passes on (and what it refuses), and that nothing moves after
// close(). The browser suites cover the same through two clients (tests/common/api.rs).
import { test } from "node:test";
import assert from "node:assert/strict";
import { closedAfterEach, loadScript, uniqueName, wait } from "./script-harness.mjs";

const tabs = await loadScript("tabs.js", "pwaSyncTabs");
const database = () => uniqueName("tabs-test");
const settle = () => wait(60);
const opened = closedAfterEach();
const channel = (name) => {
  const made = new BroadcastChannel(name);
  opened.push(made);
  return made;
};

// A raw channel that records what arrives on it.
function listen(name) {
  const made = channel(name);
  const seen = [];
  made.onmessage = ({ data }) => seen.push(data);
  return { channel: made, seen };
}

// A context's links that record what they hear.
function links(name, inWorker) {
  const heard = [];
  const relayed = [];
  const handle = tabs.open(
    name,
    inWorker,
    (...args) => heard.push(args),
    (...args) => relayed.push(args),
  );
  if (handle !== null) opened.push(handle);
  return { handle, heard, relayed };
}

test("changed keys are posted once per collection after 16 ms, each key once, and other hints after them", async () => {
  const name = database();
  const peer = listen(`pwa-sync:${name}`);
  const { handle } = links(name, false);
  handle.change("trips", "t1");
  handle.change("notes", "n1");
  handle.change("trips", "t2");
  handle.change("trips", "t1");
  assert.deepEqual(peer.seen, [], "nothing before the delay");
  await settle();
  assert.deepEqual(peer.seen, [
    { kind: "changes", collection: "trips", keys: ["t1", "t2"], worker: false },
    { kind: "changes", collection: "notes", keys: ["n1"], worker: false },
  ]);
  peer.seen.length = 0;
  handle.change("trips", "t3");
  handle.post("status");
  await settle();
  assert.deepEqual(peer.seen, [
    { kind: "changes", collection: "trips", keys: ["t3"], worker: false },
    { kind: "status" },
  ]);
});

test("hints are heard in their shapes, old and new, and anything else is not", async () => {
  const name = database();
  const peer = channel(`pwa-sync:${name}`);
  const page = links(name, false);
  const worker = links(name, true);
  for (const message of [
    { kind: "changes", collection: "trips", keys: ["t1", "t2"], worker: false },
    { kind: "change", collection: "trips", key: "t3", worker: false },
    { kind: "status" },
    { kind: "wipe" },
    // A worker's changes: for workers only (pages get its events relayed).
    { kind: "changes", collection: "trips", keys: ["w1"], worker: true },
    // Not ours: each is dropped.
    null,
    "status",
    { kind: "changes", keys: ["x"], worker: false },
    { kind: "changes", collection: "trips", keys: ["x", 1], worker: false },
    { kind: "changes", collection: "trips", keys: "x", worker: false },
    { kind: "change", collection: "trips", worker: false },
    { kind: "changes", collection: "trips", keys: ["x"] },
    { kind: "renamed", collection: "trips", keys: ["x"], worker: false },
  ]) {
    peer.postMessage(message);
  }
  await settle();
  const common = [
    ["change", "trips", ["t1", "t2"]],
    ["change", "trips", ["t3"]],
    ["status"],
    ["wipe"],
  ];
  assert.deepEqual(page.heard, common);
  assert.deepEqual(worker.heard, [...common, ["change", "trips", ["w1"]]]);
});

test("a page hears the events workers relay; a worker does not listen for them", async () => {
  const name = database();
  const relay = channel(`pwa-sync:${name}:events`);
  const page = links(name, false);
  const worker = links(name, true);
  relay.postMessage({ name: "pwa-sync:change", detail: { key: "t1" } });
  relay.postMessage({ detail: {} });
  relay.postMessage(7);
  await settle();
  assert.deepEqual(page.relayed, [["pwa-sync:change", { key: "t1" }]]);
  assert.deepEqual(worker.relayed, []);
});

test("a worker's changes say so", async () => {
  const name = database();
  const peer = listen(`pwa-sync:${name}`);
  const { handle } = links(name, true);
  handle.change("trips", "t1");
  await settle();
  assert.deepEqual(peer.seen, [{ kind: "changes", collection: "trips", keys: ["t1"], worker: true }]);
});

test("after close nothing is posted, not even buffered changes, and nothing is heard", async () => {
  const name = database();
  const peer = listen(`pwa-sync:${name}`);
  const { handle, heard, relayed } = links(name, false);
  handle.change("trips", "t1");
  handle.close();
  handle.post("status");
  handle.change("trips", "t2");
  const events = channel(`pwa-sync:${name}:events`);
  peer.channel.postMessage({ kind: "status" });
  events.postMessage({ name: "pwa-sync:change", detail: null });
  await settle();
  assert.deepEqual(peer.seen, []);
  assert.deepEqual(heard, []);
  assert.deepEqual(relayed, []);
});

test("without BroadcastChannel there are no links", () => {
  const saved = globalThis.BroadcastChannel;
  globalThis.BroadcastChannel = undefined;
  try {
    assert.equal(tabs.open("x", false, () => {}, () => {}), null);
  } finally {
    globalThis.BroadcastChannel = saved;
  }
});

// `navigator.locks` stood in for: `held` names are taken by another context.
async function withNavigator(navigator, run) {
  const saved = Object.getOwnPropertyDescriptor(globalThis, "navigator");
  Object.defineProperty(globalThis, "navigator", { value: navigator, configurable: true, writable: true });
  try {
    await run();
  } finally {
    if (saved) Object.defineProperty(globalThis, "navigator", saved);
    else delete globalThis.navigator;
  }
}

function lockManager(held) {
  const requests = [];
  return {
    requests,
    request(name, options, callback) {
      requests.push([name, options]);
      const taken = held.has(name);
      if (taken && options.ifAvailable) return Promise.resolve(callback(null));
      return Promise.resolve(callback({ name, mode: options.mode }));
    },
  };
}

test("withLock runs the work holding the exclusive lock, waiting or not, and says whether it ran", async () => {
  const locks = lockManager(new Set(["pwa-sync:db:flush"]));
  await withNavigator({ locks }, async () => {
    let ran = 0;
    const work = async () => {
      ran += 1;
    };
    assert.equal(await tabs.withLock("pwa-sync:db:flush", false, work), false, "taken: not run");
    assert.equal(ran, 0);
    assert.equal(await tabs.withLock("pwa-sync:db:flush", true, work), true, "waited for");
    assert.equal(await tabs.withLock("pwa-sync:other:flush", false, work), true, "free");
    assert.equal(ran, 2);
    assert.deepEqual(locks.requests, [
      ["pwa-sync:db:flush", { mode: "exclusive", ifAvailable: true }],
      ["pwa-sync:db:flush", { mode: "exclusive", ifAvailable: false }],
      ["pwa-sync:other:flush", { mode: "exclusive", ifAvailable: true }],
    ]);
  });
});

test("withLock without Web Locks runs the work at once", async () => {
  await withNavigator({}, async () => {
    let ran = false;
    assert.equal(
      await tabs.withLock("x", false, async () => {
        ran = true;
      }),
      true,
    );
    assert.ok(ran);
  });
});
