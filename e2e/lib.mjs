// Shared helpers for the end-to-end tests: a static file server for the repo and a
// headless Debian Chromium. Nothing here downloads a browser.
import { createServer } from "node:http";
import { cp, mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { extname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { tmpdir } from "node:os";
import { startBrowser } from "./browser-start.mjs";

export const ROOT = fileURLToPath(new URL("..", import.meta.url));

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".wasm": "application/wasm",
  ".json": "application/json",
  ".css": "text/css",
  ".md": "text/markdown; charset=utf-8",
};

/** Serve `root` on 127.0.0.1 at a free port; `extra` maps paths to generated pages. */
export async function serve(root = ROOT, extra = {}) {
  const server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url, "http://x").pathname);
    if (extra[path] !== undefined) {
      res.writeHead(200, { "content-type": TYPES[extname(path)] ?? "text/html; charset=utf-8" });
      res.end(extra[path]);
      return;
    }
    const file = normalize(join(root, path));
    if (!file.startsWith(root)) {
      res.writeHead(403).end();
      return;
    }
    try {
      const info = await stat(file);
      const body = await readFile(info.isDirectory() ? join(file, "index.html") : file);
      res.writeHead(200, { "content-type": TYPES[extname(file)] ?? "application/octet-stream" });
      res.end(body);
    } catch {
      res.writeHead(404).end("not found");
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise((r) => server.close(r)) };
}

export async function launch() {
  return startBrowser("Chromium", () => chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
      "--disable-sync",
    ],
  }));
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** The page `html`, served at `path` beside the repository, in a fresh headless Chromium:
 * resolves to what `use({tab, requests, errors})` does once the page set `window.ready`
 * (`requests`: the paths it fetched; `errors`: its uncaught errors). `init` runs in the
 * page before its own scripts. The browser and the server are closed after. */
export async function withPage(path, html, use, { init } = {}) {
  const server = await serve(ROOT, { [path]: html });
  const browser = await launch();
  try {
    const tab = await browser.newPage();
    const requests = [];
    const errors = [];
    tab.on("request", (r) => requests.push(new URL(r.url()).pathname));
    tab.on("pageerror", (e) => errors.push(e.message));
    if (init) await tab.addInitScript(init);
    await tab.goto(`${server.url}${path}`);
    await tab.waitForFunction(() => window.ready, null, { timeout: 20_000 });
    return await use({ tab, requests, errors });
  } finally {
    await browser.close();
    await server.close();
  }
}

/** Resolves to `check()`'s first truthy value, polled every 100 ms; throws after `ms`. */
export async function until(what, check, ms = 20_000) {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** A throwaway copy of the e2e site `e2e/<name>` with the built `pkg/` in it; `remove()` deletes it. */
export async function siteWithPkg(name) {
  const dir = await mkdtemp(join(tmpdir(), `pwa-sync-${name}-`));
  await cp(join(ROOT, "e2e", name), dir, { recursive: true });
  await cp(join(ROOT, "pkg"), join(dir, "pkg"), { recursive: true });
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Children still running: `killChildren` ends them (a watchdog that gives up), and so
 * does this process's exit, so a test that throws before `stop()` leaves nothing running. */
const children = new Set();
export function killChildren() {
  for (const child of children) child.kill("SIGKILL");
}
process.once("exit", killChildren);

/** Spawn one of the project's binaries and wait for its "listening on URL" line. */
export async function startBinary(bin, args, name) {
  const child = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
  children.add(child);
  child.once("exit", () => children.delete(child));
  let stderr = "";
  child.stderr.on("data", (d) => { stderr = (stderr + d).slice(-20_000); });
  const url = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`${name} did not start: ${stderr}`)), 30_000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.once("exit", (code) => { clearTimeout(timer); reject(new Error(`${name} exited with ${code}: ${stderr}`)); });
  });
  return {
    url,
    stderr: () => stderr,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([exited, sleep(5000).then(() => child.kill("SIGKILL"))]);
    },
  };
}

/** The reference server on a free port, a throwaway SQLite database and dev auth;
 * resolves to {url, stop}. `args` are added. */
export async function startServer(args = []) {
  const dir = await mkdtemp(join(tmpdir(), "pwa-sync-e2e-"));
  const bin = process.env.PWA_SYNC_SERVER_BIN ?? join(ROOT, "target/debug/pwa-sync-server");
  const server = await startBinary(bin, ["--listen", "127.0.0.1:0", "--database", `sqlite://${dir}/sync.db`, "--dev-auth", ...args], "pwa-sync-server");
  return { ...server, stop: async () => { await server.stop(); await rm(dir, { recursive: true, force: true }); } };
}

/** Offline as a person is: the pages' network (setOffline), and the service workers' own
 * requests, which setOffline does not cut. */
export async function goOffline(context) {
  await context.setOffline(true);
  await context.route("**/*", (route) => route.abort("internetdisconnected"));
}

