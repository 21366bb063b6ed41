// js/config.js, the config taken apart before Rust reads its JSON part: the parts that
// are not JSON and their checks, and resolver functions named "custom". The browser suites
// open clients through it (`bad_input`: each refused config's code and message).
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadScript } from "./script-harness.mjs";

const values = await loadScript("values.js", "pwaSyncValues");
const config = await loadScript("config.js", "pwaSyncConfig", { pwaSyncValues: values });

const base = () => ({ name: "db", collections: { trips: { key: "id" } } });

test("a config that is no object is refused with a reason", () => {
  for (const bad of [undefined, null, 5, "db", [], () => {}]) {
    assert.equal(config.split(bad), "SyncClient.open needs a config object", String(bad));
  }
});

test("the JSON part keeps everything but the parts that are not JSON, which come apart", () => {
  const target = new EventTarget();
  const token = () => "t";
  const encryption = { key: new Uint8Array(32) };
  const migrations = { 2: (v) => v };
  const given = { ...base(), endpoint: "/sync", eventTarget: target, token, encryption, migrations, version: 2 };
  const [json, eventTarget, tokenPart, encryptionPart, migrationsPart, resolvers] = config.split(given);
  assert.deepEqual(json, { name: "db", collections: { trips: { key: "id" } }, endpoint: "/sync", version: 2 });
  assert.equal(eventTarget, target);
  assert.equal(tokenPart, token);
  assert.equal(encryptionPart, encryption);
  assert.deepEqual(migrationsPart, [2, migrations[2]]);
  assert.deepEqual(resolvers, []);
  // The app's object is not changed.
  assert.equal(given.eventTarget, target);
  assert.equal(given.migrations, migrations);
});

test("parts left out or null come back undefined", () => {
  const given = { ...base(), eventTarget: null, token: null, encryption: null, migrations: null };
  const parts = config.split(given);
  assert.deepEqual(parts.slice(1, 5), [undefined, undefined, undefined, undefined]);
  assert.deepEqual(config.split(base()).slice(1, 5), [undefined, undefined, undefined, undefined]);
});

test("a resolver function is taken out and its collection's conflict named custom", () => {
  const resolve = ({ local }) => local;
  const trips = { key: "id", conflict: resolve, indexes: ["owner"] };
  const given = { name: "db", collections: { trips, notes: { key: "id", conflict: "lastWriteWins" } } };
  const [json, , , , , resolvers] = config.split(given);
  assert.deepEqual(json.collections, {
    trips: { key: "id", conflict: "custom", indexes: ["owner"] },
    notes: { key: "id", conflict: "lastWriteWins" },
  });
  assert.deepEqual(resolvers, ["trips", resolve]);
  assert.equal(trips.conflict, resolve, "the app's collection keeps its function");
});

test("collections given as a list reach Rust as a list, a resolver function taken out too", () => {
  const resolve = ({ server }) => server;
  const collections = [{ name: "trips", key: "id" }, { name: "notes", key: "id", conflict: resolve }];
  const [json, , , , , resolvers] = config.split({ name: "db", collections });
  assert.deepEqual(json.collections, [{ name: "trips", key: "id" }, { name: "notes", key: "id", conflict: "custom" }]);
  assert.deepEqual(resolvers, ["notes", resolve]);
  assert.equal(collections[1].conflict, resolve, "the app's collection keeps its function");
  // Named as JSON names it, as the collection itself is, and read once.
  const named = [{ name: new String("trips"), key: "id", conflict: resolve }];
  assert.deepEqual(config.split({ name: "db", collections: named })[5], ["trips", resolve]);
  let reads = 0;
  const changing = [{ get name() { return ++reads === 1 ? "a" : "b"; }, key: "id", conflict: resolve }];
  const [checked, , , , , found] = config.split({ name: "db", collections: changing });
  assert.deepEqual([checked.collections[0].name, found[0], reads], ["a", "a", 1]);
});

test("a collection named __proto__ is a collection, not the object's prototype", () => {
  const collections = JSON.parse('{"__proto__": {"key": "id", "conflict": "manual"}, "t": {"key": "id"}}');
  const [json] = config.split({ name: "db", collections });
  assert.deepEqual(Object.keys(json.collections), ["__proto__", "t"]);
  assert.equal(refused({ name: "db", collections: JSON.parse('{"__proto__": {"key": ""}}') }), 'collection "__proto__": `key` must name a field');
});

