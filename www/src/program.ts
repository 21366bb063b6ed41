// The conference programme. A demo has no conference running, so the day is laid out
// around the moment the app opens: the current half hour is breakout slot 1, lunch is
// next. Session ids never change, so choices survive reloads.

import type { SessionEdit } from "./types";

export type Kind = "plenary" | "breakout" | "meal";

export type Session = {
  id: string;
  /** 1: the day laid out around the app's opening; 2: the day after. */
  day: number;
  slot: string;
  /** The slot's heading ("Breakout 1"), kept on each session so a page of sessions rebuilds its slots. */
  slotLabel: string;
  kind: Kind;
  title: string;
  speaker?: string;
  room: string;
  start: number;
  end: number;
};

export type Slot = { id: string; label: string; kind: Kind; start: number; end: number; sessions: Session[] };

const MIN = 60_000;

type Spec = { id: string; day?: number; label: string; kind: Kind; from: number; minutes: number; sessions: [string, string, string?][] };

const SPECS: Spec[] = [
  { id: "k", label: "Opening keynote", kind: "plenary", from: -60, minutes: 45,
    sessions: [["k1", "Offline is the default", "Dana Whitfield"]] },
  { id: "b1", label: "Breakout 1", kind: "breakout", from: 0, minutes: 45,
    sessions: [["b1a", "Service workers in practice", "Ola Nordmann"], ["b1b", "Conflict-free data, plainly", "Ines Duarte"], ["b1c", "Designing for flaky networks", "Kenji Mori"]] },
  { id: "lunch", label: "Lunch", kind: "meal", from: 45, minutes: 60, sessions: [["lunch", "Lunch"]] },
  { id: "b2", label: "Breakout 2", kind: "breakout", from: 105, minutes: 45,
    sessions: [["b2a", "IndexedDB without fear", "Priya Raman"], ["b2b", "Conflict dialogs people understand", "Tom Becker"], ["b2c", "Testing PWAs end to end", "Lea Schulz"]] },
  { id: "p", label: "Closing panel", kind: "plenary", from: 165, minutes: 45,
    sessions: [["p1", "What offline-first taught us", "Panel"]] },
  { id: "dinner", label: "Conference dinner", kind: "meal", from: 240, minutes: 120, sessions: [["dinner", "Conference dinner"]] },
  // Day 2, the same hours a day later.
  { id: "k2", day: 2, label: "Day 2 keynote", kind: "plenary", from: 24 * 60 - 60, minutes: 45,
    sessions: [["k2", "Sync engines under the hood", "Mara Lind"]] },
  { id: "b3", day: 2, label: "Breakout 3", kind: "breakout", from: 24 * 60, minutes: 45,
    sessions: [["b3a", "Queries over local data", "Sam Okafor"], ["b3b", "Migrating stored records", "Jo Park"]] },
  { id: "lunch2", day: 2, label: "Day 2 lunch", kind: "meal", from: 24 * 60 + 45, minutes: 60, sessions: [["lunch2", "Day 2 lunch"]] },
];

const ROOMS = ["Room A", "Room B", "Room C"];

export function buildProgramme(opened: number): Slot[] {
  const anchor = Math.floor(opened / (30 * MIN)) * 30 * MIN;
  return SPECS.map((spec) => {
    const start = anchor + spec.from * MIN;
    const end = start + spec.minutes * MIN;
    const room = (i: number) => (spec.kind === "breakout" ? ROOMS[i] : spec.kind === "meal" ? "Hall C" : "Main hall");
    const day = spec.day ?? 1;
    const sessions = spec.sessions.map(([id, title, speaker], i) => ({ id, day, slot: spec.id, slotLabel: spec.label, kind: spec.kind, title, speaker, room: room(i), start, end }));
    return { id: spec.id, label: spec.label, kind: spec.kind, start, end, sessions };
  });
}

/** The sessions of a programme, one record each (what the `sessions` store holds). */
export const sessionsOf = (programme: Slot[]): Session[] => programme.flatMap((slot) => slot.sessions);

/** Sessions in start order (a query's answer) back into their slots. */
export function slotsOf(sessions: readonly Session[]): Slot[] {
  const slots: Slot[] = [];
  for (const s of sessions) {
    const last = slots.at(-1);
    if (last?.id === s.slot) last.sessions.push(s);
    else slots.push({ id: s.slot, label: s.slotLabel, kind: s.kind, start: s.start, end: s.end, sessions: [s] });
  }
  return slots;
}

/** The programme with the organisers' edits (the `programme` collection) applied. */
export function withEdits(programme: Slot[], edits: readonly SessionEdit[] | undefined): Slot[] {
  if (!edits?.length) return programme;
  const byId = new Map(edits.map((e) => [e.id, e]));
  return programme.map((slot) => ({
    ...slot,
    sessions: slot.sessions.map((s) => {
      const edit = byId.get(s.id);
      return edit ? { ...s, title: edit.title, room: edit.room } : s;
    }),
  }));
}

export const time = (ms: number): string => new Date(ms).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
