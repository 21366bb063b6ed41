import type { ListQuery, OpenConflict, SyncClient, SyncRecord, SyncStatus } from "./pwa_sync.js";

/**
 * Where the client dispatches its events: the `eventTarget` it was opened with.
 * Default: `globalThis`.
 */
export interface SyncHookOptions {
    eventTarget?: EventTarget;
}

/** A client, or nothing yet while it opens: every hook then returns `undefined`. */
export type MaybeClient = SyncClient | null | undefined;

/**
 * The client's status, re-rendering on `pwa-sync:status`: `undefined` without a client.
 * The same object until something changes.
 */
export function useSyncStatus(client: MaybeClient, options?: SyncHookOptions): SyncStatus | undefined;

/** Local writes the server has not acknowledged yet: `undefined` without a client. */
export function usePendingCount(client: MaybeClient, options?: SyncHookOptions): number | undefined;

/**
 * One record, kept current: `undefined` until the first read (or without a client or
 * key), `null` when there is no such record. A `pwa-sync:change` for the key brings the
 * new value itself, so it shows in the same frame as the event. `T` describes the record; declare it with
 * `type`, not `interface` (an interface has no index signature, so it is not a
 * `SyncRecord`).
 */
export function useDoc<T extends SyncRecord = SyncRecord>(
    client: MaybeClient,
    collection: string,
    key: string | null | undefined,
    options?: SyncHookOptions,
): T | null | undefined;

/**
 * A collection's records in key order, all or those matching `query`, kept current:
 * `undefined` until the first read (or without a client).
 */
export function useCollection<T extends SyncRecord = SyncRecord>(
    client: MaybeClient,
    collection: string,
    query?: ListQuery,
    options?: SyncHookOptions,
): T[] | undefined;

/**
 * Manual conflicts waiting for the app, oldest first, kept current: `undefined` until the
 * first read (or without a client). Settle one with `client.resolveConflict(id, choice)`.
 */
export function useConflicts(client: MaybeClient, options?: SyncHookOptions): OpenConflict[] | undefined;
