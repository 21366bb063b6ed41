// Calls written as the README's API table shows them type-check against the built package
// under strict settings with skipLibCheck off (e2e/package.test.mjs runs tsc on this).
import init, { SyncClient } from "pwa-sync";
import { EVENTS, type SyncErrorCode } from "pwa-sync/names";
import { installSyncWorker } from "pwa-sync/sw";

export async function newcomer(): Promise<void> {
  await init();
  const client = await SyncClient.open({ name: "app", collections: { items: { key: "id" } } });
  await client.put("items", { id: "a", title: "tent" });
  const all = await client.list("items");
  const some = await client.list("items", { limit: 1 });
  const audit = await client.audit();
  const result = await client.flush();
  const code: SyncErrorCode = "network";
  addEventListener(EVENTS.change, (event) => console.log(event.detail.key, all.length, some.length, audit, result, code));
  void installSyncWorker;
}
