// pwa-sync side-by-side benchmarks in Debian's Chromium (playwright-core).
//
//   node bench/run.mjs                 full run (make bench)
//   BENCH_SMOKE=1 node bench/run.mjs   every workload once at 1/20 size (make bench-smoke)
//
// Environment: BENCH_RUNS (runs per implementation, default 5), BENCH_MEMORY_N (outbox
// size of the memory workload, default 100000), BENCH_PROFILE=0 (skip the CPU profiles
// of missed targets), BENCH_ONLY=a,b (only these workloads), BENCH_SCALE (size factor),
// CHROMIUM, PWA_SYNC_SERVER_BIN.
//
// Each run of a workload alternates the implementations (the order rotates from run to
// run) and gets a fresh browser context and a fresh database name. Results go to
// bench/results/latest.json and latest.md (smoke runs: results/tmp/smoke.{json,md}).
import { spawn, execFileSync } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { CHROMIUM_ARGS, launch } from "./chromium.mjs";

const BENCH = fileURLToPath(new URL(".", import.meta.url));
const ROOT = join(BENCH, "..");
const SMOKE = process.env.BENCH_SMOKE === "1";
const SCALE = Number(process.env.BENCH_SCALE ?? (SMOKE ? 1 / 20 : 1));
const RUNS = SMOKE ? 1 : Math.max(1, Number(process.env.BENCH_RUNS ?? 5));
// A workload stops repeating once its runs have taken BENCH_BUDGET_S seconds (default
// 180; after at least one run), so that a full `make bench` stays near 15 minutes on the
// 2-core machine: Workbox takes ~45-130 s for one drain of 5,000. Each row says how many runs it had.
const BUDGET_MS = SMOKE ? Infinity : Number(process.env.BENCH_BUDGET_S ?? 180) * 1000;
const PROFILE = !SMOKE && process.env.BENCH_PROFILE !== "0";
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(",")) : null;
const size = (n) => Math.max(1, Math.round(n * SCALE));
// The memory workload drains outboxes of these sizes (the last one is judged): the
// issue's 100,000 by default (filling it with putMany and draining it takes ~75 s here).
const MEMORY_SIZES = (process.env.BENCH_MEMORY_N ?? (SMOKE ? "20000" : "100000")).split(",").map((x) => size(Number(x)));
// BENCH_PKG: another wasm-pack output to measure, e.g. one built with symbol names for
// profiling (see bench/README.md); default pkg/.
const PKG = process.env.BENCH_PKG ? join(process.cwd(), process.env.BENCH_PKG) : join(ROOT, "pkg");
// BENCH_PROFILE_ONLY=a,b: no timed runs; CPU-profile ours (and raw IndexedDB where it
// has the same workload) in these workloads, into results/profile.json.
// BENCH_TOP=N: keep the N functions with the most self time per profile (default 25).
const PROFILE_ONLY = process.env.BENCH_PROFILE_ONLY ? process.env.BENCH_PROFILE_ONLY.split(",") : null;
const SITE = join(ROOT, "target", SMOKE ? "bench-site-smoke" : PROFILE_ONLY ? "bench-site-profile" : "bench-site");
const started = Date.now();
const log = (...a) => console.error(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s]`, ...a);

// ---- the workloads: what runs, against what, and the targets of issue 8 ----

// Issue 17's range and count: an index over `n`, 100,000 records filled before timing; the
// paired workloads (not targets) read the same in one page, ours and Dexie query by query
// (bench/page/bench.js `paired`).
const RANGE = { n: size(100000), span: size(10000), limit: size(1000), queries: 20 };
const COUNT = { n: size(100000), queries: 20 };

const WORKLOADS = [
  { id: "singleWrites", title: `single writes: ${size(5000)} sequential put`, fn: "singleWrites", params: { n: size(5000) }, impls: ["ours", "raw", "dexie", "rawOurShape"] },
  { id: "bulkWrite", title: `bulk write: ${size(20000)} records`, fn: "bulkWrite", params: { n: size(20000) }, impls: ["ours", "raw", "dexie"] },
  { id: "reads", title: `reads: ${size(10000)} records`, fn: "reads", params: { n: size(10000) }, impls: ["ours", "raw", "dexie"] },
  { id: "drain", title: `outbox drain: ${size(5000)} writes`, fn: "drain", params: { n: size(5000) }, impls: ["ours", "workbox", "oursBatch500"], user: true },
  { id: "initialSync", title: `initial sync: ${size(50000)} documents`, fn: "initialSync", params: { expected: size(50000) }, impls: ["ours", "floor"] },
  { id: "coldStart", title: "cold start: init + open + first get", cold: true, params: { n: 1000 }, impls: ["ours", "raw", "dexie"] },
  { id: "rangeQuery", title: `range query: first ${size(1000)} of ${size(10000)} by an index, of ${size(100000)} records`, fn: "rangeQuery", params: RANGE, impls: ["ours", "raw", "dexie"] },
  { id: "rangeQueryPaired", title: `range query, pwa-sync and Dexie in one page: first ${size(1000)} of ${size(10000)} of ${size(100000)}`, fn: "rangeQuery", params: RANGE, impls: ["paired"] },
  { id: "count", title: `count: ${size(50000)} of ${size(100000)} records in an index range`, fn: "countRange", params: COUNT, impls: ["ours", "raw", "dexie"] },
  { id: "countPaired", title: `count, pwa-sync and Dexie in one page: ${size(50000)} of ${size(100000)}`, fn: "countRange", params: COUNT, impls: ["paired"] },
  { id: "liveQuery", title: `live query: local write to the watched query's callback (${size(50)} of ${size(10000)} records)`, fn: "liveQueryLatency", params: { n: size(10000), span: size(1000), limit: size(50), writes: 100 }, impls: ["ours", "dexie"] },
];