test("the JSON part is checked as the JSON Rust reads: undefined and functions gone, toJSON applied, holes null", () => {
  const [json] = accepted({
    name: "db", endpoint: new URL("https://example.org/sync"), onError: () => {}, retry: { backoff: undefined },
    collections: { trips: { key: "id", conflict: undefined, note: undefined, event: { name: "e", hook() {} } }, gone: undefined },
  });
  assert.deepEqual(json, { name: "db", endpoint: "https://example.org/sync", retry: {}, collections: { trips: { key: "id", event: { name: "e" } } } });
  assert.equal(refused(withCollection({ key: "id", omit: [, "secret"] })), 'collection "t": `omit` must be an array of strings, got an array');
  assert.equal(refused(withCollection({ key: "id", indexes: [["a", , "b"]] })), 'collection "t": an index must be a field name, an array of field names, or {field, multiEntry}');
  assert.equal(refused({ name: "a", collections: [, { name: "t", key: "id" }] }), "collections[0] needs a string `name`");
  assert.equal(refused(withCollection({ key: undefined })), 'collection "t": missing `key`: the field that holds each record\'s id, e.g. { key: "id" }');
  assert.equal(refused({ name: "a", collections: undefined }), "missing field `collections`");
  const cyclic = { key: "id" };
  cyclic.self = cyclic;
  assert.match(refused(withCollection(cyclic)), /^the config must be JSON apart from eventTarget, token, resolvers and migrations: TypeError/);
  assert.match(refused({ ...base(), batchSize: 10n }), /^the config must be JSON apart from .*: TypeError/);
  const lone = "the config's strings must be well-formed Unicode (one holds a lone surrogate)";
  assert.equal(refused({ name: "a", collections: [{ name: "\ud800", key: "id" }, { name: "\ud801", key: "id" }] }), lone);
  assert.equal(refused({ name: "a", collections: { t: { key: "id", omit: ["x\udc00"] } } }), lone, "a lone low surrogate");
  assert.equal(refused({ name: "a\\\ud800", collections: { t: { key: "id" } } }), lone, "a backslash, then a lone surrogate");
  accepted({ name: "a\\ud800", collections: { "😀": { key: "id" } } });
});

test("a wrong event target, token or encryption key is refused with its reason", () => {
  const cases = [
    [{ eventTarget: "window" }, "`eventTarget` has the wrong type"],
    [{ eventTarget: {} }, "`eventTarget` has the wrong type"],
    [{ token: 5 }, "`token` must be a string or a function returning one"],
    [{ token: {} }, "`token` must be a string or a function returning one"],
    [{ encryption: {} }, "`encryption.key` must be 32 bytes: a Uint8Array or a base64 string"],
    [{ encryption: { key: 5 } }, "`encryption.key` must be 32 bytes: a Uint8Array or a base64 string"],
    [{ encryption: "key" }, "`encryption.key` must be 32 bytes: a Uint8Array or a base64 string"],
  ];
  for (const [extra, reason] of cases) {
    assert.equal(config.split({ ...base(), ...extra }), reason, JSON.stringify(extra));
  }
  for (const key of ["a2V5", new Uint8Array(32), new ArrayBuffer(32)]) {
    assert.ok(Array.isArray(config.split({ ...base(), encryption: { key } })), String(key));
  }
});

test("a config whose reading throws is refused with the reason, not thrown", () => {
  const throwing = { name: "db", get token() { throw new Error("no token today"); } };
  assert.equal(config.split(throwing), "the config could not be read: Error: no token today");
  const trap = new Proxy({}, { ownKeys() { throw new TypeError("trapped"); } });
  assert.equal(config.split(trap), "the config could not be read: TypeError: trapped");
  const collections = { trips: { get conflict() { throw new Error("no conflict"); } } };
  assert.equal(config.split({ name: "db", collections }), "the config could not be read: Error: no conflict");
});

// ---- the JSON part's checks (`check`), each refusal's reason as Rust's reader wrote it ----

