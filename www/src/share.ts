// Sharing the packing list: a `group:` space the user creates on the server and adds
// other attendees to (the reference server's `POST /sync/spaces` and member endpoints).
// The library syncs whatever space an item names; creating spaces and adding people is
// the server's business, so the app calls it directly, with the user's own token.
import { devToken, endpoint } from "./config";
import type { AppClient } from "./types";

async function call(user: string, method: string, path: string, body: unknown): Promise<void> {
  const res = await fetch(`${endpoint()}${path}`, {
    method,
    headers: { Authorization: `Bearer ${devToken(user)}`, "X-Sync-Protocol": "1", "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  if (!res.ok) {
    const answer = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
    throw new Error(answer?.error?.message ?? `the server answered ${res.status}`);
  }
}

/**
 * Make the user's packing list a shared one: a new group space they own, with their
 * private items copied into it (a record never moves between spaces, so each is
 * re-created there and the private one deleted). Resolves to the space.
 */
export async function createSharedList(client: AppClient, user: string): Promise<string> {
  const list = `group:${crypto.randomUUID()}`;
  await call(user, "POST", "/spaces", { id: list });
  for (const item of await client.list("packing")) {
    if (item.list && !item.list.startsWith("user:")) continue;
    await client.put("packing", { ...item, id: crypto.randomUUID(), list });
    await client.delete("packing", item.id);
  }
  // The client learns its new role (and announces it: `pwa-sync:spaces`).
  await client.spaces();
  return list;
}

/** Let `other` read and write the shared list (only its owner may). */
export async function addToList(user: string, list: string, other: string): Promise<void> {
  const path = `/admin/spaces/${encodeURIComponent(list)}/members/${encodeURIComponent(other)}`;
  await call(user, "PUT", path, { role: "writer" });
}
