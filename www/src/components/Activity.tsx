import { useState } from "react";
import type { AppClient } from "../types";
import type { AuditEntry } from "pwa-sync";
import { useAudit } from "../hooks";
import { describeError } from "../sync";

function outcome(e: AuditEntry): string {
  if (e.kind === "rejected") return `rejected by the server (${e.strategy})`;
  if (e.decidedBy === "pending") return "waiting for your decision";
  if (e.decidedBy === "app") return "settled by you";
  return `settled automatically (${e.strategy})`;
}

/** The audit log (`client.audit()`): every conflict and rejection, newest first, and the export. */
export function Activity({ client, user }: { client: AppClient | null; user: string }) {
  const entries = useAudit(client, 50);
  const [message, setMessage] = useState<string | null>(null);

  const exportCsv = async () => {
    if (!client) return;
    try {
      const csv = await client.export({ format: "csv" });
      const url = URL.createObjectURL(new Blob([csv], { type: "text/csv" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = `conference-${user}.csv`;
      document.body.append(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
      setMessage("Exported your data as CSV.");
    } catch (error) {
      setMessage(`Export failed: ${describeError(error)}`);
    }
  };

  return (
    <section className="card" aria-labelledby="activity-title">
      <h2 id="activity-title">Activity</h2>
      <p className="small muted">Conflicts and rejected changes, and how each was settled.</p>
      {entries === undefined ? (
        <p>Loading…</p>
      ) : entries.length === 0 ? (
        <p className="muted">Nothing yet: no conflicts so far.</p>
      ) : (
        <ol className="activity" aria-label="Activity log">
          {entries.map((e, i) => (
            <li key={`${e.at}-${i}`}>
              <time dateTime={new Date(e.at).toISOString()}>{new Date(e.at).toLocaleTimeString()}</time>{" "}
              <strong>
                {e.kind === "conflict" ? "Conflict" : "Rejected"} in {e.collection}/{e.key}
              </strong>
              : {outcome(e)}
            </li>
          ))}
        </ol>
      )}
      <div className="row">
        <button type="button" onClick={() => void exportCsv()} disabled={!client}>
          Export CSV
        </button>
        <span role="status" className="small">
          {message}
        </span>
      </div>
    </section>
  );
}