const refused = (json) => {
  const got = config.split(json);
  assert.equal(typeof got, "string", "accepted");
  return got;
};
const accepted = (json) => {
  const got = config.split(json);
  assert.ok(Array.isArray(got), `refused: ${got}`);
  return got;
};
const withCollection = (spec) => ({ name: "a", collections: { t: spec } });

test("the documented settings are accepted, and the config reaches Rust as the app gave it", () => {
  const documented = {
    name: "conf", endpoint: "/sync", batchSize: 50, retry: { maxAttempts: 3 }, pullIntervalMs: 1000,
    realtime: true, autoSync: false, auditLimit: 10, timeoutMs: 250, syncTag: "outbox-a", storage: "memory",
    expectStoredData: true, version: 3,
    collections: {
      attendees: { key: "id", conflict: "merge", event: "attendee-data-updated", ttlMs: 1800000,
        omit: ["accessCode"], indexes: ["tripId", ["trip", "day"], { field: "tags", multiEntry: true }] },
      profiles: { key: "id", conflict: { strategy: "lastWriteWins", manualWithinMs: 300000 },
        event: { name: "profile-updated", valueField: "profile" }, space: "conference" },
      lists: { key: "id", spaceField: "groupId", conflict: { strategy: "merge", arrays: { tags: "union" }, manualFields: ["t"] } },
    },
  };
  assert.deepEqual(accepted(documented)[0], documented);
  accepted({ name: "a", collections: [{ name: "t", key: "id" }] });
  accepted(withCollection({ key: "id", indexes: ["_private", "$ref", "día", "n2"] }));
  accepted(withCollection({ key: "id", indexes: [["trip", "day"], { field: "tags", multiEntry: true }] }));
  // Left out, null, and numbers JSON has no spelling for are the defaults, as in JSON.
  accepted({ name: "a", collections: { t: { key: "id", event: null, ttlMs: undefined } }, retry: { jitter: NaN }, endpoint: null });
});

test("each top-level check answers its own message, and the first failing one wins", () => {
  const cases = [
    [{ name: " " }, "`name` must be a non-empty string"],
    [{ endpoint: "" }, "`endpoint` must be a non-empty URL, or left out for local-only use"],
    [{ auditLimit: 0 }, "`auditLimit` must be at least 1"],
    [{ syncTag: "" }, "`syncTag` must be a non-empty string"],
    [{ syncTag: " " }, "`syncTag` must be a non-empty string"],
    [{ timeoutMs: 0 }, "`timeoutMs` must be between 1 and 600000 (10 minutes)"],
    [{ timeoutMs: 600001 }, "`timeoutMs` must be between 1 and 600000 (10 minutes)"],
    [{ batchSize: 0 }, "`batchSize` must be at least 1"],
    [{ retry: { jitter: 1.5 } }, "`retry.jitter` must be between 0 and 1"],
    [{ retry: { baseDelayMs: 2, maxDelayMs: 1 } }, "`retry.baseDelayMs` must not exceed `retry.maxDelayMs`"],
    [{ retry: { baseDelayMs: 40000 } }, "`retry.baseDelayMs` must not exceed `retry.maxDelayMs`"],
    [{ version: 0 }, "`version` must be a whole number of at least 1"],
    [{ storage: "disk" }, '`storage` must be "indexeddb" or "memory", got "disk"'],
    [{ bogus: true }, "unknown field `bogus`, expected one of `name`, `endpoint`, `collections`, `retry`, `batchSize`, `pullIntervalMs`, `realtime`, `autoSync`, `auditLimit`, `timeoutMs`, `syncTag`, `storage`, `expectStoredData`, `version`"],
    [{ retry: { tries: 3 } }, "unknown field `retry.tries`, expected one of `maxAttempts`, `baseDelayMs`, `maxDelayMs`, `jitter`"],
    [{ retry: 3 }, "`retry` must be an object, got a number"],
    [{ name: 5 }, "`name` must be a string, got a number"],
    [{ name: null }, "missing field `name`"],
    [{ batchSize: -1 }, "`batchSize` must be a whole number from 0 to 4294967295, got a number"],
    [{ batchSize: 2.5 }, "`batchSize` must be a whole number from 0 to 4294967295, got a number"],
    [{ pullIntervalMs: "5s" }, "`pullIntervalMs` must be a whole number from 0 to 18446744073709551615, got a string"],
    [{ realtime: 1 }, "`realtime` must be true or false, got a number"],
    [{ retry: { jitter: "0.1" } }, "`retry.jitter` must be a number, got a string"],
    [{ endpoint: 5 }, "`endpoint` must be a string, got a number"],
    [{ batchSize: 2 ** 32 }, "`batchSize` must be a whole number from 0 to 4294967295, got a number"],
    [{ version: 2 ** 32 }, "`version` must be a whole number from 0 to 4294967295, got a number"],
    [{ timeoutMs: 2 ** 53 }, "`timeoutMs` must be a whole number from 0 to 18446744073709551615, got a number"],
    [{ collections: {} }, "`collections` must declare at least one collection"],
    [{ collections: [] }, "`collections` must declare at least one collection"],
  ];
  for (const [extra, reason] of cases) {
    assert.equal(refused({ name: "a", collections: { t: { key: "id" } }, ...extra }), reason, JSON.stringify(extra));
  }
  assert.equal(refused({ collections: { t: { key: "id" } } }), "missing field `name`");
  assert.equal(refused({ name: "a" }), "missing field `collections`");
  assert.match(refused({ name: "", batchSize: 0, collections: { t: { key: "id" } } }), /^`name`/);
  assert.match(refused({ name: "a", auditLimit: 0, version: 0, collections: { t: { key: "id" } } }), /^`auditLimit`/);
  // A field's type is read before any range, and the first field read is answered.
  assert.match(refused({ name: "a", batchSize: 0, realtime: "yes", collections: { t: { key: "id" } } }), /^`realtime`/);
  assert.match(refused({ name: 3, endpoint: 4, collections: { t: { key: "id" } } }), /^`name`/);
  for (const collections of [null, "trips", 3]) {
    assert.equal(
      refused({ name: "a", collections }),
      "`collections` must be an object of collection settings by name, or an array of {name, ...}",
    );
  }
});