// Rows of the table: a metric of ours against one alternative, with the target as a
// bound on ours / alternative (medians). Targets are issue 16's.
const ROWS = [
  { workload: "singleWrites", label: (w) => `${w.title} (total)`, metric: "ms", alt: "raw", max: 1.3 },
  { workload: "singleWrites", label: (w) => `${w.title} (total)`, metric: "ms", alt: "dexie", max: 0.9 },
  { workload: "bulkWrite", label: (w) => `${w.title} (ours: putMany)`, metric: "ms", alt: "raw", max: 1.1 },
  { workload: "bulkWrite", label: (w) => `${w.title} (ours: putMany)`, metric: "ms", alt: "dexie", max: 1.0 },
  { workload: "reads", label: (w) => `${w.title}: sequential get`, metric: "getMs", alt: "raw", max: 1.2 },
  { workload: "reads", label: (w) => `${w.title}: sequential get`, metric: "getMs", alt: "dexie" },
  { workload: "reads", label: (w) => `${w.title}: one list`, metric: "listMs", alt: "raw", max: 1.2 },
  { workload: "reads", label: (w) => `${w.title}: one list`, metric: "listMs", alt: "dexie" },
  { workload: "drain", label: (w) => `${w.title} (ours: sync(); Workbox: replayRequests)`, metric: "ms", alt: "workbox", max: 1 / 20, note: "≥ 20× faster" },
  { workload: "initialSync", label: (w) => `${w.title} (ours: sync(); floor: one bulk put)`, metric: "ms", alt: "floor", max: 1 / 0.75, note: "rate ≥ 0.75× floor" },
  { workload: "coldStart", label: (w) => w.title, metric: "ms", alt: "raw" },
  { workload: "coldStart", label: (w) => w.title, metric: "ms", alt: "dexie", max: 1.0 },
  { workload: "rangeQuery", label: (w) => `${w.title} (per query, p50)`, metric: "ms", alt: "raw", max: 1.2 },
  { workload: "rangeQuery", label: (w) => `${w.title} (per query, p50)`, metric: "ms", alt: "dexie", max: 1.0 },
  { workload: "count", label: (w) => `${w.title} (per count, p50)`, metric: "ms", alt: "raw", max: 1.2 },
  { workload: "count", label: (w) => `${w.title} (per count, p50)`, metric: "ms", alt: "dexie", max: 1.0 },
  { workload: "liveQuery", label: (w) => `${w.title} (p50)`, metric: "p50", alt: "dexie", max: 1.0 },
];

const IMPL_NAMES = { ours: "pwa-sync", raw: "raw IndexedDB", dexie: "Dexie", workbox: "workbox-background-sync", floor: "raw IndexedDB floor", rawOurShape: "raw IndexedDB, pwa-sync's transaction shape", oursBatch500: "pwa-sync with batchSize: 500", paired: "pwa-sync and Dexie in one page" };

// ---- site, server, browser ----

