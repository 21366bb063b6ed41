// What the stored objects' shape costs a range read, apart from any library code: four
// databases of 100,000 records filled by raw IndexedDB, each with an index over `n`,
// then `index.getAll(range, 1001)` over 10,000-record ranges, 20 places x 3 rounds, the
// four taken by turns. Shapes (page.html): Dexie's (the value itself; outbox entries
// `{collection, key, op, value, at}`), pwa-sync's today (`{key, value, version, hlc,
// pending, updatedAt}`, its outbox entries and their `by_key` index), the same synced
// (no outbox), and the values bare with the metadata in a store of its own.
// `node bench/shapes/run.mjs` prints each run's medians in ms. SHAPES_ARGS: Chromium
// switches (default: IndexedDB on SQLite, as bench/run.mjs); SHAPES_RUNS (default 2).
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { chromium } from "../node_modules/playwright-core/index.mjs";

const html = readFileSync(new URL("page.html", import.meta.url));
const server = createServer((_, res) => {
  res.setHeader("content-type", "text/html");
  res.end(html);
}).listen(0, "127.0.0.1");
await new Promise((r) => server.once("listening", r));
const extra = process.env.SHAPES_ARGS ?? "--enable-features=IdbSqliteBackingStoreInMemoryContexts";
const args = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", ...extra.split(/\s+/).filter(Boolean)];
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium", args });
console.log(`Chromium ${browser.version()} ${extra}`);
try {
  for (let run = 0; run < Number(process.env.SHAPES_RUNS ?? 2); run++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    await page.waitForFunction(() => window.ready);
    console.log(`run ${run + 1}: ${JSON.stringify(await page.evaluate(() => window.run(100000, 20, 3)))}`);
    await context.close();
  }
} finally {
  await browser.close();
  server.close();
}
