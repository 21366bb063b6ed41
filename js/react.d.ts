import type {
    AnyCollections, CollectionName, CollectionTypes, ListQuery, OpenConflict, QueryOptions, SyncClient, SyncStatus,
} from "./pwa_sync.js";

/**
 * Where the client dispatches its events: the `eventTarget` it was opened with.
 * Default: `globalThis`. `useDoc` and `useCollection` do not need it (they are the
 * client's `watch`, which follows its own target) and accept it for code written before.
 */
export interface SyncHookOptions {
    eventTarget?: EventTarget;
}

/**
 * A client, or nothing yet while it opens (or during server rendering): every hook then
 * returns `undefined`. The hooks take their record types from the client's.
 */
export type MaybeClient<C extends CollectionTypes<C> = AnyCollections> = SyncClient<C> | null | undefined;

/**
 * The client's status, re-rendering on `pwa-sync:status`: `undefined` without a client.
 * The same object until something changes.
 */
export function useSyncStatus<C extends CollectionTypes<C>>(client: MaybeClient<C>, options?: SyncHookOptions): SyncStatus | undefined;

/** Local writes the server has not acknowledged yet: `undefined` without a client. */
export function usePendingCount<C extends CollectionTypes<C>>(client: MaybeClient<C>, options?: SyncHookOptions): number | undefined;

/**
 * One record, kept current (`client.watch(collection, key)`): `undefined` until the first
 * read (or without a client or key), `null` when there is no such record. A
 * `pwa-sync:change` for the key brings the new value itself, so it shows in the same frame
 * as the event. Typed by the client: `SyncClient<{ trips: Trip }>` gives `Trip`.
 */
export function useDoc<C extends CollectionTypes<C>, K extends CollectionName<C>>(
    client: MaybeClient<C>,
    collection: K,
    key: string | null | undefined,
    options?: SyncHookOptions,
): C[K] | null | undefined;

/**
 * A collection's records in key order, all or those matching `query` (`list`'s), kept
 * current (`client.watch` of the same query): `undefined` until the first read (or without
 * a client); the same array until the answer changes.
 */
export function useCollection<C extends CollectionTypes<C>, K extends CollectionName<C>>(
    client: MaybeClient<C>,
    collection: K,
    query?: ListQuery<C[K]>,
    options?: SyncHookOptions,
): C[K][] | undefined;

/**
 * Manual conflicts waiting for the app, oldest first, kept current: `undefined` until the
 * first read (or without a client). Settle one with `client.resolveConflict(id, choice)`.
 */
export function useConflicts<C extends CollectionTypes<C>>(client: MaybeClient<C>, options?: SyncHookOptions): OpenConflict[] | undefined;

/**
 * The records of `client.query(collection, query)`, kept current (`client.watch`):
 * `undefined` until the first answer (or without a client); the same array until the
 * answer changes. An invalid query throws `invalid-query` when the component mounts.
 */
export function useQuery<C extends CollectionTypes<C>, K extends CollectionName<C>>(
    client: MaybeClient<C>,
    collection: K,
    query?: QueryOptions<C[K]>,
): C[K][] | undefined;
