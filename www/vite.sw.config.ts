import { defineConfig } from "vite";
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

// The service worker, built after the app (`npm run build`) into dist/sw.js: one classic
// script (Firefox before 147 runs no module worker) with the precache list of every file
// of the app build written in, so that a new build is a new worker (and a new cache).
const dist = "dist";

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

export default defineConfig(() => {
  const built = files(dist)
    .map((f) => relative(dist, f).split("\\").join("/"))
    .filter((f) => f !== "sw.js" && !f.startsWith(".vite/") && !f.endsWith(".map"))
    // The cipher of pwa-sync's encryption at rest, split out by Vite: this app does not
    // configure `encryption`, so nothing ever loads it.
    .filter((f) => !f.includes("pwa_sync_seal"))
    .sort();
  if (!built.includes("index.html")) throw new Error("build the app first: dist/index.html is missing");
  const hash = createHash("sha256");
  for (const f of built) hash.update(f).update(readFileSync(join(dist, f)));
  return {
    publicDir: false,
    resolve: { preserveSymlinks: true },
    define: {
      __PRECACHE__: JSON.stringify(["/", ...built.map((f) => `/${f}`)]),
      __SHELL_VERSION__: JSON.stringify(hash.digest("hex").slice(0, 12)),
      // A classic script has no import.meta: the .wasm's URL, which Vite has made
      // absolute (/assets/...), needs a base, the worker's own address.
      "import.meta.url": "self.location.href",
    },
    build: {
      target: "es2022",
      outDir: dist,
      emptyOutDir: false,
      copyPublicDir: false,
      rollupOptions: {
        input: { sw: "src/sw.ts" },
        output: { format: "iife", entryFileNames: "[name].js", assetFileNames: "assets/[name]-[hash][extname]" },
      },
    },
  };
});
