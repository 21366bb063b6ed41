// What the tests of the glue's scripts (js/tabs.js, js/events.js, js/background.js) share:
// a script evaluated as the glue's imports find it, a fake IndexedDB request, unique
// channel names, and what a test opened closed after it even when an assertion fails (an
// open channel or timer keeps Node running).
import { afterEach } from "node:test";
import { readFile } from "node:fs/promises";

// The namespace `js/<file>` defines (`pwaSyncTabs`, ...), with the scripts it reaches
// given by name, as the glue's module scope gives them.
export async function loadScript(file, namespace, deps = {}) {
  const source = await readFile(new URL(`../js/${file}`, import.meta.url), "utf8");
  return new Function(...Object.keys(deps), `${source}\nreturn ${namespace};`)(...Object.values(deps));
}

// A fake IndexedDB request that answers `outcome` ({result} or {error}) on a later task,
// as a real one fires `success` or `error` after the caller has set its handlers.
export function fakeRequest(outcome) {
  const request = { result: undefined, error: null };
  setTimeout(() => {
    const event = { target: request };
    if ("error" in outcome) {
      request.error = outcome.error;
      request.onerror(event);
    } else {
      request.result = outcome.result;
      request.onsuccess(event);
    }
  });
  return request;
}

let names = 0;
export const uniqueName = (prefix) => `${prefix}-${process.pid}-${names++}`;

export const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Things with `close()` (or `stop()`) a test opened; closed after each test.
export function closedAfterEach() {
  const opened = [];
  afterEach(() => {
    for (const thing of opened.splice(0)) (thing.close ?? thing.stop).call(thing);
  });
  return opened;
}
