import type { SyncClient } from "pwa-sync";
import type { Session } from "./program";
// The records this app stores, by collection (`Schema`): the client is typed by them.

export const DINING = ["no preference", "vegetarian", "vegan", "gluten-free", "halal", "kosher"] as const;
export type Dining = (typeof DINING)[number];

/** The attendee profile (collection `attendees`, key = the signed-in name). */
export type Attendee = {
  id: string;
  name: string;
  dining: Dining;
  /** Ids of the breakout sessions chosen, one per breakout slot at most. */
  breakouts: string[];
  /** From the registration desk; `omit`ted: never written to IndexedDB. */
  accessCode?: string;
};

/**
 * One item of the packing list (collection `packing`). `list` is the item's space: the
 * owner's private `user:<name>`, or a `group:…` space shared with other attendees.
 */
export type PackingItem = {
  id: string;
  list: string;
  title: string;
  qty: number;
  packed: boolean;
  addedAt: number;
  /** Labels to filter by (a multi-entry index: one entry per tag); items from before tags have none. */
  tags?: string[];
};

/** The tags an item can carry (the packing list's tag filter). */
export const TAGS = ["documents", "clothes", "tech", "toiletries"] as const;

/** My notes on a session (collection `notes`, key = session id, conflict: manual). */
export type Note = {
  id: string;
  text: string;
  updatedAt: number;
};

/**
 * An organiser's change to a session of the programme (collection `programme`, in the
 * `conference` space: every attendee reads it, organisers write it).
 */
export type SessionEdit = {
  id: string;
  title: string;
  room: string;
  editedBy: string;
};

/** The app's collections and their record types: the client is typed by them. */
export type Schema = { attendees: Attendee; packing: PackingItem; notes: Note; programme: SessionEdit };
export type AppClient = SyncClient<Schema>;

/** The programme as a local database of sessions (never synced: config.ts, `programmeConfig`). */
export type ProgrammeSchema = { sessions: Session };
export type ProgrammeClient = SyncClient<ProgrammeSchema>;