test("white space is Rust's (U+0085 blank, U+FEFF not) and keys are taken in code point order, as Rust's reader took them", () => {
  for (const space of ["\u0085", " \t\n", "\u3000", "\u00a0", "\u1680", "\u2028\u2029", "\u2000\u200a", "\u202f\u205f"]) {
    assert.equal(refused({ name: space, collections: { t: { key: "id" } } }), "`name` must be a non-empty string", JSON.stringify(space));
    assert.equal(refused(withCollection({ key: space })), 'collection "t": `key` must name a field');
  }
  accepted({ name: "\ufeff", collections: { t: { key: "\ufeff" } } });
  // "\uff01" sorts after "😀" by UTF-16 code units and before it by code points.
  assert.match(refused({ ...base(), "😀": 1, "\uff01": 2 }), /^unknown field `\uff01`/);
  assert.match(refused({ name: "a", collections: { "😀": { key: "" }, "\uff01": { key: "" } } }), /^collection "\uff01"/);
  assert.match(refused({ name: "a", collections: { b: { key: "" }, a: { key: "" } } }), /^collection "a"/);
  assert.match(refused(withCollection({ key: "id", conflict: { strategy: "merge", arrays: { "😀": "zip", "\uff01": "zip" } } })), /`arrays.\uff01`/);
});

test("collection names: duplicates, reserved, empty and unnamed ones are refused", () => {
  assert.equal(
    refused({ name: "a", collections: [{ name: "trips", key: "id" }, { name: "trips", key: "k" }] }),
    'duplicate collection name "trips"',
  );
  assert.equal(refused({ name: "a", collections: [{ key: "id" }] }), "collections[0] needs a string `name`");
  assert.equal(refused({ name: "a", collections: [{ name: "", key: "id" }] }), "a collection name must not be empty");
  for (const reserved of ["outbox", "conflicts", "audit", "meta"]) {
    assert.equal(
      refused({ name: "a", collections: { [reserved]: { key: "id" } } }),
      `collection name "${reserved}" is reserved (reserved: outbox, conflicts, audit, meta)`,
    );
  }
  assert.equal(refused({ name: "a", collections: { t: 5 } }), 'collection "t": must be an object such as { key: "id" }');
  assert.equal(
    refused({ name: "a", collections: { trips: { indexes: ["x"] } } }),
    'collection "trips": missing `key`: the field that holds each record\'s id, e.g. { key: "id" }',
  );
  assert.equal(refused(withCollection({ key: null })), 'collection "t": missing field `key`');
});

