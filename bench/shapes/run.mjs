// What the stored objects' shape costs a range read, apart from any library code: seven
// databases of 100,000 records filled by raw IndexedDB, each with an index over `n`,
// then `index.getAll(range, 1001)` over 10,000-record ranges, 20 places x 3 rounds, the
// seven taken by turns. Shapes (page.html): Dexie's (the value itself; outbox entries
// `{collection, key, op, value, at}`), pwa-sync's today (`{key, value, version, hlc,
// pending, updatedAt}`, its outbox entries and their `by_key` index), the same synced
// (no outbox), ours with the read before a write issued but not awaited, two with less
// wrapper (`compact`: `{key, value, m}` with the metadata as one string; `flat`: the
// value's own fields and the metadata in one reserved property), and the values bare
// with the metadata in a store of its own. Each read is also timed with the least work
// that hands the app its values (each record's `value`; for `flat`, each row copied
// without its reserved property, and apart from that, stripped by `delete`), and each
// shape counts half of its records through the same index.
// Writes too: the time to fill each (10 transactions of 10,000 records and entries),
// and SHAPES_WRITES (default 2,000) single writes of new records, a transaction each
// with the read pwa-sync does first, 50 per shape by turns.
// `node bench/shapes/run.mjs` prints each run's medians in ms. The browser is the
// bench's (bench/chromium.mjs: BENCH_CHROMIUM_ARGS, IndexedDB on SQLite by default);
// SHAPES_RUNS (default 2); SHAPES_WRITES=0 times reads and fills only.
import { createServer } from "node:http";
import { readFileSync } from "node:fs";
import { CHROMIUM_ARGS, launch } from "../chromium.mjs";

const files = {
  "/": ["text/html", readFileSync(new URL("page.html", import.meta.url))],
  "/data.js": ["text/javascript", readFileSync(new URL("../page/data.js", import.meta.url))],
};
const server = createServer((req, res) => {
  const file = files[req.url];
  if (!file) return res.writeHead(404).end();
  res.setHeader("content-type", file[0]);
  res.end(file[1]);
}).listen(0, "127.0.0.1");
await new Promise((r) => server.once("listening", r));
const browser = await launch();
console.log(`Chromium ${browser.version()} ${CHROMIUM_ARGS}`);
try {
  for (let run = 0; run < Number(process.env.SHAPES_RUNS ?? 2); run++) {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`http://127.0.0.1:${server.address().port}/`);
    await page.waitForFunction(() => window.ready);
    console.log(`run ${run + 1}: ${JSON.stringify(await page.evaluate((w) => window.run(100000, 20, 3, w), Number(process.env.SHAPES_WRITES ?? 2000)))}`);
    await context.close();
  }
} finally {
  await browser.close();
  server.close();
}
