// The client configuration, shared by the page and the service worker: both open the
// same IndexedDB database, so they must agree on its name and collections.
import type { CollectionConfigs, SyncConfig } from "pwa-sync";
import type { ProgrammeSchema, Schema } from "./types";

/** One database for the app; signing out wipes it (`client.clear()`). */
export const DB_NAME = "conference-companion";

/** The space of the programme, which every attendee reads and organisers write. */
export const CONFERENCE = "conference";

export const collections: CollectionConfigs<Schema> = {
  // The attendee record drives the Now / Next card: it fires `attendee-data-updated`
  // with the record under `detail.attendee`, is refreshed by `getFresh` when older than
  // 30 minutes, and the access code from the registration desk never reaches storage.
  attendees: {
    key: "id",
    event: { name: "attendee-data-updated", valueField: "attendee" },
    ttlMs: 30 * 60_000,
    omit: ["accessCode"],
    // Two devices changing different fields both win; breakout lists merge in order.
    conflict: { strategy: "merge", arrays: { breakouts: "append" } },
  },
  // One record per item: two tabs, devices or people editing different fields of one item
  // merge. Each item lives in the space its `list` names: private, or a shared group list.
  // Listed in the order added, filtered by packed and by tag (a multi-entry index: an
  // item is found under each of its tags): `useQuery` in components/Packing.tsx.
  packing: {
    key: "id",
    spaceField: "list",
    conflict: { strategy: "merge" },
    indexes: ["addedAt", { field: "tags", multiEntry: true }],
  },
  // The organisers' edits of the programme: one space every attendee reads (the server
  // runs with `--everyone conference=reader`), written by its owners.
  programme: { key: "id", space: CONFERENCE },
  // Notes are prose: when two devices changed the same note, the person decides.
  notes: { key: "id", conflict: "manual" },
};

/**
 * The programme's sessions as a local database the page queries (`useQuery`: one day,
 * in start order, through the compound index `[day+start]`). Built from the day's
 * layout and the organisers' edits, so it is kept in memory and never synced: no
 * endpoint, `storage: "memory"`, and its own event target, so its events stay apart
 * from the app client's.
 */
export function programmeConfig(): SyncConfig<ProgrammeSchema> {
  return {
    name: `${DB_NAME}-programme`,
    storage: "memory",
    eventTarget: new EventTarget(),
    collections: { sessions: { key: "id", indexes: [["day", "start"]] } },
  };
}

/** The sync API on this origin (the reference server serves the app and `/sync`). */
export const endpoint = (): string => new URL("/sync", globalThis.location.href).href;

/** The dev-auth token of the reference server (`--dev-auth`): `dev:<name>`. */
export const devToken = (user: string): string => `dev:${user}`;

/**
 * The config both contexts open with. A page listens to the server's pokes (`realtime`)
 * and pulls every minute; the service worker syncs on its own events only.
 */
export function clientConfig(token: () => string | Promise<string>, where: "page" | "worker"): SyncConfig<Schema> {
  return where === "page"
    ? { name: DB_NAME, endpoint: endpoint(), token, collections, realtime: true, pullIntervalMs: 60_000 }
    : { name: DB_NAME, endpoint: endpoint(), token, collections };
}

// How the service worker learns who is signed in (see README: "Tokens and the service
// worker"). The page keeps the name in localStorage for itself; for the worker it posts
// the name in a message (kept in the worker's memory) and leaves it in one Cache Storage
// entry, so a worker woken by Background Sync with no page open can still sync. Only the
// name is kept: the library never stores a token, and the worker derives the dev token
// from the name when it needs one. Signing out deletes the entry.
export const SESSION_CACHE = "conference-session";
export const SESSION_URL = "/__conference-session";
export type SessionMessage = { type: "conference:session"; user: string | null };
