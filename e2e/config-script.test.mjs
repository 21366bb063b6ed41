// js/config.js, the config taken apart before Rust reads its JSON part: the parts that
// are not JSON and their checks, and resolver functions named "custom". The browser suites
// open clients through it (`bad_input`: each refused config's code and message).
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadScript } from "./script-harness.mjs";

const config = await loadScript("config.js", "pwaSyncConfig");

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
  assert.equal(migrationsPart, migrations);
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
  const given = { name: "db", collections: { trips, notes: { key: "id", conflict: "lww" } } };
  const [json, , , , , resolvers] = config.split(given);
  assert.deepEqual(json.collections, {
    trips: { key: "id", conflict: "custom", indexes: ["owner"] },
    notes: { key: "id", conflict: "lww" },
  });
  assert.deepEqual(resolvers, ["trips", resolve]);
  assert.equal(trips.conflict, resolve, "the app's collection keeps its function");
});

test("collections given as a list are left to Rust's reader as they are", () => {
  const collections = [{ name: "trips", key: "id" }];
  const [json] = config.split({ name: "db", collections });
  assert.equal(json.collections, collections);
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
