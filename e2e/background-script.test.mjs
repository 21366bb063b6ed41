// js/background.js, the listeners and timers that make a client sync by itself, on
// stand-ins for the global scope and its document (Node's EventTarget): what fires for
// `online`, `offline`, a page coming back to the foreground and the pull interval, that
// the timer keeps the sooner of two schedules, that nothing fires after stop(), and that
// `sleep` (Rust's own waits) resolves once its time has passed. The
// browser suites cover the same through clients (retries, triggers).
import { test } from "node:test";
import assert from "node:assert/strict";
import { closedAfterEach, loadScript, wait } from "./script-harness.mjs";

const background = await loadScript("background.js", "pwaSyncBackground");
// Wait until `fired` holds `n` kinds, at most `ms` (a loaded machine runs timers late).
async function until(fired, n, ms) {
  const end = Date.now() + ms;
  while (fired.length < n && Date.now() < end) await wait(5);
}

// A stand-in global scope; `withDocument`: a page's, with a document whose visibility the
// test sets.
function scope(withDocument) {
  const global = new EventTarget();
  if (withDocument) {
    global.document = new EventTarget();
    global.document.visibilityState = "hidden";
  }
  return global;
}

const started = closedAfterEach();

function start(global, pullIntervalMs) {
  const fired = [];
  const triggers = background.start(global, pullIntervalMs, (kind) => fired.push(kind));
  started.push(triggers);
  return { triggers, fired };
}

test("online, offline and a page coming back to the foreground fire; a page going away does not", () => {
  const global = scope(true);
  const { fired } = start(global, 0);
  global.dispatchEvent(new Event("online"));
  global.dispatchEvent(new Event("offline"));
  global.document.dispatchEvent(new Event("visibilitychange"));
  global.document.visibilityState = "visible";
  global.document.dispatchEvent(new Event("visibilitychange"));
  assert.deepEqual(fired, ["online", "offline", "online"]);
});

test("a worker's scope has no document, and still hears online and offline", () => {
  const global = scope(false);
  const { fired } = start(global, 0);
  global.dispatchEvent(new Event("offline"));
  global.dispatchEvent(new Event("online"));
  assert.deepEqual(fired, ["offline", "online"]);
});

test("the pull interval fires again and again; none without one", async () => {
  const { fired } = start(scope(false), 20);
  const { fired: none } = start(scope(false), 0);
  await until(fired, 3, 2000);
  assert.ok(fired.length >= 3 && fired.every((kind) => kind === "interval"), `${fired}`);
  assert.deepEqual(none, []);
});

test("the timer keeps the sooner of two schedules and may be set again once it fired", async () => {
  const { triggers, fired } = start(scope(false), 0);
  let set = Date.now();
  triggers.schedule(30);
  triggers.schedule(5000); // later than the one set: kept as it was
  await until(fired, 1, 2500);
  assert.deepEqual(fired, ["timer"]);
  assert.ok(Date.now() - set < 2500, "the sooner one fired");
  set = Date.now();
  triggers.schedule(800);
  triggers.schedule(20); // sooner: replaces it
  await until(fired, 2, 700);
  assert.deepEqual(fired, ["timer", "timer"]);
  assert.ok(Date.now() - set < 700, "the sooner one fired");
  await wait(set + 1000 - Date.now());
  assert.deepEqual(fired, ["timer", "timer"], "the replaced one never fires");
});

test("after stop nothing fires: no listener, no interval, no timer", async () => {
  const global = scope(true);
  global.document.visibilityState = "visible";
  const { triggers, fired } = start(global, 10);
  triggers.schedule(10);
  triggers.stop();
  global.dispatchEvent(new Event("online"));
  global.dispatchEvent(new Event("offline"));
  global.document.dispatchEvent(new Event("visibilitychange"));
  triggers.schedule(5);
  await wait(60);
  assert.deepEqual(fired, []);
});

test("sleep resolves once its time has passed, not before", async () => {
  const begun = Date.now();
  let done = false;
  const sleeping = background.sleep(40).then(() => {
    done = true;
  });
  await wait(5);
  assert.equal(done, false, "resolved before its time");
  await sleeping;
  assert.ok(Date.now() - begun >= 35, `resolved after ${Date.now() - begun} ms`);
});