async function buildSite() {
  if (!existsSync(join(PKG, "pwa_sync.js"))) throw new Error(`${PKG} has no pwa_sync.js: run \`make build\` first`);
  await rm(SITE, { recursive: true, force: true });
  await mkdir(SITE, { recursive: true });
  await cp(PKG, join(SITE, "pkg"), { recursive: true });
  for (const f of ["bench.html", "bench.js", "data.js", "cold.html", "cold.js"]) await cp(join(BENCH, "page", f), join(SITE, f));
  const common = { bundle: true, format: "esm", platform: "browser", target: "es2022", minify: true, logLevel: "warning", absWorkingDir: BENCH, define: { "process.env.NODE_ENV": '"production"' } };
  await build({ ...common, stdin: { contents: 'export { default, liveQuery } from "dexie";', resolveDir: BENCH }, outfile: join(SITE, "dexie.mjs") });
  await build({ ...common, stdin: { contents: 'export { Queue } from "workbox-background-sync";', resolveDir: BENCH }, outfile: join(SITE, "workbox-bgsync.js") });
  await writeFile(join(SITE, "index.html"), "<!doctype html><title>bench</title>");
}

async function startServer() {
  const dir = await mkdtemp(join(tmpdir(), "pwa-sync-bench-"));
  const bin = process.env.PWA_SYNC_SERVER_BIN ?? join(ROOT, "target/release/pwa-sync-server");
  if (!existsSync(bin)) throw new Error(`${bin} is missing: cargo build --release -p pwa-sync-server`);
  const child = spawn(bin, ["--listen", "127.0.0.1:0", "--database", `sqlite://${dir}/sync.db`, "--dev-auth", "--cors-any-origin", "--static", SITE], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => { stderr = (stderr + d).slice(-4000); });
  const url = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 20_000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on("exit", (code) => { clearTimeout(timer); reject(new Error(`server exited with ${code}: ${stderr}`)); });
  });
  return { url, bin, stop: async () => { child.kill(); await new Promise((r) => child.once("exit", r)); await rm(dir, { recursive: true, force: true }); } };
}


/** Seed `n` documents for `user` through the push API, 500 to a request (not timed). */
async function seed(url, user, n) {
  const NOTES = "Pack the adapter, the spare charger and the paper copies of the booking; ask about late check-in.";
  const clientId = `seed-${user}`;
  for (let start = 0; start < n; start += 500) {
    const mutations = [];
    for (let i = start; i < Math.min(n, start + 500); i++) {
      const id = "d" + String(i).padStart(7, "0");
      mutations.push({ id: i + 1, collection: "items", key: id, op: "put", baseVersion: null, hlc: `${String(Date.now()).padStart(15, "0")}-0000-${clientId}`,
        value: { id, title: `Document ${i}`, owner: `user${i % 50}`, n: i, done: i % 3 === 0, tags: ["travel", `t${i % 7}`], notes: NOTES, updatedAt: "2025-11-21T10:00:00.000Z" } });
    }
    const r = await fetch(`${url}/sync/push`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer dev:${user}`, "x-sync-protocol": "1" }, body: JSON.stringify({ clientId, mutations }) });
    if (!r.ok) throw new Error(`seeding: ${r.status} ${await r.text()}`);
    const body = await r.json();
    if (body.results.some((x) => x.status !== "applied")) throw new Error(`seeding: not applied: ${JSON.stringify(body.results.find((x) => x.status !== "applied"))}`);
  }
}

/** What the server alone takes for a push of 100 mutations and of 1 (from Node). */
async function serverProbe(url) {
  const user = `probe-${Date.now().toString(36)}`;
  const push = async (clientId, from, count) => {
    const mutations = Array.from({ length: count }, (_, j) => ({ id: from + j, collection: "items", key: `p-${clientId}-${from + j}`, op: "put", baseVersion: null, hlc: `${String(Date.now()).padStart(15, "0")}-0000-${clientId}`, value: { id: `p-${clientId}-${from + j}`, title: "probe", notes: "x".repeat(200) } }));
    const t = performance.now();
    const r = await fetch(`${url}/sync/push`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer dev:${user}`, "x-sync-protocol": "1" }, body: JSON.stringify({ clientId, mutations }) });
    await r.json();
    return performance.now() - t;
  };
  const batch100 = [], single = [];
  for (let i = 0; i < 20; i++) batch100.push(await push("probe-batch", 1 + i * 100, 100));
  for (let i = 0; i < 200; i++) single.push(await push(`probe-single-${i}`, 1, 1));
  return { push100Ms: median(batch100), push1Ms: median(single) };
}

let dbCounter = 0;
const freshName = (w, impl, run) => `bench-${w}-${impl}-${run}-${Date.now().toString(36)}-${dbCounter++}`;

async function withPage(browser, url, fn) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  try {
    return await fn(page, context);
  } catch (e) {
    throw new Error(`${e.message}${errors.length ? `\npage errors: ${errors.join("\n")}` : ""}`);
  } finally {
    await context.close();
  }
}

