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

export type ConflictStrategy = "serverWins" | "clientWins" | "lastWriteWins" | "merge" | "manual";

/** Resolves a conflict in the app: return the value to keep (null deletes). */
export type ConflictResolver = (local: SyncRecord | null, server: SyncRecord | null, base: SyncRecord | null) => SyncRecord | null;

export interface ConflictOptions {
  strategy: ConflictStrategy;
  /** Per-field rule for arrays under `merge`; others are replaced. */
  arrays?: Record<string, "union" | "append" | "replace">;
  /** Fields that go to `manual` when both sides changed them under `merge`. */
  manualFields?: string[];
  /** Under `lastWriteWins`, edits closer together than this go to `manual`. */
  manualWithinMs?: number;
}

export interface CollectionEvent {
  /** DOM event name, e.g. "attendee-data-updated". */
  name: string;
  /** Also put the value under this detail field, e.g. "attendee". */
  valueField?: string;
}

export interface CollectionConfig {
  /** The field holding each record's key (a non-empty string). */
  key: string;
  /** Default: "merge". */
  conflict?: ConflictStrategy | ConflictOptions | ConflictResolver;
  /** The collection's own event, fired with every change. */
  event?: string | CollectionEvent;
  /** `getFresh` refreshes records older than this. */
  ttlMs?: number;
  /** Top-level fields never written to IndexedDB. */
  omit?: string[];
  /** Top-level fields to index; `list(collection, {index, equals})` queries them. */
  indexes?: string[];
}

export interface RetryConfig {
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** 0..1 */
  jitter: number;
}

export interface SyncConfig {
  /** Database name: one per app and user. */
  name: string;
  /** Base URL of the sync API (e.g. "/sync"). Leave out for local-only use. */
  endpoint?: string;
  token?: string | (() => string | Promise<string>);
  collections: Record<string, CollectionConfig> | Array<CollectionConfig & { name: string }>;
  retry?: Partial<RetryConfig>;
  batchSize?: number;
  pullIntervalMs?: number;
  /** Listen to the server's event stream and sync when it pokes. Default: false. */
  realtime?: boolean;
  /** Sync by itself after writes, when online, on the interval and on pokes. Default: true. */
  autoSync?: boolean;
  /** Audit entries kept (oldest dropped first). Default: 1000. */
  auditLimit?: number;
  /** Encryption at rest: values sealed with AES-256-GCM. The key (32 bytes, or base64) stays in memory only. Not with `indexes`. */
  encryption?: { key: Uint8Array | ArrayBuffer | string };
  /** Where events are dispatched. Default: globalThis. */
  eventTarget?: EventTarget;
  /** The Background Sync tag pages register and the service worker helper answers (give both the same config). Default: "pwa-sync". */
  syncTag?: string;
  /** Where data lives. "memory": nothing is durable (for where IndexedDB is unavailable, e.g. some private modes); syncs the same way. Default: "indexeddb". */
  storage?: "indexeddb" | "memory";
  /** The app knows this device stored data under this name before: an empty database on open then counts as evicted (`pwa-sync:evicted`). Default: false. */
  expectStoredData?: boolean;
}

export interface ListQuery {
  /** A declared index of the collection. */
  index?: string;
  /** Records whose indexed field equals this. Required with `index`. */
  equals?: string | number;
  limit?: number;
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

export interface ChangeDetail {
  collection: string;
  key: string;
  /** null when the record was deleted. */
  value: SyncRecord | null;
  origin: ChangeOrigin;
  /** Server version the change is based on; null if never synced. */
  version: number | null;
}

/** Detail of a collection's own event: the change plus a timestamp and the version. */
export interface CollectionEventDetail extends ChangeDetail {
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
export interface EvictedDetail {
  /** The client id of the evicted database, if the marker kept it. */
  previousClientId: string | null;
  /** "marker": the device's marker outside IndexedDB; "hint": the config's `expectStoredData`. */
  evidence: "marker" | "hint";
}

export interface StorageErrorDetail {
  code: SyncErrorCode;
  message: string;
}

declare global {
  interface GlobalEventHandlersEventMap extends SyncEventMap {}
}
"#;
