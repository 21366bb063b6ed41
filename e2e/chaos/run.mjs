// `make chaos`: the chaos convergence harness in its long mode (harness.mjs says what it
// does and checks). Settings from the environment:
//   CHAOS_SEED          replay a run (default: a random seed, printed first)
//   CHAOS_OPS           local writes to make (default 1500)
//   CHAOS_RATE          fault probability per /sync/ request (default 0.2)
//   CHAOS_CLIENTS       devices (default 4; device 0 has two tabs)
//   CHAOS_TIME_LIMIT_S  the whole run is bounded by this (default 420)
// Exits 1 when an oracle fails, 2 when the harness itself could not run.
import { randomInt } from "node:crypto";
import { runChaos, replayCommand, killChildren } from "./harness.mjs";

const env = (name, parse, fallback) => (process.env[name] ? parse(process.env[name]) : fallback);
const options = {
  seed: env("CHAOS_SEED", (v) => Number.parseInt(v, 10) >>> 0, randomInt(1, 2 ** 31)),
  ops: env("CHAOS_OPS", Number, 1500),
  rate: env("CHAOS_RATE", Number, 0.2),
  clients: env("CHAOS_CLIENTS", Number, 4),
  timeLimitMs: env("CHAOS_TIME_LIMIT_S", Number, 420) * 1000,
  trace: process.env.CHAOS_TRACE === "1",
  // Checks of the oracles themselves: "drop-outbox" or "replay-push" must fail the run.
  sabotage: process.env.CHAOS_SABOTAGE,
};
console.log(`chaos: seed ${options.seed}; replay with: ${replayCommand(options)}`);
const watchdog = setTimeout(() => {
  console.error(`chaos: seed ${options.seed}: the harness did not finish within its limit plus 60 s`);
  killChildren();
  process.exit(2);
}, options.timeLimitMs + 60_000);
try {
  const result = await runChaos({ ...options, log: (line) => console.log(`  ${line}`) });
  clearTimeout(watchdog);
  const d = result.details;
  console.log(`  actions: ${JSON.stringify(d.counts)}; quiescence rounds ${d.rounds}; ${d.versions} versions, mutations ${JSON.stringify(d.mutationStatuses)}; conflicts ${d.conflicts}, rejections ${d.rejections}`);
  console.log(`  writes accounted for: ${JSON.stringify(d.accounted)}; history ${d.history ?? "unavailable (weaker loss oracle)"}; ${d.totalMs} ms`);
  for (const a of d.anomalies) console.log(`  note: ${a}`);
  if (d.dump) console.log(`  everything the verdict was drawn from: ${d.dump}`);
  for (const f of result.failures.slice(0, 50)) console.log(`  FAIL ${f}`);
  if (result.failures.length > 50) console.log(`  … and ${result.failures.length - 50} more`);
  console.log(result.summary);
  if (!result.ok) console.log(`replay: ${replayCommand(options)}`);
  process.exit(result.ok ? 0 : 1);
} catch (e) {
  console.error(`chaos: seed ${options.seed}: the harness failed: ${e.stack ?? e}`);
  process.exit(2);
}