async function openBench(page, url) {
  await page.goto(`${url}/bench.html`);
  await page.waitForFunction(() => window.benchReady === true, null, { timeout: 30_000 });
}

async function runOnce(browser, url, w, impl, run, extra = {}) {
  const params = { ...w.params, db: freshName(w.id, impl, run), ...extra };
  if (w.user) params.user = `${w.id}-${impl}-${run}-${Date.now().toString(36)}`;
  return withPage(browser, url, async (page) => {
    if (w.cold) {
      await openBench(page, url);
      await page.evaluate(([p]) => window.bench.coldFill(p.impl, p), [{ ...params, impl }]);
      const cold = await page.context().newPage();
      await page.close();
      await cold.goto(`${url}/cold.html?impl=${impl}&db=${encodeURIComponent(params.db)}`);
      const r = await cold.evaluate(() => window.cold);
      if (!r.ok) throw new Error(r.error);
      return r;
    }
    await openBench(page, url);
    return page.evaluate(([fn, impl, p]) => window.bench[fn](impl, p), [w.fn, impl, params]);
  });
}

/** Fill an n-write outbox on one page, drain it on a fresh page load (fresh wasm). */
async function memoryRun(browser, url, n) {
  const params = { n, db: freshName("memory", "ours", n), user: `memory-${n}-${Date.now().toString(36)}` };
  return withPage(browser, url, async (page) => {
    await openBench(page, url);
    const fill = await page.evaluate(([p]) => window.bench.memoryFill("ours", p), [params]);
    const drainPage = await page.context().newPage();
    await page.close();
    await openBench(drainPage, url);
    const drain = await drainPage.evaluate(([p]) => window.bench.memoryDrain("ours", p), [params]);
    return { ...fill, ...drain };
  });
}

// ---- statistics ----

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const summary = (xs) => ({ median: median(xs), min: Math.min(...xs), max: Math.max(...xs), runs: xs });

function sane(value, what) {
  if (!(typeof value === "number" && Number.isFinite(value) && value >= 0)) throw new Error(`${what}: not a sane number: ${value}`);
  return value;
}

// ---- profiles ----

/** CPU profile of one run of ours: self time by category and the top functions. */
async function profileOurs(browser, url, w, impl = "ours") {
  return withPage(browser, url, async (page) => {
    const params = { ...w.params, db: freshName(w.id, "profile", 0) };
    if (w.user) params.user = `${w.id}-profile-${Date.now().toString(36)}`;
    const cdp = await page.context().newCDPSession(page);
    await cdp.send("Profiler.enable");
    await cdp.send("Profiler.setSamplingInterval", { interval: 200 });
    let result, profile;
    if (w.cold) {
      await openBench(page, url);
      await page.evaluate(([p, impl]) => window.bench.coldFill(impl, p), [params, impl]);
      await page.goto("about:blank");
      await cdp.send("Profiler.start");
      await page.goto(`${url}/cold.html?impl=${impl}&db=${encodeURIComponent(params.db)}`);
      result = await page.evaluate(() => window.cold);
      profile = (await cdp.send("Profiler.stop")).profile;
    } else {
      // The page calls __benchHook("start"/"stop") around its timed part only, so the
      // setup (filling stores) stays out of the profile.
      await page.exposeFunction("__benchHook", async (what) => {
        if (what === "start") await cdp.send("Profiler.start");
        else profile = (await cdp.send("Profiler.stop")).profile;
      });
      await openBench(page, url);
      result = await page.evaluate(([fn, p, impl]) => window.bench[fn](impl, p), [w.fn, params, impl]);
    }
    if (!profile) throw new Error(`no profile for ${w.id}`);
    return { result, ...digest(profile) };
  });
}

function categorize(frame) {
  const name = frame.functionName || "(anonymous)";
  const url = frame.url || "";
  if (name === "(idle)") return "idle (waiting: IndexedDB, network)";
  if (name === "(garbage collector)") return "garbage collector";
  if (name === "(program)" || name === "(root)") return "browser internals (program)";
  if (url.startsWith("wasm://") || /\.wasm/.test(url) || name.startsWith("$")) {
    if (/serde_json/.test(name)) return "wasm: serde_json";
    if (/serde_wasm_bindgen/.test(name)) return "wasm: serde_wasm_bindgen";
    if (/dlmalloc|__rust_alloc|__rust_dealloc|__rust_realloc|alloc::|__wbindgen_malloc|__wbindgen_realloc|__wbindgen_free|memcpy|memmove|memset/.test(name)) return "wasm: allocator and memcpy";
    if (/core::fmt|alloc::fmt|fmt::/.test(name)) return "wasm: formatting";
    if (/pwa_sync::core/.test(name)) return "wasm: pwa_sync core";
    if (/pwa_sync::web|pwa_sync::/.test(name)) return "wasm: pwa_sync web";
    if (/wasm_bindgen|js_sys|web_sys|idb::/.test(name)) return "wasm: bindings (wasm-bindgen, js-sys, web-sys, idb)";
    return "wasm: other";
  }
  if (/pwa_sync\.js/.test(url)) return "JS glue (pwa_sync.js)";
  if (/bench\.js|cold\.js/.test(url)) return "bench harness";
  if (/dexie|workbox/.test(url)) return "library JS";
  if (name === "stringify" || name === "parse") return `JSON.${name}`;
  return url ? "other JS" : `native: ${name}`;
}

