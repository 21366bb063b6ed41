// vite.config.ts
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";
import { VitePWA } from "vite-plugin-pwa";

export default defineConfig({
  plugins: [
    react(),
    VitePWA({
      // Your own worker, src/sw.ts, bundled by Vite into dist/sw.js (an ES module), with
      // the list of the build's files written into it where it says self.__WB_MANIFEST.
      strategies: "injectManifest",
      srcDir: "src",
      filename: "sw.ts",
      injectRegister: false, // src/main.tsx registers it
      manifest: false, // or your web app manifest, which the plugin then writes and links
      injectManifest: {
        // The app shell, and pwa-sync's .wasm, which the page loads too.
        globPatterns: ["**/*.{html,js,css,svg,wasm}"],
      },
    }),
  ],
  // `vite dev` and `vite preview` in front of your sync server (here on :8787).
  server: { proxy: { "/sync": "http://127.0.0.1:8787" } },
  preview: { proxy: { "/sync": "http://127.0.0.1:8787" } },
});
