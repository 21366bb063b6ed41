// src/sync.ts
import init, { SyncClient, type SyncConfig } from "pwa-sync";

export type Item = { id: string; title: string };
export type Schema = { items: Item };

// One config for the pages and the worker (src/sw.ts), which flushes the same outbox on
// Background Sync. The worker calls `token` too: no localStorage or document there.
export const config: SyncConfig<Schema> = {
  name: "newcomer",
  endpoint: "/sync",
  token: () => "dev:newcomer", // the reference server's --dev-auth; your auth's token here
  collections: { items: { key: "id" } },
};

// Opened on first use, in the browser: nothing runs when the module is imported.
let opening: Promise<SyncClient<Schema>> | undefined;
export function openClient(): Promise<SyncClient<Schema>> {
  opening ??= init().then(() => SyncClient.open<Schema>(config));
  return opening;
}