function digest(profile) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map();
  const deltas = profile.timeDeltas ?? [];
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = (deltas[i + 1] ?? deltas[i] ?? 0) / 1000; // ms
    self.set(profile.samples[i], (self.get(profile.samples[i]) ?? 0) + dt);
  }
  const categories = {};
  const functions = new Map();
  let total = 0;
  for (const [id, ms] of self) {
    const node = byId.get(id);
    const cat = categorize(node.callFrame);
    categories[cat] = (categories[cat] ?? 0) + ms;
    total += ms;
    // An anonymous function is told apart by its line (wasm-bindgen's glue wraps imports
    // that may throw in one).
    const anonymous = `(anonymous${node.callFrame.url ? `:${node.callFrame.lineNumber + 1}` : ""})`;
    const name = `${node.callFrame.functionName || anonymous}${node.callFrame.url && !node.callFrame.url.startsWith("wasm://") ? ` ${node.callFrame.url.split("/").pop()}` : ""}`;
    functions.set(name, (functions.get(name) ?? 0) + ms);
  }
  const round = (x) => Math.round(x * 10) / 10;
  return {
    totalMs: round(total),
    categories: Object.fromEntries(Object.entries(categories).sort((a, b) => b[1] - a[1]).map(([k, v]) => [k, round(v)])),
    top: [...functions].sort((a, b) => b[1] - a[1]).slice(0, Number(process.env.BENCH_TOP ?? 25)).map(([k, v]) => [k.slice(0, 160), round(v)]),
  };
}

// ---- report ----

