// React hooks over a SyncClient, built on useSyncExternalStore. Plain ES module, no
// build step; `react` is a peer dependency of the package.
//
// Every hook takes the client first and accepts `null`/`undefined` while the client is
// still opening: it then returns `undefined`. The records' hooks (`useDoc`, `useCollection`,
// `useQuery`) are `client.watch` in a hook, one mechanism for all three (issue 17): the
// watch calls back only when the answer changed, so the snapshot is the same object until
// then. The conflicts live in a small store per (client, event target) that re-reads when
// an event says they may have changed, and hands React the last list it read.
import { useCallback, useMemo, useSyncExternalStore } from "react";
// Generated from the Rust core by scripts/package.mjs: the one source of event names.
import { EVENTS } from "./names.js";

const { change: CHANGE, status: STATUS, conflict: CONFLICT, cleared: CLEARED } = EVENTS;

const DATA_EVENTS = [CHANGE, CONFLICT, CLEARED];

const noop = () => {};
const unsubscribed = () => noop;
const nothing = () => undefined;

/** @param {{eventTarget?: EventTarget} | undefined} options */
const targetOf = (options) => options?.eventTarget ?? globalThis;

// ------------------------------------------------------------------ status

/**
 * The client's status (`{state, pending, lastSyncedAt, lastError}`), re-rendering on
 * `pwa-sync:status`. `client.status()` returns the same object until something changes,
 * so it is the snapshot as it is.
 */
export function useSyncStatus(client, options) {
  const target = targetOf(options);
  const subscribe = useCallback(
    (onChange) => {
      if (!client) return noop;
      target.addEventListener(STATUS, onChange);
      target.addEventListener(CLEARED, onChange);
      return () => {
        target.removeEventListener(STATUS, onChange);
        target.removeEventListener(CLEARED, onChange);
      };
    },
    [client, target],
  );
  const getSnapshot = useMemo(() => (client ? statusReader(client) : nothing), [client]);
  return useSyncExternalStore(subscribe, getSnapshot, nothing);
}

/** Reads `client.status()`, keeping the last good answer if the client was freed. */
function statusReader(client) {
  let last;
  return () => {
    try {
      last = client.status();
    } catch {
      // A freed wasm object throws; its last status is still the best answer.
    }
    return last;
  };
}

/** Local writes the server has not acknowledged yet (`status().pending`). */
export function usePendingCount(client, options) {
  return useSyncStatus(client, options)?.pending;
}

// ------------------------------------------------------------------ async reads

/**
 * One async read and its last answer (the conflicts: the records' hooks are `client.watch`
 * in a hook). `relevant(detail)` says whether an event may have changed the answer; `empty`
 * is what the answer becomes when the database is wiped.
 */
class Query {
  constructor(cache, id, target, { read, relevant, empty, events = DATA_EVENTS }) {
    this.cache = cache;
    this.id = id;
    this.target = target;
    this.read = read;
    this.relevant = relevant;
    this.empty = empty;
    this.events = events;
    this.value = undefined;
    this.text = undefined;
    this.seq = 0;
    this.listeners = new Set();
    this.onEvent = (event) => {
      if (event.type === CLEARED) {
        // Nothing of the old session may stay on screen while the re-read runs.
        this.set(this.empty);
        this.refresh();
      } else if (this.relevant(event.detail)) {
        this.refresh();
      }
    };
    this.subscribe = (listener) => {
      this.listeners.add(listener);
      if (this.listeners.size === 1) this.attach();
      return () => {
        this.listeners.delete(listener);
        if (this.listeners.size === 0) this.detach();
      };
    };
    this.getSnapshot = () => this.value;
  }

  attach() {
    if (!this.cache.has(this.id)) this.cache.set(this.id, this);
    for (const name of this.events) this.target.addEventListener(name, this.onEvent);
    // Events may have been missed while nobody listened.
    this.refresh();
  }

  detach() {
    for (const name of this.events) this.target.removeEventListener(name, this.onEvent);
    if (this.cache.get(this.id) === this) this.cache.delete(this.id);
  }

  refresh() {
    const seq = ++this.seq;
    let pending;
    try {
      pending = Promise.resolve(this.read());
    } catch (error) {
      pending = Promise.reject(error);
    }
    pending.then(
      (value) => {
        if (seq === this.seq) this.set(value);
      },
      (error) => {
        // A closed client (logout in another tab) has nothing more to say: show the
        // wiped state. Other failures keep the last answer; the client reports storage
        // problems as pwa-sync:storage-error.
        if (seq === this.seq && error?.code === "closed") this.set(this.empty);
      },
    );
  }

  set(value) {
    // Values are JSON: equal text means nothing changed, and the snapshot stays the same.
    const text = value === undefined ? undefined : JSON.stringify(value);
    if (text === this.text && this.value !== undefined) return;
    this.value = value;
    this.text = text;
    for (const listener of [...this.listeners]) listener();
  }
}

/** client -> event target -> query id -> Query */
const caches = new WeakMap();

