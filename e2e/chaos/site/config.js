// The one config of the chaos app, shared by its page and its service worker (they open
// the same IndexedDB database, so they must agree on it). `merge` and `lastWriteWins`
// settle every conflict without a person, so the replicas can converge on their own.
export const FIELDS = ["a", "b", "c"];

export function chaosConfig({ user, endpoint, realtime = false, autoSync = true }) {
  return {
    name: `chaos-${user}`,
    endpoint,
    token: `dev:${user}`,
    collections: {
      notes: { key: "id", conflict: "merge" },
      prefs: { key: "id", conflict: "lastWriteWins" },
      // One space two users write (the server runs with --everyone group:chaos=writer).
      shared: { key: "id", space: "group:chaos", conflict: "merge" },
    },
    // Short backoff so a run of a minute sees many retries; the breaker still trips.
    retry: { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 1500, jitter: 0.2 },
    pullIntervalMs: 1500,
    realtime,
    autoSync,
    // The oracles read every conflict and rejection back: keep them all.
    auditLimit: 1_000_000,
  };
}