const fmtMs = (ms) => (ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(ms < 10 ? 2 : 0)} ms`);
const fmtRange = (s) => `${fmtMs(s.min)}–${fmtMs(s.max)}`;

function machine(browserVersion) {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const model = cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1] ?? "unknown";
  let commit = "unknown";
  try {
    commit = execFileSync("git", ["-C", ROOT, "rev-parse", "--short", "HEAD"], { encoding: "utf8" }).trim();
    const dirty = execFileSync("git", ["-C", ROOT, "status", "--porcelain", "--", "src", "Cargo.toml", "Cargo.lock"], { encoding: "utf8" }).trim();
    if (dirty) commit += " (with uncommitted changes to src/)";
  } catch {}
  let wasmBytes = null;
  try { wasmBytes = readFileSync(join(ROOT, "pkg/pwa_sync_bg.wasm")).length; } catch {}
  return { cpu: model, cores: cpus().length, memoryGiB: Math.round(Number(readFileSync("/proc/meminfo", "utf8").match(/MemTotal:\s+(\d+)/)[1]) / 1048576), chromium: browserVersion, chromiumArgs: CHROMIUM_ARGS, node: process.version, commit, wasmBytes, date: new Date().toISOString() };
}

function markdown(report) {
  const { machine: m } = report;
  const lines = [];
  lines.push(`# pwa-sync benchmarks${SMOKE ? " (smoke: 1/20 size, 1 run, no targets judged)" : ""}`, "");
  lines.push(`Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB; Chromium ${m.chromium} (headless${m.chromiumArgs ? `, ${m.chromiumArgs}` : ""}); Node ${m.node}; commit ${m.commit}; ${m.date}.`);
  lines.push(`Command: \`${report.command}\` (up to N = ${report.runs} runs per implementation, fewer where a workload ran over its ${report.budgetS} s budget: see the N column; implementations alternate; fresh browser context and database each run).`, "");
  lines.push("Times are medians of N runs; ratio = ours / alternative (lower is better for ours); min–max over the runs.", "");
  lines.push("| workload | ours | alternative | ratio | target | pass | ours min–max | alt min–max | N |");
  lines.push("| --- | ---: | ---: | ---: | --- | --- | --- | --- | ---: |");
  for (const row of report.rows) {
    const target = row.max === undefined ? "—" : `≤ ${row.max.toFixed(2)}×${row.note ? ` (${row.note})` : ""}`;
    const pass = row.max === undefined || SMOKE ? "—" : row.pass ? "pass" : "**MISS**";
    lines.push(`| ${row.label} | ${fmtMs(row.ours.median)} | ${IMPL_NAMES[row.alt]}: ${fmtMs(row.other.median)} | ${row.ratio.toFixed(2)}× | ${target} | ${pass} | ${fmtRange(row.ours)} | ${fmtRange(row.other)} | ${row.ours.runs.length} |`);
  }
  const mb = (b) => `${(b / 1048576).toFixed(1)} MB`;
  for (const mem of report.memory ?? []) {
    lines.push(`| wasm memory after draining a ${mem.n.toLocaleString("en")}-mutation outbox (fresh page; sync()) | ${mb(mem.afterDrain)} | — | — | < 16 MB | ${SMOKE ? "—" : mem.afterDrain < 16 * 1048576 ? "pass" : "**MISS**"} | at init ${mb(mem.atInit)}, after open ${mb(mem.afterOpen)} | — | 1 |`);
  }
  lines.push("", "Per-operation latency (median over runs of each run's p50 / p99):", "");
  lines.push("| workload | implementation | p50 | p99 |", "| --- | --- | ---: | ---: |");
  for (const [id, label] of [["singleWrites", "single write"], ["reads", "get"]]) {
    const w = report.workloads[id];
    if (!w) continue;
    for (const [impl, r] of Object.entries(w.impls)) {
      if (!r.p50) continue;
      lines.push(`| ${label} | ${IMPL_NAMES[impl]} | ${r.p50.median.toFixed(3)} ms | ${r.p99.median.toFixed(3)} ms |`);
    }
  }
  const extra = [];
  const sw = report.workloads.singleWrites?.impls.rawOurShape;
  if (sw) extra.push(`- single writes, raw IndexedDB doing pwa-sync's transaction (2 stores; read the record; write it and add the outbox entry): ${fmtMs(sw.ms.median)} (not a target; isolates the IndexedDB part of our cost).`);
  const d5 = report.workloads.drain?.impls.oursBatch500;
  if (d5) extra.push(`- outbox drain, ours with \`batchSize: 500\` (the server's limit; default 100): ${fmtMs(d5.ms.median)}, ${(report.workloads.drain.impls.workbox.ms.median / d5.ms.median).toFixed(1)}× faster than Workbox (not a target).`);
  const dr = report.workloads.drain?.impls.ours;
  if (dr?.pushMs) extra.push(`- outbox drain, ours: the push phase alone took ${fmtMs(dr.pushMs.median)} of the sync() (the rest is pulling the same documents back).`);
  const is = report.workloads.initialSync?.impls;
  if (is?.floor?.fetchMs) extra.push(`- initial sync: fetching the ${report.workloads.initialSync.params.expected.toLocaleString("en")} documents page by page (500 a page, JSON.parse, no storage) takes ${fmtMs(is.floor.fetchMs.median)} on its own; ours ${Math.round(is.ours.rate.median)} docs/s vs floor ${Math.round(is.floor.rate.median)} docs/s.`);
  const cs = report.workloads.coldStart?.impls.ours;
  if (cs?.marks) extra.push(`- cold start, ours (median ms from the module's first line): import ${cs.marks.imported.toFixed(1)}, init() done ${cs.marks.init.toFixed(1)}, open done ${cs.marks.open.toFixed(1)}, first get done ${cs.ms.median.toFixed(1)}.`);
  const lq = report.workloads.liveQuery?.impls;
  if (lq) extra.push(`- live query, write to callback p99 (median over runs): ours ${fmtMs(lq.ours.p99.median)}, Dexie ${fmtMs(lq.dexie.p99.median)}.`);
  for (const id of ["rangeQuery", "count"]) {
    const w = report.workloads[id];
    if (w) extra.push(`- ${id}, per-query p99 (median over runs): ${Object.entries(w.impls).map(([impl, r]) => `${IMPL_NAMES[impl]} ${fmtMs(r.p99.median)}`).join(", ")}.`);
    const call = id === "count" ? "`index.count(range)`" : "`index.getAll(range, limit + 1)`";
    for (const [impl, whose] of [["ours", "pwa-sync's"], ["dexie", "Dexie's"]]) {
      const same = w?.impls[impl]?.sameDatabaseMs;
      if (same) extra.push(`- ${id}, raw IndexedDB ${call} on ${whose} own database in the same run (its stored objects, by turns with ${IMPL_NAMES[impl]}; not a target): ${fmtMs(same.median)} p50, ${IMPL_NAMES[impl]} ${fmtMs(w.impls[impl].ms.median)}: ${IMPL_NAMES[impl]} adds ${fmtMs(w.impls[impl].ms.median - same.median)} to it.`);
    }
    const paired = report.workloads[`${id}Paired`]?.impls.paired;
    if (paired) extra.push(`- ${id}, pwa-sync and Dexie in one page, each over its own database, query by query in turns (not a target): pwa-sync ${fmtMs(paired.ms.median)} p50, Dexie ${fmtMs(paired.dexieMs.median)}; pwa-sync / Dexie ${paired.ratio.median.toFixed(2)}× (runs ${paired.ratio.min.toFixed(2)}-${paired.ratio.max.toFixed(2)}×).`);
  }
  for (const mem of report.memory ?? []) extra.push(`- memory, ${mem.n.toLocaleString("en")} writes: filling the outbox (putMany of 1,000 at a time, another page) took ${fmtMs(mem.fillMs)} and grew that page's wasm memory to ${mb(mem.fillMemory)}; draining it took ${fmtMs(mem.drainMs)} (pushed ${mem.pushed}, pulled back ${mem.pulled}).`);
  if (extra.length) lines.push("", ...extra);
  lines.push("", `Total bench time: ${((report.elapsedMs) / 1000).toFixed(0)} s.`);
  return lines.join("\n") + "\n";
}

