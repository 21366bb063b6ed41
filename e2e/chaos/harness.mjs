// The chaos convergence harness (issue 7, point 1).
//
// A fresh reference server (SQLite in a temp dir) behind the fault proxy, which injects
// random faults on /sync/ at `rate` from `seed`. Several devices (browser contexts: their
// own IndexedDB and service worker; device 0 has two tabs sharing its database) of one
// user, and the last device of a second user who shares one space with the first, make
// random puts, patches and deletes over a small key space while the
// harness takes devices offline and online, reloads tabs mid-sync and stops service
// workers mid-flush (CDP). Then: faults off, everyone online, sync until quiet, and four
// oracles, each a hard failure:
//
//   1. converged   every tab's live data (client.list) equals the server's for its user
//                  (pulled from checkpoint 0 straight from the server, not the proxy);
//   2. at most once the server's SQLite: no (client_id, mutation_id) twice; the version
//                  counter equals the number of applied mutations and membership changes
//                  and their versions are exactly 1..counter; every document row points at the applied
//                  mutation that wrote it; and no write of the merge collection took
//                  effect twice (see `reapplied` below);
//   3. no loss     every local write is accounted for (see `accountWrite` below);
//   4. not stuck   every tab: pending() === 0 and no open conflict after quiescence.
//
// Every choice (device, tab, operation, key, fields, fault actions, pauses) comes from a
// mulberry32 stream seeded with `seed`, and decisions depend only on the harness's own
// state, so a seed replays the same script; the proxy numbers requests and draws faults
// from the same seed. Browser timing (background syncs, retries) is not under our
// control, so a replay is the same script under the same fault stream, not a bit-exact
// rerun.
import { execFile } from "node:child_process";
import { createServer } from "node:http";
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { ROOT, launch, startBinary, serviceWorkerControl, killChildren } from "../lib.mjs";

export { startBinary, killChildren };

const HERE = fileURLToPath(new URL(".", import.meta.url));
const FIELDS = ["a", "b", "c"];
// notes: merge, prefs: lastWriteWins, both private; shared: merge, in the space
// group:chaos that USER and OTHER_USER both write (site/config.js).
const COLLECTIONS = ["notes", "prefs", "shared"];
const MERGE_COLLECTIONS = new Set(["notes", "shared"]);
const SHARED_SPACE = "group:chaos";
const USER = "chaos";
// The last device (of two or more) is another user, who writes only the shared space.
const OTHER_USER = "chaos2";

export const DEFAULTS = Object.freeze({
  seed: 1,
  ops: 120, // local writes to make (fault actions and pauses come on top)
  rate: 0.2, // probability of a random fault per /sync/ request
  clients: 3, // devices (browser contexts); device 0 has two tabs
  keys: 6,
  timeLimitMs: 55_000, // the whole run, start to verdict
});

/** mulberry32: a small, fast, seedable PRNG; returns floats in [0, 1). */
export function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

async function binaryHelp(bin) {
  try {
    const { stdout } = await promisify(execFile)(bin, ["--help"]);
    return stdout;
  } catch {
    return "";
  }
}

/** Read the server's SQLite file with python3's sqlite3 (the server is stopped). */
async function readServerDb(file) {
  const script = `
import json, sqlite3, sys
db = sqlite3.connect(sys.argv[1])
q = lambda sql: db.execute(sql).fetchall()
tables = {r[0] for r in q("SELECT name FROM sqlite_master WHERE type = 'table'")}
out = {
  "counter": q("SELECT v FROM counter")[0][0],
  "statuses": dict(q("SELECT status, COUNT(*) FROM mutations GROUP BY status")),
  "duplicateIds": q("SELECT client_id, mutation_id, COUNT(*) FROM mutations GROUP BY client_id, mutation_id HAVING COUNT(*) > 1"),
  "applied": q("SELECT client_id, mutation_id, version, created_at FROM mutations WHERE status = 'applied' ORDER BY version"),
  "mutations": q("SELECT client_id, mutation_id, status, version, created_at, result FROM mutations ORDER BY created_at, client_id, mutation_id"),
  "documents": q("SELECT space, collection, doc_key, version, doc_value, writer_client, writer_mutation FROM documents"),
  "history": q("SELECT version, body FROM webhook_outbox ORDER BY version, id") if "webhook_outbox" in tables else None,
  # Versions taken by membership changes (the --everyone grants recorded on first sight).
  "memberVersions": q("SELECT since FROM members UNION SELECT changed FROM members") if "members" in tables else [],
}
print(json.dumps(out))
`;
  const { stdout } = await promisify(execFile)("python3", ["-c", script, file], { maxBuffer: 256 << 20 });
  return JSON.parse(stdout);
}

