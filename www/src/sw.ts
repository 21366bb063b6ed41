/// <reference lib="webworker" />
// The service worker, bundled by Vite into /sw.js, a classic script (vite.sw.config.ts).
// Static imports only, no top-level await, every listener added during the first
// evaluation. It precaches the app shell and the wasm, serves them offline, and syncs
// the outbox on Background Sync (through pwa-sync/sw).
import { installSyncWorker } from "pwa-sync/sw";
import { SESSION_CACHE, SESSION_URL, clientConfig, devToken, type SessionMessage } from "./config";

declare const self: ServiceWorkerGlobalScope;
/** Every file of the build (written in by vite.sw.config.ts). */
declare const __PRECACHE__: string[];
declare const __SHELL_VERSION__: string;

const SHELL = `conference-shell-${__SHELL_VERSION__}`;

// Who is signed in: pages post it (kept here, in memory only); a worker started with no
// page open (Background Sync) reads the name the page left in Cache Storage. Only the
// name is kept anywhere; the dev token is derived from it when the client asks.
let user: string | null | undefined;

async function currentUser(): Promise<string | null> {
  if (user !== undefined) return user;
  const response = await (await caches.open(SESSION_CACHE)).match(SESSION_URL);
  if (!response) return null;
  const session = (await response.json()) as { user?: unknown };
  return typeof session.user === "string" ? session.user : null;
}

installSyncWorker({
  config: clientConfig(async () => {
    const name = await currentUser();
    if (!name) throw new Error("nobody is signed in");
    return devToken(name);
  }, "worker"),
});

self.addEventListener("message", (event) => {
  const data = event.data as Partial<SessionMessage> | null;
  if (data?.type === "conference:session") user = data.user ?? null;
});

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches
      .open(SHELL)
      .then((cache) => cache.addAll(__PRECACHE__))
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) {
        if (name.startsWith("conference-shell-") && name !== SHELL) await caches.delete(name);
      }
      // Control the page that registered us, so it works offline from its first load.
      await self.clients.claim();
    })(),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  // The sync API is the client's business: never cached, never answered from here.
  if (url.origin !== self.location.origin || url.pathname.startsWith("/sync")) return;
  event.respondWith(request.mode === "navigate" ? page(request) : asset(request));
});

/** Pages: the network when it answers within 3 s (a new deploy shows at once), else the shell. */
async function page(request: Request): Promise<Response> {
  try {
    const response = await Promise.race([
      fetch(request),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error("slow network")), 3_000)),
    ]);
    if (response.ok) return response;
  } catch {
    // Offline or too slow: the cached shell below.
  }
  const cache = await caches.open(SHELL);
  return (await cache.match("/index.html")) ?? (await cache.match("/")) ?? Response.error();
}

/** Built files have content hashes in their names: the cache first, then the network. */
async function asset(request: Request): Promise<Response> {
  const cached = await (await caches.open(SHELL)).match(request);
  return cached ?? fetch(request);
}
