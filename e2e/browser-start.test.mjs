// startBrowser (e2e/browser-start.mjs): a browser that does not start is tried again, at
// most three tries in all, and each failed try is logged.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { startBrowser } from "./browser-start.mjs";

/** Runs `body(log)` with `log` a file path in a fresh directory, removed after. */
async function withLog(body) {
  const dir = await mkdtemp(join(tmpdir(), "pwa-sync-start-"));
  try {
    await body(join(dir, "reruns.log"));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A start that rejects `failures` times, then resolves to "browser". */
function flaky(failures) {
  const calls = { count: 0 };
  const start = async () => {
    calls.count += 1;
    if (calls.count <= failures) throw new Error(`Chromium exited at start (${calls.count})\nmore lines`);
    return "browser";
  };
  return { start, calls };
}

test("a browser that fails to start twice is started on the third try, and both failures are logged", () => withLog(async (log) => {
  const { start, calls } = flaky(2);
  assert.equal(await startBrowser("Chromium", start, { pauseMs: 1, log }), "browser");
  assert.equal(calls.count, 3);
  const lines = (await readFile(log, "utf8")).trim().split("\n");
  assert.equal(lines.length, 2);
  assert.match(lines[0], /Z e2e Chromium: try 1: the browser did not start: Chromium exited at start \(1\)$/);
  assert.match(lines[1], /try 2: .*\(2\)$/);
}));

test("a browser that fails to start three times rejects with the last error", async () => {
  const { start, calls } = flaky(3);
  await assert.rejects(startBrowser("WebKit", start, { pauseMs: 1, log: "" }), /Chromium exited at start \(3\)/);
  assert.equal(calls.count, 3);
});

test("a browser that starts is started once, and nothing is logged", () => withLog(async (log) => {
  const { start, calls } = flaky(0);
  assert.equal(await startBrowser("Firefox", start, { pauseMs: 1, log }), "browser");
  assert.equal(calls.count, 1);
  await assert.rejects(readFile(log, "utf8"), { code: "ENOENT" });
}));
