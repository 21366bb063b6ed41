// Stored records checked (and `list`'s read) in JS: see src/idb/codec.rs and reads.rs.
const LARGEST_U64 = 18446744073709549568;
const absent = (v) => v === undefined || v === null || (typeof v === "number" && !Number.isFinite(v));
const whole = (v, max) => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= max;
export const readableRecord = (r) => typeof r === "object" && r !== null && !Array.isArray(r) &&
  typeof r.key === "string" && typeof r.hlc === "string" &&
  (absent(r.version) || whole(r.version, LARGEST_U64)) && whole(r.pending, 4294967295) &&
  typeof r.updatedAt === "number" && Number.isFinite(r.updatedAt) &&
  (absent(r.conflict) || whole(r.conflict, LARGEST_U64));

export function listLive(source, limit, only) {
  return new Promise((done, fail) => {
    const values = [], unreadable = [];
    const take = (records) => {
      for (const r of records) {
        if (!readableRecord(r)) unreadable.push(r);
        else if (r.value != null) values.push(r.value);
      }
    };
    const end = () => {
      if (limit !== undefined) values.length = Math.min(values.length, limit);
      done({ values, unreadable });
    };
    const read = (range, count, then) => {
      const q = count === undefined ? source.getAll(range) : source.getAll(range, count);
      q.onerror = () => fail(q);
      q.onsuccess = () => { try { then(q.result); } catch (e) { fail(e); } };
    };
    if (only !== undefined) {
      const range = IDBKeyRange.only(only);
      return read(range, limit, (records) => {
        take(records);
        if (!unreadable.length || limit === undefined || records.length < limit) return end();
        values.length = unreadable.length = 0;
        read(range, undefined, (all) => { take(all); end(); });
      });
    }
    const after = (key) => {
      const want = limit === undefined ? undefined : limit - values.length;
      read(key === undefined ? undefined : IDBKeyRange.lowerBound(key, true), want, (records) => {
        take(records);
        if (want > 0 && records.length >= want && values.length < limit) return after(records[records.length - 1].key);
        end();
      });
    };
    after(undefined);
  });
}
