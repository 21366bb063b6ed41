// js/http.js's checks of the server's answers (`answerProblem`, `errorMessage`), which
// src/wire.rs relies on: it reads each field as the type the check let through. Well-formed
// answers pass; every field of every object, given a value of another type (or taken
// away where it is required), is refused with a message naming that field and its
// object; a seeded run of random edits never throws and never lets a wrong type through.
// The browser suites (tests/common/wire.rs) hold the same answers through Rust's readers.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadScript } from "./script-harness.mjs";

const values = await loadScript("values.js", "pwaSyncValues");
const http = await loadScript("http.js", "pwaSyncHttp", { pwaSyncValues: values });
const copy = (value) => JSON.parse(JSON.stringify(value));

const pull = () => ({
  changes: [
    { collection: "trips", key: "a", version: 3, value: { id: "a" }, hlc: "h1", space: "g:1", schemaVersion: 2 },
    { collection: "trips", key: "b", version: 4, value: null, hlc: "h2" },
  ],
  checkpoint: 9,
  hasMore: true,
  serverTime: 1_700_000_000_000,
  revoked: ["g:2"],
});
const push = () => ({
  results: [
    { id: 1, status: "applied", version: 7 },
    { id: 2, status: "conflict", server: { version: 8, value: { id: "b" }, hlc: "h", schemaVersion: 3 } },
    { id: 3, status: "rejected", code: "forbidden", message: "no" },
  ],
  lastMutationId: 3,
  serverTime: 5,
});
const spaces = () => ({ spaces: [{ id: "g:1", role: "owner" }, { id: "g:2", role: "reader" }] });

// Each checked field: where it is, how its object is named, its type, and whether it
// may be absent or null.
const FIELDS = {
  pull: [
    [[], "the pull answer", "checkpoint", "whole"],
    [[], "the pull answer", "hasMore", "bool"],
    [[], "the pull answer", "serverTime", "whole", "optional"],
    [[], "the pull answer", "changes", "list"],
    [["changes", 0], "changes[0]", "collection", "string"],
    [["changes", 0], "changes[0]", "key", "string"],
    [["changes", 1], "changes[1]", "version", "whole"],
    [["changes", 1], "changes[1]", "hlc", "string"],
    [["changes", 0], "changes[0]", "space", "string", "optional"],
    [["changes", 0], "changes[0]", "schemaVersion", "u32", "optional"],
  ],
  push: [
    [[], "the push answer", "results", "list"],
    [[], "the push answer", "lastMutationId", "whole"],
    [[], "the push answer", "serverTime", "whole", "optional"],
    [["results", 0], "results[0]", "id", "whole"],
    [["results", 0], "results[0]", "version", "whole", "optional"],
    [["results", 2], "results[2]", "status", "string"],
    [["results", 2], "results[2]", "code", "string", "optional"],
    [["results", 2], "results[2]", "message", "string", "optional"],
    [["results", 1, "server"], "results[1].server", "version", "whole"],
    [["results", 1, "server"], "results[1].server", "hlc", "string"],
    [["results", 1, "server"], "results[1].server", "schemaVersion", "u32", "optional"],
  ],
  spaces: [
    [[], "the spaces answer", "spaces", "list"],
    [["spaces", 1], "spaces[1]", "id", "string"],
    [["spaces", 0], "spaces[0]", "role", "string"],
  ],
};
const FITS = {
  whole: (v) => Number.isSafeInteger(v) && v >= 0,
  u32: (v) => Number.isSafeInteger(v) && v >= 0 && v <= 2 ** 32 - 1,
  string: (v) => typeof v === "string",
  bool: (v) => typeof v === "boolean",
  list: Array.isArray,
};
const ANSWERS = { pull, push, spaces };
const at = (answer, path) => path.reduce((object, step) => (object === null || typeof object !== "object" ? undefined : object[step]), answer);

test("well-formed answers pass, unknown fields and optional ones left out included", () => {
  for (const kind of ["pull", "push", "spaces"]) {
    assert.equal(http.answerProblem(kind, ANSWERS[kind]()), undefined, kind);
  }
  const lean = { changes: [{ collection: "t", key: "k", version: 0, hlc: "h", extra: [1] }], checkpoint: 0, hasMore: false };
  assert.equal(http.answerProblem("pull", { ...lean, future: {} }), undefined);
  assert.equal(http.answerProblem("pull", { ...lean, serverTime: null }), undefined, "null is none for an optional field");
  assert.equal(http.answerProblem("push", { results: [], lastMutationId: 0 }), undefined);
});

