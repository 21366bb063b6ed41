// Small app hooks beside the package's own (pwa-sync/react).
import type { AppClient } from "./types";
import { useEffect, useState } from "react";
import type { AuditEntry, Space } from "pwa-sync";

/** The current time, re-rendering every `everyMs`. */
export function useNow(everyMs: number): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}

/** The newest audit entries, re-read when a conflict or rejection is announced. */
export function useAudit(client: AppClient | null, limit: number): AuditEntry[] | undefined {
  const [entries, setEntries] = useState<AuditEntry[] | undefined>(undefined);
  useEffect(() => {
    if (!client) return;
    let live = true;
    const read = () => {
      client.audit(limit).then((e) => live && setEntries(e), () => {});
    };
    read();
    const events = ["pwa-sync:conflict", "pwa-sync:rejected", "pwa-sync:cleared", "pwa-sync:change"];
    for (const name of events) addEventListener(name, read);
    return () => {
      live = false;
      for (const name of events) removeEventListener(name, read);
    };
  }, [client, limit]);
  return entries;
}

/** "just now", "2 min ago", "3 h ago". */
export function ago(then: number, now: number): string {
  const s = Math.max(0, Math.round((now - then) / 1000));
  if (s < 10) return "just now";
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h} h ago`;
  return `${Math.floor(h / 24)} d ago`;
}

/**
 * A stored value shown as changed from the moment of the click: the write to IndexedDB
 * takes a few milliseconds, and a controlled checkbox must not flip back meanwhile. The
 * new value shows until the stored one moves: a live query (`useQuery`) re-reads after
 * the write resolves, so the write's end is not the moment to show the stored value
 * again. A failed write shows the stored value at once.
 */
export function useOptimisticValue<T>(stored: T): [T, (next: T, write: () => Promise<unknown>) => void] {
  const [pending, setPending] = useState<{ value: T } | null>(null);
  // The stored value moved (this write arrived, or another one): it is what shows.
  useEffect(() => setPending(null), [stored]);
  const change = (next: T, write: () => Promise<unknown>) => {
    setPending({ value: next });
    write().then(
      // A write that changed nothing moves no stored value.
      () => Object.is(next, stored) && setPending(null),
      (error: unknown) => {
        // The stored value shows again; the client announced storage problems itself.
        console.warn("write failed", error);
        setPending(null);
      },
    );
  };
  return [pending ? pending.value : stored, change];
}

/**
 * The signed-in user's spaces and roles: asked of the server once, then followed through
 * `pwa-sync:spaces` (a space joined, revoked, or a role learned). `undefined` until the
 * server answered (offline at start: until it does).
 */
export function useSpaces(client: AppClient | null): Space[] | undefined {
  const [spaces, setSpaces] = useState<Space[] | undefined>(undefined);
  useEffect(() => {
    if (!client) return;
    let live = true;
    const stop = client.on("pwa-sync:spaces", (e) => setSpaces(e.detail.spaces));
    client.spaces().then(
      (s) => live && setSpaces(s),
      (error: unknown) => console.info("spaces not known yet", error),
    );
    return () => {
      live = false;
      stop();
    };
  }, [client]);
  return spaces;
}
