// Who is signed in. The app keeps the name in localStorage; the service worker gets it
// in a message and from one Cache Storage entry (see config.ts). The library itself never
// stores a token: the page hands it a function that derives one from the name.
import { SESSION_CACHE, SESSION_URL, type SessionMessage } from "./config";

const USER_KEY = "conference.user";

export function storedUser(): string | null {
  try {
    return localStorage.getItem(USER_KEY);
  } catch {
    return null;
  }
}

export async function rememberUser(user: string): Promise<void> {
  localStorage.setItem(USER_KEY, user);
  await tellWorker(user);
}

export async function forgetUser(): Promise<void> {
  localStorage.removeItem(USER_KEY);
  await tellWorker(null);
}

/** Tell the service worker (now, and the next time it starts) who is signed in. */
export async function tellWorker(user: string | null): Promise<void> {
  if ("caches" in globalThis) {
    const cache = await caches.open(SESSION_CACHE);
    if (user) {
      await cache.put(SESSION_URL, new Response(JSON.stringify({ user }), { headers: { "content-type": "application/json" } }));
    } else {
      await cache.delete(SESSION_URL);
    }
  }
  const message: SessionMessage = { type: "conference:session", user };
  const registration = await navigator.serviceWorker?.getRegistration();
  for (const worker of [registration?.active, registration?.waiting, registration?.installing]) worker?.postMessage(message);
}