function query(client, target, id, spec) {
  let byTarget = caches.get(client);
  if (!byTarget) caches.set(client, (byTarget = new WeakMap()));
  let cache = byTarget.get(target);
  if (!cache) byTarget.set(target, (cache = new Map()));
  return cache.get(id) ?? new Query(cache, id, target, spec);
}

function useRead(client, target, id, make) {
  // `make` is called only when the identity (client, target, id) changes.
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const q = useMemo(() => (client && id !== null ? make() : null), [client, target, id]);
  return useSyncExternalStore(q ? q.subscribe : unsubscribed, q ? q.getSnapshot : nothing, nothing);
}

/**
 * One record: `undefined` until the first read (or without a client or key), `null` when
 * there is no such record, else the record. `client.watch(collection, key)` in a hook: a
 * `pwa-sync:change` for the key brings the new value itself, so it shows in the same frame
 * as the event. `options.eventTarget` is not needed (the client's watch follows the target
 * it was opened with) and is accepted for code written before.
 */
export function useDoc(client, collection, key, _options) {
  const live = useMemo(
    () => (client && key != null ? watched(client, collection, key) : null),
    [client, collection, key],
  );
  return useSyncExternalStore(live ? live.subscribe : unsubscribed, live ? live.getSnapshot : nothing, nothing);
}

/**
 * Records of a collection in key order, all of them or those matching `query`
 * (`{index, equals, limit}`: `list`'s query): `undefined` until the first read.
 * `client.watch` of the same query in a hook, as `useQuery` is (a change it can place is
 * applied in the same frame, anything else re-read). `options` as for `useDoc`.
 */
export function useCollection(client, collection, listQuery, _options) {
  const asked = asQuery(listQuery);
  const waiting = loading(asked);
  const id = waiting ? "" : JSON.stringify(asked);
  // `listQuery` is read only when its text (`id`) changes: a literal written inline is fine.
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const live = useMemo(
    () => (client && !waiting ? watched(client, collection, asked) : null),
    [client, collection, id],
  );
  return useSyncExternalStore(live ? live.subscribe : unsubscribed, live ? live.getSnapshot : nothing, nothing);
}

/**
 * Whether a condition's value or an operator's operand is `undefined` (`{owner: user?.id}`,
 * `{start: {gte: from}}` while it loads):
 * the hooks answer `undefined` until it has one, where `query` and `watch` refuse it
 * with `invalid-query` (its JSON would have no condition, and match every record).
 */
function loading(query) {
  const where = query?.where;
  const unset = (v) => v === undefined || (v !== null && typeof v === "object" && Object.values(v).some(unset));
  return where !== null && typeof where === "object" && Object.values(where).some(unset);
}

/**
 * `list`'s `{index, equals, limit}` as a `query`: the records whose field (a single-field
 * index is named by its field; a multi-entry one `*field`) equals `equals`, in key order.
 */
function asQuery(listQuery) {
  const query = {};
  if (!listQuery) return query;
  const { index, equals, limit } = listQuery;
  if (index !== undefined) {
    const field = typeof index === "string" && index.startsWith("*") ? index.slice(1) : index;
    query.where = { [field]: equals };
  }
  if (limit !== undefined) query.limit = limit;
  return query;
}

/**
 * Manual conflicts waiting for the app (`client.conflicts()`), oldest first: `undefined`
 * until the first read. Re-reads on every `pwa-sync:conflict`, `pwa-sync:change` and
 * `pwa-sync:cleared`, and on `pwa-sync:status`: settling a conflict with the value that
 * already shows changes no record, but it does announce the status (pending writes).
 */
export function useConflicts(client, options) {
  const target = targetOf(options);
  return useRead(client, target, "conflicts", () =>
    query(client, target, "conflicts", {
      read: () => client.conflicts(),
      relevant: () => true,
      empty: [],
      events: [...DATA_EVENTS, STATUS],
    }),
  );
}

// ------------------------------------------------------------------ live queries (issue 17)

/**
 * The records of `client.query(collection, query)`, kept current by `client.watch`:
 * `undefined` until the first answer (or without a client). The watch calls back only
 * when the answer changed, so the snapshot is the same array until then.
 */
export function useQuery(client, collection, query) {
  const waiting = loading(query);
  const id = query === undefined || waiting ? "" : JSON.stringify(query);
  // `query` is read only when its text (`id`) changes: a literal written inline is fine.
  // eslint-disable-next-line react-hooks/exhaustive-deps
  const live = useMemo(
    () => (client && !waiting ? watched(client, collection, query) : null),
    [client, collection, id],
  );
  return useSyncExternalStore(live ? live.subscribe : unsubscribed, live ? live.getSnapshot : nothing, nothing);
}

/** `client.watch(collection, what)` (a query or a key) as a store for `useSyncExternalStore`. */
function watched(client, collection, what) {
  let value;
  return {
    subscribe(onChange) {
      let stop;
      try {
        stop = client.watch(collection, what ?? {}, (answer) => {
          value = answer;
          onChange();
        });
      } catch (error) {
        // A closed client (logout in another tab) has nothing more to say.
        if (error?.code === "closed") return noop;
        throw error;
      }
      return stop;
    },
    getSnapshot: () => value,
  };
}
