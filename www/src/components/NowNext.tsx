import { useEffect, useState } from "react";
import type { AppClient, Attendee } from "../types";
import { time, type Slot } from "../program";
import { useNow } from "../hooks";

type Line = { title: string; where: string; hint?: string };

function lineFor(slot: Slot, attendee: Attendee | null): Line {
  if (slot.kind === "meal") {
    const dining = attendee?.dining ?? "no preference";
    return { title: `${slot.label} · ${dining === "no preference" ? "standard menu" : `${dining} menu`}`, where: slot.sessions[0].room };
  }
  if (slot.kind === "plenary") return { title: slot.sessions[0].title, where: slot.sessions[0].room };
  const chosen = slot.sessions.find((s) => attendee?.breakouts.includes(s.id));
  return chosen
    ? { title: chosen.title, where: chosen.room }
    : { title: `${slot.label}: no session chosen`, where: "", hint: "Pick one in the programme below." };
}

/**
 * The personalised card. As in the conference app it comes from, it re-renders on the
 * attendee collection's own event, `attendee-data-updated`, which pwa-sync fires for
 * every change of the record: local edits, other tabs, other devices via the server.
 */
export function NowNext({ client, user, programme }: { client: AppClient | null; user: string; programme: Slot[] }) {
  const [attendee, setAttendee] = useState<Attendee | null | undefined>(undefined);
  const [updatedAt, setUpdatedAt] = useState<number | null>(null);
  const now = useNow(30_000);

  useEffect(() => {
    if (!client) return;
    let live = true;
    // The stored record at once; if it is older than the collection's ttlMs a background
    // sync refreshes it and the event below brings the fresh one.
    client.getFresh("attendees", user).then(
      (a) => live && setAttendee((a as Attendee | undefined) ?? null),
      () => live && setAttendee(null),
    );
    const onUpdate = (e: CustomEvent<{ key: string; attendee?: unknown; timestamp: number }>) => {
      if (e.detail.key !== user) return;
      setAttendee((e.detail.attendee as Attendee | null | undefined) ?? null);
      setUpdatedAt(e.detail.timestamp);
    };
    const onCleared = () => setAttendee(null);
    addEventListener("attendee-data-updated", onUpdate);
    addEventListener("pwa-sync:cleared", onCleared);
    return () => {
      live = false;
      removeEventListener("attendee-data-updated", onUpdate);
      removeEventListener("pwa-sync:cleared", onCleared);
    };
  }, [client, user]);

  const current = programme.find((s) => s.start <= now && now < s.end) ?? null;
  const next = programme.find((s) => s.start > now) ?? null;
  const row = (label: string, slot: Slot | null, testid: string) => {
    const line = slot ? lineFor(slot, attendee ?? null) : null;
    return (
      <div className="nn-row" data-testid={testid}>
        <span className="nn-when">
          {label}
          {slot && (
            <span className="muted">
              {" "}
              {time(slot.start)}–{time(slot.end)}
            </span>
          )}
        </span>
        <strong className="nn-title">{line ? line.title : "Nothing scheduled"}</strong>
        {line?.where && <span className="muted">{line.where}</span>}
        {line?.hint && <span className="small muted">{line.hint}</span>}
      </div>
    );
  };

  return (
    <section className="card nownext" aria-labelledby="nownext-title" aria-busy={attendee === undefined}>
      <h2 id="nownext-title">Now / Next</h2>
      {row("Now", current, "now")}
      {row("Next", next, "next")}
      <p className="small muted">
        Personalised for {user}
        {attendee ? ` · ${attendee.dining}` : ""}
        {updatedAt ? ` · updated ${time(updatedAt)}` : ""}
      </p>
    </section>
  );
}