// ---- main ----

async function main() {
  log(`${SMOKE ? "smoke" : "full"} run, N=${RUNS}, scale ${SCALE}`);
  await buildSite();
  const server = await startServer();
  const browser = await launch();
  for (const signal of ["SIGINT", "SIGTERM"]) {
    process.once(signal, async () => {
      await browser.close().catch(() => {});
      await server.stop().catch(() => {});
      process.exit(130);
    });
  }
  log(`server ${server.url}, Chromium ${browser.version()}`);
  const report = { command: SMOKE ? "make bench-smoke" : `${process.env.BENCH_CHROMIUM_ARGS !== undefined ? `BENCH_CHROMIUM_ARGS="${process.env.BENCH_CHROMIUM_ARGS}" ` : ""}${process.env.BENCH_ONLY ? `BENCH_ONLY=${process.env.BENCH_ONLY} ` : ""}make bench${process.env.BENCH_RUNS ? ` BENCH_RUNS=${process.env.BENCH_RUNS}` : ""}`, smoke: SMOKE, runs: RUNS, budgetS: BUDGET_MS / 1000, machine: machine(browser.version()), workloads: {}, rows: [], profiles: {} };
  if (PROFILE_ONLY) {
    const profiles = {};
    try {
      const seedUser = `seed-${Date.now().toString(36)}`;
      if (PROFILE_ONLY.includes("initialSync")) await seed(server.url, seedUser, WORKLOADS.find((w) => w.id === "initialSync").params.expected);
      for (const id of PROFILE_ONLY) {
        const w = WORKLOADS.find((x) => x.id === id);
        const params = { ...w.params, ...(id === "initialSync" ? { user: seedUser } : {}) };
        for (const impl of ["ours", ...(["singleWrites", "reads", "coldStart"].includes(id) ? ["raw"] : [])]) {
          log(`profiling ${impl} in ${id}`);
          profiles[`${id}/${impl}`] = await profileOurs(browser, server.url, { ...w, params }, impl);
          log(JSON.stringify(profiles[`${id}/${impl}`].categories));
        }
      }
    } finally {
      await browser.close();
      await server.stop();
    }
    const out = join(BENCH, "results");
    await writeFile(join(out, "profile.json"), JSON.stringify({ machine: machine(browser.version?.() ?? ""), pkg: PKG, profiles }, null, 2) + "\n");
    for (const [k, p] of Object.entries(profiles)) {
      console.log(`\n## ${k}: ${p.totalMs} ms sampled; result ${JSON.stringify(p.result).slice(0, 200)}`);
      for (const [c, ms] of Object.entries(p.categories)) console.log(`  ${String(ms).padStart(9)}  ${c}`);
      console.log("  top functions:");
      for (const [f, ms] of p.top.slice(0, 15)) console.log(`  ${String(ms).padStart(9)}  ${f}`);
    }
    return;
  }
  try {
    const seedUser = `seed-${Date.now().toString(36)}`;
    const initial = WORKLOADS.find((w) => w.id === "initialSync");
    if (!ONLY || ONLY.has("initialSync")) {
      const t = Date.now();
      await seed(server.url, seedUser, initial.params.expected);
      log(`seeded ${initial.params.expected} documents in ${Date.now() - t} ms`);
    }
    initial.extra = { user: seedUser };

    for (const w of WORKLOADS) {
      if (ONLY && !ONLY.has(w.id)) continue;
      const results = Object.fromEntries(w.impls.map((i) => [i, []]));
      const workloadStart = Date.now();
      let runs = RUNS;
      for (let run = 0; run < runs; run++) {
        const order = w.impls.map((_, i) => w.impls[(i + run) % w.impls.length]);
        for (const impl of order) {
          const r = await runOnce(browser, server.url, w, impl, run, w.extra);
          results[impl].push(r);
          log(`${w.id} run ${run + 1}/${runs} ${impl}: ${JSON.stringify(r)}`);
        }
        if (Date.now() - workloadStart > BUDGET_MS && run + 1 < runs) {
          log(`${w.id}: over its time budget after ${run + 1} runs; stopping there`);
          runs = run + 1;
        }
      }
      const impls = {};
      for (const [impl, rs] of Object.entries(results)) {
        const fields = {};
        for (const k of Object.keys(rs[0])) {
          if (typeof rs[0][k] === "number") fields[k] = summary(rs.map((r) => sane(r[k], `${w.id}/${impl}/${k}`)));
        }
        if (rs[0].marks) fields.marks = Object.fromEntries(Object.keys(rs[0].marks).map((k) => [k, median(rs.map((r) => r.marks[k]))]));
        impls[impl] = fields;
      }
      report.workloads[w.id] = { title: w.title, params: w.params, impls };
    }

    for (const row of ROWS) {
      const w = report.workloads[row.workload];
      if (!w) continue;
      const ours = w.impls.ours[row.metric];
      const other = w.impls[row.alt][row.metric];
      const ratio = ours.median / other.median;
      report.rows.push({ workload: row.workload, label: row.label(WORKLOADS.find((x) => x.id === row.workload)), metric: row.metric, alt: row.alt, max: row.max, note: row.note, ours, other, ratio, pass: row.max === undefined ? null : ratio <= row.max });
    }

    if (!ONLY || ONLY.has("memory")) {
      report.memory = [];
      for (const n of MEMORY_SIZES) {
        const r = await memoryRun(browser, server.url, n);
        for (const k of ["atInit", "afterOpen", "afterDrain", "fillMs", "drainMs"]) sane(r[k], `memory/${k}`);
        report.memory.push(r);
        log(`memory ${n}: ${JSON.stringify(r)}`);
      }
    }

    if (!ONLY || ONLY.has("probes")) {
      const w = { id: "probes", fn: "probes", params: { n: size(2000) } };
      report.probes = await runOnce(browser, server.url, w, "ours", 0);
      report.probes.server = await serverProbe(server.url);
      log(`probes: ${JSON.stringify(report.probes)}`);
    }

    if (PROFILE) {
      const missed = [...new Set(report.rows.filter((r) => r.pass === false).map((r) => r.workload))];
      for (const id of missed) {
        const w = WORKLOADS.find((x) => x.id === id);
        log(`profiling ours in ${id}`);
        const params = w.params;
        try {
          report.profiles[id] = await profileOurs(browser, server.url, { ...w, params: { ...params, ...(w.extra ?? {}) } });
          log(`profile ${id}: ${JSON.stringify(report.profiles[id].categories)}`);
        } catch (e) {
          report.profiles[id] = { error: String(e) };
          log(`profile ${id} failed: ${e}`);
        }
      }
    }
  } finally {
    await browser.close();
    await server.stop();
  }
  report.elapsedMs = Date.now() - started;
  // Smoke runs are a check, not a result: they go to the ignored results/tmp/.
  const out = join(BENCH, "results", ...(SMOKE ? ["tmp"] : []));
  await mkdir(out, { recursive: true });
  const base = process.env.BENCH_OUT ?? (SMOKE ? "smoke" : "latest");
  await writeFile(join(out, `${base}.json`), JSON.stringify(report, null, 2) + "\n");
  const md = markdown(report);
  await writeFile(join(out, `${base}.md`), md);
  process.stdout.write(md);
  if (report.profiles && Object.keys(report.profiles).length) {
    for (const [id, p] of Object.entries(report.profiles)) {
      console.log(`\nprofile of ours in ${id} (self time, ms, of ${p.totalMs} sampled): ${JSON.stringify(p.categories ?? p.error)}`);
    }
  }
  log(`wrote ${out}/${base}.json and ${base}.md`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
