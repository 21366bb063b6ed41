import { useState, type FormEvent } from "react";
import { useCollection } from "pwa-sync/react";
import type { AppClient, PackingItem } from "../types";
import { useOptimisticValue } from "../hooks";

/**
 * The packing list: one record per item, and every edit a patch of the one field it
 * changes, so two tabs or devices editing different fields of an item both keep theirs.
 */
export function Packing({ client }: { client: AppClient | null }) {
  const items = useCollection(client, "packing");
  const [title, setTitle] = useState("");
  const sorted = items ? [...items].sort((a, b) => a.addedAt - b.addedAt || a.id.localeCompare(b.id)) : [];
  const packed = sorted.filter((i) => i.packed).length;

  const add = (e: FormEvent) => {
    e.preventDefault();
    const t = title.trim();
    if (!client || !t) return;
    void client.put("packing", { id: crypto.randomUUID(), title: t, qty: 1, packed: false, addedAt: Date.now() });
    setTitle("");
  };
  return (
    <section className="card" aria-labelledby="packing-title">
      <h2 id="packing-title">Packing list</h2>
      <p className="small muted" aria-live="polite">
        {items === undefined ? "Loading…" : `${packed} of ${sorted.length} packed. Shared by all your devices and tabs.`}
      </p>
      <form onSubmit={add} className="row">
        <label htmlFor="new-item">New item</label>
        <input id="new-item" value={title} onChange={(e) => setTitle(e.target.value)} placeholder="e.g. badge" disabled={!client} />
        <button type="submit" disabled={!client}>
          Add
        </button>
      </form>
      <ul className="packing" aria-label="Packing items">
        {sorted.map((item) => (
          <PackingRow key={item.id} client={client} item={item} />
        ))}
      </ul>
    </section>
  );
}

function PackingRow({ client, item }: { client: AppClient | null; item: PackingItem }) {
  const [packed, setPacked] = useOptimisticValue(item.packed);
  const [qty, setQty] = useOptimisticValue(item.qty);
  // Each control patches only its own field.
  const patch = (change: Partial<PackingItem>) => (client ? client.patch("packing", item.id, change) : Promise.resolve());
  return (
    <li data-packed={packed}>
      <label>
        <input type="checkbox" checked={packed} onChange={(e) => setPacked(e.target.checked, () => patch({ packed: e.target.checked }))} />{" "}
        <span className="item-title">{item.title}</span>
      </label>
      <span className="qty">
        <button type="button" aria-label={`Fewer ${item.title}`} onClick={() => setQty(qty - 1, () => patch({ qty: qty - 1 }))} disabled={qty <= 1}>
          −
        </button>
        <span data-testid={`qty-${item.title}`}>
          <span className="visually-hidden">quantity </span>
          {qty}
        </span>
        <button type="button" aria-label={`More ${item.title}`} onClick={() => setQty(qty + 1, () => patch({ qty: qty + 1 }))}>
          +
        </button>
      </span>
      <button type="button" className="link" aria-label={`Remove ${item.title}`} onClick={() => client && void client.delete("packing", item.id)}>
        Remove
      </button>
    </li>
  );
}