/** Everything the server holds for the user: pull from checkpoint 0, straight from it. */
export async function pullAll(serverUrl, user = USER) {
  const docs = new Map(); // "collection/key" -> value (null: deleted)
  const versions = new Map(); // "collection/key" -> version
  let checkpoint = 0;
  for (let pages = 0; pages < 10_000; pages++) {
    const res = await fetch(`${serverUrl}/sync/pull?checkpoint=${checkpoint}&limit=1000`, {
      headers: { authorization: `Bearer dev:${user}`, "x-sync-protocol": "1" },
    });
    if (res.status !== 200) throw new Error(`pull from the server: HTTP ${res.status}`);
    const body = await res.json();
    for (const c of body.changes) {
      docs.set(`${c.collection}/${c.key}`, c.value);
      versions.set(`${c.collection}/${c.key}`, c.version);
    }
    checkpoint = body.checkpoint;
    if (!body.hasMore) break;
  }
  return { docs, versions, checkpoint };
}

/**
 * Run one chaos session. Resolves to {ok, summary, failures, details}; never throws for
 * an oracle failure (only `ok: false`), throws if the harness itself cannot run.
 */
export async function runChaos(options = {}) {
  const o = { ...DEFAULTS, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  const log = o.log ?? (() => {});
  const started = Date.now();
  const hardDeadline = started + o.timeLimitMs;
  // The writes stop early enough to leave a quarter of the time (20 s at least) to settle.
  const opsDeadline = started + o.timeLimitMs - Math.max(20_000, o.timeLimitMs / 4);
  const rng = mulberry32(o.seed);
  const rand = (n) => Math.floor(rng() * n);
  const pick = (xs) => xs[rand(xs.length)];

  const failures = [];
  const anomalies = [];
  const cleanup = [];
  const work = await mkdtemp(join(tmpdir(), "pwa-sync-chaos-"));
  cleanup.push(() => rm(work, { recursive: true, force: true }));
  try {
    // --- the site, the server (with its change history), the proxy -------------------
    const site = join(work, "site");
    await cp(join(HERE, "site"), site, { recursive: true });
    await cp(join(ROOT, "pkg"), join(site, "pkg"), { recursive: true });

    const serverBin = process.env.PWA_SYNC_SERVER_BIN ?? join(ROOT, "target/debug/pwa-sync-server");
    const proxyBin = process.env.PWA_SYNC_PROXY_BIN ?? join(ROOT, "target/debug/pwa-sync-fault-proxy");
    const dbFile = join(work, "sync.db");
    const serverArgs = ["--listen", "127.0.0.1:0", "--database", `sqlite://${dbFile}`, "--dev-auth", "--cors-any-origin", "--static", site,
      "--everyone", `${SHARED_SPACE}=writer`];
    // With webhooks configured the server writes every applied change (its value and
    // version) to `webhook_outbox` in the applying transaction: the full history that
    // oracle 3 reads. A local receiver takes the deliveries so none fail.
    const history = (await binaryHelp(serverBin)).includes("--webhook");
    if (history) {
      const receiver = createServer((req, res) => { req.resume(); req.on("end", () => res.writeHead(204).end()); });
      await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
      cleanup.push(() => new Promise((r) => receiver.close(r)));
      serverArgs.push("--webhook", `http://127.0.0.1:${receiver.address().port}/hook`, "--webhook-secret", "chaos");
    }
    const server = await startBinary(serverBin, serverArgs, "pwa-sync-server");
    cleanup.push(server.stop);
    const proxy = await startBinary(proxyBin, ["--listen", "127.0.0.1:0", "--upstream", server.url, "--cors-any-origin", "--seed", String(o.seed)], "pwa-sync-fault-proxy");
    cleanup.push(proxy.stop);
    const faults = async (body) => {
      const res = await fetch(`${proxy.url}/_faults`, { method: body ? "POST" : "GET", headers: { "content-type": "application/json" }, body: body && JSON.stringify(body) });
      if (res.status !== 200) throw new Error(`/_faults: HTTP ${res.status}`);
      return res.json();
    };
    await faults({ rate: o.rate, seed: o.seed, paths: ["/sync/"] });
    const endpoint = `${proxy.url}/sync`;

    // --- the devices ---------------------------------------------------------------------
    const browser = await launch();
    cleanup.push(() => browser.close());
    const counts = { puts: 0, patches: 0, deletes: 0, noops: 0, offline: 0, aborted: 0, reloads: 0, swFlushes: 0, swKills: 0, swWakes: 0, syncs: 0, pauses: 0 };
    const events = []; // {device, name, at, detail}: conflicts and rejections heard by tabs
    const devices = [];
    const appUrl = (user) => `${server.url}/?user=${user}&endpoint=${encodeURIComponent(endpoint)}&realtime=1`;
    const openTab = async (device, index) => {
      const page = await device.context.newPage();
      page.on("pageerror", (e) => anomalies.push(`device ${device.id} tab ${index}: page error: ${e.message}`));
      await page.goto(appUrl(device.user));
      await page.waitForFunction(() => window.app, null, { timeout: 30_000 });
      const cdp = await device.context.newCDPSession(page);
      return { id: index, page, cdp };
    };
    for (let d = 0; d < o.clients; d++) {
      const context = await browser.newContext();
      await context.exposeBinding("__chaosReport", (_source, entry) => events.push({ device: d, ...entry }));
      const user = o.clients >= 2 && d === o.clients - 1 ? OTHER_USER : USER;
      const device = { id: d, user, context, tabs: [], offline: false, onlineAtStep: 0, worker: null };
      devices.push(device);
      await context.route("**/sync/**", (route) => {
        if (device.offline) counts.aborted++;
        return (device.offline ? route.abort("internetdisconnected") : route.continue()).catch(() => {});
      });
      for (let t = 0; t < (d === 0 ? 2 : 1); t++) device.tabs.push(await openTab(device, t));
      device.worker = await serviceWorkerControl(context, server.url);
    }
    const tabs = devices.flatMap((d) => d.tabs.map((t) => ({ device: d, tab: t })));

    // Offline: each tab's network is cut through CDP (navigator.onLine turns false and
    // `offline`/`online` fire), and a route on the context, set up once, aborts the
    // service worker's requests, which page emulation does not reach. (Playwright's
    // context.setOffline also reaches the worker's target and hangs once a worker has
    // been stopped through CDP.)
    const emulate = (tab, offline) =>
      withTimeout(tab.cdp.send("Network.emulateNetworkConditions", { offline, latency: 0, downloadThroughput: -1, uploadThroughput: -1 }), 10_000, "network emulation");
    const goOffline = async (device) => {
      device.offline = true;
      for (const tab of device.tabs) await emulate(tab, true);
    };
    const goOnline = async (device) => {
      device.offline = false;
      for (const tab of device.tabs) await emulate(tab, false);
    };

    // --- the chaos phase -----------------------------------------------------------------
    const writes = []; // every local write the app made, in the order it made them
    let step = 0;
    while (writes.length < o.ops && Date.now() < opsDeadline) {
      step++;
      for (const device of devices) if (device.offline && step >= device.onlineAtStep) await goOnline(device);
      const r = rng();
      const device = pick(devices);
      const tab = pick(device.tabs);
      if (o.trace) log(`step ${step} r=${r.toFixed(3)} device ${device.id} tab ${tab.id} offline ${device.offline} at ${Date.now() - started} ms`);
      const n = writes.length + counts.noops;
      if (r < 0.72) {
        // A write. Tokens are unique per write, so a field's value says which write put it.
        const cr = rng();
        const collection = device.user === OTHER_USER ? "shared" : cr < 0.5 ? "notes" : cr < 0.75 ? "prefs" : "shared";
        const key = `k${rand(o.keys)}`;
        const token = `d${device.id}t${tab.id}w${n}`;
        const full = Object.fromEntries(FIELDS.map((f) => [f, token]));
        const kr = rng();
        let op;
        if (kr < 0.4) op = { kind: "put", collection, key, fields: full };
        else if (kr < 0.82) {
          const fields = FIELDS.filter(() => rng() < 0.5);
          if (fields.length === 0) fields.push(pick(FIELDS));
          op = { kind: "patch", collection, key, fields: Object.fromEntries(fields.map((f) => [f, token])), full };
        } else op = { kind: "delete", collection, key };
        const t0 = Date.now();
        let done;
        try {
          done = await withTimeout(tab.page.evaluate((op) => window.app.write(op), op), 20_000, `write ${JSON.stringify(op)}`);
        } catch (e) {
          failures.push(`stuck: device ${device.id} tab ${tab.id} could not write (${op.kind} ${collection}/${key}): ${e.message}`);
          break;
        }
        if (done.kind === "noop") { counts.noops++; continue; }
        counts[{ put: "puts", patch: "patches", delete: "deletes" }[done.kind]]++;
        writes.push({ n, device: device.id, tab: tab.id, collection, key, kind: done.kind, written: done.written, prior: done.prior, t0, t1: Date.now() });
      } else if (r < 0.77) {
        counts.offline++;
        if (device.offline) await goOnline(device);
        else { device.onlineAtStep = step + 5 + rand(25); await goOffline(device); }
      } else if (r < 0.81) {
        // Reload a tab while a sync it started is under way.
        const pause = rand(150);
        if (device.offline) continue;
        counts.reloads++;
        await withTimeout(tab.page.evaluate(() => window.app.kick()), 10_000, "sync() before a reload");
        await sleep(pause);
        try {
          await tab.page.reload();
          await tab.page.waitForFunction(() => window.app, null, { timeout: 30_000 });
        } catch (e) {
          failures.push(`stuck: device ${device.id} tab ${tab.id} did not come back after a reload: ${e.message}`);
          break;
        }
      } else if (r < 0.85) {
        // Stop the service worker in the middle of a flush. A device coming back online
        // has an outbox to flush: its tabs start syncing on `online` and the worker's sync
        // event races them for the flush lock.
        const pause = 30 + rand(500);
        counts.swFlushes++;
        if (device.offline) await goOnline(device);
        await withTimeout(device.worker.dispatchSync(), 10_000, "dispatchSyncEvent").catch(() => {});
        await sleep(pause);
        const running = device.worker.running();
        if (running) {
          counts.swKills++;
          await withTimeout(device.worker.stop(running.versionId), 10_000, "stopWorker").catch(() => {});
        }
      } else if (r < 0.87) {
        counts.swWakes++;
        await withTimeout(device.worker.dispatchSync(), 10_000, "dispatchSyncEvent").catch(() => {});
      } else if (r < 0.92) {
        counts.syncs++;
        await withTimeout(tab.page.evaluate(() => window.app.syncOnce()), 30_000, "sync()").catch((e) => {
          failures.push(`stuck: device ${device.id} tab ${tab.id}: ${e.message}`);
        });
      } else {
        counts.pauses++;
        await sleep(20 + rand(300));
      }
    }
    const chaosMs = Date.now() - started;
    log(`chaos phase: ${writes.length} writes, ${step} steps in ${chaosMs} ms`);

    // --- sabotage: checks of the oracles themselves (CHAOS_SABOTAGE) -----------------------
    if (o.sabotage === "drop-outbox") {
      // A write whose outbox entry vanishes (as if the library lost it): loss and divergence.
      const device = devices.filter((d) => d.user === USER).at(-1);
      const tab = device.tabs[0];
      await goOffline(device);
      const n = writes.length + counts.noops;
      const op = { kind: "put", collection: "notes", key: "k0", fields: { a: `sabotage${n}`, b: `sabotage${n}`, c: `sabotage${n}` } };
      const t0 = Date.now();
      const done = await tab.page.evaluate((op) => window.app.write(op), op);
      writes.push({ n, device: device.id, tab: tab.id, collection: op.collection, key: op.key, kind: done.kind, written: done.written, prior: done.prior, t0, t1: Date.now() });
      await tab.page.evaluate(async (name) => {
        const db = await new Promise((ok, fail) => { const r = indexedDB.open(name); r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error); });
        await new Promise((ok, fail) => { const tx = db.transaction("outbox", "readwrite"); tx.objectStore("outbox").clear(); tx.oncomplete = ok; tx.onerror = () => fail(tx.error); });
        db.close();
      }, `chaos-${USER}`);
      log("sabotage: dropped the outbox of device " + device.id);
    } else if (o.sabotage === "replay-push") {
      // The first write of a notes record sent again under a new mutation id, on top of
      // the record's current version: that write takes effect twice.
      const held = await pullAll(server.url);
      const old = writes.find((w) => w.collection === "notes" && w.written.a && held.docs.get(`notes/${w.key}`)?.a && held.docs.get(`notes/${w.key}`).a !== w.written.a);
      if (old) {
        const res = await fetch(`${server.url}/sync/push`, {
          method: "POST",
          headers: { authorization: `Bearer dev:${USER}`, "x-sync-protocol": "1", "content-type": "application/json" },
          body: JSON.stringify({ clientId: "c-sabotage", mutations: [{ id: 1, collection: "notes", key: old.key, op: "patch", value: { a: old.written.a }, baseVersion: held.versions.get(`notes/${old.key}`), hlc: `${String(Date.now()).padStart(15, "0")}-0000-c-sabotage` }] }),
        });
        log(`sabotage: re-sent ${old.written.a} to notes/${old.key}: HTTP ${res.status} ${await res.text()}`);
      } else log("sabotage: no write to re-send");
    }

    // --- quiescence ----------------------------------------------------------------------
    await faults({ rate: 0, rules: [] });
    const faultStats = await faults();
    log(`faults off: ${faultStats.injectedTotal} injected`);
    for (const device of devices) if (device.offline) await goOnline(device);
    log(`all online`);
    await sleep(600); // a delayed request (at most 500 ms) lands
    let previous = null;
    let quiet = false;
    let rounds = 0;
    let snapshots = [];
    while (!quiet && Date.now() < hardDeadline - 3000 && rounds < 40) {
      rounds++;
      const syncErrors = [];
      for (const { device, tab } of tabs) {
        const limit = Math.max(1000, Math.min(30_000, hardDeadline - Date.now() - 3000));
        const r = await withTimeout(tab.page.evaluate(() => window.app.syncOnce()), limit, "sync()").catch((e) => ({ ok: false, code: e.message }));
        if (!r.ok) syncErrors.push(`device ${device.id} tab ${tab.id}: ${r.code}`);
      }
      snapshots = [];
      for (const { device, tab } of tabs) snapshots.push({ device: device.id, tab: tab.id, ...(await tab.page.evaluate(() => window.app.snapshot())) });
      const held = await pullAll(server.url);
      const fingerprint = JSON.stringify([snapshots.map((s) => [s.lists, s.pending]), [...held.docs], held.checkpoint]);
      quiet = syncErrors.length === 0 && snapshots.every((s) => s.pending === 0) && fingerprint === previous;
      previous = fingerprint;
      log(`quiescence round ${rounds}: pending ${snapshots.map((s) => s.pending).join("/")}, server checkpoint ${held.checkpoint}${syncErrors.length ? `, sync errors: ${syncErrors.join("; ")}` : ""}`);
      if (!quiet) await sleep(200);
    }
    if (!quiet) failures.push(`stuck: no quiescence after ${rounds} rounds (${Date.now() - started} ms): ${previous}`);

    // --- what the clients hold -------------------------------------------------------------
    const audits = new Map(); // device -> audit entries (the database's log, shared by its tabs and worker)
    for (const { device, tab } of tabs) {
      const entries = await tab.page.evaluate(() => window.app.audit());
      const seen = audits.get(device.id) ?? new Map();
      for (const e of entries) seen.set(JSON.stringify(e), e);
      audits.set(device.id, seen);
    }
    const clientIds = new Map(); // clientId -> device
    for (const s of snapshots) {
      if (clientIds.has(s.clientId) && clientIds.get(s.clientId) !== s.device) anomalies.push(`client id ${s.clientId} on two devices`);
      clientIds.set(s.clientId, s.device);
    }
    for (const device of devices) {
      const ids = new Set(snapshots.filter((s) => s.device === device.id).map((s) => s.clientId));
      if (ids.size !== 1) anomalies.push(`device ${device.id}: its tabs report ${ids.size} client ids`);
    }
    // USER reads everything written (their private collections and the shared space);
    // each replica is compared with what its own user reads.
    const final = await pullAll(server.url);
    const finals = { [USER]: final, [OTHER_USER]: await pullAll(server.url, OTHER_USER) };

    await browser.close();
    await proxy.stop();
    await server.stop();
    const db = await readServerDb(dbFile);

    // --- oracle 1: converged ------------------------------------------------------------
    const liveOf = (held) => {
      const live = {};
      for (const c of COLLECTIONS) live[c] = new Map();
      for (const [ck, value] of held.docs) {
        const [c, k] = ck.split("/");
        if (value !== null) live[c].set(k, value);
      }
      return live;
    };
    const liveByUser = Object.fromEntries(Object.entries(finals).map(([user, held]) => [user, liveOf(held)]));
    const divergedKeys = new Set();
    for (const s of snapshots) {
      const serverLive = liveByUser[devices[s.device].user];
      for (const c of COLLECTIONS) {
        const local = new Map(s.lists[c].map((v) => [v.id, v]));
        for (const k of new Set([...local.keys(), ...serverLive[c].keys()])) {
          const a = JSON.stringify(sortKeys(local.get(k) ?? null));
          const b = JSON.stringify(sortKeys(serverLive[c].get(k) ?? null));
          if (a !== b) {
            divergedKeys.add(`${c}/${k}`);
            failures.push(`diverged: device ${s.device} tab ${s.tab} ${c}/${k}: local ${a}, server ${b}`);
          }
        }
      }
    }

    // --- oracle 2: at most once -----------------------------------------------------------
    let duplicated = 0;
    const appliedCount = db.statuses.applied ?? 0;
    for (const [client, id, times] of db.duplicateIds) {
      duplicated += times - 1;
      failures.push(`duplicated: (client ${client}, mutation ${id}) stored ${times} times`);
    }
    // Every version is an applied mutation's or a membership change's, each exactly once.
    const memberVersions = new Set(db.memberVersions.map((r) => r[0]));
    if (db.counter !== appliedCount + memberVersions.size) {
      duplicated += Math.abs(db.counter - appliedCount - memberVersions.size);
      failures.push(`duplicated: the server handed out ${db.counter} versions but stores ${appliedCount} applied mutations and ${memberVersions.size} membership changes`);
    }
    const usedVersions = [...db.applied.map((r) => r[2]), ...memberVersions].sort((a, b) => a - b);
    if (usedVersions.some((v, i) => v !== i + 1)) {
      failures.push(`duplicated: applied and membership versions are not exactly 1..${db.counter}: ${usedVersions.slice(0, 20).join(",")}…`);
    }
    const byVersion = new Map(db.applied.map(([client, id, version, at]) => [version, { client, id, version, at }]));
    for (const [space, c, k, version, , writerClient, writerMutation] of db.documents) {
      const m = byVersion.get(version);
      const rightSpace = c === "shared" ? space === SHARED_SPACE : space === `user:${USER}`;
      if (!rightSpace || !m || m.client !== writerClient || m.id !== writerMutation) {
        failures.push(`duplicated: document ${c}/${k} v${version} was written by (${writerClient}, ${writerMutation}), which is not the applied mutation of that version`);
      }
    }
    // The change history: version -> {collection, key, value, client, device, at}.
    const changes = [];
    if (db.history) {
      const seenVersions = new Set();
      for (const [version, body] of db.history) {
        if (seenVersions.has(version)) continue;
        seenVersions.add(version);
        const e = JSON.parse(body);
        const m = byVersion.get(version);
        changes.push({ version, collection: e.collection, key: e.key, value: e.value, at: e.at, client: m?.client, device: clientIds.get(m?.client) });
      }
      if (changes.length !== appliedCount) failures.push(`history: ${changes.length} changes recorded for ${appliedCount} applied mutations`);
    }
    // A write took effect twice if, in a merge collection, its token comes back into a
    // field that in the meantime held another write's token (a three-way merge never
    // brings back a value neither side changed; after a delete the record may come back
    // by "an edit beats a concurrent delete", so a tombstone in between does not count).
    // In lastWriteWins collections a winning local record is re-sent whole, so it does.
    const reapplied = [];
    {
      const last = new Map();
      for (const ch of changes) {
        if (!MERGE_COLLECTIONS.has(ch.collection)) continue;
        const ck = `${ch.collection}/${ch.key}`;
        const prev = last.get(ck);
        for (const f of FIELDS) {
          const v = ch.value?.[f];
          if (v === undefined || !prev?.value || prev.value[f] === undefined || prev.value[f] === v) continue;
          const earlier = changes.find((x) => x.version < prev.version && x.collection === ch.collection && x.key === ch.key && x.value?.[f] === v);
          if (earlier) reapplied.push(`${ck}.${f} = ${v}: v${earlier.version}, replaced by v${prev.version} (${prev.value[f]}), back at v${ch.version} (client ${ch.client}, device ${ch.device})`);
        }
        last.set(ck, ch);
      }
    }
    for (const r of reapplied) failures.push(`duplicated: write took effect twice: ${r}`);
    duplicated += reapplied.length;

    // --- oracle 3: no silent loss ---------------------------------------------------------
    // A local write w (device d, collection c, key k) writes a token unique to w into
    // each field it sets. Each field f that w set is accounted for when one holds:
    //   visible     the server's final value of c/k has token(w) in f;
    //   applied     some version in the server's history of c/k had token(w) in f: w
    //               reached the server and a later write reached it after w;
    //   superseded  d itself later wrote c/k touching f (a put or delete touches all
    //               fields; tabs of a device share one database and one outbox, so they
    //               are one client);
    //   surfaced    d's audit log (conflicts and rejections, read from its database) or a
    //               pwa-sync:conflict event heard by d's tabs has c/k with token(w) in f
    //               in its `local` side, or a pwa-sync:rejected event names c/k after w.
    // A delete is accounted for when the server's final state of c/k is absent (visible),
    // the history has a tombstone of c/k by d's client made after w started (applied), the
    // server answered d's client, after w started, with a conflict whose server state is a
    // tombstone of c/k (absorbed: another device had deleted it first; a later re-creation
    // is a newer write), d
    // wrote c/k again (superseded), a conflict/rejection on d shows c/k with `local` null
    // (surfaced), or the record it deleted never reached the server: no field of it ever
    // appears in the history (a create and delete of a never-synced key fold to nothing).
    // Anything else is lost: the app was told its write was stored, and it vanished
    // without reaching the server and without a conflict or rejection saying why.
    // Without a history (a server with no webhook outbox) `applied` is weaker: another
    // device wrote f of c/k after w.
    const surfacedEntries = new Map(); // device -> [{collection, key, local, at, kind}]
    for (const [d, entries] of audits) surfacedEntries.set(d, [...entries.values()].map((e) => ({ ...e, source: "audit" })));
    for (const e of events) {
      if (e.name !== "pwa-sync:conflict" && e.name !== "pwa-sync:rejected") continue;
      surfacedEntries.get(e.device)?.push({ kind: e.name === "pwa-sync:conflict" ? "conflict" : "rejected-event", collection: e.detail.collection, key: e.detail.key, local: e.detail.local, at: e.at, source: "event" });
    }
    const inHistory = (c, k, f, token) => changes.some((ch) => ch.collection === c && ch.key === k && ch.value?.[f] === token);
    // Tombstones a device's push met: device -> [{version, at}] of conflict answers whose
    // server state is null (versions are global, so one names its key through the history).
    const metTombstones = new Map();
    for (const [client, , status, , at, result] of db.mutations) {
      if (status !== "conflict") continue;
      const server = result ? JSON.parse(result).server : null;
      if (!server || server.value !== null) continue;
      const device = clientIds.get(client);
      if (!metTombstones.has(device)) metTombstones.set(device, []);
      metTombstones.get(device).push({ version: server.version, at });
    }
    const isTombstoneOf = (c, k, version) => changes.some((ch) => ch.version === version && ch.collection === c && ch.key === k && ch.value === null);
    const losses = [];
    const accounted = { visible: 0, applied: 0, absorbed: 0, superseded: 0, surfaced: 0, "never on server": 0 };
    for (const w of writes) {
      const later = writes.filter((x) => x.n > w.n && x.device === w.device && x.collection === w.collection && x.key === w.key);
      const surfaced = (surfacedEntries.get(w.device) ?? []).filter((e) => e.collection === w.collection && e.key === w.key);
      const finalValue = final.docs.get(`${w.collection}/${w.key}`) ?? null;
      const why = [];
      if (w.kind === "delete") {
        if (finalValue === null) why.push("visible");
        else if (history && changes.some((ch) => ch.collection === w.collection && ch.key === w.key && ch.value === null && ch.device === w.device && ch.at >= w.t0)) why.push("applied");
        else if (history && (metTombstones.get(w.device) ?? []).some((t) => t.at >= w.t0 && isTombstoneOf(w.collection, w.key, t.version))) why.push("absorbed");
        else if (later.length > 0) why.push("superseded");
        else if (surfaced.some((e) => e.local === null || (e.kind === "rejected-event" && e.at >= w.t0))) why.push("surfaced");
        else if (history && w.prior && !FIELDS.some((f) => w.prior[f] !== undefined && inHistory(w.collection, w.key, f, w.prior[f]))) why.push("never on server");
        else why.push(null);
      } else {
        for (const [f, token] of Object.entries(w.written)) {
          if (finalValue?.[f] === token) why.push("visible");
          else if (history ? inHistory(w.collection, w.key, f, token) : writes.some((x) => x.n > w.n && x.device !== w.device && x.collection === w.collection && x.key === w.key && (x.kind !== "patch" || f in x.written))) why.push("applied");
          else if (later.some((x) => x.kind !== "patch" || f in x.written)) why.push("superseded");
          else if (surfaced.some((e) => e.local?.[f] === token || (e.kind === "rejected-event" && e.at >= w.t0))) why.push("surfaced");
          else why.push(null);
        }
      }
      if (why.includes(null)) {
        losses.push(w);
        failures.push(`lost: write #${w.n} by device ${w.device} tab ${w.tab} at ${new Date(w.t0).toISOString()}: ${w.kind} ${w.collection}/${w.key} ${JSON.stringify(w.written)}; server final ${JSON.stringify(finalValue)}`);
      } else {
        // Count each write once, by its strongest reason.
        const order = ["visible", "applied", "absorbed", "superseded", "surfaced", "never on server"];
        accounted[order.find((x) => why.includes(x))]++;
      }
    }

    // --- oracle 4: not stuck --------------------------------------------------------------
    for (const s of snapshots) {
      if (s.pending !== 0) failures.push(`stuck: device ${s.device} tab ${s.tab} has ${s.pending} pending writes after quiescence (last error ${JSON.stringify(s.status.lastError)})`);
      if (s.openConflicts !== 0) failures.push(`stuck: device ${s.device} tab ${s.tab} has ${s.openConflicts} open conflicts`);
    }

    const injected = faultStats.injected ?? {};
    const byKind = Object.entries(injected).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${v}`).join(", ");
    const tabsCount = tabs.length;
    const summary =
      `chaos: seed ${o.seed}, clients ${o.clients} (${tabsCount} tabs, ${o.clients} service workers; ` +
      `${new Set(devices.map((d) => d.user)).size} users sharing ${SHARED_SPACE}), ` +
      `operations ${writes.length} (${counts.puts} puts, ${counts.patches} patches, ${counts.deletes} deletes), ` +
      `faults injected ${faultStats.injectedTotal ?? 0} (${byKind || "none"}) in ${faultStats.requests ?? 0} requests, ` +
      `lost ${losses.length}, duplicated ${duplicated}, diverged ${divergedKeys.size}`;
    const conflicts = [...audits.values()].reduce((n, m) => n + [...m.values()].filter((e) => e.kind === "conflict").length, 0);
    const rejections = [...audits.values()].reduce((n, m) => n + [...m.values()].filter((e) => e.kind === "rejected").length, 0);
    const details = {
      options: o,
      counts,
      accounted,
      conflicts,
      rejections,
      rounds,
      versions: db.counter,
      mutationStatuses: db.statuses,
      history: history ? changes.length : null,
      chaosMs,
      totalMs: Date.now() - started,
      anomalies,
    };
    // On failure everything the verdict was drawn from goes to a file, to be read
    // alongside the replay: the writes, the server's history, audits, events, replicas.
    if (failures.length > 0) {
      details.dump = join(o.dumpDir ?? tmpdir(), `pwa-sync-chaos-${o.seed}-${Date.now()}.json`);
      const audit = Object.fromEntries([...audits].map(([d, m]) => [d, [...m.values()]]));
      await writeFile(details.dump, JSON.stringify({ options: o, summary, failures, details: { ...details, dump: undefined }, clientIds: Object.fromEntries(clientIds), writes, history: changes, mutations: db.mutations, audit, events, snapshots, final: Object.fromEntries(final.docs), faultLog: faultStats.log }, null, 1));
    }
    return { ok: failures.length === 0, summary, failures, details };
  } finally {
    for (const f of cleanup.reverse()) await f().catch(() => {});
  }
}

function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
  return v;
}

/** The command that replays a run. */
export function replayCommand(o) {
  return `CHAOS_SEED=${o.seed} CHAOS_OPS=${o.ops} CHAOS_RATE=${o.rate} CHAOS_CLIENTS=${o.clients} CHAOS_TIME_LIMIT_S=${Math.round(o.timeLimitMs / 1000)} make chaos`;
}
