import { defineConfig } from "vite";

// The app. No plugin: Vite 8 compiles TSX itself, and it emits pwa-sync's .wasm as an
// asset because the wasm-bindgen glue locates it with new URL("…_bg.wasm", import.meta.url).
export default defineConfig({
  resolve: {
    // `npm install ../pkg` links the package; resolve its imports (react) from here, as
    // for a package installed from the registry.
    preserveSymlinks: true,
  },
  build: { target: "es2022" },
  server: {
    // `npm run dev` against `make demo`'s server on :8787 (the sync API).
    proxy: { "/sync": "http://127.0.0.1:8787" },
  },
});
