// js/store.js's `getNow`: `get` as the app gets it, one request answered in the script.
// A readable record's value (or `undefined`) resolves without Rust; a failed request or an
// unreadable record goes to Rust's settling function, whose answer or throw settles the
// promise. The browser suites hold the unreadable records through a client (`bad_input`'s
// corrupted records) and Rust's answer for a failed request (`api`, `read_outcome` called
// with an aborted request); here each branch with a fake database.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fakeRequest, loadScript } from "./script-harness.mjs";

const store = await loadScript("store.js", "pwaSyncStore");

// A database whose `get` answers `outcome` ({result} or {error}) on a later task, and
// records what it was asked.
function database(outcome) {
  const asked = [];
  const db = {
    transaction(name) {
      if (outcome.refused) throw new Error("InvalidStateError");
      asked.push(["transaction", name]);
      return {
        objectStore(store) {
          asked.push(["objectStore", store]);
          return {
            get(key) {
              asked.push(["get", key]);
              return fakeRequest(outcome);
            },
          };
        },
      };
    },
  };
  return { db, asked };
}

// Rust's settling function, recorded; it answers `answer` or throws `thrown`.
function settler({ answer, thrown } = {}) {
  const calls = [];
  const settle = (collection, key, event) => {
    calls.push([collection, key, event]);
    if (thrown !== undefined) throw thrown;
    return answer;
  };
  return { settle, calls };
}

const record = (fields) => ({ key: "t1", version: 3, hlc: "h", pending: 0, updatedAt: 1, ...fields });

test("a readable record's value resolves in the script, without Rust", async () => {
  const value = { id: "t1", n: 1 };
  const { db, asked } = database({ result: record({ value }) });
  const { settle, calls } = settler();
  assert.equal(await store.getNow(db, "trips", "t1", settle), value);
  assert.deepEqual(asked, [["transaction", "trips"], ["objectStore", "trips"], ["get", "t1"]]);
  assert.equal(calls.length, 0);
});

test("no record and a tombstone both read as undefined", async () => {
  for (const result of [undefined, record({ value: null }), record({})]) {
    const { settle, calls } = settler();
    assert.equal(await store.getNow(database({ result }).db, "trips", "t1", settle), undefined);
    assert.equal(calls.length, 0);
  }
});

test("an unreadable record goes to Rust, whose error rejects", async () => {
  const broken = [5, null, record({ version: "x", value: { id: "t1" } }), record({ pending: -1, value: {} })];
  for (const result of broken) {
    const thrown = new Error("unreadable record trips/t1");
    const { settle, calls } = settler({ thrown });
    await assert.rejects(store.getNow(database({ result }).db, "trips", "t1", settle), (e) => e === thrown);
    assert.equal(calls.length, 1, JSON.stringify(result));
    assert.deepEqual(calls[0].slice(0, 2), ["trips", "t1"]);
    assert.equal(calls[0][2].target.result, result);
  }
});

test("a failed request goes to Rust; what it answers or throws settles the promise", async () => {
  const error = { name: "AbortError" };
  const thrown = new Error("cannot read trips/t1: AbortError");
  const failing = settler({ thrown });
  await assert.rejects(store.getNow(database({ error }).db, "trips", "t1", failing.settle), (e) => e === thrown);
  assert.equal(failing.calls[0][2].target.error, error);
  const answering = settler({ answer: "from rust" });
  assert.equal(await store.getNow(database({ error }).db, "trips", "t1", answering.settle), "from rust");
});

test("a transaction that cannot start throws at once (Rust reads through its own path)", () => {
  const { settle, calls } = settler();
  assert.throws(() => store.getNow(database({ refused: true }).db, "trips", "t1", settle), /InvalidStateError/);
  assert.equal(calls.length, 0);
});