test("each field of another type, or missing where required, is refused by name", () => {
  const others = [null, "1", 1.5, -1, 2 ** 32, 2 ** 53, true, [], {}];
  for (const [kind, fields] of Object.entries(FIELDS)) {
    for (const [path, name, field, type, optional] of fields) {
      for (const other of [undefined, ...others]) {
        if (FITS[type](other) || (optional && (other === undefined || other === null))) continue;
        const answer = ANSWERS[kind]();
        const object = at(answer, path);
        if (other === undefined) delete object[field];
        else object[field] = other;
        const problem = http.answerProblem(kind, answer);
        const expected = other === undefined ? `missing field \`${field}\` in ${name}` : `\`${field}\` in ${name} must be `;
        assert.ok(problem?.startsWith(expected), `${kind} ${name}.${field} = ${JSON.stringify(other)}: ${problem}`);
      }
    }
  }
});

test("what a status needs, the roles and the objects themselves", () => {
  const result = (r) => http.answerProblem("push", { results: [r], lastMutationId: 1 });
  assert.equal(result({ id: 1, status: "applied" }), "missing field `version`");
  assert.equal(result({ id: 1, status: "conflict", server: null }), "missing field `server`");
  assert.equal(result({ id: 1, status: "rejected", message: "m" }), "missing field `code`");
  for (const status of ["lost", "constructor", "__proto__", "toString"]) {
    assert.equal(result({ id: 1, status }), `unknown variant \`${status}\`, expected one of \`applied\`, \`conflict\`, \`rejected\``);
  }
  assert.equal(result({ id: 1, status: "conflict", server: 3 }), "results[0].server must be an object");
  assert.equal(result(7), "results[0] must be an object");
  const role = (r) => http.answerProblem("spaces", { spaces: [{ id: "g:1", role: r }] });
  assert.equal(role("king"), '`role` in spaces[0]: unknown role "king"');
  assert.equal(role("hasOwnProperty"), '`role` in spaces[0]: unknown role "hasOwnProperty"');
  for (const [kind, name] of [["pull", "the pull answer"], ["push", "the push answer"], ["spaces", "the spaces answer"]]) {
    for (const answer of [null, [], 5, "x"]) {
      assert.equal(http.answerProblem(kind, answer), `${name} must be an object`);
    }
  }
  assert.equal(
    http.answerProblem("pull", { changes: [], checkpoint: 1, hasMore: false, revoked: ["g:1", 2] }),
    "`revoked` in the pull answer must be a string",
  );
  // The first problem in the order Rust read the fields: `revoked`, the changes, then the rest.
  assert.equal(
    http.answerProblem("pull", { changes: [{}], revoked: 5 }),
    "`revoked` in the pull answer must be a list",
  );
  assert.equal(http.answerProblem("pull", { changes: [{ key: 1 }] }), "missing field `collection` in changes[0]");
});

test("random edits never throw, and what passes has every field of its type", () => {
  // A fixed sequence (an LCG), so a failure repeats.
  let state = 0x2545f491;
  const next = (n) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state % n;
  };
  const values = [undefined, null, 0, 1, -1, 1.5, 2 ** 32, 2 ** 53, "", "x", "applied", "conflict", "rejected", "owner", true, [], {}, [{}]];
  let passed = 0;
  for (let round = 0; round < 3000; round++) {
    const kind = ["pull", "push", "spaces"][next(3)];
    const answer = ANSWERS[kind]();
    for (let edits = 1 + next(3); edits > 0; edits--) {
      const [path, , field] = FIELDS[kind][next(FIELDS[kind].length)];
      const object = at(answer, path);
      const value = values[next(values.length)];
      if (object === null || typeof object !== "object") continue;
      if (value === undefined) delete object[field];
      else object[field] = copy(value);
    }
    const problem = http.answerProblem(kind, answer);
    assert.ok(problem === undefined || typeof problem === "string", `${kind} ${JSON.stringify(answer)}`);
    if (problem !== undefined) continue;
    passed++;
    for (const [path, , field, type, optional] of FIELDS[kind]) {
      const object = at(answer, path);
      // An item the edits took away (an emptied list) has nothing to check.
      if (object === undefined) continue;
      const value = object[field];
      if (optional && (value === undefined || value === null)) continue;
      assert.ok(FITS[type](value), `${kind}: ${field} = ${JSON.stringify(value)} passed`);
    }
  }
  assert.ok(passed > 100, `only ${passed} edited answers passed: the property checked little`);
});

test("an error body's message, or none", () => {
  assert.equal(http.errorMessage('{"error": {"code": "x", "message": "why"}}'), "why");
  assert.equal(http.errorMessage('{"error": {"message": "no code"}}'), "no code");
  for (const text of ['{"error": {"code": 5, "message": "m"}}', '{"error": "m"}', '{"message": "m"}', "null", "<html>", ""]) {
    assert.equal(http.errorMessage(text), undefined, text);
  }
});
