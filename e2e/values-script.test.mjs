// js/values.js's query check (`checkQuery`): why a query of `query`, `count`, `explain`
// or `watch` is refused (`invalid-query`), with the message the core's reader wrote when it
// checked queries, or the JSON copy it checked, which the core reads. Whether `after` is a
// cursor of the query stays the core's (`query::tests`); the browser suites (`query`) hold
// the codes through a client.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadScript } from "./script-harness.mjs";

const values = await loadScript("values.js", "pwaSyncValues");
// The reason, or undefined when the query passes.
const problem = (query, count = false) => {
  const checked = values.checkQuery(query, count, ["tags"]);
  return typeof checked === "string" ? checked : undefined;
};
const OPERATORS = "gt, gte, lt, lte, in, startsWith";

test("queries the reader can read pass, absent parts and JSON's nulls included", () => {
  const good = [
    undefined,
    null,
    {},
    { where: null, orderBy: null, limit: null, after: null },
    { where: { a: 1, b: "x", c: true, d: null, e: NaN } },
    { where: { a: { gt: 1, lte: "z" }, b: { in: [1, "a", null, false] }, c: { startsWith: "pre" } } },
    { orderBy: "a" },
    { orderBy: ["a", "--a"] },
    NaN,
    new Date(NaN),
    { toJSON: () => null },
    { orderBy: ["-a", "b"], limit: 10, after: "00ff" },
    { limit: NaN },
    // Checked as the JSON the core reads: a `Date` is its string, a function's field gone.
    { where: { a: new Date(0), b: { gte: new Date(0), lt: new Date(1) }, c: { in: [new Date(0)] } } },
    { where: { a: 1, b: () => 1 }, orderBy: () => "a" },
  ];
  for (const query of good) assert.equal(problem(query), undefined, JSON.stringify(query));
  assert.equal(problem({ where: { a: 1 } }, true), undefined);
});

test("each bad query answers its own message", () => {
  const cases = [
    [5, 'the query must be an object such as { where: { owner: "ana" } }'],
    [[], 'the query must be an object such as { where: { owner: "ana" } }'],
    [{ select: ["a"] }, 'unknown option "select" (expected where, orderBy, limit, after)'],
    [{ where: 3 }, "`where` must be an object of field conditions"],
    [{ where: [] }, "`where` must be an object of field conditions"],
    [{ where: { a: {} } }, `"a": no operator (expected ${OPERATORS})`],
    [{ where: { a: [1, 2] } }, '"a": to match one of several values use { in: [...] }'],
    [{ where: { a: { near: 1 } } }, `"a": unknown operator "near" (expected ${OPERATORS})`],
    [{ where: { a: { gt: true } } }, '"a": `gt` takes a string or a number'],
    [{ where: { a: { lte: NaN } } }, '"a": `lte` takes a string or a number'],
    [{ where: { a: { gte: null } } }, '"a": `gte` takes a string or a number'],
    [{ where: { a: { lt: [1] } } }, '"a": `lt` takes a string or a number'],
    [{ where: { a: { in: 3 } } }, '"a": `in` must be an array'],
    [{ where: { a: { in: [[1]] } } }, '"a": `in` takes an array of strings, numbers, booleans or null'],
    [{ where: { a: { in: [{}] } } }, '"a": `in` takes an array of strings, numbers, booleans or null'],
    [{ where: { a: { gt: {}, lt: new Date(0) } } }, '"a": `gt` takes a string or a number'],
    [{ where: { a: { startsWith: 1 } } }, '"a": `startsWith` takes a string'],
    [{ orderBy: 5 }, '`orderBy` takes a field, "-field" for descending, or an array of them'],
    [{ orderBy: ["a", 5] }, '`orderBy` takes a field, "-field" for descending, or an array of them'],
    [{ orderBy: "-" }, "`orderBy` names an empty field"],
    [{ orderBy: ["a", "-a"] }, '`orderBy` names "a" twice'],
    [{ orderBy: "tags" }, 'cannot order by "tags": it has a multi-entry index (an array field)'],
    [{ orderBy: ["a", "-tags"] }, 'cannot order by "tags": it has a multi-entry index (an array field)'],
    [{ limit: 0 }, "`limit` must be a whole number of at least 1"],
    [{ limit: 1.5 }, "`limit` must be a whole number of at least 1"],
    [{ limit: "5" }, "`limit` must be a whole number of at least 1"],
    [{ limit: 2 ** 53 }, "`limit` must be a whole number of at least 1"],
    [{ after: 5 }, "`after` must be the `next` string of the previous page, or null"],
  ];
  for (const [query, reason] of cases) assert.equal(problem(query), reason, JSON.stringify(query));
  assert.equal(problem({ where: {}, limit: 3 }, true), 'unknown option "limit" (expected where)');
});