test("a collection's settings: each check's message, and its first problem answered", () => {
  const cases = [
    [{ key: " " }, "`key` must name a field"],
    [{ key: "id", omit: ["id"] }, '`omit` cannot contain the key field "id"'],
    [{ key: "id", colour: 1 }, "unknown field `colour`, expected one of `key`, `conflict`, `event`, `ttlMs`, `omit`, `indexes`, `space`, `spaceField`"],
    [{ key: "id", ttlMs: -5 }, "`ttlMs` must be a whole number from 0 to 18446744073709551615, got a number"],
    [{ key: "id", omit: "secret" }, "`omit` must be an array of strings, got a string"],
    [{ key: "id", omit: ["a", 5] }, "`omit` must be an array of strings, got an array"],
    [{ key: "id", indexes: "owner" }, "`indexes` must be an array, got a string"],
    [{ key: "id", event: "" }, "`event` needs a non-empty name (and a non-empty valueField if given)"],
    [{ key: "id", event: { name: "e", valueField: " " } }, "`event` needs a non-empty name (and a non-empty valueField if given)"],
    [{ key: "id", event: 5 }, "`event` must be an event name or {name, valueField}"],
    [{ key: "id", event: { name: "e", other: 1 } }, "`event` must be an event name or {name, valueField}"],
    [{ key: "id", event: { valueField: "v" } }, "`event` must be an event name or {name, valueField}"],
    [{ key: "id", space: "a b" }, '`space` "a b" is not a space id: 1-128 characters of A-Z a-z 0-9 _ . : -'],
    [{ key: "id", space: "" }, '`space` "" is not a space id: 1-128 characters of A-Z a-z 0-9 _ . : -'],
    [{ key: "id", space: "x".repeat(129) }, `\`space\` "${"x".repeat(129)}" is not a space id: 1-128 characters of A-Z a-z 0-9 _ . : -`],
    [{ key: "id", space: "s", spaceField: "g" }, "give `space` or `spaceField`, not both"],
    [{ key: "id", spaceField: " " }, "`spaceField` must name a field"],
    [{ key: "id", spaceField: "g", omit: ["g"] }, '`spaceField` "g" cannot be omitted: it says where the record lives'],
    // The first problem, in the order of the checks.
    [{ key: " ", indexes: ["x", "x"], space: "bad space" }, "`key` must name a field"],
    [{ key: "id", indexes: ["x", "x"], space: "bad space" }, 'index "x" is declared twice'],
    [{ key: "id", event: "", space: "bad space" }, "`event` needs a non-empty name (and a non-empty valueField if given)"],
  ];
  for (const [spec, reason] of cases) {
    assert.equal(refused(withCollection(spec)), `collection "t": ${reason}`, JSON.stringify(spec));
  }
  accepted(withCollection({ key: "id", space: "group:7.a_b-c", event: { name: "e" } }));
});

test("conflict settings: strategy names, details, array rules and their messages", () => {
  const names = "serverWins, clientWins, lastWriteWins, merge, manual, or a resolver function";
  const cases = [
    ["mrege", `unknown conflict strategy "mrege"; expected ${names}`],
    [{ strategy: "nope" }, `unknown conflict strategy "nope"; expected ${names}`],
    [5, `\`conflict\` must be a strategy name or {strategy, ...}; expected ${names}`],
    [null, `\`conflict\` must be a strategy name or {strategy, ...}; expected ${names}`],
    [{ arrays: {} }, `\`conflict\` must be a strategy name or {strategy, ...}; expected ${names}`],
    [{ strategy: "merge", arrays: { tags: "zip" } }, 'conflict: `arrays.tags` must be "union", "append" or "replace", got "zip"'],
    [{ strategy: "merge", arrays: ["tags"] }, "conflict: `arrays` must be an object of rules by field"],
    [{ strategy: "merge", manualFields: "t" }, "conflict: `conflict.manualFields` must be an array of strings, got a string"],
    [{ strategy: "lastWriteWins", manualWithinMs: 1.5 }, "conflict: `conflict.manualWithinMs` must be a whole number from 0 to 18446744073709551615, got a number"],
    [{ strategy: "merge", rules: 1 }, "conflict: unknown field `conflict.rules`, expected one of `strategy`, `arrays`, `manualFields`, `manualWithinMs`"],
  ];
  for (const [conflict, reason] of cases) {
    assert.equal(refused(withCollection({ key: "id", conflict })), `collection "t": ${reason}`, JSON.stringify(conflict));
  }
  for (const strategy of ["serverWins", "clientWins", "lastWriteWins", "merge", "manual", "custom"]) {
    accepted(withCollection({ key: "id", conflict: strategy }));
    accepted(withCollection({ key: "id", conflict: { strategy } }));
  }
  accepted(withCollection({ key: "id", conflict: { strategy: "merge", arrays: { a: "union", b: "append", c: "replace" } } }));
  // The conflict is read before the collection's other settings.
  assert.match(refused(withCollection({ key: "id", conflict: "x", colour: 1 })), /unknown conflict strategy/);
});

