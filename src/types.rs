//! TypeScript types for the generated `.d.ts`: the shapes the JS API takes and returns,
//! so apps get precise types instead of `any`.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &str = r#"
// Error codes and event names come from the Rust core (pwa-sync-core's `names`), written
// into names.js / names.d.ts when the package is built.
import type { SyncErrorCode, SyncEventMap } from "./names.js";
export type { SyncErrorCode, SyncEventName, SyncEventMap } from "./names.js";

/** Any JSON value: what a record may hold. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [field: string]: JsonValue };

/** A stored record: a JSON object whose key field holds a string. */
export type SyncRecord = { [field: string]: JsonValue };

/**
 * The record type of each collection, as the app declares it, e.g.
 * `SyncClient.open<{ trips: Trip; attendees: Attendee }>(config)`. Record types may be
 * declared with `type` or `interface`.
 */
export type CollectionTypes<C> = { [K in keyof C]: object };

/** Without declared types: any collection name, records are `SyncRecord`s. */
export type AnyCollections = { [collection: string]: SyncRecord };

/** The collection names of `C`. */
export type CollectionName<C> = keyof C & string;

/** The top-level field names of a record type. */
export type FieldName<T> = keyof T & string;

/** A JSON Merge Patch (RFC 7386) of a record: fields to set, `null` to remove one. */
export type MergePatch<T> = { [F in keyof T]?: PatchValue<T[F]> };
/** Arrays are replaced whole, objects patched field by field. */
export type PatchValue<V> = V extends readonly unknown[] ? V | null : V extends object ? MergePatch<V> | null : V | null;

export type ConflictStrategy = "serverWins" | "clientWins" | "lastWriteWins" | "merge" | "manual";

/** Resolves a conflict in the app: return the value to keep (null deletes). */
export type ConflictResolver<T = SyncRecord> = (local: T | null, server: T | null, base: T | null) => T | null;

export interface ConflictOptions<T = SyncRecord> {
  strategy: ConflictStrategy;
  /** Per-field rule for arrays under `merge`; others are replaced. */
  arrays?: { [F in FieldName<T>]?: "union" | "append" | "replace" };
  /** Fields that go to `manual` when both sides changed them under `merge`. */
  manualFields?: FieldName<T>[];
  /** Under `lastWriteWins`, edits closer together than this go to `manual`. */
  manualWithinMs?: number;
}

export interface CollectionEvent {
  /** DOM event name, e.g. "attendee-data-updated". */
  name: string;
  /** Also put the value under this detail field, e.g. "attendee". */
  valueField?: string;
}

/** A collection's settings; `T` is its record type. */
export interface CollectionConfig<T = SyncRecord> {
  /** The field holding each record's key (a non-empty string). */
  key: FieldName<T>;
  /** Default: "merge". */
  conflict?: ConflictStrategy | ConflictOptions<T> | ConflictResolver<T>;
  /** The collection's own event, fired with every change. */
  event?: string | CollectionEvent;
  /** `getFresh` refreshes records older than this. */
  ttlMs?: number;
  /** Top-level fields never written to IndexedDB. */
  omit?: FieldName<T>[];
  /** Indexes for `query` (a field, `[field, field]`, or `{field, multiEntry: true}`); `list(collection, {index, equals})` takes single fields. */
  indexes?: IndexDeclaration<T>[];
  /** Every record lives in this shared space (e.g. "conference"). Default: the user's private space. */
  space?: string;
  /** This field of each record names its space (e.g. "groupId"); a record never moves between spaces. */
  spaceField?: FieldName<T>;
}

export interface RetryConfig {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** 0..1 */
  jitter: number;
}

/** Each collection's settings, for record types `C`. */
export type CollectionConfigs<C extends CollectionTypes<C> = AnyCollections> = { [K in keyof C]: CollectionConfig<C[K]> };

