// A replay of what the chaos harness found (FINDINGS.md, finding 2): a local write that
// lands between the sync engine's read of the outbox and its `mark_sent` is folded into
// an entry that is already on its way; the server applies the old content, the answer
// removes the new one, and the write is lost while the client shows it as synced.
// One tab, no faults: writes race syncs with a sweep of small delays until it happens.
// `node e2e/chaos/repro-coalesce.mjs`; exits 1 while the finding stands, 0 if 500
// attempts never hit it.
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ROOT, launch } from "../lib.mjs";
import { startBinary } from "./harness.mjs";

const HERE = fileURLToPath(new URL(".", import.meta.url));
const USER = "coalesce";
const work = await mkdtemp(join(tmpdir(), "pwa-sync-coalesce-"));
const site = join(work, "site");
await cp(join(HERE, "site"), site, { recursive: true });
await cp(join(ROOT, "pkg"), join(site, "pkg"), { recursive: true });
const server = await startBinary(join(ROOT, "target/debug/pwa-sync-server"),
  ["--listen", "127.0.0.1:0", "--database", `sqlite://${work}/sync.db`, "--dev-auth", "--cors-any-origin", "--static", site], "server");
const browser = await launch();
let code = 2;
try {
  const page = await (await browser.newContext()).newPage();
  await page.goto(`${server.url}/?user=${USER}&endpoint=${encodeURIComponent(`${server.url}/sync`)}&autosync=0`);
  await page.waitForFunction(() => window.app, null, { timeout: 30_000 });
  await new Promise((r) => setTimeout(r, 1000)); // the worker's start-up flush is done
  const found = await page.evaluate(async ({ url, user }) => {
    const { client } = window.app;
    const serverValue = async (key) => {
      const res = await fetch(`${url}/sync/pull?checkpoint=0&limit=1000`, { headers: { authorization: `Bearer dev:${user}`, "x-sync-protocol": "1" } });
      return (await res.json()).changes.find((c) => c.collection === "notes" && c.key === key)?.value ?? null;
    };
    const settle = async () => { for (let i = 0; i < 3; i++) await client.sync().catch(() => {}); };
    for (let i = 0; i < 500; i++) {
      const key = `k${i}`;
      await client.put("notes", { id: key, a: `first${i}` }); // an unsent entry for key
      const syncing = client.sync().catch(() => {});
      // Land the second write at a slightly different point of that sync each time.
      const spins = i % 14;
      for (let s = 0; s < spins; s++) await new Promise((r) => setTimeout(r, 0));
      await client.put("notes", { id: key, a: `second${i}` });
      await syncing;
      await settle();
      const local = await client.get("notes", key);
      const remote = await serverValue(key);
      const pending = await client.pending();
      if (local?.a !== remote?.a) return { attempt: i, spins, local, remote, pending };
    }
    return null;
  }, { url: server.url, user: USER });
  if (found) {
    console.log(`FINDING STANDS: attempt ${found.attempt} (${found.spins} timer turns after sync() started):`);
    console.log(`  local ${JSON.stringify(found.local)}, server ${JSON.stringify(found.remote)}, pending ${found.pending}`);
    code = 1;
  } else {
    console.log("ok: 500 writes raced against syncs, every one reached the server");
    code = 0;
  }
} finally {
  await browser.close();
  await server.stop();
  await rm(work, { recursive: true, force: true });
}
process.exit(code);
