// pwa-sync/react's live hooks (`js/react.js`) over a client that records its watches, with
// React's three hooks played by a stand-in: the hook's own decisions, not React's. The
// demo's e2e (`www.test.mjs`) runs the same hooks in a real React app.
import { test, before, beforeEach, after } from "node:test";
import assert from "node:assert/strict";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./lib.mjs";

let dir;
let hooks;
let react;

// A render: useMemo runs its factory when its dependencies change, useSyncExternalStore
// subscribes the store it is given (once per store) and answers its snapshot.
const stand = `
export const state = { memo: new Map(), subscribed: new Set() };
export function useMemo(factory, deps) {
  const key = JSON.stringify(deps.map((d) => (typeof d === "object" && d !== null ? "obj" : d)));
  if (!state.memo.has(key)) state.memo.set(key, factory());
  return state.memo.get(key);
}
export function useCallback(f) { return f; }
export function useSyncExternalStore(subscribe, getSnapshot) {
  if (!state.subscribed.has(subscribe)) { state.subscribed.add(subscribe); subscribe(() => {}); }
  return getSnapshot();
}
`;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "react-hooks-"));
  await mkdir(join(dir, "node_modules/react"), { recursive: true });
  await writeFile(join(dir, "node_modules/react/package.json"), '{"name":"react","type":"module","main":"index.js"}');
  await writeFile(join(dir, "node_modules/react/index.js"), stand);
  await writeFile(join(dir, "package.json"), '{"type":"module"}');
  for (const file of ["react.js", "names.js"]) await cp(join(ROOT, "pkg", file), join(dir, file));
  hooks = await import(join(dir, "react.js"));
  react = await import(join(dir, "node_modules/react/index.js"));
});

// Each test is a component of its own: nothing memoised or subscribed carries over.
beforeEach(() => {
  react.state.memo.clear();
  react.state.subscribed.clear();
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function recordingClient() {
  const watched = [];
  return {
    watched,
    watch(collection, query, callback) {
      watched.push([collection, query]);
      callback([{ id: "t1", owner: query.where?.owner }]);
      return () => {};
    },
  };
}

test("useQuery reads nothing and answers undefined while a condition's value is undefined", () => {
  const client = recordingClient();
  assert.equal(hooks.useQuery(client, "trips", { where: { owner: undefined } }), undefined);
  assert.deepEqual(client.watched, [], "no watch of a query whose condition would vanish");
  assert.equal(hooks.useQuery(client, "trips", { where: { start: { gte: undefined, lt: 5 } } }), undefined);
  assert.deepEqual(client.watched, [], "nor of one whose bound would vanish");
  const answer = hooks.useQuery(client, "trips", { where: { owner: "u1" } });
  assert.deepEqual(client.watched, [["trips", { where: { owner: "u1" } }]]);
  assert.deepEqual(answer, [{ id: "t1", owner: "u1" }]);
});

test("useCollection reads nothing and answers undefined while `equals` is undefined", () => {
  const client = recordingClient();
  assert.equal(hooks.useCollection(client, "trips", { index: "owner", equals: undefined }), undefined);
  assert.deepEqual(client.watched, []);
  hooks.useCollection(client, "trips", { index: "owner", equals: "u2" });
  assert.deepEqual(client.watched, [["trips", { where: { owner: "u2" } }]]);
});
