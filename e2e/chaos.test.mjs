// The chaos convergence harness (e2e/chaos/harness.mjs) at a small size and a fixed seed:
// three devices (one with two tabs; the last one another user's, sharing a space with the
// first user), each with its service worker, write at
// random through a fault-injecting proxy while going offline, reloading mid-sync and
// losing their service worker mid-flush; after quiescence every replica equals the
// server, the server applied each mutation at most once, no write was silently lost and
// no outbox is stuck. `make chaos` runs the long mode with a random seed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { runChaos, replayCommand } from "./chaos/harness.mjs";

const options = { seed: 20261122, ops: 100, rate: 0.2, clients: 3, timeLimitMs: 50_000 };

test("chaos: replicas converge, nothing lost or applied twice, no outbox stuck", { timeout: 110_000 }, async () => {
  const result = await runChaos(options);
  console.log(result.summary);
  assert.ok(result.ok, `${result.summary}\n${result.failures.join("\n")}\nreplay: ${replayCommand(options)}`);
  // The run did what it claims: faults were injected and writes made.
  assert.ok(result.details.counts.puts + result.details.counts.patches + result.details.counts.deletes >= 30, "too few writes in the time");
  assert.match(result.summary, /faults injected [1-9]/);
});
