// A scripted, deterministic replay of what the chaos harness found (FINDINGS.md, finding
// 2): after "an edit beats a concurrent delete" revives a record, its merge base is gone,
// and the revived record, stamped when the conflict was settled, overwrites a newer
// re-creation of the key by another device, fields nobody edited included.
// `node e2e/chaos/repro-revival.mjs`; exits 1 while the finding stands, 0 once fixed.
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ROOT, launch } from "../lib.mjs";
import { startBinary, pullAll } from "./harness.mjs";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const USER = "revival";
const work = await mkdtemp(join(tmpdir(), "pwa-sync-revival-"));
const site = join(work, "site");
await cp(join(HERE, "site"), site, { recursive: true });
await cp(join(ROOT, "pkg"), join(site, "pkg"), { recursive: true });
const server = await startBinary(join(ROOT, "target/debug/pwa-sync-server"),
  ["--listen", "127.0.0.1:0", "--database", `sqlite://${work}/sync.db`, "--dev-auth", "--cors-any-origin", "--static", site], "server");
const proxy = await startBinary(join(ROOT, "target/debug/pwa-sync-fault-proxy"),
  ["--listen", "127.0.0.1:0", "--upstream", server.url, "--cors-any-origin"], "proxy");
const browser = await launch();
let code = 2;
try {
  // B syncs through the fault proxy, A and C straight to the server.
  const open = async (base) => {
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${server.url}/?user=${USER}&endpoint=${encodeURIComponent(`${base}/sync`)}&autosync=0`);
    await page.waitForFunction(() => window.app, null, { timeout: 30_000 });
    return page;
  };
  const [A, B, C] = [await open(server.url), await open(proxy.url), await open(server.url)];
  await new Promise((r) => setTimeout(r, 1000)); // each worker's start-up flush is done
  const call = (page, fn, arg) => page.evaluate(fn, arg);
  const sync = (page) => call(page, () => window.app.syncOnce());
  const write = (page, op) => call(page, (op) => window.app.write(op), op);
  const step = (what, value) => console.log(`${what.padEnd(58)} ${value === undefined ? "" : JSON.stringify(value)}`);

  await write(A, { kind: "put", collection: "notes", key: "k", fields: { a: "A1", b: "A1", c: "A1" } });
  await sync(A); await sync(B); await sync(C);
  step("1. A puts k {A1,A1,A1}; everyone syncs", (await pullAll(server.url, USER)).docs.get("notes/k"));
  await write(A, { kind: "delete", collection: "notes", key: "k" });
  await sync(A);
  step("2. A deletes k and syncs", (await pullAll(server.url, USER)).docs.get("notes/k"));
  await write(B, { kind: "patch", collection: "notes", key: "k", fields: { a: "B2" } });
  step("3. B (has not seen the delete) patches a = B2");
  await sync(C);
  await write(C, { kind: "put", collection: "notes", key: "k", fields: { a: "C3", b: "C3", c: "C3" } });
  step("4. C sees the delete and re-creates k {C3,C3,C3} (not synced)");
  // B's push conflicts with the tombstone: the edit wins, B queues the revived record,
  // stamped now. Every push after that first one (which would carry the revived record)
  // is dropped by the proxy until C is through (B's service worker retries it too: a
  // failed flush registers Background Sync).
  const rules = [
    { path: "/sync/push", fault: { kind: "delay", ms: 1 }, times: 1 },
    { path: "/sync/push", fault: { kind: "drop_request" }, times: 1000 },
  ];
  await fetch(`${proxy.url}/_faults`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ rules }) });
  step("5. B syncs; the push of its revived record is dropped", await sync(B));
  step("   B's audit", (await call(B, () => window.app.audit())).map((e) => ({ server: e.server, base: e.base, result: e.result })));
  step("   B pending", await call(B, () => window.app.client.pending()));
  await sync(C);
  step("6. C syncs", (await pullAll(server.url, USER)).docs.get("notes/k"));
  await fetch(`${proxy.url}/_faults`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ rules: [] }) });
  step("7. B syncs", await sync(B));
  await sync(A); await sync(C); await sync(B);
  const final = (await pullAll(server.url, USER)).docs.get("notes/k");
  step("   final on the server", final);
  step("   B's audit (newest first)", (await call(B, () => window.app.audit())).map((e) => ({ server: e.server, base: e.base, result: e.result })));
  // B edited a only; b and c of the record B revived are what A deleted. C re-created the
  // key after the delete and after B's edit: C's b and c must stay (and by edit time its a
  // too), whatever way the conflict goes.
  const stale = final && (final.b === "A1" || final.c === "A1");
  console.log(stale
    ? "FINDING STANDS: fields deleted before C's re-creation (b, c = A1) overwrote C's newer write"
    : "ok: C's newer fields kept");
  code = stale ? 1 : 0;
} finally {
  await browser.close();
  await proxy.stop();
  await server.stop();
  await rm(work, { recursive: true, force: true });
}
process.exit(code);
