import { useEffect, useRef, useState } from "react";
import type { AppClient } from "../types";
import type { OpenConflict, SyncRecord } from "pwa-sync";
import { useConflicts } from "pwa-sync/react";
import type { Slot } from "../program";
import { describeError } from "../sync";

const textOf = (r: SyncRecord | null): string => (r && typeof r.text === "string" ? r.text : "");

/** A first merge for the person to edit: both texts, the server's first, without repeats. */
export function mergeText(mine: string, server: string): string {
  if (mine === server || server.includes(mine)) return server;
  if (mine.includes(server)) return mine;
  return `${server}\n${mine}`;
}

/**
 * Notes are `conflict: "manual"`: when two devices changed one note, the server's text
 * shows and the person decides here: keep mine, keep the server's, or a merge.
 */
export function Conflicts({ client, programme }: { client: AppClient | null; programme: Slot[] }) {
  const conflicts = useConflicts(client);
  const [dismissed, setDismissed] = useState<number | null>(null);
  const conflict = conflicts?.[0] ?? null;
  const open = conflict !== null && dismissed !== conflict.id;

  if (!conflicts?.length) return null;
  return (
    <>
      <div className="banner" role="region" aria-label="Conflicts">
        <span>
          {conflicts.length === 1 ? "1 change needs your decision." : `${conflicts.length} changes need your decision.`}
        </span>
        <button type="button" onClick={() => setDismissed(null)}>
          Review conflict
        </button>
      </div>
      {open && client && conflict && (
        <ConflictDialog key={conflict.id} client={client} conflict={conflict} programme={programme} onLater={() => setDismissed(conflict.id)} />
      )}
    </>
  );
}

function ConflictDialog({ client, conflict, programme, onLater }: { client: AppClient; conflict: OpenConflict; programme: Slot[]; onLater: () => void }) {
  const ref = useRef<HTMLDialogElement>(null);
  const mine = textOf(conflict.local);
  const server = textOf(conflict.server);
  const [merged, setMerged] = useState(() => mergeText(mine, server));
  const [error, setError] = useState<string | null>(null);
  const session = programme.flatMap((s) => s.sessions).find((s) => s.id === conflict.key);
  const what = conflict.collection === "notes" ? `your notes on “${session?.title ?? conflict.key}”` : `${conflict.collection}/${conflict.key}`;

  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);

  const decide = async (choice: "local" | "server" | SyncRecord) => {
    try {
      await client.resolveConflict(conflict.id, choice);
    } catch (e) {
      setError(describeError(e));
    }
  };
  const mergedRecord = (): SyncRecord => ({ ...(conflict.server ?? conflict.local ?? { id: conflict.key }), id: conflict.key, text: merged, updatedAt: Date.now() });

  return (
    <dialog
      ref={ref}
      className="conflict"
      aria-labelledby="conflict-title"
      aria-describedby="conflict-desc"
      onCancel={(e) => {
        e.preventDefault();
        onLater();
      }}
    >
      <h2 id="conflict-title">Two versions of {what}</h2>
      <p id="conflict-desc">
        This note was changed on this device and on another one before they synced. Choose which to keep, or edit the merge.
      </p>
      <div className="versions">
        <figure>
          <figcaption>Mine (this device)</figcaption>
          <pre data-testid="conflict-mine">{conflict.local ? mine || "(empty)" : "(deleted)"}</pre>
        </figure>
        <figure>
          <figcaption>Server (another device)</figcaption>
          <pre data-testid="conflict-server">{conflict.server ? server || "(empty)" : "(deleted)"}</pre>
        </figure>
      </div>
      <label htmlFor="merged">Merged preview (you can edit it)</label>
      <textarea id="merged" rows={4} value={merged} onChange={(e) => setMerged(e.target.value)} />
      {error && <p role="alert">{error}</p>}
      <div className="row">
        <button type="button" onClick={() => void decide("local")}>
          Use mine
        </button>
        <button type="button" onClick={() => void decide("server")}>
          Use server
        </button>
        <button type="button" className="primary" onClick={() => void decide(mergedRecord())}>
          Use merged
        </button>
        <button type="button" className="link" onClick={onLater}>
          Decide later
        </button>
      </div>
    </dialog>
  );
}
