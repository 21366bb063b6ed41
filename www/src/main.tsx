import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import "./styles.css";

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App />
  </StrictMode>,
);

// The service worker precaches the app and the wasm and syncs in the background. It is
// built by Vite (vite.sw.config.ts) into /sw.js, a classic script, which every browser
// runs (Firefox before 147 has no module service workers).
if ("serviceWorker" in navigator && import.meta.env.PROD) {
  navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch((error: unknown) => {
    console.warn("service worker registration failed", error);
  });
}
