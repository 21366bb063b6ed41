// js/http.js's event stream (`stream`, `eventsWithData`) on Node's fetch types, with
// `fetch` stood in for: how a `text/event-stream` is framed into pokes (as `EventSource`
// frames it), what fires for an accepted connection, a refused one and one that ends,
// that the wait between connections is what `fired` answers, that a 401 asks a token
// function once more, and that nothing fires after `stop()`. The browser suites cover the
// same through clients against the reference server (a realtime client's role change).
import { test, afterEach } from "node:test";
import assert from "node:assert/strict";
import { loadScript, wait } from "./script-harness.mjs";

const http = await loadScript("http.js", "pwaSyncHttp");
const bytes = (text) => new TextEncoder().encode(text);

// How many events with data each chunk completes, the chunks decoded as `stream` does.
function feed(chunks) {
  const count = http.eventsWithData();
  const decoder = new TextDecoder();
  return chunks.map((c) => count(decoder.decode(typeof c === "string" ? bytes(c) : c, { stream: true })));
}

test("an event with a data field is a poke, counted once it ends", () => {
  assert.deepEqual(feed(["event: change\ndata: {}\n\n"]), [1]);
  assert.deepEqual(feed(["data: 1\n\ndata: 2\n\n"]), [2]);
  assert.deepEqual(feed(["data: x\n", "\n"]), [0, 1]);
  assert.deepEqual(feed(["data: x\n\n", "\n\n"]), [1, 0], "blank lines alone end nothing");
  // A field named `data` without a colon is a data field too (EventSource dispatches it).
  assert.deepEqual(feed(["data\n\n"]), [1]);
});

test("comments and events without data are not pokes; `data` must open the line", () => {
  assert.deepEqual(feed([": keep-alive\n\n", "event: ping\n\n", "id: 3\ndata:\n\n"]), [0, 0, 1]);
  assert.deepEqual(feed([" data: x\n\nxdata: y\n\ndatum: z\n\n"]), [0]);
});

test("lines end in CRLF, LF or a lone CR, a CRLF split across chunks counting once", () => {
  assert.deepEqual(feed(["data: 1\r\n\r\n"]), [1]);
  assert.deepEqual(feed(["data: 1\r", "\n\r", "\n"]), [0, 1, 0]);
  assert.deepEqual(feed(["data: 1\r\r"]), [1], "a lone CR ends a line, as EventSource reads it");
  assert.deepEqual(feed(["data: 1\r", "\r"]), [0, 1]);
  assert.deepEqual(feed(["data: 1\r", "", "\n", "\n"]), [0, 0, 0, 1], "an empty text keeps the CR's place");
  assert.deepEqual(feed(["data: 1\n\r\n"]), [1]);
});

test("a leading BOM is dropped even split across chunks, and bytes that are not UTF-8 hide no line", () => {
  const bom = [0xef, 0xbb, 0xbf];
  assert.deepEqual(feed([new Uint8Array(bom.slice(0, 2)), new Uint8Array([bom[2], ...bytes("data: 1\n\n")])]), [0, 1]);
  assert.deepEqual(feed([new Uint8Array([0xff, 0xfe, ...bytes("\n\ndata: \xff\n\n")])]), [1]);
  assert.deepEqual(feed([new Uint8Array([...bytes("data: "), 0xe2, 0x82]), new Uint8Array([0xac, 0x0a, 0x0a])]), [0, 1]);
});

// `fetch` stood in for: each call takes the next of `answers` (a function of the request
// giving a Response, or an error to throw) and is recorded.
let realFetch = globalThis.fetch;
afterEach(() => {
  globalThis.fetch = realFetch;
});
function standIn(answers) {
  const calls = [];
  globalThis.fetch = async (url, init) => {
    calls.push({ url, headers: init.headers, signal: init.signal });
    const answer = answers.shift() ?? (() => new Response(null, { status: 503 }));
    if (answer instanceof Error) throw answer;
    return answer(init);
  };
  return calls;
}

// A body that sends `chunks` and then ends, stays open (`open`) until aborted, or breaks
// (`broken`) after them; and a 200 of `text/event-stream` with it.
function body(chunks, { open = false, broken = false, signal } = {}) {
  const left = [...chunks];
  let aborted = null;
  return new ReadableStream({
    start(controller) {
      signal?.addEventListener("abort", () => {
        aborted?.(new Error("aborted"));
        controller.error(new Error("aborted"));
      });
    },
    // One chunk a read, then the end, a break, or nothing more until aborted.
    pull(controller) {
      if (left.length > 0) return controller.enqueue(bytes(left.shift()));
      if (broken) return controller.error(new TypeError("network error"));
      if (!open) return controller.close();
      return new Promise((_, reject) => (aborted = reject));
    },
  });
}
const events = (stream) => new Response(stream, { status: 200, headers: { "content-type": "text/event-stream" } });

async function until(check, ms) {
  const end = Date.now() + ms;
  while (!check() && Date.now() < end) await wait(5);
}

// A stream whose `fired` records what fired and answers `waitMs` for "ended" and "failed".
function watched(url, headers, auth, waitMs) {
  const fired = [];
  const stream = http.stream(url, headers, auth, (kind) => {
    fired.push(kind);
    return kind === "ended" || kind === "failed" ? waitMs : undefined;
  });
  return { fired, stream };
}