test("indexes: fields, compound and multi-entry ones, and what each refusal says", () => {
  const shapes = "an index must be a field name, an array of field names, or {field, multiEntry}";
  const multi = { field: "tags", multiEntry: true };
  const cases = [
    [[["trip"]], "a compound index needs at least two fields"],
    [[["a", "a"]], 'index [a+a] names "a" twice'],
    [["a", { field: "a" }], 'index "a" is declared twice'],
    [[multi, { field: "tags", multiEntry: true }], 'index "*tags" is declared twice'],
    [[{ field: "a", unique: true }], shapes],
    [[5], shapes],
    [[null], shapes],
    [[["a", 5]], shapes],
    [[{ multiEntry: true }], shapes],
    [[""], "index fields must not be empty"],
    [[{ field: " " }], "index fields must not be empty"],
    [["secret"], 'field "secret" is both indexed and omitted'],
    [["tags", multi], 'field "tags" has a multi-entry index and cannot be in another index'],
    [[["tags", "day"], multi], 'field "tags" has a multi-entry index and cannot be in another index'],
  ];
  for (const [indexes, reason] of cases) {
    assert.equal(refused(withCollection({ key: "id", omit: ["secret"], indexes })), `collection "t": ${reason}`, JSON.stringify(indexes));
  }
  // Key paths: top-level identifiers only.
  for (const field of ["address.city", "my-field", "1st", "a b"]) {
    const reason = `collection "t": index field "${field}" must be a top-level identifier (letters, digits, _, $)`;
    assert.equal(refused(withCollection({ key: "id", indexes: [field] })), reason);
    assert.equal(refused(withCollection({ key: "id", indexes: [["day", field]] })), reason);
  }
});

test("with encryption, a collection that declares indexes is refused", () => {
  const json = { name: "a", collections: { b: { key: "id" }, t: { key: "id", indexes: ["owner"] } } };
  assert.equal(
    refused({ ...json, encryption: { key: new Uint8Array(32) } }),
    'collection "t" declares indexes, which would keep those fields readable in IndexedDB; with `encryption` leave out `indexes`',
  );
  accepted(json);
  // The collections' own problems come first.
  assert.match(refused({ ...json, collections: { ...json.collections, u: { key: "" } }, encryption: { key: "a2V5" } }), /`key` must name a field/);
});