/** `SyncClient.open`'s config; `C` maps collection names to record types. */
export interface SyncConfig<C extends CollectionTypes<C> = AnyCollections> {
  /** Database name: one per app and user. */
  name: string;
  /** Base URL of the sync API (e.g. "/sync"). Leave out for local-only use. */
  endpoint?: string;
  token?: string | (() => string | Promise<string>);
  collections:
    | CollectionConfigs<C>
    | Array<{ [K in CollectionName<C>]: CollectionConfig<C[K]> & { name: K } }[CollectionName<C>]>;
  retry?: Partial<RetryConfig>;
  batchSize?: number;
  pullIntervalMs?: number;
  /** Listen to the server's event stream and sync when it pokes. Default: false. */
  realtime?: boolean;
  /** Sync by itself after writes, when online, on the interval and on pokes. Default: true. */
  autoSync?: boolean;
  /** One request, its answer's body included, fails with `timeout` after this long. Default: 10000 (10 s); at most 600000. */
  timeoutMs?: number;
  /** Audit entries kept (oldest dropped first). Default: 1000. */
  auditLimit?: number;
  /**
   * Encryption at rest: values sealed with AES-256-GCM. The key (32 bytes, or base64) stays in memory only. Not with `indexes`.
   * The cipher is a module of its own (the package's `seal/`), loaded by `open` only when this is set.
   */
  encryption?: {
    key: Uint8Array | ArrayBuffer | string;
    /** Where the cipher module comes from: resolves to the package's `pwa-sync/seal` module, e.g. `() => import("pwa-sync/seal")`. Default: that `import()`, set up by `init()` from `pwa-sync`; `installSyncWorker` passes one that loads it in a service worker. A rejection fails `open` with `storage`. */
    loadCipher?: () => Promise<{ Cipher: { fromKey(key: Uint8Array | ArrayBuffer | string): unknown }; default?: () => Promise<unknown> }>;
  };
  /** Where events are dispatched. Default: globalThis. */
  eventTarget?: EventTarget;
  /** The Background Sync tag pages register and the service worker helper answers (give both the same config). Default: "pwa-sync". */
  syncTag?: string;
  /** Where data lives. "memory": nothing is durable (for where IndexedDB is unavailable, e.g. some private modes); syncs the same way, over an in-memory IndexedDB that `init()` loads when such a client opens (`installSyncWorker` refuses it). Default: "indexeddb". */
  storage?: "indexeddb" | "memory";
  /** The app knows this device stored data under this name before: an empty database on open then counts as evicted (`pwa-sync:evicted`). Default: false. */
  expectStoredData?: boolean;
  /** The app's schema version of stored data (a whole number, default 1). Opening a database written at an older version runs `migrations` over it. */
  version?: number;
  /** `migrations[n]` turns a record of version n - 1 into one of version n, synchronously; it gets the record and its collection's name and returns the new record (same key). Run on open over every stored record and queued write (all or nothing: a throw rejects `open` with `migration-failed`), and over pulled documents of older versions. */
  migrations?: Record<number, (record: any, collection: CollectionName<C>) => object>;
}

export interface ListQuery<T = SyncRecord> {
  /** A declared index of the collection. */
  index?: FieldName<T>;
  /** Records whose indexed field equals this. Required with `index`. */
  equals?: string | number;
  limit?: number;
}

// ---- queries (issue 17) ----

/** A declared index: a field, a compound index over several fields, or a multi-entry index over an array field (one entry per element). */
export type IndexDeclaration<T = SyncRecord> = FieldName<T> | FieldName<T>[] | { field: FieldName<T>; multiEntry?: boolean };
/** What ranges compare, in IndexedDB's key order (numbers before strings). */
export type IndexKey = string | number;
/** A field's condition: every operator given must hold (on a multi-entry field, for one element). */
export interface QueryOperators {
  gt?: IndexKey;
  gte?: IndexKey;
  lt?: IndexKey;
  lte?: IndexKey;
  in?: (string | number | boolean | null)[];
  startsWith?: string;
}
/** The element type of an array field, else the field's type. */
export type FieldScalar<V> = (V extends readonly (infer E)[] ? E : V) & (string | number | boolean | null);
/** Conditions on fields, all of which must hold: a value (equality) or operators. */
export type Where<T = SyncRecord> = { [F in FieldName<T>]?: FieldScalar<T[F]> | QueryOperators };
/** A field, or "-field" for descending. */
export type OrderTerm<T = SyncRecord> = FieldName<T> | `-${FieldName<T>}`;
export interface QueryOptions<T = SyncRecord> {
  where?: Where<T>;
  /** Default: key order. */
  orderBy?: OrderTerm<T> | OrderTerm<T>[];
  limit?: number;
  /** The previous page's `next`. */
  after?: string | null;
}
/** A page of a query; `next` is null on the last page. */
export interface QueryPage<T = SyncRecord> {
  records: T[];
  next: string | null;
}
/** `client.explain`: the index a query uses (null: a scan), and whether the index gives its order. */
export interface QueryPlan {
  index: string | null;
  scan: boolean;
  orderByIndex: boolean;
}

export type SyncState = "synced" | "syncing" | "offline" | "error";

/** Every rejection of this library is a PwaSyncError with a stable `code`. */
export interface PwaSyncError extends Error {
  name: "PwaSyncError";
  code: SyncErrorCode;
}