test("an accepted connection fires online and a poke per event; its end asks for the wait, then it connects again", async () => {
  const calls = standIn([
    () => events(body([": connected\n\ndata: a\n\n: ping\n\ndata: b\n", "\n"])),
    (init) => events(body([": connected\n\ndata: c\n\n"], { open: true, signal: init.signal })),
  ]);
  const { fired, stream } = watched("http://test/sync/events", { "X-Sync-Protocol": "1" }, null, 30);
  try {
    await until(() => fired.length >= 6, 3000);
    await wait(100);
    assert.deepEqual(fired, ["online", "poke", "poke", "ended", "online", "poke"], "the second stays open");
    assert.equal(calls.length, 2);
    assert.equal(calls[0].url, "http://test/sync/events");
    assert.deepEqual(calls[0].headers, { "X-Sync-Protocol": "1" }, "no token: no Authorization header");
  } finally {
    stream.stop();
  }
  await wait(50);
  assert.equal(fired.length, 6, "nothing fires after stop(), not even the aborted read's end");
  assert.ok(calls[1].signal.aborted, "stop() aborts the open request");
});

test("a connection lost after its first bytes ended an accepted one; one lost before them failed", async () => {
  standIn([
    () => events(body([": connected\n\n", "data: a\n\n"], { broken: true })),
    () => events(body([], { broken: true })),
  ]);
  const { fired, stream } = watched("http://test/events", {}, null, 20);
  try {
    await until(() => fired.length >= 4, 3000);
    assert.deepEqual(fired.slice(0, 4), ["online", "poke", "ended", "failed"]);
  } finally {
    stream.stop();
  }
});

test("what is not an event stream fails: a refusal, a failed request, a page answered for every path", async () => {
  const calls = standIn([
    () => new Response("no", { status: 403 }),
    new TypeError("fetch failed"),
    () => new Response("<!doctype html>", { status: 200, headers: { "content-type": "text/html" } }),
    () => new Response(null, { status: 204, headers: { "content-type": "text/event-stream" } }),
  ]);
  const times = [];
  const fired = [];
  const stream = http.stream("http://test/events", {}, null, (kind) => {
    fired.push(kind);
    times.push(Date.now());
    return 60;
  });
  try {
    await until(() => fired.length >= 4, 3000);
    assert.deepEqual(fired.slice(0, 4), ["failed", "failed", "failed", "failed"]);
    const gap = times[1] - times[0];
    assert.ok(gap >= 55 && gap < 500, `the next try waited what fired answered (${gap} ms)`);
    assert.ok(calls.length >= 4);
  } finally {
    stream.stop();
  }
});

test("the token goes in the header, and a function's token is asked again once after a 401", async () => {
  const calls = standIn([
    () => new Response(null, { status: 401 }),
    () => events(body(["data: x\n\n"])),
  ]);
  let asked = 0;
  const { fired, stream } = watched("http://test/events", { "X-Sync-Protocol": "1" }, { source: () => `t${++asked}` }, 10_000);
  try {
    await until(() => fired.includes("ended"), 3000);
    assert.deepEqual(fired, ["online", "poke", "ended"]);
    assert.deepEqual(
      calls.map((c) => c.headers.Authorization),
      ["Bearer t1", "Bearer t2"],
    );
  } finally {
    stream.stop();
  }
});

test("a stopped stream asks the app for no fresh token after a 401", async () => {
  let answer;
  standIn([() => new Promise((resolve) => (answer = resolve))]);
  let asked = 0;
  const { fired, stream } = watched("http://test/events", {}, { source: () => `t${++asked}` }, 20);
  await until(() => answer !== undefined, 1000);
  stream.stop();
  answer(new Response(null, { status: 401 }));
  await wait(50);
  assert.equal(asked, 1, "the token function was asked once, before stop()");
  assert.deepEqual(fired, []);
});

test("a token function that throws fails the connection before any request, and it is tried again", async () => {
  const calls = standIn([() => events(body(["data: x\n\n"]))]);
  const { fired, stream } = watched("http://test/events", {}, { source: () => { throw new Error("signed out"); } }, 20);
  try {
    await until(() => fired.length >= 2, 3000);
    assert.deepEqual(fired.slice(0, 2), ["failed", "failed"]);
    assert.equal(calls.length, 0, "no request without a token");
  } finally {
    stream.stop();
  }
});

test("a fired that throws (a broken module) stops the stream and lets its body go", async () => {
  let cancelled = false;
  const calls = standIn([
    () =>
      events(
        new ReadableStream({
          start(controller) {
            controller.enqueue(bytes("data: x\n\n"));
          },
          cancel() {
            cancelled = true;
          },
        }),
      ),
  ]);
  const reported = [];
  const report = console.error;
  console.error = (error) => reported.push(error);
  try {
    http.stream("http://test/events", {}, null, (kind) => {
      if (kind === "poke") throw new RangeError("unreachable");
      return 10;
    });
    await wait(150);
  } finally {
    console.error = report;
  }
  assert.equal(calls.length, 1, "no connection after the throw");
  assert.ok(cancelled, "the open body was cancelled");
  assert.equal(reported.length, 1);
  assert.ok(reported[0] instanceof RangeError, "what it threw is reported");
});