test("the first problem is answered: options, then fields and operators in key order, then order, limit, after", () => {
  assert.match(problem({ zebra: 1, where: 3 }), /unknown option "zebra"/);
  assert.match(problem({ zebra: 1, apple: 1 }), /unknown option "apple"/);
  assert.match(problem({ where: { x: { gt: true, g: 1 } } }), /unknown operator "g"/);
  assert.equal(problem({ where: { b: { near: 1 }, a: { gt: true } } }), '"a": `gt` takes a string or a number');
  assert.equal(problem({ where: { a: { lt: true, in: 3 } } }), '"a": `in` must be an array');
  assert.match(problem({ where: { a: [] }, orderBy: 5 }), /^"a"/);
  assert.match(problem({ orderBy: "-", limit: 0 }), /^`orderBy`/);
  assert.match(problem({ orderBy: ["tags", "-"] }), /^cannot order by "tags"/);
  assert.match(problem({ orderBy: ["-", "tags"] }), /^`orderBy` names an empty field/);
  // Fields and operators in code point order, as the core's reader took them.
  assert.match(problem({ where: { "😀": [1], "\uff01": [1] } }), /^"\uff01"/);
  assert.match(problem({ limit: 0, after: 5 }), /^`limit`/);
});

test("an undefined condition or operand is refused before anything else: JSON would drop it", () => {
  assert.equal(problem({ where: { d: { lt: undefined, gte: undefined } } }), "`where.d.lt` is undefined: give a value, or leave it out");
  assert.equal(problem({ where: [undefined] }), "`where.0` is undefined: give a value, or leave it out");
  // An array condition is no `in`: it is refused as one, not for its undefined.
  assert.equal(problem({ where: { a: [1, undefined] } }), '"a": to match one of several values use { in: [...] }');
  assert.equal(problem({ where: { day: undefined } }), "`where.day` is undefined: give a value, or leave it out");
  assert.equal(problem({ where: { day: { gte: undefined, lt: 5 } } }), "`where.day.gte` is undefined: give a value, or leave it out");
  assert.equal(problem({ where: { day: { in: [1, undefined] } } }), "`where.day.in` is undefined: give a value, or leave it out");
  assert.equal(problem({ select: 1, where: { day: undefined } }), "`where.day` is undefined: give a value, or leave it out");
});

test("what is read is the JSON copy that was checked, once", () => {
  assert.deepEqual(values.checkQuery({ where: { a: new Date(0), f: () => 1 }, limit: 2 }, false, []), [
    { where: { a: "1970-01-01T00:00:00.000Z" }, limit: 2 },
  ]);
  assert.deepEqual(values.checkQuery(undefined, false, []), [null]);
  assert.deepEqual(values.checkQuery(null, true, []), [null]);
  // A getter that answers differently each time: the copy the core would read is the one
  // checked, whatever an earlier read saw.
  let reads = 0;
  const query = { get where() { reads++; return reads === 1 ? { status: "open" } : { status: { equals: "open" } }; } };
  assert.equal(problem(query), `"status": unknown operator "equals" (expected ${OPERATORS})`);
  const toJSON = { where: { status: "open" }, toJSON: () => ({ where: { status: { equals: "open" } } }) };
  assert.equal(problem(toJSON), `"status": unknown operator "equals" (expected ${OPERATORS})`);
});

