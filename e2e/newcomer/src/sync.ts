// src/sync.ts
import init, { SyncClient } from "pwa-sync";

// One config for the pages and the worker (src/sw.ts), which flushes the same outbox on
// Background Sync. The worker calls `token` too: no localStorage or document there.
export const config = {
  name: "newcomer",
  endpoint: "/sync",
  token: () => "dev:newcomer", // the reference server's --dev-auth; your auth's token here
  collections: { items: { key: "id" } },
};

export type Item = { id: string; title: string };

// Opened on first use, in the browser: nothing runs when the module is imported.
let opening: Promise<SyncClient> | undefined;
export function openClient(): Promise<SyncClient> {
  opening ??= init().then(() => SyncClient.open(config));
  return opening;
}
