// The Chromium every bench script launches (bench/run.mjs, bench/shapes/run.mjs).
import { chromium } from "playwright-core";

/** Extra Chromium switches. By default IndexedDB on SQLite, the backend Chromium 156
 * uses for a fresh (in-memory) context by default and Firefox and Safari use; Chromium
 * 148 still defaults to LevelDB there, which counts 50,000 index entries 50x slower, so
 * runs on the two would not compare (bench/README "IndexedDB's backend"). Unknown
 * feature names are ignored; `BENCH_CHROMIUM_ARGS=""` runs the browser's default. */
export const CHROMIUM_ARGS = process.env.BENCH_CHROMIUM_ARGS ?? "--enable-features=IdbSqliteBackingStoreInMemoryContexts";

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-sync",
      ...CHROMIUM_ARGS.split(/\s+/).filter(Boolean)],
  });
}
