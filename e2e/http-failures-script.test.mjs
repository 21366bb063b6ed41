// js/http.js's exchanges as Rust's `TransportError` takes them (`exchange` rejects
// with [class, message, status, too large, Retry-After in ms], worded by `classified` and
// `judged`), with `fetch` stood in for: a request that fails, one with no answer in time,
// an answer over the size limit, a token function that throws, rejects or gives no
// string, a status that is no success, an answer that is not protocol v1 and one cut
// off. The browser suites (`sync`, `bad_input`, `wire`) hold the codes and messages
// through a client.
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { loadScript } from "./script-harness.mjs";

const values = await loadScript("values.js", "pwaSyncValues");
const http = await loadScript("http.js", "pwaSyncHttp", { pwaSyncValues: values });
const realFetch = globalThis.fetch;
afterEach(() => {
  globalThis.fetch = realFetch;
});

const LIMIT = 1000;
const failure = (auth = null, timeoutMs = 5000) =>
  http.exchange("GET", "http://127.0.0.1:9/sync/pull", {}, undefined, timeoutMs, LIMIT, auth).then(
    () => assert.fail("the exchange succeeded"),
    (rejected) => rejected,
  );

test("a request that fails is a network failure named by its error", async () => {
  globalThis.fetch = async () => {
    throw new TypeError("Failed to fetch");
  };
  assert.deepEqual(await failure(), ["network", "TypeError: Failed to fetch", undefined, false]);
});

test("no answer within the deadline is a timeout that says the deadline", async () => {
  globalThis.fetch = (url, { signal }) =>
    new Promise((resolve, reject) => signal.addEventListener("abort", () => reject(signal.reason)));
  const [kind, message, status, large] = await failure(null, 20);
  assert.equal(kind, "timeout");
  assert.match(message, /^no answer within 20 ms: AbortError: /);
  assert.equal(status, undefined);
  assert.equal(large, false);
});

test("an answer over the limit is a protocol failure marked too large, not downloaded", async () => {
  globalThis.fetch = async () => new Response("x".repeat(10), { headers: { "content-length": String(LIMIT + 1) } });
  assert.deepEqual(await failure(), ["protocol", `the server's answer is ${LIMIT + 1} bytes, over the ${LIMIT} limit`, undefined, true]);
});

test("a token function's failure is an auth failure; on the refresh a 401 asked for it carries the 401", async () => {
  let requests = 0;
  globalThis.fetch = async () => {
    requests++;
    return new Response("", { status: 401 });
  };
  const threw = { source: () => {
    throw new Error("no session");
  } };
  assert.deepEqual(await failure(threw), ["auth", "the token function threw: Error: no session", undefined, false]);
  assert.deepEqual(
    await failure({ source: () => Promise.reject(new TypeError("offline")) }),
    ["auth", "the token function rejected: TypeError: offline", undefined, false],
  );
  assert.deepEqual(await failure({ source: () => 5 }), ["auth", "the token function must return a string", undefined, false]);
  assert.equal(requests, 0);
  // The first token works, the refresh after the 401 throws.
  let calls = 0;
  const once = { source: () => {
    if (calls++ === 0) return "t1";
    throw new Error("signed out");
  } };
  assert.deepEqual(await failure(once), ["auth", "the token function threw: Error: signed out", 401, false]);
  assert.equal(requests, 1);
});

test("an answer whose body fails, stalls past the deadline or grows past the limit", async () => {
  const body = (pull) => new Response(new ReadableStream({ pull }), { status: 200 });
  globalThis.fetch = async () =>
    body((controller) => controller.error(new TypeError("network error")));
  assert.deepEqual(await failure(), ["network", "reading the answer failed: TypeError: network error", undefined, false]);

  // Headers at once, then a body that never ends: the deadline cuts it.
  globalThis.fetch = async (url, { signal }) =>
    body((controller) => new Promise(() => signal.addEventListener("abort", () => controller.error(signal.reason))));
  const [kind, message] = await failure(null, 30);
  assert.equal(kind, "timeout");
  assert.match(message, /^the answer did not arrive within 30 ms: reading the answer failed: AbortError: /);

  // No Content-Length: refused once the bytes read pass the limit.
  const chunk = new Uint8Array(600);
  globalThis.fetch = async () => body((controller) => controller.enqueue(chunk));
  assert.deepEqual(await failure(), ["protocol", `the server's answer is more than 1200 bytes, over the ${LIMIT} limit`, undefined, true]);
});

test("what the script did not expect is a network failure named by what was thrown", async () => {
  globalThis.fetch = async () => ({
    status: 200,
    ok: true,
    get headers() {
      throw new RangeError("no headers");
    },
  });
  assert.deepEqual(await failure(), ["network", "RangeError: no headers", undefined, false]);
});

// `judged`: what came back whole, as the transport takes it.
const answer = (kind) =>
  http.exchange("GET", "http://127.0.0.1:9/sync/pull", {}, undefined, 5000, LIMIT, null, kind).then(
    (parsed) => ["resolved", parsed],
    (rejected) => rejected,
  );

test("a status that is no success is classified by it, with the server's message and Retry-After in ms", async () => {
  globalThis.fetch = async () =>
    new Response('{"error": {"code": "busy", "message": "try later"}}', { status: 503, headers: { "retry-after": " 7 " } });
  assert.deepEqual(await answer("pull"), ["rate-limited", "HTTP 503: try later", 503, false, 7000]);
  globalThis.fetch = async () => new Response("<html>no</html>", { status: 400 });
  assert.deepEqual(await answer("pull"), ["validation", "HTTP 400: <html>no</html>", 400, false, undefined]);
});

test("a success is parsed and checked as its kind; one that is not protocol v1 says how it starts", async () => {
  const page = { changes: [], checkpoint: 3, hasMore: false };
  globalThis.fetch = async () => new Response(JSON.stringify(page));
  assert.deepEqual(await answer("pull"), ["resolved", page]);
  const [kind, message] = await answer("push");
  assert.equal(kind, "protocol");
  assert.match(message, /^the server's answer is not protocol v1: .*missing field `results`.* \(starts with "\{\\"changes\\":\[\],/);
  globalThis.fetch = async () => new Response("<!doctype html>");
  const [htmlKind, htmlMessage] = await answer("pull");
  assert.equal(htmlKind, "protocol");
  assert.match(htmlMessage, /^the server's answer is not protocol v1: SyntaxError: .* \(starts with "<!doctype html>"\)$/);
});

test("an answer that does not parse and is shorter than its Content-Length was cut off: a network failure", async () => {
  const body = '{"results":[{"status":"applied"';
  globalThis.fetch = async () => new Response(body, { headers: { "content-length": String(body.length * 2) } });
  assert.deepEqual(await answer("push"), ["network", `the answer was cut off: ${body.length} of its ${body.length * 2} bytes arrived`]);
});