export interface SyncStatus {
  state: SyncState;
  /** Local writes the server has not acknowledged yet. */
  pending: number;
  /** ms since the epoch, or null if never synced. */
  lastSyncedAt: number | null;
  lastError: { code: string; message: string } | null;
}

export interface ExportOptions {
  format: "json" | "csv";
}

export type ChangeOrigin = "local" | "remote" | "tab";

/** One record's change in collection `K` whose records are `T`. */
export interface RecordChange<K extends string = string, T = SyncRecord> {
  collection: K;
  key: string;
  /** null when the record was deleted. */
  value: T | null;
  origin: ChangeOrigin;
  /** Server version the change is based on; null if never synced. */
  version: number | null;
}

/** Detail of `pwa-sync:change`: with declared types, narrowing on `collection` types `value`. */
export type ChangeDetail<C extends CollectionTypes<C> = AnyCollections> = {
  [K in CollectionName<C>]: RecordChange<K, C[K]>;
}[CollectionName<C>];

/** Detail of a collection's own event: the change plus a timestamp and the version. */
export interface CollectionEventDetail extends RecordChange {
  timestamp: number;
  syncVersion: number | null;
  [valueField: string]: JsonValue | undefined;
}

export interface SyncResult {
  /** Mutations the server applied. */
  pushed: number;
  /** Changes pulled from the server. */
  pulled: number;
  conflicts: number;
  rejected: number;
  durationMs: number;
}

export interface SyncMetrics {
  syncs: number;
  /** Push requests (batches). */
  pushes: number;
  mutationsSent: number;
  failures: number;
  retries: number;
  conflicts: number;
  rejected: number;
  pulledChanges: number;
  p50SyncMs: number | null;
  p95SyncMs: number | null;
  pending: number;
  oldestPendingAgeMs: number | null;
  storage: StorageReport;
}

/** Where the data lives and how much room the origin has. */
export interface StorageReport {
  kind: "indexeddb" | "memory";
  /** False for memory only: data and queued writes end with the page or worker. */
  durable: boolean;
  /** `navigator.storage.estimate()` in bytes; null where the browser does not say. */
  usage: number | null;
  quota: number | null;
  /** `navigator.storage.persisted()`; null where unknown. */
  persisted: boolean | null;
}

export interface SyncHealth {
  status: "healthy" | "degraded" | "unhealthy";
  reasons: string[];
  storage: StorageReport;
}

/** A conflict or a rejection, and what became of it: `client.audit()`. */
export interface AuditEntry {
  at: number;
  kind: "conflict" | "rejected";
  collection: string;
  key: string;
  /** The strategy that decided (e.g. "serverWins"), or the rejection code. */
  strategy: string;
  /** "pending": a manual conflict when it was found; "app": when the app settled it. */
  decidedBy: "auto" | "app" | "server" | "pending";
  local: SyncRecord | null;
  server: SyncRecord | null;
  base: SyncRecord | null;
  result: SyncRecord | null;
  serverVersion: number | null;
}

/** A conflict waiting for the app: `client.conflicts()` lists them. */
export interface OpenConflict {
  id: number;
  collection: string;
  key: string;
  local: SyncRecord | null;
  server: SyncRecord | null;
  base: SyncRecord | null;
  /** ms since the epoch */
  detectedAt: number;
  serverVersion: number;
  /** Fields a merge could not settle (`manualFields`); empty when the whole record is in question. */
  fields: string[];
  /** The record's shared space, if it is not private. */
  space?: string;
}

/** Detail of `pwa-sync:conflict`: settled by a strategy (`open: false`, with `result`), or waiting for the app (`open: true`, with `id`). */
export interface ConflictDetail {
  id: number | null;
  open: boolean;
  collection: string;
  key: string;
  local: SyncRecord | null;
  server: SyncRecord | null;
  base: SyncRecord | null;
  strategy: ConflictStrategy | "custom";
  result: SyncRecord | null;
  fields: string[];
  serverVersion: number | null;
}

/** What a member may do in a space: pull (`reader`), also push (`writer`), also manage members (`owner`). */
export type SpaceRole = "reader" | "writer" | "owner";

/** One of the user's spaces (`client.spaces()`). */
export interface Space {
  id: string;
  role: SpaceRole;
}

/** Detail of `pwa-sync:spaces`: the spaces as now known, and those just revoked (their records are gone). */
export interface SpacesDetail {
  spaces: Space[];
  revoked: string[];
}

