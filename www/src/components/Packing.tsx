import { useState, type FormEvent } from "react";
import { useQuery } from "pwa-sync/react";
import type { Space } from "pwa-sync";
import { TAGS, type AppClient, type PackingItem } from "../types";
import { addToList, createSharedList } from "../share";
import { describeError } from "../sync";
import { useOptimisticValue } from "../hooks";

/**
 * The packing list: one record per item, and every edit a patch of the one field it
 * changes, so two tabs or devices editing different fields of an item both keep theirs.
 */
type Props = { client: AppClient | null; user: string; spaces: Space[] | undefined };

type Shown = "all" | "packed" | "unpacked";

export function Packing({ client, user, spaces }: Props) {
  // Every item in the order added (the `addedAt` index), for the counts; and the items
  // the filters let through: packed or not, and a tag (the multi-entry `tags` index).
  const items = useQuery(client, "packing", { orderBy: "addedAt" });
  const [shown, setShown] = useState<Shown>("all");
  const [tag, setTag] = useState("");
  const filtered = useQuery(client, "packing", {
    where: { ...(shown === "all" ? {} : { packed: shown === "packed" }), ...(tag ? { tags: tag } : {}) },
    orderBy: "addedAt",
  });
  const [title, setTitle] = useState("");
  const [newTag, setNewTag] = useState("");
  const sorted = items ?? [];
  const packed = sorted.filter((i) => i.packed).length;
  // The shared list this user writes to, if any; otherwise items stay private.
  const shared = spaces?.find((s) => s.id.startsWith("group:") && s.role !== "reader");

  const add = (e: FormEvent) => {
    e.preventDefault();
    const t = title.trim();
    if (!client || !t) return;
    const list = shared?.id ?? `user:${user}`;
    void client.put("packing", { id: crypto.randomUUID(), list, title: t, qty: 1, packed: false, addedAt: Date.now(), tags: newTag ? [newTag] : [] });
    setTitle("");
  };
  return (
    <section className="card" aria-labelledby="packing-title">
      <h2 id="packing-title">Packing list</h2>
      <p className="small muted" aria-live="polite">
        {items === undefined
          ? "Loading…"
          : `${packed} of ${sorted.length} packed. ${shared ? "Shared with your group" : "Shared by all your devices and tabs"}.`}
      </p>
      <form onSubmit={add} className="row">
        <label htmlFor="new-item">New item</label>
        <input id="new-item" value={title} onChange={(e) => setTitle(e.target.value)} placeholder="e.g. badge" disabled={!client} />
        <label htmlFor="new-item-tag" className="visually-hidden">
          Item tag
        </label>
        <select id="new-item-tag" value={newTag} onChange={(e) => setNewTag(e.target.value)} disabled={!client}>
          <option value="">no tag</option>
          <TagOptions />
        </select>
        <button type="submit" disabled={!client}>
          Add
        </button>
      </form>
      <div className="row small">
        <label htmlFor="packing-shown">Show</label>
        <select id="packing-shown" value={shown} onChange={(e) => setShown(e.target.value as Shown)}>
          <option value="all">all items</option>
          <option value="unpacked">still to pack</option>
          <option value="packed">packed</option>
        </select>
        <label htmlFor="packing-tag">Tagged</label>
        <select id="packing-tag" value={tag} onChange={(e) => setTag(e.target.value)}>
          <option value="">any tag</option>
          <TagOptions />
        </select>
      </div>
      <ul className="packing" aria-label="Packing items">
        {(filtered ?? []).map((item) => (
          <PackingRow key={item.id} client={client} item={item} />
        ))}
      </ul>
      <Share client={client} user={user} shared={shared} />
    </section>
  );
}

/** One option per tag. */
function TagOptions() {
  return TAGS.map((t) => (
    <option key={t} value={t}>
      {t}
    </option>
  ));
}

/** Share the list with another attendee: the owner of the shared list adds people. */
function Share({ client, user, shared }: { client: AppClient | null; user: string; shared: Space | undefined }) {
  const [other, setOther] = useState("");
  const [note, setNote] = useState<string | null>(null);
  if (shared && shared.role !== "owner") return null;
  const share = async (e: FormEvent) => {
    e.preventDefault();
    const name = other.trim();
    if (!client || !name) return;
    try {
      const list = shared?.id ?? (await createSharedList(client, user));
      await addToList(user, list, name);
      setNote(`Shared with ${name}.`);
      setOther("");
    } catch (error) {
      setNote(`Could not share: ${describeError(error)}`);
    }
  };
  return (
    <form onSubmit={(e) => void share(e)} className="row">
      <label htmlFor="share-with">Share with</label>
      <input id="share-with" value={other} onChange={(e) => setOther(e.target.value)} placeholder="a name" disabled={!client} />
      <button type="submit" disabled={!client}>
        Share
      </button>
      {note && <span role="status" className="small">{note}</span>}
    </form>
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
      {item.tags?.length ? <span className="muted small" data-testid={`tags-${item.title}`}>{item.tags.join(", ")}</span> : null}
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
