// js/store.js's `countNow`: `count` as the app gets it for an exact plan, a `count`
// request per range of the index in one transaction, summed, and handed to Rust's
// settling function as one request's event: the sum, or the first failed request's event.
// The browser suites count through a client (`count_counts_what_matches`, an `in` of two
// ranges among them); here each branch with a fake database.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fakeRequest, loadScript } from "./script-harness.mjs";

const store = await loadScript("store.js", "pwaSyncStore");

// Node has no IndexedDB: key ranges as plain records of how they were made.
globalThis.IDBKeyRange = {
  bound: (lower, upper, lowerOpen, upperOpen) => ({ lower, upper, lowerOpen, upperOpen }),
  lowerBound: (lower, open) => ({ lower, lowerOpen: open }),
  upperBound: (upper, open) => ({ upper, upperOpen: open }),
};

// A database whose index answers each `count` with the next of `outcomes` ({result} or
// {error}) on a later task, and records what it was asked.
function database(outcomes) {
  const asked = [];
  const db = {
    transaction(name) {
      asked.push(["transaction", name]);
      const tx = {
        db,
        objectStore: (store) => ({
          index: (index) => ({
            count(range) {
              asked.push(["count", store, index, range]);
              const outcome = outcomes[asked.filter(([what]) => what === "count").length - 1];
              return fakeRequest(outcome);
            },
          }),
        }),
      };
      return tx;
    },
  };
  return { db, asked };
}

// Rust's settling function: records its calls and answers the event's result.
function settler() {
  const calls = [];
  const settle = (collection, key, event) => {
    calls.push([collection, key, event]);
    return event.target.error ? Promise.reject(event.target.error) : event.target.result;
  };
  return { settle, calls };
}

test("each range is counted in one transaction and the counts are summed", async () => {
  const { db, asked } = database([{ result: 3 }, { result: 4 }]);
  const { settle, calls } = settler();
  const answer = await store.countNow(db, "sessions", "start", [[900, 900, false, false], [1030, 1030, false, false]], settle);
  assert.equal(answer, 7);
  assert.deepEqual(asked, [
    ["transaction", "sessions"],
    ["count", "sessions", "start", { lower: 900, upper: 900, lowerOpen: false, upperOpen: false }],
    ["count", "sessions", "start", { lower: 1030, upper: 1030, lowerOpen: false, upperOpen: false }],
  ]);
  assert.equal(calls.length, 1);
  assert.deepEqual(calls[0].slice(0, 2), ["sessions", undefined]);
  assert.equal(calls[0][2].target.error, null);
});

test("one range is its request's count, and no range counts nothing", async () => {
  const one = database([{ result: 5 }]);
  assert.equal(await store.countNow(one.db, "sessions", "day", [null], settler().settle), 5);
  assert.deepEqual(one.asked[1], ["count", "sessions", "day", null]);
  const none = database([]);
  assert.equal(await store.countNow(none.db, "sessions", "day", [], settler().settle), 0);
  assert.deepEqual(none.asked, [["transaction", "sessions"]]);
});

test("a failed range hands Rust that request's event, not a sum", async () => {
  const error = Object.assign(new Error("the disk is gone"), { name: "UnknownError" });
  const { db } = database([{ result: 3 }, { error }]);
  const { settle, calls } = settler();
  await assert.rejects(store.countNow(db, "sessions", "start", [null, null], settle), (e) => e === error);
  assert.equal(calls.length, 1);
  assert.equal(calls[0][2].target.error, error);
});
