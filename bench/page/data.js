// What every implementation stores, in the bench's workloads (bench.js) and in the
// stored-shape reads (bench/shapes): the same records and the same outbox entries.
const NOTES = "Pack the adapter, the spare charger and the paper copies of the booking; ask about late check-in.";
export const key = (i) => "k" + String(i).padStart(7, "0");
/** One record: ~300 bytes of JSON, the same for every implementation. */
export function record(i, salt = "") {
  return {
    id: key(i),
    title: `Item ${i}${salt}`,
    owner: `user${i % 50}`,
    n: i,
    done: i % 3 === 0,
    tags: ["travel", i % 2 ? "work" : "home", `t${i % 7}`],
    notes: NOTES,
    updatedAt: "2025-11-21T10:00:00.000Z",
  };
}
/** The outbox entry raw IndexedDB and Dexie add beside each record. */
export const outboxEntry = (value) => ({ collection: "items", key: value.id, op: "put", value, at: Date.now() });