export async function goOnline(context) {
  await context.unroute("**/*");
  await context.setOffline(false);
}

/** What the server at `serverUrl` holds for `user`: one pull from checkpoint 0 with the
 * user's dev token, `{changes, checkpoint, hasMore}`. */
export async function pullAll(serverUrl, user, limit = 1000) {
  const res = await fetch(`${serverUrl}/sync/pull?checkpoint=0&limit=${limit}`, {
    headers: { authorization: `Bearer dev:${user}`, "x-sync-protocol": "1" },
    signal: AbortSignal.timeout(20_000),
  });
  if (res.status !== 200) throw new Error(`pull from the server: HTTP ${res.status}`);
  return res.json();
}

/** The fault proxy in front of `upstream`; `faults(body)` posts to its `/_faults`. */
export async function startProxy(upstream) {
  const bin = process.env.PWA_SYNC_PROXY_BIN ?? join(ROOT, "target/debug/pwa-sync-fault-proxy");
  const proxy = await startBinary(bin, ["--listen", "127.0.0.1:0", "--upstream", upstream, "--cors-any-origin"], "pwa-sync-fault-proxy");
  return {
    ...proxy,
    faults: async (body) => {
      const res = await fetch(`${proxy.url}/_faults`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      if (res.status !== 200) throw new Error(`the fault proxy refused ${JSON.stringify(body)}: ${res.status}`);
    },
  };
}

/** The CDP ServiceWorker domain of one context, on its own blank page. */
export async function serviceWorkerControl(context, origin) {
  const page = await context.newPage();
  await page.goto(`${origin}/blank.html`);
  const cdp = await context.newCDPSession(page);
  const state = { registrationId: null, versions: new Map() };
  cdp.on("ServiceWorker.workerRegistrationUpdated", ({ registrations }) => {
    for (const r of registrations) if (r.scopeURL.startsWith(origin) && !r.isDeleted) state.registrationId = r.registrationId;
  });
  cdp.on("ServiceWorker.workerVersionUpdated", ({ versions }) => {
    for (const v of versions) state.versions.set(v.versionId, v);
  });
  await cdp.send("ServiceWorker.enable");
  const end = Date.now() + 20_000;
  while (!state.registrationId) {
    if (Date.now() > end) throw new Error("no service worker registration");
    await sleep(50);
  }
  return {
    dispatchSync: (lastChance = false, tag = "pwa-sync") =>
      cdp.send("ServiceWorker.dispatchSyncEvent", { origin, registrationId: state.registrationId, tag, lastChance }),
    dispatchPeriodicSync: (tag = "pwa-sync") =>
      cdp.send("ServiceWorker.dispatchPeriodicSyncEvent", { origin, registrationId: state.registrationId, tag }),
    running: () => [...state.versions.values()].find((v) => v.runningStatus === "running"),
    stop: (versionId) => cdp.send("ServiceWorker.stopWorker", { versionId }),
  };
}


/** Run `script` (a module, with `pwa-sync` mapped to `entry` in pkg/) in a fresh page of
 * headless Chromium served from the repository; resolves once it finished, with what it
 * logged, a dump of every object store of IndexedDB database `db`, and the page's errors. */
export async function runExample(script, { entry = "pwa_sync.js", db } = {}) {
  const page = `<!doctype html><meta charset="utf-8">
<script type="importmap">{"imports": {"pwa-sync": "/pkg/${entry}"}}</script>
<script type="module">
${script}
window.__exampleDone = true;
</script>`;
  const server = await serve(ROOT, { "/example.html": page });
  const browser = await launch();
  try {
    const tab = await browser.newPage();
    const logs = [];
    const errors = [];
    tab.on("console", (m) => m.type() === "log" && logs.push(m.text()));
    tab.on("pageerror", (e) => errors.push(e.message));
    await tab.goto(`${server.url}/example.html`);
    await tab.waitForFunction(() => window.__exampleDone === true || undefined, null, { timeout: 30_000 })
      .catch(() => { throw new Error(`example did not finish; errors: ${errors.join("; ")}; logs: ${logs.join(" | ")}`); });
    const stores = db === undefined ? {} : await tab.evaluate(async (name) => {
      const conn = await new Promise((ok, fail) => {
        const req = indexedDB.open(name);
        req.onsuccess = () => ok(req.result);
        req.onerror = () => fail(req.error);
      });
      const dump = {};
      for (const store of conn.objectStoreNames) {
        dump[store] = await new Promise((ok, fail) => {
          const req = conn.transaction(store).objectStore(store).getAll();
          req.onsuccess = () => ok(req.result);
          req.onerror = () => fail(req.error);
        });
      }
      conn.close();
      return dump;
    }, db);
    return { logs, errors, stores };
  } finally {
    await browser.close();
    await server.close();
  }
}