/** `getFresh(collection, key, {details: true})`: the record and how current it is. */
export interface Freshness<T = SyncRecord> {
  value: T | undefined;
  /** When the server last confirmed this record (ms since the epoch): the last completed sync; null while local writes to it are pending or before any sync. */
  fetchedAt: number | null;
  /** Whether fetchedAt is within the collection's ttlMs (when not, a background sync was started). */
  fresh: boolean;
  /** When the value was last changed, here or on the server (its HLC stamp's wall clock, which the server caps at its own time). */
  updatedAt: number | null;
  /** The record's server version; null if the server never had it. */
  version: number | null;
  /** Local writes to it not yet acknowledged. */
  pending: number;
}

/** A queued write: `pending({details: true})`. */
export interface PendingWrite {
  collection: string;
  key: string;
  op: "put" | "patch" | "delete";
  /** How many pushes carried it so far. */
  attempts: number;
  /** Why the last attempt failed (the client's last sync failure); null if it was never tried. */
  lastError: { at: number; code: SyncErrorCode; message: string } | null;
  /** When it was queued, ms since the epoch. */
  queuedAt: number;
}

export interface RejectedDetail {
  collection: string;
  key: string;
  mutationId: number;
  code: string;
  message: string;
}

export interface ProgressDetail {
  phase: "push" | "pull";
  done: number;
  total: number | null;
}

/** `pwa-sync:evicted`: the browser deleted this database; a full pull refills it. */
/** `pwa-sync:newer-schema`: a pulled document was written at a schema version newer than this app's `version`; it is stored as it is (ask the user to update). */
export interface NewerSchemaDetail {
  collection: string;
  key: string;
  /** The document's schema version. */
  schemaVersion: number;
  /** This app's `version`. */
  appVersion: number;
}

export interface EvictedDetail {
  /** The client id of the evicted database, if the marker kept it. */
  previousClientId: string | null;
  /** "marker": the device's marker outside IndexedDB; "hint": the config's `expectStoredData`. */
  evidence: "marker" | "hint" | "reopened";
}

export interface StorageErrorDetail {
  code: SyncErrorCode;
  message: string;
}

/**
 * An open sync client over one IndexedDB database. `C` maps each collection to its record
 * type (`SyncClient.open<{ trips: Trip }>(config)`): calls on a collection take and return
 * that type, and naming a collection `C` lacks is a type error.
 */
