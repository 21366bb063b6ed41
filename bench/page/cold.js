// Cold start, on a fresh page load over a database filled by an earlier page of the
// same browser context: import + init + open + first get, timed from this module's
// first line. `?impl=ours|raw|dexie&db=NAME`.
const params = new URL(location.href).searchParams;
const impl = params.get("impl");
const name = params.get("db");
const KEY = "k0000000";
const now = () => performance.now();

async function run() {
  const t0 = now();
  const marks = {};
  let value;
  if (impl === "ours") {
    const { default: init, SyncClient } = await import("./pkg/pwa_sync.js");
    marks.imported = now() - t0;
    await init();
    marks.init = now() - t0;
    const client = await SyncClient.open({ name, collections: { items: { key: "id" } } });
    marks.open = now() - t0;
    value = await client.get("items", KEY);
    client.close();
  } else if (impl === "dexie") {
    const { default: Dexie } = await import("./dexie.mjs");
    marks.imported = now() - t0;
    const db = new Dexie(name);
    db.version(1).stores({ items: "id", outbox: "++id" });
    await db.open();
    marks.open = now() - t0;
    value = await db.items.get(KEY);
    db.close();
  } else {
    const db = await new Promise((resolve, reject) => {
      const r = indexedDB.open(name, 1);
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    marks.open = now() - t0;
    value = await new Promise((resolve, reject) => {
      const r = db.transaction("items").objectStore("items").get(KEY);
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
    });
    db.close();
  }
  const ms = now() - t0;
  if (!value || value.id !== KEY) throw new Error(`${impl}: first get found nothing`);
  return { ms, marks };
}

window.cold = run().then((r) => ({ ok: true, ...r }), (e) => ({ ok: false, error: String(e && e.stack || e) }));
