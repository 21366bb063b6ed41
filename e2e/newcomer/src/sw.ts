// src/sw.ts
import { installSyncWorker } from "pwa-sync/sw";
import { cleanupOutdatedCaches, createHandlerBoundToURL, precacheAndRoute } from "workbox-precaching";
import { NavigationRoute, registerRoute } from "workbox-routing";
import { config } from "./sync.ts";

declare const self: ServiceWorkerGlobalScope;

// The app shell: the files of this build, cached at install and served from the cache.
precacheAndRoute(self.__WB_MANIFEST);
cleanupOutdatedCaches();
// A navigation (a reload, a link) answered with index.html, so the app opens offline.
registerRoute(new NavigationRoute(createHandlerBoundToURL("index.html"), { denylist: [/^\/sync\//] }));
// Syncing: Background Sync, periodic sync and flush requests, with the pages' config.
installSyncWorker({ config });
