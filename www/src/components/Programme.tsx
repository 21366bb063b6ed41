import { useMemo, useState, type FormEvent } from "react";
import { describeError } from "../sync";
import { useDoc, useQuery } from "pwa-sync/react";
import type { Space } from "pwa-sync";
import type { AppClient, ProgrammeClient } from "../types";
import { CONFERENCE } from "../config";
import { slotsOf, time, type Session, type Slot } from "../program";
import { saveProfile } from "./Profile";
import { useOptimisticValue } from "../hooks";

const NONE: string[] = [];

type Props = { client: AppClient | null; user: string; sessions: ProgrammeClient | null; spaces: Space[] | undefined };

export function Programme({ client, user, sessions, spaces }: Props) {
  const attendee = useDoc(client, "attendees", user);
  // One day's sessions in start order: the `[day+start]` index answers, and the answer
  // follows every change of a session (an organiser's edit).
  const [day, setDay] = useState(1);
  const ofDay = useQuery(sessions, "sessions", { where: { day }, orderBy: "start" });
  const programme = useMemo(() => slotsOf(ofDay ?? []), [ofDay]);
  // Organisers (owners or writers of the conference space) edit sessions; the server
  // decides, this only hides what would be refused.
  const organiser = spaces?.some((s) => s.id === CONFERENCE && s.role !== "reader") ?? false;
  const [breakouts, setBreakouts] = useOptimisticValue<string[]>(attendee?.breakouts ?? NONE);
  const choose = (slot: Slot, sessionId: string | null) => {
    if (!client) return;
    const others = breakouts.filter((id) => !slot.sessions.some((s) => s.id === id));
    const next = sessionId ? [...others, sessionId] : others;
    setBreakouts(next, () => saveProfile(client, user, attendee, { breakouts: next }));
  };
  return (
    <section className="card" aria-labelledby="programme-title">
      <h2 id="programme-title">Programme</h2>
      <p className="small muted">
        A demo day, laid out around the time you opened the app.
        {organiser ? " You are an organiser: your edits reach every attendee." : " The organisers' changes appear as they make them."}
      </p>
      <div className="row">
        <label htmlFor="programme-day">Day</label>
        <select id="programme-day" value={day} onChange={(e) => setDay(Number(e.target.value))}>
          <option value={1}>Day 1 (today)</option>
          <option value={2}>Day 2</option>
        </select>
      </div>
      <ol className="programme" aria-label="Sessions of the day">
        {programme.map((slot) => (
          <li key={slot.id}>
            <div className="slot-head">
              <span className="slot-time">
                {time(slot.start)}–{time(slot.end)}
              </span>
              <h3>{slot.label}</h3>
            </div>
            {slot.kind === "breakout" ? (
              <fieldset>
                <legend className="visually-hidden">Choose a session for {slot.label}</legend>
                {slot.sessions.map((s) => (
                  <div key={s.id} className="session">
                    <label>
                      <input
                        type="radio"
                        name={`slot-${slot.id}`}
                        value={s.id}
                        checked={breakouts.includes(s.id)}
                        disabled={!client || attendee === undefined}
                        onChange={() => choose(slot, s.id)}
                      />{" "}
                      {s.title}
                    </label>
                    <span className="muted small">
                      {" "}
                      {s.speaker} · {s.room}
                    </span>
                    <NoteEditor client={client} session={s} />
                    {organiser && <SessionEditor client={client} user={user} session={s} />}
                  </div>
                ))}
                <label className="small">
                  <input
                    type="radio"
                    name={`slot-${slot.id}`}
                    value=""
                    checked={!slot.sessions.some((s) => breakouts.includes(s.id))}
                    disabled={!client || attendee === undefined}
                    onChange={() => choose(slot, null)}
                  />{" "}
                  None in {slot.label}
                </label>
              </fieldset>
            ) : (
              <div className="session">
                <span>{slot.sessions[0].title}</span>
                <span className="muted small">
                  {" "}
                  {slot.sessions[0].speaker ? `${slot.sessions[0].speaker} · ` : ""}
                  {slot.sessions[0].room}
                </span>
                {slot.kind === "plenary" && <NoteEditor client={client} session={slot.sessions[0]} />}
                {organiser && slot.kind !== "meal" && <SessionEditor client={client} user={user} session={slot.sessions[0]} />}
              </div>
            )}
          </li>
        ))}
      </ol>
    </section>
  );
}

/** My notes on one session: the `notes` collection, whose conflicts a person settles. */
function NoteEditor({ client, session }: { client: AppClient | null; session: Session }) {
  const note = useDoc(client, "notes", session.id);
  const [draft, setDraft] = useState<string | null>(null);
  const id = `note-${session.id}`;
  const save = async () => {
    if (!client || draft === null) return;
    await client.put("notes", { id: session.id, text: draft, updatedAt: Date.now() });
    setDraft(null);
  };
  return (
    <details className="note">
      <summary>
        My notes{note?.text ? <span className="muted small"> · {note.text.length} characters</span> : null}
      </summary>
      <label htmlFor={id} className="visually-hidden">
        Notes for {session.title}
      </label>
      <textarea
        id={id}
        rows={3}
        value={draft ?? note?.text ?? ""}
        onChange={(e) => setDraft(e.target.value)}
        disabled={!client || note === undefined}
      />
      <div className="row">
        <button type="button" onClick={() => void save()} disabled={draft === null} aria-label={`Save notes for ${session.title}`}>
          Save note
        </button>
        {draft !== null && (
          <button type="button" onClick={() => setDraft(null)} aria-label={`Discard changes to notes for ${session.title}`}>
            Discard
          </button>
        )}
      </div>
    </details>
  );
}

/** An organiser's edit of a session's title and room: a record in the conference space. */
function SessionEditor({ client, user, session }: { client: AppClient | null; user: string; session: Session }) {
  const [title, setTitle] = useState(session.title);
  const [room, setRoom] = useState(session.room);
  const [problem, setProblem] = useState<string | null>(null);
  const save = async (e: FormEvent) => {
    e.preventDefault();
    if (!client) return;
    try {
      await client.put("programme", { id: session.id, title: title.trim() || session.title, room: room.trim() || session.room, editedBy: user });
      setProblem(null);
    } catch (error) {
      setProblem(describeError(error));
    }
  };
  return (
    <details className="note">
      <summary>Edit session</summary>
      <form onSubmit={(e) => void save(e)} className="row">
        <label>
          Title <input value={title} onChange={(e) => setTitle(e.target.value)} aria-label={`Title of ${session.id}`} />
        </label>
        <label>
          Room <input value={room} onChange={(e) => setRoom(e.target.value)} aria-label={`Room of ${session.id}`} />
        </label>
        <button type="submit" aria-label={`Publish ${session.id}`}>
          Publish
        </button>
      </form>
      {problem && <p role="alert">{problem}</p>}
    </details>
  );
}
