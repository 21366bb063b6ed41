// Opening the client in the page.
import init, { SyncClient, type PwaSyncError } from "pwa-sync";
import { clientConfig, devToken, programmeConfig } from "./config";
import type { AppClient, Attendee, ProgrammeClient, ProgrammeSchema, Schema } from "./types";

let wasm: ReturnType<typeof init> | null = null;

export async function openClient(user: string): Promise<AppClient> {
  // Vite emits the .wasm as an asset: the glue finds it with new URL(…, import.meta.url).
  wasm ??= init();
  await wasm;
  return SyncClient.open<Schema>(clientConfig(() => devToken(user), "page"));
}

/** The programme's local database (config.ts, `programmeConfig`). */
export async function openProgramme(): Promise<ProgrammeClient> {
  wasm ??= init();
  await wasm;
  return SyncClient.open<ProgrammeSchema>(programmeConfig());
}

/** The registration desk's record for a new attendee (it carries an access code). */
function registration(user: string): Attendee {
  return { id: user, name: user, dining: "no preference", breakouts: [], accessCode: `AC-${Math.floor(1000 + Math.random() * 9000)}` };
}

/**
 * After signing in: catch up with the server, and create the profile if the server has
 * none either. Offline, nothing is created: the profile is written on the first edit, so
 * a new device never overwrites a profile it has not seen yet.
 */
export async function firstSync(client: AppClient, user: string): Promise<void> {
  try {
    await withTimeout(client.sync(), 10_000);
  } catch {
    return;
  }
  if (!(await client.get("attendees", user))) await client.put("attendees", registration(user));
}

export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    promise.then(
      (value) => { clearTimeout(timer); resolve(value); },
      (error: unknown) => { clearTimeout(timer); reject(error); },
    );
  });
}

export function describeError(error: unknown): string {
  const e = error as Partial<PwaSyncError> | null;
  if (e && typeof e.message === "string") return e.code ? `${e.code}: ${e.message}` : e.message;
  return String(error);
}
