import { useDoc } from "pwa-sync/react";
import { DINING, type AppClient, type Attendee, type Dining } from "../types";
import { useOptimisticValue } from "../hooks";

/**
 * Write part of the profile: a patch of just the changed fields when the record exists,
 * so edits made elsewhere to other fields are kept; a whole record the first time.
 */
export async function saveProfile(client: AppClient, user: string, current: Attendee | null | undefined, change: Partial<Attendee>) {
  if (current) await client.patch("attendees", user, change);
  else await client.put("attendees", { id: user, name: user, dining: "no preference", breakouts: [], ...change });
}

export function Profile({ client, user }: { client: AppClient | null; user: string }) {
  const attendee = useDoc(client, "attendees", user);
  const loading = attendee === undefined;
  const [dining, setDining] = useOptimisticValue<Dining>(attendee?.dining ?? "no preference");
  return (
    <section className="card" aria-labelledby="profile-title">
      <h2 id="profile-title">My profile</h2>
      <p>
        <span className="muted">Name</span> <strong>{attendee?.name ?? user}</strong>
      </p>
      <label htmlFor="dining">Dining preference</label>
      <select
        id="dining"
        value={dining}
        disabled={!client || loading}
        onChange={(e) => {
          const next = e.target.value as Dining;
          if (client) setDining(next, () => saveProfile(client, user, attendee, { dining: next }));
        }}
      >
        {DINING.map((d) => (
          <option key={d} value={d}>
            {d}
          </option>
        ))}
      </select>
      <p className="small muted">
        {attendee ? `${attendee.breakouts.length} breakout${attendee.breakouts.length === 1 ? "" : "s"} chosen.` : "No profile on this device yet."}{" "}
        Your registration access code is never stored on this device.
      </p>
    </section>
  );
}