export class SyncClient<C extends CollectionTypes<C> = AnyCollections> {
  private constructor();
  /** Free the Rust side now rather than when the object is collected (after `close()`). */
  free(): void;
  /**
   * Open (or create) the database described by `config`. With an `endpoint`, the client
   * starts syncing in the background at once.
   */
  static open<C extends CollectionTypes<C> = AnyCollections>(config: SyncConfig<NoInfer<C>>): Promise<SyncClient<C>>;
  /** Store a whole record (its key field says which). Resolves to the stored value. */
  put<K extends CollectionName<C>>(collection: K, value: C[K]): Promise<C[K]>;
  /**
   * Store many whole records of one collection in one transaction: all of them, or
   * none if any is invalid (the error names its index) or storage fails. Each record
   * is a local write as with `put` (one change event each). Resolves to the count.
   */
  putMany<K extends CollectionName<C>>(collection: K, values: C[K][]): Promise<number>;
  /**
   * Merge `partial` into the stored record (JSON Merge Patch: `null` removes a field).
   * Resolves to the whole new value; rejects with `not-found` if there is no record.
   */
  patch<K extends CollectionName<C>>(collection: K, key: string, partial: MergePatch<C[K]>): Promise<C[K]>;
  /** Delete a record. Deleting a key that does not exist does nothing. */
  delete(collection: CollectionName<C>, key: string): Promise<void>;
  /** The record, or `undefined`. */
  get<K extends CollectionName<C>>(collection: K, key: string): Promise<C[K] | undefined>;
  /**
   * The stored record at once; if the data is older than the collection's `ttlMs`, a
   * sync runs in the background and the collection's event fires when it changes.
   */
  getFresh<K extends CollectionName<C>>(collection: K, key: string, options?: { details?: false }): Promise<C[K] | undefined>;
  /** The record with how current it is. */
  getFresh<K extends CollectionName<C>>(collection: K, key: string, options: { details: true }): Promise<Freshness<C[K]>>;
  /** Records in key order: all, or those whose indexed field equals a value. */
  list<K extends CollectionName<C>>(collection: K, query?: ListQuery<C[K]>): Promise<C[K][]>;
  /** A page of records matching `where`, in `orderBy` order; rejects with `invalid-query` for a bad query. */
  query<K extends CollectionName<C>>(collection: K, query?: QueryOptions<C[K]>): Promise<QueryPage<C[K]>>;
  /** How many records match `where`. */
  count<K extends CollectionName<C>>(collection: K, query?: { where?: Where<C[K]> }): Promise<number>;
  /** Which declared index a query uses, or that it scans. */
  explain<K extends CollectionName<C>>(collection: K, query?: QueryOptions<C[K]>): Promise<QueryPlan>;
  /**
   * Call `callback` with the query's records now and whenever they change (local writes,
   * pulls, other tabs); the same array while they have not. Returns the unsubscribe function.
   */
  watch<K extends CollectionName<C>>(collection: K, query: QueryOptions<C[K]>, callback: (records: C[K][]) => void): () => void;
  /** The same for one record (`null` while there is none). */
  watch<K extends CollectionName<C>>(collection: K, key: string, callback: (record: C[K] | null) => void): () => void;
  /**
   * Push everything queued, then pull until caught up. Rejects with the failure's class
   * as `code` (`network`, `timeout`, `auth`, `rate-limited`, `server`, `validation`,
   * `protocol`), or `local-only` without an endpoint.
   */
  sync(): Promise<SyncResult>;
  /**
   * For a service worker's `sync` event: like `sync()`, but with `{lastChance: true}` a
   * failure resolves (to `null`) instead of rejecting, leaving the outbox as it is and
   * the reason in `status().lastError`, since the browser will not try again.
   */
  flush(options?: { lastChance?: boolean }): Promise<SyncResult | null>;
  /** Number of local writes not yet acknowledged by the server, read from storage. */
  pending(options?: { details?: false }): Promise<number>;
  /** One entry per queued write, oldest first. */
  pending(options: { details: true }): Promise<PendingWrite[]>;
  /**
   * Drop every queued write and roll its record back to the server's value (change
   * events fire, other tabs follow); resolves to how many were dropped. Writes already
   * sent may still be applied by the server: the next pull then shows them.
   */
  discardPending(): Promise<number>;
  /** Pull every document again from the start, keeping pending writes, then sync (`local-only` without an endpoint). */
  resync(): Promise<SyncResult>;
  /** The current status. The same object is returned until something changes. */
  status(): SyncStatus;
  /** Counters and sync latencies of this client since it opened. */
  metrics(): Promise<SyncMetrics>;
  /**
   * Ask the browser for persistent storage (`navigator.storage.persist()`), so this
   * origin's data is not evicted (e.g. by Safari after seven days without a visit).
   * Resolves whether it is granted; false where the context cannot ask (workers).
   */
  persist(): Promise<boolean>;
  /** `healthy`, `degraded` or `unhealthy`, with the reasons. */
  health(): Promise<SyncHealth>;
  /** Conflicts waiting for the app to decide, oldest first. */
  conflicts(): Promise<OpenConflict[]>;
  /**
   * Settle an open conflict: keep the local value, take the server's, or use a record of
   * the app's own (e.g. a merge the person made). The result goes to the server against
   * the version the conflict showed. Rejects with `unknown-conflict` if it is not open.
   */
  resolveConflict(id: number, choice: "local" | "server" | SyncRecord | null): Promise<void>;
  /** The newest audit entries (conflicts and rejections), newest first. */
  audit(limit?: number): Promise<AuditEntry[]>;
  /**
   * The user's spaces and roles, from the server (`GET /sync/spaces`); fires
   * `pwa-sync:spaces` when they differ from what the client knew. Writes into a space
   * known to be read-only then reject at once with `forbidden`.
   */
  spaces(): Promise<Space[]>;
  /** Every live record, as JSON (`{collections: {name: [...]}}`) or one CSV table. */
  export(options: ExportOptions): Promise<string>;
  /**
   * Remove every record, pending write, conflict and audit entry (logout). The client
   * stays open and continues under a new client id.
   */
  clear(): Promise<void>;
  /**
   * Stop background sync and close the database connection. Later calls reject with
   * code `closed`.
   */
  close(): void;
  /**
   * Listen to one of this client's events on its event target (the config's
   * `eventTarget`, default `globalThis`), typed by `C`. Returns a function that stops
   * listening.
   */
  on<E extends keyof SyncEventMap<C>>(event: E, listener: (event: SyncEventMap<C>[E]) => void): () => void;
  /** A collection's own event (its config's `event`). */
  on(event: string, listener: (event: CustomEvent<CollectionEventDetail>) => void): () => void;
  /** The id this client sends with its mutations. */
  readonly clientId: string;
  /** The database name from the config. */
  readonly name: string;
}

declare global {
  interface GlobalEventHandlersEventMap extends SyncEventMap {}
}
"#;
