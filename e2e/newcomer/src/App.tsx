// src/App.tsx
import { useEffect, useState } from "react";
import type { SyncClient } from "pwa-sync";
import { useCollection, useSyncStatus } from "pwa-sync/react";
import { openClient, type Schema } from "./sync.ts";

export default function App() {
  // null while the client opens (and during server rendering): the hooks wait.
  const [client, setClient] = useState<SyncClient<Schema> | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    openClient().then(setClient, (e: Error) => setError(e.message));
  }, []);
  const status = useSyncStatus(client); // undefined until the client is open
  const items = useCollection(client, "items"); // Item[] | undefined, kept current
  const [title, setTitle] = useState("");

  async function add() {
    if (!client || !title) return;
    await client.put("items", { id: crypto.randomUUID(), title });
    setTitle("");
  }

  if (error) return <p role="alert">{error}</p>;
  return (
    <main>
      <p role="status">{status ? `${status.state}, ${status.pending} pending` : "opening"}</p>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          void add();
        }}
      >
        <input aria-label="New item" value={title} onChange={(e) => setTitle(e.target.value)} />
        <button disabled={!client}>Add</button>
      </form>
      <ul>
        {items?.map((item) => <li key={item.id}>{item.title}</li>)}
      </ul>
    </main>
  );
}
