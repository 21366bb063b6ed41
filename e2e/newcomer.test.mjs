// The package as a newcomer meets it: a fresh Vite + React + TypeScript app (e2e/newcomer/,
// from `npm create vite@latest -- --template react-ts`, skipLibCheck off) installs the
// `npm pack` tarball of pkg/, follows the package README's service-worker recipe, is
// type-checked and built (`npm run build`: tsc -b && vite build), served by the reference
// server and driven in Chromium. Build pkg/ first: `make test-e2e` does.
// Its lockfile resolves vite to 8.3.8 (package.json keeps the template's ^8.3.4): vite
// 8.4's optional dependency napi-windows-process-start-time is not on the registry this
// project installs from, so npm install leaves it out and `npm ci` then refuses the lockfile.
import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { access, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ROOT, launch, startServer, goOffline, pullAll, until } from "./lib.mjs";

const APP = join(ROOT, "e2e/newcomer");
const T = 20_000; // every wait in the browser is bounded by this

const run = async (cmd, args, cwd) => {
  try {
    return await promisify(execFile)(cmd, args, { cwd, maxBuffer: 64 << 20 });
  } catch (e) {
    throw new Error(`${cmd} ${args.join(" ")} failed in ${cwd}:\n${e.stdout}${e.stderr}`);
  }
};

/** The code blocks of the package README that name a file of the fixture on their first line. */
async function readmeFiles() {
  const readme = await readFile(join(ROOT, "js/README.md"), "utf8");
  return [...readme.matchAll(/```[a-z]*\n(\/\/ (\S+)\n[\s\S]*?)```/g)].map((m) => ({ path: m[2], text: m[1] }));
}

test("the package README's marked code blocks are the fixture app's files, unchanged", async () => {
  const blocks = await readmeFiles();
  const names = blocks.map((b) => b.path);
  for (const f of ["vite.config.ts", "src/sw.ts", "src/sync.ts", "src/main.tsx", "src/App.tsx"]) assert.ok(names.includes(f), `js/README.md shows ${f}`);
  for (const { path, text } of blocks) {
    assert.equal(text, await readFile(join(APP, path), "utf8"), `js/README.md's block "// ${path}" differs from e2e/newcomer/${path}`);
  }
});

// The build and the browser, for this test only: the README check above needs neither.
describe("the newcomer app, built and served", () => {
  let server;
  let browser;
  let tarballDir;

  before(async () => {
    await access(join(ROOT, "pkg/package.json")).catch(() => {
      throw new Error("pkg/ is not built: run `make test-e2e` (or `make build`)");
    });
    // The registry dependencies come from the fixture's lockfile (`scripts/setup.sh node`
    // runs `npm ci` there when node_modules is missing or older than the lockfile).
    await access(join(APP, "node_modules/.bin/vite")).catch(() => {
      throw new Error("e2e/newcomer/node_modules is missing: run `scripts/setup.sh node`");
    });
    tarballDir = await mkdtemp(join(tmpdir(), "pwa-sync-newcomer-"));
    const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", tarballDir], join(ROOT, "pkg"));
    const tarball = join(tarballDir, JSON.parse(stdout)[0].filename);
    // pwa-sync is not in the fixture's package.json nor its lockfile: the tarball of each
    // build has a new integrity hash, which a saved dependency would pin (and `npm ci` then
    // refuse). --no-save installs it beside the locked tree; --offline because everything
    // else is already installed, so a re-run needs no network.
    await run("npm", ["install", "--no-save", "--offline", "--no-audit", "--no-fund", tarball], APP);
    await run("npm", ["run", "build"], APP);
    server = await startServer(["--static", join(APP, "dist")]);
    browser = await launch();
  });

  after(async () => {
    await browser?.close();
    await server?.stop();
    if (tarballDir) await rm(tarballDir, { recursive: true, force: true });
  });

  /** Wait for the app's status line to read `expected`; a failure says what it read. */
  async function status(page, expected, logs) {
    const line = page.getByRole("status");
    await line.filter({ hasText: expected }).waitFor({ timeout: T }).catch(async () => {
      assert.fail(`the status read "${await line.textContent()}", not ${expected}; console: ${logs.join(" | ")}`);
    });
  }

  test("the newcomer app syncs a write, its service worker activates, and it opens offline with its data", async () => {
    const context = await browser.newContext();
    const errors = [];
    context.on("weberror", (e) => errors.push(e.error().message));
    try {
      const page = await context.newPage();
      const logs = [];
      page.on("console", (m) => m.type() !== "debug" && logs.push(`${m.type()}: ${m.text()}`));
      await page.goto(server.url);
      // On a first visit the page's first sync can meet the worker's (installSyncWorker
      // syncs when it starts): the page's status follows the worker's sync to "synced"
      // (it stayed "syncing" until the next sync before, in 2 of 4 runs).
      await status(page, /^synced, 0 pending$/, logs);
      await page.getByRole("button", { name: "Add" }).and(page.locator(":enabled")).waitFor({ timeout: T });
      await page.getByLabel("New item").fill("passport");
      await page.getByRole("button", { name: "Add" }).click();
      await page.getByRole("listitem").filter({ hasText: "passport" }).waitFor({ timeout: T });

      // The write reaches the server (the app's dev token is "dev:newcomer").
      const titles = async () => (await pullAll(server.url, "newcomer")).changes.map((c) => c.value?.title);
      await until("the server to hold the item", async () => (await titles()).includes("passport"), T);
      assert.deepEqual(await titles(), ["passport"]);
      await status(page, /^synced, 0 pending$/, logs);

      // The worker activates once it has precached the build (an install that fails never does).
      const worker = await until("the service worker to activate", () => page.evaluate(async () => {
        const active = (await navigator.serviceWorker.getRegistration())?.active;
        return active?.state === "activated" && active.scriptURL;
      }), T);
      assert.equal(worker, `${server.url}/sw.js`);

      // Offline, the page's and the worker's requests alike: a reload, and a link into the
      // app, open it from the worker's precache, with the data from IndexedDB.
      await goOffline(context);
      for (const url of [null, `${server.url}/items/passport`]) {
        const response = url ? await page.goto(url) : await page.reload();
        assert.ok(response?.fromServiceWorker(), `${url ?? "the reload"} was answered by the service worker`);
        await page.getByRole("listitem").filter({ hasText: "passport" }).waitFor({ timeout: T });
        await status(page, /^offline, 0 pending$/, logs);
      }
      assert.deepEqual(errors, []);
    } finally {
      await context.close();
    }
  });
});