test("a query that throws when read, or is not JSON, is refused with the reason, not thrown", () => {
  const throwing = { get where() { throw new Error("no where"); } };
  assert.equal(problem(throwing), "the query must be JSON: not serialisable as JSON (Error: no where)");
  const trap = new Proxy({}, { ownKeys() { throw new TypeError("trapped"); } });
  assert.equal(problem(trap), "the query must be JSON: not serialisable as JSON (TypeError: trapped)");
  const cyclic = { where: {} };
  cyclic.where.self = cyclic;
  assert.match(problem(cyclic), /^the query must be JSON: not serialisable as JSON \(TypeError/);
  assert.match(problem({ where: { a: 1n } }), /^the query must be JSON: not serialisable as JSON \(TypeError/);
  assert.equal(problem(() => ({})), 'the query must be an object such as { where: { owner: "ana" } }');
});

test("a lone surrogate anywhere in a query is refused: the core would read it as U+FFFD", () => {
  const reason = "the query's strings must be well-formed Unicode (one holds a lone surrogate)";
  assert.equal(problem({ orderBy: ["\ud800", "\udc00"] }), reason);
  assert.equal(problem({ where: { name: "x\udfff" } }), reason);
  assert.equal(problem({ orderBy: "x\\ud800" }), undefined, "a backslash and the letters are no surrogate");
  assert.equal(problem({ where: { a: "\\\ud800" } }), reason, "a backslash, then a lone surrogate");
  assert.equal(problem({ where: { a: "😀" } }), undefined, "a pair is well-formed");
});

// `list`'s options (`checkList`): `[index, equals, limit]` as the core reads them, or the
// reason (`invalid-value`), the first problem in the order the core met them when it checked
// them. The browser suites (`bad_input`, `api`) hold the code and the lists through a client.
test("list options: what passes, and each refusal with its message", () => {
  const list = (query) => values.checkList(query, ["owner", "tripDay", "year"], ["owner", "year"]);
  assert.deepEqual(list(undefined), []);
  assert.deepEqual(list(null), []);
  assert.deepEqual(list({}), [undefined, undefined, undefined]);
  assert.deepEqual(list([]), [undefined, undefined, undefined], "an array is an object without options");
  assert.deepEqual(list({ limit: 0 }), [undefined, undefined, 0]);
  assert.deepEqual(list({ index: "owner", equals: "ana", limit: 4294967295 }), ["owner", "ana", 4294967295]);
  assert.deepEqual(list({ index: "year", equals: 2024 }), ["year", 2024, undefined]);
  // Compared as its JSON: a `Date` is its string.
  assert.deepEqual(list({ index: "owner", equals: new Date(0) }), ["owner", "1970-01-01T00:00:00.000Z", undefined]);
  const refused = [
    ["owner", "a list query must be an object such as {index, equals, limit}"],
    [3, "a list query must be an object such as {index, equals, limit}"],
    [() => 1, "a list query must be an object such as {index, equals, limit}"],
    [{ limit: "5" }, "`limit` must be a whole number of at least 0"],
    [{ limit: 1.5 }, "`limit` must be a whole number of at least 0"],
    [{ limit: -1 }, "`limit` must be a whole number of at least 0"],
    [{ limit: NaN }, "`limit` must be a whole number of at least 0"],
    [{ limit: null }, "`limit` must be a whole number of at least 0"],
    [{ limit: 2 ** 32 }, "`limit` must be a whole number of at least 0"],
    [{ index: 5, equals: "ana" }, "`index` must name a declared index"],
    [{ equals: "ana" }, "`index` must name a declared index"],
    [{ index: "owner" }, "`index` needs `equals`: the value to match"],
    [{ index: "owner", equals: () => 1 }, "expected an object, got undefined, a function or a symbol"],
    [{ index: "owner", equals: 1n }, "not serialisable as JSON (TypeError: Do not know how to serialize a BigInt)"],
    [{ index: "title", equals: "x" }, '"title" is not a declared index (declared: [owner, tripDay, year])'],
    [{ index: "tripDay", equals: "x" }, '"tripDay" is not a declared index (declared: [owner, tripDay, year])'],
    [{ index: "owner", equals: true }, 'index value for "owner" must be a string or a number'],
    [{ index: "owner", equals: null }, 'index value for "owner" must be a string or a number'],
    [{ index: "owner", equals: NaN }, 'index value for "owner" must be a string or a number'],
    [{ index: "owner", equals: ["ana"] }, 'index value for "owner" must be a string or a number'],
    // The limit is checked first, then the index, then its value.
    [{ limit: -1, index: 5 }, "`limit` must be a whole number of at least 0"],
    [{ index: "title", equals: true }, '"title" is not a declared index (declared: [owner, tripDay, year])'],
  ];
  for (const [query, reason] of refused) assert.equal(list(query), reason, String(query?.index ?? query));
  // Each option is read once (a getter's second answer never reaches the core).
  let reads = 0;
  const once = { get index() {
    reads++;
    return reads === 1 ? "owner" : 7;
  }, equals: "ana" };
  assert.deepEqual(list(once), ["owner", "ana", undefined]);
  assert.equal(reads, 1);
  // Nothing the app's object does throws out of the check: an option whose getter throws is
  // absent (as Rust's `Reflect::get` read it), and whatever `toJSON` throws is named.
  const throwing = { get index() {
    throw new Error("no");
  } };
  assert.deepEqual(list(throwing), [undefined, undefined, undefined]);
  const throwingWithEquals = { equals: "a", get index() {
    throw new Error("no");
  } };
  assert.equal(list(throwingWithEquals), "`index` must name a declared index");
  const thrown = (what) => list({ index: "owner", equals: { toJSON: () => {
    throw what;
  } } });
  assert.equal(thrown(Symbol("s")), "not serialisable as JSON (Symbol(s))");
  assert.equal(thrown({ message: "m" }), "not serialisable as JSON (m)");
  assert.equal(thrown(Object.create(null)), "not serialisable as JSON (a value that cannot be shown)");
  const revoked = Proxy.revocable({}, {});
  revoked.revoke();
  assert.deepEqual(list(revoked.proxy), [undefined, undefined, undefined]);
  // As deep as the core read JSON (480 levels below the top), and one more.
  const nested = (levels) => {
    let value = "x";
    for (let i = 0; i < levels; i++) value = [value];
    return value;
  };
  assert.equal(list({ index: "owner", equals: nested(481) }), 'index value for "owner" must be a string or a number');
  assert.equal(list({ index: "owner", equals: nested(482) }), "not serialisable as JSON (nested more than 480 levels deep)");
  assert.equal(
    values.checkQuery({ toJSON: () => {
      throw Symbol("q");
    } }, false, []),
    "the query must be JSON: not serialisable as JSON (Symbol(q))",
  );
});

// What IndexedDB gives back (`storedProblem`), checked as src/idb/stored.rs reads it. The
// browser suites (`stored`) hold every field against serde-wasm-bindgen's verdicts.
test("stored objects: the first problem, named as Rust's readers named it", () => {
  const meta = () => ({
    clientId: "c-1",
    nextMutationId: 1,
    checkpoint: 0,
    hlc: { wallMs: 5, counter: 0 },
    format: 3,
    lastFailure: { at: 1.5, code: "network", message: "m" },
  });
  assert.equal(values.storedProblem("meta", meta()), undefined);
  assert.equal(values.storedProblem("meta", { ...meta(), lastFailure: null, checkpointScope: null }), undefined);
  const cases = [
    [null, "the client metadata must be an object"],
    [{ ...meta(), hlc: undefined }, "missing field `hlc` in the client metadata"],
    [{ ...meta(), hlc: [] }, "hlc must be an object"],
    [{ ...meta(), lastFailure: { at: "1", code: "c", message: "m" } }, "`at` in lastFailure must be a number"],
    [{ ...meta(), clientId: 5, hlc: { wallMs: -1, counter: 0 } }, "`clientId` in the client metadata must be a string"],
    [{ ...meta(), hlc: { wallMs: 1, counter: 65536 } }, "`counter` in hlc must be a whole number from 0 to 65535"],
    [{ ...meta(), nextConflictId: null }, "`nextConflictId` in the client metadata must be a whole number from 0 to 9007199254740991"],
    [{ ...meta(), clockOffsetMs: 1.5 }, "`clockOffsetMs` in the client metadata must be a whole number"],
    [{ ...meta(), format: 2 ** 32 }, "`format` in the client metadata must be a whole number from 0 to 4294967295"],
    [{ ...meta(), lastSyncedAt: 10n }, "`lastSyncedAt` in the client metadata must be a number"],
  ];
  for (const [object, problem] of cases) assert.equal(values.storedProblem("meta", object), problem);
  assert.equal(values.storedProblem("meta", { ...meta(), clockOffsetMs: -5, nextConflictId: undefined }), undefined);

  const conflict = { id: 1, collection: "t", key: "k", detectedAt: 2, serverVersion: 3, fields: ["a"], local: { x: 1 } };
  assert.equal(values.storedProblem("conflict", conflict), undefined);
  assert.equal(values.storedProblem("conflict", { ...conflict, fields: undefined }), undefined);
  assert.equal(values.storedProblem("conflict", { ...conflict, fields: "ab" }), "`fields` in a stored conflict must be a list");
  assert.equal(values.storedProblem("conflict", { ...conflict, fields: ["a", 1] }), "`fields` in a stored conflict must be a string");
  assert.equal(values.storedProblem("conflict", { ...conflict, space: 4 }), "`space` in a stored conflict must be a string");

  const audit = { at: 1, kind: "rejected", collection: "t", key: "k", strategy: "s", decidedBy: "server" };
  assert.equal(values.storedProblem("audit", audit), undefined);
  assert.equal(values.storedProblem("audit", { ...audit, kind: "Conflict" }), "`kind` in an audit entry must be conflict or rejected");
  assert.equal(values.storedProblem("audit", { ...audit, kind: 1 }), "`kind` in an audit entry must be a string");
  assert.equal(values.storedProblem("audit", { ...audit, decidedBy: undefined }), "missing field `decidedBy` in an audit entry");
  assert.equal(values.storedProblem("audit", [audit]), "an audit entry must be an object");
});
