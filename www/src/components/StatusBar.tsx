import { useState } from "react";
import type { AppClient } from "../types";
import type { SyncStatus } from "pwa-sync";
import { useSyncStatus } from "pwa-sync/react";
import { ago, useNow } from "../hooks";
import { describeError } from "../sync";

type Freshness = "fresh" | "aging" | "stale" | "error";

/** Green within a minute of a sync with nothing pending, red on errors or after 30 min. */
function freshness(status: SyncStatus, now: number): Freshness {
  if (status.state === "error") return "error";
  if (status.lastSyncedAt === null) return "stale";
  const age = now - status.lastSyncedAt;
  if (age > 30 * 60_000) return "stale";
  if (status.pending > 0 || status.state === "offline" || age > 60_000) return "aging";
  return "fresh";
}

const STATE_TEXT: Record<SyncStatus["state"], string> = {
  synced: "Synced",
  syncing: "Syncing…",
  offline: "Offline",
  error: "Sync error",
};

/** "offline" is the client's word for any unreachable server; the browser knows which. */
function stateText(status: SyncStatus): string {
  if (status.state === "offline" && navigator.onLine) return "Server unreachable";
  return STATE_TEXT[status.state];
}

export function StatusBar({ client }: { client: AppClient | null }) {
  const status = useSyncStatus(client);
  const now = useNow(5_000);
  const [result, setResult] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const syncNow = async () => {
    if (!client) return;
    setBusy(true);
    setResult(null);
    try {
      const r = await client.sync();
      setResult(`Sync done: ${r.pushed} sent, ${r.pulled} received${r.conflicts ? `, ${r.conflicts} conflicts` : ""}.`);
    } catch (error) {
      setResult(`Sync failed (${describeError(error)}). Your changes are kept and will be sent later.`);
    } finally {
      setBusy(false);
    }
  };

  const fresh = status ? freshness(status, now) : "stale";
  return (
    <section className="statusbar" data-state={status?.state ?? "opening"} data-freshness={fresh} aria-label="Sync status">
      <span className="dot" aria-hidden="true" />
      {/* Announced: the state and the pending count. The relative time ticks, so it is not. */}
      <span role="status" aria-live="polite" aria-atomic="true" className="live">
        <strong data-testid="sync-state">{status ? stateText(status) : "Opening…"}</strong>
        {" · "}
        <span data-testid="pending">{status ? `${status.pending} pending` : "…"}</span>
        {status?.lastError && status.state !== "synced" && (
          <span className="small"> · {status.lastError.code}</span>
        )}
      </span>
      <span className="muted" data-testid="last-synced">
        {status?.lastSyncedAt ? `last synced ${ago(status.lastSyncedAt, now)}` : "never synced"}
      </span>
      <span className="visually-hidden">Freshness: {fresh}</span>
      <button type="button" onClick={() => void syncNow()} disabled={!client || busy}>
        Sync now
      </button>
      <span role="status" aria-live="polite" className="small" data-testid="sync-result">
        {result}
      </span>
    </section>
  );
}