test("migrations come out as [version, function, …] in ascending order, each key a version 2 to `version`", () => {
  const [two, three, four] = [(v) => v, (v) => ({ ...v }), (v) => v];
  const steps = (migrations, version) => config.split({ ...base(), version, migrations })[4];
  assert.deepEqual(steps({ 4: four, 2: two, 3: three }, 4), [2, two, 3, three, 4, four]);
  assert.deepEqual(steps({ 3: three }, 3), [3, three]);
  assert.deepEqual(steps({}, 3), []);
  assert.equal(steps(null, 3), undefined);
  for (const bad of ["1", "4", "0", "two", "02", "2.5", "+2", "", "1e1"]) {
    assert.equal(
      config.split({ ...base(), version: 3, migrations: { [bad]: two } }),
      `\`migrations\` keys are the versions they lead to, 2 to \`version\` (3); got "${bad}"`,
      bad,
    );
  }
  assert.equal(
    config.split({ ...base(), migrations: { 2: two } }),
    '`migrations` keys are the versions they lead to, 2 to `version` (1); got "2"',
    "no version is version 1",
  );
  for (const bad of [5, "m", [two], class { static 2(v) { return v; } }]) {
    assert.equal(config.split({ ...base(), version: 2, migrations: bad }), "`migrations` must be an object of functions by version");
  }
  assert.equal(config.split({ ...base(), version: 3, migrations: { 2: two, 3: "x" } }), "`migrations[3]` must be a function");
  // The version the keys are held to is the checked one: NaN is JSON's null, version 1.
  assert.equal(
    config.split({ ...base(), version: NaN, migrations: { 2: two } }),
    '`migrations` keys are the versions they lead to, 2 to `version` (1); got "2"',
  );
  // The config's own settings are checked first.
  assert.equal(config.split({ ...base(), version: 0, migrations: 5 }), "`version` must be a whole number of at least 1");
});

// What any accepted config promises Rust's reader, which checks nothing: a seeded run of
// random edits to a valid config (as core's fuzz targets did for the reader in Rust).
test("a valid config edited at random is refused with a reason or keeps every promise", () => {
  let seed = 0x5eed;
  const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const pick = (items) => items[Math.floor(random() * items.length)];
  const values = [null, undefined, 0, -1, 1, 2.5, 1e300, NaN, "", " ", "x", "id", "merge", "union", "memory",
    true, false, [], ["a"], ["a", "b"], {}, { name: "e" }, { field: "f", multiEntry: true }, { strategy: "manual" }];
  const valid = () => ({
    name: "fuzz", endpoint: "/sync", batchSize: 10, pullIntervalMs: 1000, realtime: true, autoSync: false,
    auditLimit: 5, retry: { maxAttempts: 3, baseDelayMs: 10, maxDelayMs: 100, jitter: 0.5 },
    collections: {
      trips: { key: "id", indexes: ["owner"], omit: ["secret"], ttlMs: 5, event: { name: "e", valueField: "v" },
        conflict: { strategy: "merge", arrays: { tags: "union" }, manualFields: ["title"] } },
      notes: { key: "id", conflict: "lastWriteWins", event: "note-updated", spaceField: "g" },
    },
  });
  let refusals = 0;
  for (let run = 0; run < 3000; run++) {
    const json = valid();
    for (let edit = 0; edit < 1 + Math.floor(random() * 3); edit++) {
      let at = json;
      for (let depth = 0; depth < 4; depth++) {
        const keys = Object.keys(at);
        const key = keys.length === 0 || random() < 0.15 ? pick(["name", "key", "bogus", "space", "0"]) : pick(keys);
        if (depth === 3 || typeof at[key] !== "object" || at[key] === null || random() < 0.4) {
          if (random() < 0.2) delete at[key];
          else at[key] = structuredClone(pick(values));
          break;
        }
        at = at[key];
      }
    }
    const got = config.split(json);
    if (typeof got === "string") {
      assert.ok(got.length > 0 && !got.startsWith("the config could not be read"), got);
      refusals++;
      continue;
    }
    const [checked] = got;
    const present = (v) => v !== undefined && v !== null && !(typeof v === "number" && !Number.isFinite(v));
    assert.ok(typeof checked.name === "string" && checked.name.trim() !== "", JSON.stringify(checked));
    for (const field of ["batchSize", "auditLimit", "version"]) {
      if (present(checked[field])) assert.ok(Number.isSafeInteger(checked[field]) && checked[field] >= 1, field);
    }
    const retry = checked.retry ?? {};
    if (present(retry.jitter)) assert.ok(retry.jitter >= 0 && retry.jitter <= 1);
    const specs = Array.isArray(checked.collections) ? checked.collections : Object.values(checked.collections);
    assert.ok(specs.length > 0);
    for (const spec of specs) {
      assert.ok(typeof spec.key === "string" && spec.key.trim() !== "", JSON.stringify(spec));
      assert.ok(!(spec.omit ?? []).includes(spec.key));
    }
  }
  assert.ok(refusals > 500 && refusals < 2900, `refused ${refusals} of 3000`);
});
