// Typed collections: `SyncClient.open<{ trips: Trip; attendees: Attendee }>` types every
// call, event and hook per collection. Each `@ts-expect-error` below must be an error, so
// tsc fails if the types stop catching it (e2e/package.test.mjs runs tsc on this).
import init, { SyncClient, type ChangeDetail } from "pwa-sync";
import { useCollection, useDoc, useQuery } from "pwa-sync/react";

interface Trip { id: string; owner: string; title: string; items: string[]; stay?: { city: string; nights: number } }
type Attendee = { id: string; name: string; dining: "vegetarian" | "vegan" | "any" };
type Schema = { trips: Trip; attendees: Attendee };

export async function typed(): Promise<void> {
  await init();
  const client = await SyncClient.open<Schema>({
    name: "typed",
    collections: {
      trips: { key: "id", indexes: ["owner"], conflict: { strategy: "merge", arrays: { items: "union" } } },
      attendees: { key: "id", conflict: (local, server) => local ?? server },
    },
  });
  const stored: Trip = await client.put("trips", { id: "t1", owner: "ana", title: "Lisbon", items: [] });
  const trip: Trip | undefined = await client.get("trips", "t1");
  const trips: Trip[] = await client.list("trips", { index: "owner", equals: "ana" });
  const patched: Trip = await client.patch("trips", "t1", { title: "Porto", stay: { nights: 2 } });
  const removed: Trip = await client.patch("trips", "t1", { stay: null });
  const count: number = await client.putMany("attendees", [{ id: "a1", name: "Ana", dining: "vegan" }]);
  const ana: Attendee | undefined = await client.getFresh("attendees", "a1");
  const stop = client.on("pwa-sync:change", (event) => {
    const detail: ChangeDetail<Schema> = event.detail;
    if (detail.collection === "trips") console.log(detail.value?.title);
    else console.log(detail.value?.dining);
  });
  stop();
  console.log(stored, trip, trips, patched, removed, count, ana);

  // @ts-expect-error: "notes" is not a collection of this client.
  await client.put("notes", { id: "n1" });
  // @ts-expect-error: unknown collections are refused by every call.
  await client.get("tripz", "t1");
  // @ts-expect-error: an Attendee is not a Trip.
  await client.put("trips", { id: "a1", name: "Ana", dining: "vegan" });
  // @ts-expect-error: "colour" is not a field of Trip.
  await client.list("trips", { index: "colour", equals: "red" });
  // @ts-expect-error: a Trip's title is a string.
  await client.patch("trips", "t1", { title: 3 });
  // Queries (issue 17): fields, operators and orders are typed by the record.
  const page = await client.query("trips", { where: { owner: "ana", items: { in: ["passport"] } }, orderBy: ["-title", "owner"], limit: 10 });
  const firstTitle: string | undefined = page.records[0]?.title;
  const next: string | null = page.next;
  const n: number = await client.count("trips", { where: { title: { startsWith: "L" } } });
  const unwatch = client.watch("attendees", { where: { dining: "vegan" } }, (vegans: Attendee[]) => console.log(vegans.length));
  unwatch();
  console.log(firstTitle, next, n, (await client.explain("trips", {})).index);
  // @ts-expect-error: "colour" is not a field of Trip.
  await client.query("trips", { where: { colour: "red" } });
  // @ts-expect-error: nor can a query order by it.
  await client.query("trips", { orderBy: "-colour" });
  // @ts-expect-error: a dining choice is one of three strings.
  await client.query("attendees", { where: { dining: 3 } });
  client.on("pwa-sync:change", (event) => {
    // @ts-expect-error: a change of any collection may be an Attendee's, without a title.
    console.log(event.detail.value?.title);
  });
}

export async function typedConfig(): Promise<void> {
  await SyncClient.open<Schema>({
    name: "typed",
    // @ts-expect-error: the config must declare every collection of the schema (attendees).
    collections: { trips: { key: "id" } },
  });
  await SyncClient.open<Schema>({
    name: "typed",
    // @ts-expect-error: the key field must be a field of the record type.
    collections: { trips: { key: "uuid" }, attendees: { key: "id" } },
  });
}

// The hooks take the record type from the client; `null` while it opens.
export function Views({ client }: { client: SyncClient<Schema> | null }): string {
  const trip: Trip | null | undefined = useDoc(client, "trips", "t1");
  const attendees: Attendee[] | undefined = useCollection(client, "attendees");
  const vegans: Attendee[] | undefined = useQuery(client, "attendees", { where: { dining: "vegan" }, orderBy: "name" });
  // @ts-expect-error: the hooks refuse unknown collections too.
  useCollection(client, "notes");
  return `${trip?.title} ${attendees?.length} ${vegans?.length}`;
}

// Without declared types, today's code keeps compiling: any collection, SyncRecord values.
export async function untyped(): Promise<void> {
  const client = await SyncClient.open({ name: "loose", collections: { notes: { key: "id" } } });
  const note = await client.get("notes", "n1");
  console.log(note?.["text"], await client.list("anything"));
}
