// IndexedDB requests that run as JavaScript (ARCHITECTURE.md "The store's script"): a
// writing transaction's (`Store::run_transaction` in Rust: read the snapshot a plan needs,
// then issue the plan's writes and wait for the commit; Rust starts the transaction,
// decodes what was read, plans and encodes, crossing into this file twice or three times
// instead of awaiting each request as a Rust future), opening the database (creating
// what the schema lacks, inspecting what is there), and every other transaction's
// requests, each one promise that Rust awaits and decides on.
//
// A script, not a module: scripts/package.mjs puts it at the top of the wasm-bindgen glue
// (pkg/pwa_sync.js), whose imports reach it as `pwaSyncStore`; the browser suites, which
// link the crate without that glue, evaluate it into the global scope (feature "testing").
const pwaSyncStore = (() => {
  // Batches of at least this many keys of one collection first ask which of them exist.
  const PROBE_AT = 16;

  // The key ranges of a database: a memory client's in-memory IndexedDB has its own
  // IDBKeyRange (its stores take no other), the browser's the global one.
  const keyRanges = new WeakMap();
  const Range = (tx) => keyRanges.get(tx.db) ?? IDBKeyRange;

  // A failed request's error: the transaction's own when the request failed because the
  // transaction aborted (Chrome reports AbortError for the request and, near the quota,
  // QuotaExceededError for the transaction).
  const failure = (request) => {
    const { error, transaction } = request;
    return error && error.name === "AbortError" && transaction && transaction.error ? transaction.error : error;
  };

  // A request's result as a promise. Listening at once: a request whose event fires
  // before anyone listens would never settle.
  // A failed request aborts its transaction, which fails every request after it: each
  // promise counts as handled, so only the one awaited reports.
  const done = (request) => {
    const settled = new Promise((resolve, reject) => {
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(failure(request));
    });
    settled.catch(() => {});
    return settled;
  };

  // Promise of `tx`'s end: resolves on commit, rejects with the transaction's error (or
  // `null` for an abort without one). Safe to ask for after requests were issued: a
  // transaction cannot end before the script or Rust gives control back to the browser.
  const ended = (tx) => {
    const settled = new Promise((resolve, reject) => {
      tx.oncomplete = () => resolve();
      tx.onabort = () => reject(tx.error ?? null);
    });
    settled.catch(() => {});
    return settled;
  };

  // Keys are strings, and IndexedDB orders strings by UTF-16 code units, as `<` does.
  const order = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

  // Where `wanted` sits in `sorted` (by `at`), or -1.
  const search = (sorted, at, wanted) => {
    let low = 0;
    let high = sorted.length - 1;
    while (low <= high) {
      const middle = (low + high) >> 1;
      const c = order(at(sorted[middle]), wanted);
      if (c === 0) return middle;
      if (c < 0) low = middle + 1;
      else high = middle - 1;
    }
    return -1;
  };

  // The places (into a flat [collection, key, ...] list) of each collection's keys, for
  // collections with at least PROBE_AT of them, each list in key order without repeats:
  // its first and last key bound a range that holds them all.
  const largeBatches = (pairs) => {
    const byCollection = new Map();
    for (let i = 0; i < pairs.length / 2; i++) {
      const places = byCollection.get(pairs[2 * i]);
      if (places) places.push(i);
      else byCollection.set(pairs[2 * i], [i]);
    }
    const large = [];
    for (const [collection, places] of byCollection) {
      if (places.length < PROBE_AT) continue;
      places.sort((a, b) => order(pairs[2 * a + 1], pairs[2 * b + 1]));
      const unique = places.filter((p, n) => n === 0 || pairs[2 * p + 1] !== pairs[2 * places[n - 1] + 1]);
      large.push([collection, unique]);
    }
    return large;
  };

  // One getAllKeys over each large batch's key range tells which of its keys are stored:
  // a page of new records then reads nothing more. When the stored keys are most of the
  // range, one getAll reads them all, in place of a get per key. A range crowded with
  // other keys (more than four per batch key) is left to the gets. Marks in `settled`
  // the places known absent or read, and adds what was read to `found`.
  const probe = async (tx, pairs, found, settled) => {
    for (const [collection, batch] of largeBatches(pairs)) {
      const key = (place) => pairs[2 * place + 1];
      const limit = batch.length * 4;
      const range = Range(tx).bound(key(batch[0]), key(batch[batch.length - 1]));
      const store = tx.objectStore(collection);
      const stored = await done(store.getAllKeys(range, limit));
      if (stored.length >= limit) continue;
      const places = stored.map((k) => search(batch, key, k));
      const isStored = new Uint8Array(batch.length);
      for (const at of places) if (at >= 0) isStored[at] = 1;
      let present = 0;
      batch.forEach((place, at) => {
        if (isStored[at]) present++;
        else settled[place] = 1;
      });
      if (present < PROBE_AT || stored.length > present + (present >> 1)) continue;
      // The same range in the same transaction: the objects come in the order of `stored`.
      const values = await done(store.getAll(range, stored.length));
      if (values.length !== stored.length) continue;
      places.forEach((at, n) => {
        if (at < 0) return;
        found.push(batch[at], values[n]);
        settled[batch[at]] = 1;
      });
    }
  };

  // The snapshot's first part: the client metadata (when `readMeta`) and the stored record
  // of each [collection, key] pair of `pairs` (flat). Resolves to [meta, found], `found`
  // flat: the pair's place, its stored object (absent keys are left out).
  const read = (tx, pairs, readMeta) => {
    const meta = readMeta ? done(tx.objectStore("meta").get("client")) : undefined;
    return (async () => {
      const found = [];
      const settled = new Uint8Array(pairs.length / 2);
      await probe(tx, pairs, found, settled);
      const places = [];
      const gets = [];
      for (let place = 0; place < settled.length; place++) {
        if (settled[place]) continue;
        places.push(place);
        gets.push(done(tx.objectStore(pairs[2 * place]).get(pairs[2 * place + 1])));
      }
      (await Promise.all(gets)).forEach((stored, n) => {
        if (stored !== undefined) found.push(places[n], stored);
      });
      return [await meta, found];
    })();
  };

  // The snapshot's second part: the outbox entries queued for each [collection, key] pair
  // of `pairs` (flat), through the outbox's byKey index, and the conflicts `ids`. Where a
  // collection has many of the keys, one getAll over their range of the index reads them
  // all, unless the range holds more than four entries per key (then, and for the rest,
  // one getAll per key). Resolves to [queued, conflicts]: `queued` flat, the pair's place
  // and one entry; `conflicts` in the order of `ids` (`undefined` where there is none).
  // The entries come with the outbox's sent mark applied (`sentByMark`).
  const readQueued = (tx, pairs, ids) => {
    const mark = readMark(tx);
    const byKey = pairs.length ? tx.objectStore("outbox").index("byKey") : null;
    const conflicts = ids.length ? tx.objectStore("conflicts") : null;
    const pair = (place) => [pairs[2 * place], pairs[2 * place + 1]];
    const oneByOne = (place) => [place, done(byKey.getAll(Range(tx).only(pair(place))))];
    const large = byKey ? largeBatches(pairs) : [];
    const ranges = large.map(([, batch]) => {
      const limit = batch.length * 4;
      const range = Range(tx).bound(pair(batch[0]), pair(batch[batch.length - 1]));
      return [batch, limit, done(byKey.getAll(range, limit))];
    });
    const inLarge = new Set(large.map(([collection]) => collection));
    const single = [];
    for (let place = 0; place < pairs.length / 2; place++) {
      if (!inLarge.has(pairs[2 * place])) single.push(oneByOne(place));
    }
    const conflictReads = ids.map((id) => done(conflicts.get(id)));
    return (async () => {
      const queued = [];
      for (const [batch, limit, request] of ranges) {
        const entries = await request;
        if (entries.length >= limit) {
          // Crowded: this collection's keys one by one after all.
          for (const place of batch) single.push(oneByOne(place));
          continue;
        }
        for (const entry of entries) {
          const at = typeof entry.key === "string" ? search(batch, (p) => pairs[2 * p + 1], entry.key) : -1;
          if (at >= 0) queued.push(batch[at], entry);
        }
      }
      for (const [place, request] of single) {
        for (const entry of await request) queued.push(place, entry);
      }
      const through = await mark;
      for (let at = 1; at < queued.length; at += 2) sentByMark(queued[at], through);
      return [queued, await Promise.all(conflictReads)];
    })();
  };

  // Delete the outbox entries `ids`. A push answer deletes the batch it took, which is
  // every entry between its first and last id: when the outbox holds exactly `ids.length`
  // entries in that span, one delete of the range does it; otherwise one delete per id.
  const deleteEntries = async (outbox, ids) => {
    if (ids.length >= PROBE_AT) {
      const low = ids.reduce((a, b) => Math.min(a, b));
      const high = ids.reduce((a, b) => Math.max(a, b));
      const span = Range(outbox.transaction).bound(low, high);
      if ((await done(outbox.count(span))) === ids.length) {
        outbox.delete(span);
        return;
      }
    }
    for (const id of ids) outbox.delete(id);
  };

  // The objects of JSON texts that each hold an array of them, in order.
  const parsedAll = (texts) => texts.flatMap((text) => JSON.parse(text));

  // A writing transaction (Rust's `writes::run_transaction_over`): the snapshot read
  // (`read`, then `readQueued` of what `step(0, meta, found)` names, `[pairs, ids]`, where it
  // names anything), the plan (`step(1, queued, conflicts)`: `write`'s arguments after
  // `tx`), the writes. Rust's steps run synchronously between the reads, so the
  // transaction stays active. A step answers `null` when it failed (the reason is Rust's);
  // that, and any other failure before the last write, aborts the transaction, so nothing
  // of it commits. Settles as `write`'s promise does.
  const transact = async (tx, pairs, readMeta, step) => {
    let ending;
    try {
      const [meta, found] = await read(tx, pairs, readMeta);
      const more = step(0, meta, found);
      if (more === null) throw null;
      const [queued, conflicts] = more ? await readQueued(tx, more[0], more[1]) : [];
      const args = step(1, queued, conflicts);
      if (args === null) throw null;
      ending = write(tx, ...args);
    } catch (failure) {
      try {
        tx.abort();
      } catch {
        // Already ended: there is nothing left to undo.
      }
      throw failure;
    }
    return ending;
  };

  // Issue a plan's writes, then resolve when the transaction commits, or reject with why
  // it did not (the transaction's error, or `null` for an abort without one). `records`:
  // [runs, deletes, texts, values] (Rust's `codec::Batch`): `runs` flat [collection,
  // count] of the records to store, in order, their metadata parsed from `texts`, their
  // `value` and `base` in `values`, two a record (`undefined`: none; the same object twice
  // is stored once); `deletes` flat [collection, key]. `entries`: [texts, values], the
  // outbox entries to write. One without an id (a plan's provisional one, core's
  // NEW_ENTRY_IDS, is left out of its text) is added, for the key generator to number, in
  // the order given, which is the plan's; the others are put. A write that throws, or any
  // failure before the last request, aborts the transaction, so nothing of it commits.
  // `fault` (tests): fail after the first record write.
  const write = (tx, records, entries, deleted, audit, auditLimit, conflictsDeleted, conflictsPut, meta, fault) => {
    const end = ended(tx);
    const issued = (async () => {
      const [runs, deletes, texts, values] = records;
      for (let n = 0; n < deletes.length; n += 2) {
        tx.objectStore(deletes[n]).delete(deletes[n + 1]);
        if (fault) throw new Error("injected fault");
      }
      const stored = parsedAll(texts);
      for (let run = 0, at = 0; run < runs.length; run += 2) {
        const store = tx.objectStore(runs[run]);
        for (const last = at + runs[run + 1]; at < last; at++) {
          const record = stored[at];
          const value = values[2 * at];
          const base = values[2 * at + 1];
          if (value !== undefined) record.value = value;
          if (base !== undefined) record.base = base;
          store.put(record);
          if (fault) throw new Error("injected fault");
        }
      }
      const outbox = tx.objectStore("outbox");
      await deleteEntries(outbox, deleted);
      const [entryTexts, entryValues] = entries;
      parsedAll(entryTexts).forEach((entry, at) => {
        entry.value = entryValues[at];
        if (entry.id === undefined) outbox.add(entry);
        else outbox.put(entry);
      });
      if (audit.length) {
        const store = tx.objectStore("audit");
        for (const entry of audit) store.add(entry);
        const count = await done(store.count());
        if (count > auditLimit) {
          // Oldest first by their increasing ids.
          for (const key of await done(store.getAllKeys(null, count - auditLimit))) store.delete(key);
        }
      }
      if (conflictsDeleted.length || conflictsPut.length) {
        const store = tx.objectStore("conflicts");
        for (const id of conflictsDeleted) store.delete(id);
        for (const conflict of conflictsPut) store.put(conflict);
      }
      if (meta !== undefined) tx.objectStore("meta").put(meta, "client");
    })();
    return issued.then(() => end, (error) => {
      try {
        tx.abort();
      } catch {
        // Already ended: there is nothing left to undo.
      }
      throw error;
    });
  };

  // In `upgradeneeded`: create each store and index of `specs` that is missing, delete
  // nothing. An outbox without its key generator (from before keyed ids) is set aside under
  // another name and a new one made in its place; the upgrade's migrations move the
  // entries over. Throws [what was being done, the error].
  const createMissing = (db, tx, specs) => {
    for (const [name, keyPath, autoIncrement, indexes] of specs) {
      let store;
      try {
        store = db.objectStoreNames.contains(name) ? tx.objectStore(name) : db.createObjectStore(name, { keyPath, autoIncrement });
      } catch (error) {
        throw [`cannot create object store "${name}"`, error];
      }
      if (autoIncrement && !store.autoIncrement) {
        try {
          store.name = "outbox-before-keyed-ids";
          store = db.createObjectStore(name, { keyPath, autoIncrement });
        } catch (error) {
          throw ["cannot set the old outbox aside", error];
        }
      }
      for (const [index, path, multiEntry] of indexes) {
        if (store.indexNames.contains(index)) continue;
        try {
          store.createIndex(index, path, { unique: false, multiEntry });
        } catch (error) {
          throw [`cannot create index "${index}" on "${name}"`, error];
        }
      }
    }
  };

  // Open the database `name` at `version` (`undefined`: as it is), creating what `specs`
  // (each [name, keyPath, autoIncrement, [[index, keyPath, multiEntry], ...]]) lacks in
  // `upgradeneeded` and then running `upgrade` in its transaction with `settings`
  // ([format, collections, schema version]) and Rust's `steps` and `migrated` (the app's
  // migrations): the transaction never leaves this script, and the first failure aborts
  // it. `blocked` is waited out: our other connections close on `versionchange`.
  // Resolves to the connection; rejects with [why, the error]: "unavailable" (no
  // indexedDB here), "version" (another context moved the version past `version`: try
  // again), "refused", "upgrade" (the upgrade threw; Rust may hold the reason), or what
  // creating failed at. `memory`: a memory client's [factory, IDBKeyRange] (`memory`
  // below), `undefined` for the browser's IndexedDB.
  const open = (name, version, specs, settings, steps, migrated, memory) => new Promise((resolve, reject) => {
    let factory;
    try {
      // A getter that throws (SecurityError in some sandboxed contexts) says why.
      factory = memory ? memory[0] : globalThis.indexedDB;
    } catch (error) {
      return reject(["unavailable", error]);
    }
    if (!factory) return reject(["unavailable", null]);
    let request;
    try {
      request = version === undefined ? factory.open(name) : factory.open(name, version);
    } catch (error) {
      return reject(["refused", error]);
    }
    let failed = null;
    const ranges = () => memory && keyRanges.set(request.result, memory[1]);
    request.onupgradeneeded = () => {
      ranges();
      const tx = request.transaction;
      try {
        createMissing(request.result, tx, specs);
      } catch (failure) {
        failed = failure;
        // Aborting the versionchange transaction fails the open request.
        return tx.abort();
      }
      const [format, collections, schemaVersion, fresh] = settings;
      upgrade(tx, format, collections, schemaVersion, steps, migrated, fresh).catch((error) => {
        failed = ["upgrade", error];
        try {
          tx.abort();
        } catch {
          // Already ended: the open request reports how.
        }
      });
    };
    request.onsuccess = () => {
      ranges();
      resolve(request.result);
    };
    request.onerror = () => {
      const { error } = request;
      reject(failed ?? (error && error.name === "VersionError" ? ["version", error] : ["refused", error]));
    };
  });

  // Open `name` at its current version, then one version up (which upgrades, `open`) while
  // `judge(missing, meta, stamp)` of what `inspect` saw answers 1 (something declared is
  // missing, values of an older app version; 0: ready, 2: refused, the reason Rust's); at
  // most `attempts` opens, each retry meaning another context moved the version. The
  // connection's hooks go on as soon as it opens: `versionchange` (another context upgrades
  // or deletes the database) closes it at once, so that context never waits for us, and
  // sets `hooks.closed`, as the browser's `close` does. Resolves to [db, hooks, meta,
  // pending] (the inspection's client metadata and outbox size); rejects with `open`'s
  // [why, error], ["judged"], ["attempts"], or what the inspection threw.
  const connect = async (name, specs, settings, steps, migrated, memory, judge, attempts) => {
    let version;
    while (attempts--) {
      let db;
      try {
        db = await open(name, version, specs, settings, steps, migrated, memory);
      } catch (failure) {
        if (failure[0] !== "version") throw failure;
        version = undefined;
        continue;
      }
      const hooks = { closed: false };
      db.onversionchange = () => {
        hooks.closed = true;
        db.close();
      };
      db.onclose = () => {
        hooks.closed = true;
      };
      let seen;
      try {
        seen = await inspect(db, specs);
      } catch (error) {
        release(db);
        // Closed by a `versionchange` while we looked: look again.
        if (!hooks.closed) throw error;
        version = undefined;
        continue;
      }
      const verdict = judge(seen[0] ? 1 : 0, seen[1], seen[2]);
      if (verdict === 0) return [db, hooks, seen[1], seen[3]];
      release(db);
      if (verdict !== 1) throw ["judged"];
      version = db.version + 1;
    }
    throw ["attempts"];
  };

  // A connection let go of: its hooks off, then closed.
  const release = (db) => {
    db.onversionchange = null;
    db.onclose = null;
    db.close();
  };

  // What opening needs to know of `db`, in one read-only transaction over the stores of
  // `specs` that exist: [whether one is missing or not as declared (an index missing, an
  // outbox without its key generator), the client metadata, the schema stamp, the
  // outbox's size]; `undefined` for what is not there.
  const inspect = async (db, specs) => {
    const present = specs.filter(([name]) => db.objectStoreNames.contains(name));
    let missing = present.length < specs.length;
    if (!present.length) return [missing];
    const tx = db.transaction(present.map(([name]) => name), "readonly");
    for (const [name, , autoIncrement, indexes] of present) {
      const store = tx.objectStore(name);
      if (store.autoIncrement !== autoIncrement || indexes.some(([index]) => !store.indexNames.contains(index))) {
        missing = true;
      }
    }
    const has = (name) => present.some(([n]) => n === name);
    const meta = has("meta") ? tx.objectStore("meta") : null;
    // All requests first, then their answers: one round trip.
    const pending = has("outbox") ? done(tx.objectStore("outbox").count()) : undefined;
    const client = meta && done(meta.get("client"));
    const stamp = meta && done(meta.get("schema"));
    return [missing, await client, await stamp, await pending];
  };

  // In the upgrade transaction, after what was missing exists: store the `fresh` client
  // metadata where there is none (a client's database is never without it, from the
  // transaction that creates it on; `undefined`: leave it to `openMeta`), bring the stored
  // data to this library's `format`, then, when `steps(stamp)` (Rust: the app's migrations to run
  // for the stored schema version) says so, pass every record of `collections`, every
  // queued outbox entry and every open conflict through `migrated(kind, collection, stored)`
  // (kind 0 record, 1 entry, 2 conflict; `undefined`: leave it as it is; `false`: abort) and
  // stamp the schema `version`. Resolves when every request is issued; on a failure `open`
  // aborts the transaction, so the database stays as it was and the open fails.
  //
  // The format: an outbox from before keyed ids (set aside by createMissing) has its
  // entries moved into the new one as they are, and the key generator starts above every
  // id the old counter gave (the server keeps each (client, id) it applied: a reused id
  // would be answered as a duplicate and its write lost, invariant 3); the metadata's
  // `format` is raised, so a library of an older one refuses the database
  // (`schema-downgrade`) instead of writing shapes or ids this one does not expect.
  const upgrade = async (tx, format, collections, version, steps, migrated, fresh) => {
    const meta = tx.objectStore("meta");
    const client = done(meta.get("client"));
    const legacy = tx.objectStoreNames.contains("outbox-before-keyed-ids")
      ? done(tx.objectStore("outbox-before-keyed-ids").getAll())
      : null;
    const stored = await client;
    if (legacy) {
      const outbox = tx.objectStore("outbox");
      let highest = 0;
      for (const entry of await legacy) {
        if (typeof entry?.id === "number") highest = Math.max(highest, entry.id);
        outbox.put(entry);
      }
      // A key put explicitly moves the generator past it; deleting it does not move it back.
      const lastGiven = typeof stored?.nextMutationId === "number" ? stored.nextMutationId - 1 : 0;
      if (lastGiven > highest) {
        outbox.put({ id: lastGiven });
        outbox.delete(lastGiven);
      }
      tx.db.deleteObjectStore("outbox-before-keyed-ids");
    }
    if (stored === undefined && fresh !== undefined) meta.put(fresh, "client");
    if (stored && typeof stored === "object" && typeof stored.format === "number" && stored.format < format) {
      stored.format = format;
      meta.put(stored, "client");
    }
    // Read again here, not trusted from before the upgrade: another tab may have migrated
    // in between, and migrating twice would corrupt.
    const go = steps((await done(meta.get("schema")))?.version);
    // Rust holds the reason of a refusal or failure: this only stops the upgrade.
    if (go === null) throw new Error("the stored schema version is refused");
    if (!go) return;
    const each = async (kind, store, collection) => {
      for (const object of await done(store.getAll())) {
        const next = migrated(kind, collection, object);
        if (next === false) throw new Error("a migration failed");
        if (next !== undefined) store.put(next);
      }
    };
    for (const collection of collections) await each(0, tx.objectStore(collection), collection);
    await each(1, tx.objectStore("outbox"), null);
    await each(2, tx.objectStore("conflicts"), null);
    meta.put({ version }, "schema");
  };

  // Delete the database `name`; waits while connections that ignore `versionchange`
  // stay open (ours close themselves).
  const remove = (name) => done(indexedDB.deleteDatabase(name));

  // A memory client's IndexedDB (`storage: "memory"`): a fresh in-memory one of its own,
  // as [factory, IDBKeyRange], from the module `load()` resolves to (the package's
  // `memory/idb.js`, fake-indexeddb, which `init()` names) or, without a loader, the
  // global `pwaSyncMemoryIdb` (the browser suites install it). Nothing of it is loaded
  // until a memory client opens.
  const memory = async (load) => {
    const module = load ? await load() : globalThis.pwaSyncMemoryIdb;
    if (!module || typeof module.IDBFactory !== "function") {
      throw new Error('no in-memory IndexedDB: initialise with the package\'s init (import init from "pwa-sync")');
    }
    return [new module.IDBFactory(), module.IDBKeyRange];
  };

  // What a client's open loads first (Rust's `client::open::load_modules`): for
  // `storage: "memory"` (`inMemory`), the in-memory IndexedDB (`memory`); otherwise, with
  // `encryption`, its cipher: the module `encryption.loadCipher()` resolves to (by default
  // `sealLoader`, the package's `seal/`), initialised, and its `Cipher.fromKey(key)`.
  // Resolves to [cipher, memory] (`undefined` for what is not needed); rejects with
  // [whether the config is at fault (`invalid-config`, else `storage`), message]. What the
  // app gives is read through `pwaSyncValues.property`: nothing it throws gets through.
  const prepare = async (encryption, inMemory, sealLoader, memoryLoader) => {
    const { describe, property } = pwaSyncValues;
    if (inMemory) {
      try {
        return [undefined, await memory(memoryLoader)];
      } catch (error) {
        throw [false, `storage "memory": cannot load the in-memory IndexedDB: ${describe(error)}`];
      }
    }
    if (encryption === undefined) return [];
    const loader = property(encryption, "loadCipher") ?? sealLoader;
    if (loader === undefined) {
      throw [
        true,
        '`encryption` needs the cipher module: initialise with the package\'s `init` (import init from "pwa-sync"), or give `encryption.loadCipher: () => import("pwa-sync/seal")`',
      ];
    }
    if (typeof loader !== "function") throw [true, "`encryption.loadCipher` has the wrong type"];
    let module;
    try {
      module = await loader.call(null);
      // Initialised if the loader did not (wasm-bindgen's init returns at once when it
      // already ran).
      const init = property(module, "default");
      if (typeof init === "function") await init.call(null);
    } catch (error) {
      throw [false, `encryption at rest: cannot load the cipher module (seal/): ${describe(error)}`];
    }
    const Cipher = property(module, "Cipher");
    const fromKey = property(Cipher, "fromKey");
    if (typeof fromKey !== "function") throw [false, "encryption at rest: the cipher module has no Cipher.fromKey"];
    try {
      return [fromKey.call(Cipher, property(encryption, "key")), undefined];
    } catch (error) {
      const message = property(error, "message");
      throw [true, typeof message === "string" ? message : describe(error)];
    }
  };

  // `persist()` as the app gets it (`navigator.storage.persist()`, Rust's
  // `SyncClient::persist` hands this promise on): whether the origin's storage is now
  // exempt from eviction; false where the context cannot ask (workers, which lack
  // `persist`, browsers without `navigator.storage`). Rejects with `storage`, worded.
  const persist = async () => {
    const manager = globalThis.navigator?.storage;
    if (typeof manager?.persist !== "function") return false;
    try {
      return (await manager.persist()) === true;
    } catch (error) {
      throw pwaSyncValues.storageError(`navigator.storage.persist() failed: ${pwaSyncValues.describe(error)}`);
    }
  };

  // The origin's [usage, quota, persisted] as `navigator.storage` tells them (Rust's
  // `Client::storage_report`), each `undefined` where it does not (no `navigator.storage`,
  // or it refused).
  const estimate = async () => {
    const manager = globalThis.navigator?.storage;
    const bytes = (n) => (typeof n === "number" && Number.isFinite(n) && n >= 0 ? n : undefined);
    let told = {};
    let persisted;
    try {
      told = (await manager.estimate()) ?? {};
    } catch {
      // Unknown.
    }
    try {
      persisted = await manager.persisted();
    } catch {
      // Unknown.
    }
    return [bytes(told.usage), bytes(told.quota), typeof persisted === "boolean" ? persisted : undefined];
  };

  // A database's eviction marker in `localStorage` (Rust's `client::persistence`): read
  // (`value` undefined: the string, or undefined), set (a string: whether it was stored)
  // or removed (`null`). Nothing is read or kept where the context has no working
  // `localStorage` (workers; a getter that throws where storage is disabled).
  const marker = (key, value) => {
    try {
      const storage = globalThis.localStorage;
      if (!storage) return undefined;
      if (value === undefined) return storage.getItem(key) ?? undefined;
      if (value === null) return storage.removeItem(key);
      storage.setItem(key, value);
      return true;
    } catch {
      return undefined;
    }
  };

  // The reads of every other transaction: single requests Rust awaits and decides on.

  // `bounds` ([lower, upper, lowerOpen, upperOpen], `undefined` for an open end) as a key
  // range of `tx`'s database; `null` (the whole store or index) when there are none.
  const keyRange = (bounds, tx) => {
    if (!bounds) return null;
    const [lower, upper, lowerOpen, upperOpen] = bounds;
    const R = Range(tx);
    if (upper === undefined) return lower === undefined ? null : R.lowerBound(lower, lowerOpen);
    if (lower === undefined) return R.upperBound(upper, upperOpen);
    return R.bound(lower, upper, lowerOpen, upperOpen);
  };

  // The object store `store`, or its index `index` when there is one.
  const source = (tx, store, index) => {
    const objects = tx.objectStore(store);
    return index == null ? objects : objects.index(index);
  };

  // The stored object under `key` (`undefined` when there is none).
  const get = (tx, store, key) => done(tx.objectStore(store).get(key));

  // `get` as the app gets it (Rust's `IdbStore::read_now`): one request in a transaction
  // of its own on `db`, its promise resolved here with the record's value (`undefined`
  // for none or a tombstone) when the stored object is a readable record, as `list`'s
  // `listLive` reads. A failed request or an unreadable record goes to Rust's
  // `settle(collection, key, event)`, which makes the error (and reports it) and throws it.
  // Throws where the transaction cannot start (Rust then reads through its own path).
  const getNow = (db, collection, key, settle) => {
    const request = db.transaction(collection).objectStore(collection).get(key);
    return new Promise((resolve, reject) => {
      const settled = (event) => {
        try {
          resolve(settle(collection, key, event));
        } catch (error) {
          reject(error);
        }
      };
      request.onsuccess = (event) => {
        const r = request.result;
        if (r === undefined) resolve(undefined);
        else if (readable(r)) resolve(r.value == null ? undefined : r.value);
        else settled(event);
      };
      request.onerror = settled;
    });
  };

  // A transaction on `db` over `stores` (Rust's `transaction::start_transaction`),
  // read-write when `write`, flushed to disk before `complete` when `strict` (invariant 2).
  // One store by name, not in an array: Chrome's `transaction()` takes a string faster
  // than a sequence. Throws as `transaction()` does.
  const begin = (db, stores, write, strict) =>
    db.transaction(
      stores.length === 1 ? stores[0] : stores,
      write ? "readwrite" : "readonly",
      strict ? { durability: "strict" } : undefined,
    );

  // `count` as the app gets it (Rust's `IdbStore::count_now`): a `count` request of
  // `index` within each of `ranges` (bounds each; an exact plan's ranges hold each record
  // once) in a transaction of its own on `db`, its promise settled by Rust's
  // `settle(collection, undefined, event)` with a request's `success` or `error` event (the
  // count, or the error). Throws where the transaction cannot start (Rust then counts
  // through its own path).
  const countNow = (db, collection, index, ranges, settle) => {
    const tx = db.transaction(collection);
    const source = tx.objectStore(collection).index(index);
    const finished = ranges.map((bounds) => {
      const request = source.count(keyRange(bounds, tx));
      return new Promise((resolve) => {
        request.onsuccess = resolve;
        request.onerror = resolve;
      });
    });
    // Answered as one request's event: the first failed one's, or the ranges' sum.
    return Promise.all(finished).then((events) => {
      const failed = events.find((event) => event.target.error);
      const sum = events.reduce((total, event) => total + event.target.result, 0);
      return settle(collection, undefined, failed ?? { target: { error: null, result: sum } });
    });
  };

  // The stored objects in `bounds`, in key order, at most `count` (`undefined`: all).
  // The outbox's entries come with its sent mark applied (`tx` covers `meta` then).
  const getAll = (tx, store, index, bounds, count) => {
    const read = done(source(tx, store, index).getAll(keyRange(bounds, tx), count));
    return store === "outbox" && index == null ? withMark(tx, read) : read;
  };

  // How many stored objects lie in any of `ranges` (each bounds or `null`), summed.
  const count = async (tx, store, index, ranges) => {
    const counted = ranges.map((bounds) => done(source(tx, store, index).count(keyRange(bounds, tx))));
    return (await Promise.all(counted)).reduce((a, b) => a + b, 0);
  };

  // A cursor walking `bounds` backwards, read in batches by `take`: the reverse of
  // getAll, which only reads forward.
  const backwards = (tx, store, index, bounds) => {
    const request = source(tx, store, index).openCursor(keyRange(bounds, tx), "prev");
    return { request, next: done(request) };
  };

  // The next `n` values of a cursor from `backwards` (fewer at its end).
  const take = async (walk, n) => {
    const values = [];
    while (values.length < n) {
      const cursor = await walk.next;
      if (!cursor) break;
      values.push(cursor.value);
      // Listen before continuing: the next step settles this promise.
      walk.next = done(walk.request);
      cursor.continue();
    }
    return values;
  };

  // What is wrong with a stored record's metadata (`recordProblem`) or a stored outbox
  // entry's (`entryProblem`), or undefined: readable exactly when serde reads
  // `EntityRecord<()>` or `OutboxEntry<()>` from the object's JSON text, as it did before
  // (NaN and the infinities are `null` there; a whole number need not be a safe integer;
  // the browser tests `record_metadata_is_read_as_serde_reads_its_json` and
  // `entry_metadata_is_read_as_serde_reads_its_json` hold them to serde's verdicts). Rust's
  // codec reads what passes (`codec::record_metadata`, `entry_metadata`), and `list` sorts
  // records out by it. Straight-line checks: a list runs one per record.
  const LARGEST_U64 = 18446744073709549568;
  const MAX_U32 = 4294967295;
  const none = (v) => v === undefined || v === null || (typeof v === "number" && !Number.isFinite(v));
  const whole = (v, max) => typeof v === "number" && Number.isInteger(v) && v >= 0 && v <= max;
  const finite = (v) => typeof v === "number" && Number.isFinite(v);
  const isObject = (v) => typeof v === "object" && v !== null && !Array.isArray(v);
  const WHOLE = "must be a whole number from 0";
  const recordProblem = (r) => {
    if (!isObject(r)) return "a stored record must be an object";
    if (typeof r.key !== "string") return "key must be a string";
    if (!(none(r.version) || whole(r.version, LARGEST_U64))) return `version ${WHOLE}`;
    if (typeof r.hlc !== "string") return "hlc must be a string";
    if (!whole(r.pending, MAX_U32)) return `pending ${WHOLE}`;
    if (!finite(r.updatedAt)) return "updatedAt must be a finite number";
    if (!(none(r.conflict) || whole(r.conflict, LARGEST_U64))) return `conflict ${WHOLE}`;
    if (!(r.revived === undefined || typeof r.revived === "boolean")) return "revived must be true or false";
  };
  const entryProblem = (e) => {
    if (!isObject(e)) return "a stored outbox entry must be an object";
    if (!whole(e.id, LARGEST_U64)) return `id ${WHOLE}`;
    if (typeof e.collection !== "string") return "collection must be a string";
    if (typeof e.key !== "string") return "key must be a string";
    if (!(e.op === "put" || e.op === "patch" || e.op === "delete")) return "op must be put, patch or delete";
    if (!(none(e.baseVersion) || whole(e.baseVersion, LARGEST_U64))) return `baseVersion ${WHOLE}`;
    if (typeof e.hlc !== "string") return "hlc must be a string";
    if (typeof e.sent !== "boolean") return "sent must be true or false";
    if (!finite(e.createdAt)) return "createdAt must be a finite number";
    if (!(none(e.space) || typeof e.space === "string")) return "space must be a string";
    // Absent: 0 (entries from before attempts were counted); `null` is refused.
    if (!(e.attempts === undefined || whole(e.attempts, MAX_U32))) return `attempts ${WHOLE}`;
  };
  const readable = (r) => recordProblem(r) === undefined;

  // `list` as the app gets it (Rust's `IdbStore::list_values`): the live values of
  // `store` in key order, or of its index `index` at the key `only`, at most `limit`
  // (`undefined`: all), as one array, with the stored objects that are no readable
  // record (for Rust to name). The same reads as Rust's `list_in`: the store in batches
  // of what the limit still misses, resuming after the last key, so tombstones and
  // unreadable records take no place; the index at once, and all of it again when
  // unreadable records took places in the limit. Resolves to [values, unreadable].
  const listLive = async (tx, store, index, only, limit) => {
    const from = source(tx, store, index);
    const values = [];
    const unreadable = [];
    const sortOut = (records) => {
      for (const r of records) {
        if (!readable(r)) unreadable.push(r);
        else if (r.value != null) values.push(r.value);
      }
    };
    if (index != null) {
      const range = Range(tx).only(only);
      const records = await done(from.getAll(range, limit));
      sortOut(records);
      if (unreadable.length && limit !== undefined && records.length >= limit) {
        values.length = unreadable.length = 0;
        sortOut(await done(from.getAll(range)));
        values.length = Math.min(values.length, limit);
      }
      return [values, unreadable];
    }
    let after = null;
    for (;;) {
      const want = limit === undefined ? undefined : limit - values.length;
      const records = await done(from.getAll(after, want));
      sortOut(records);
      if (!(want > 0 && records.length >= want && values.length < limit)) return [values, unreadable];
      after = Range(tx).lowerBound(records[records.length - 1].key, true);
    }
  };

  // The first page of an exact walk read forward (Rust's `IdbStore::page_values`): the
  // values of the first `count` stored objects within `bounds` of `index`, and the
  // objects, when each one is a readable live record; `null` when one is not (Rust then
  // reads them its own way, which names or passes over that one).
  const pageLive = async (tx, store, index, bounds, count) => {
    const records = await getAll(tx, store, index, bounds, count);
    const values = [];
    for (const r of records) {
      if (!readable(r) || r.value == null) return null;
      values.push(r.value);
    }
    return [values, records];
  };

  // The outbox's sent mark (`meta` "sent"): the highest entry id a push took. A take flags
  // its entries by raising the mark, not by rewriting each (its value and all). Absent:
  // none taken; anything but a whole number counts every entry as taken, which only stops
  // writes folding into them and has takes flag each again. Like `done`'s promise, it may
  // be left unawaited when an earlier read fails, and is never an unhandled rejection.
  const readMark = (tx) => {
    const mark = done(tx.objectStore("meta").get("sent")).then((stored) =>
      stored === undefined ? 0 : Number.isSafeInteger(stored) && stored >= 0 ? stored : Infinity);
    mark.catch(() => {});
    return mark;
  };

  // Whether an entry's attempt count is one this script may count on: absent, or a whole
  // number Rust reads (a u32) that one more attempt keeps one. Any other is left as it is
  // for Rust to name, not made readable here.
  const countable = ({ attempts }) => attempts === undefined || (Number.isInteger(attempts) && attempts >= 0 && attempts < 0xffffffff);

  // An entry a push took under the mark `through` without rewriting it is sent, and was
  // attempted once unless it counted more itself. Other shapes are left for Rust to name.
  const sentByMark = (entry, through) => {
    if (entry?.sent !== false || !(entry.id <= through)) return;
    entry.sent = true;
    if (countable(entry)) entry.attempts = Math.max(entry.attempts ?? 0, 1);
  };

  // The entries of `read` (a request's promise) with the outbox's sent mark applied.
  const withMark = (tx, read) => {
    const mark = readMark(tx);
    return (async () => {
      const [entries, through] = [await read, await mark];
      for (const entry of entries) sentByMark(entry, through);
      return entries;
    })();
  };

  // A push's batch: the first `limit` outbox entries above id `after`, each counted as one
  // more attempt and flagged sent, as the push sends them. The mark rises to the last one;
  // only an entry already sent (taken again: its push got no answer) is rewritten, with
  // its own flag and count.
  const takeBatch = async (tx, after, limit) => {
    const outbox = tx.objectStore("outbox");
    const mark = readMark(tx);
    const entries = await done(outbox.getAll(Range(tx).bound(after, Infinity, true), limit));
    const through = await mark;
    for (const entry of entries) {
      const again = entry?.sent === true || entry?.id <= through;
      sentByMark(entry, through);
      if (entry?.sent !== true && entry?.sent !== false) continue;
      if (countable(entry)) entry.attempts = (entry.attempts ?? 0) + 1;
      entry.sent = true;
      if (again) outbox.put(entry);
    }
    const last = entries.length ? entries[entries.length - 1].id : 0;
    if (last > through) tx.objectStore("meta").put(last, "sent");
    return entries;
  };

  // Put each of `objects` (in-line keys) into `store`.
  const putAll = (tx, store, objects) => {
    const objectStore = tx.objectStore(store);
    for (const object of objects) objectStore.put(object);
  };

  // The client metadata, or, when there is none, `fresh` stored in its place (resolves to
  // `undefined` then).
  const openMeta = async (tx, fresh) => {
    const meta = tx.objectStore("meta");
    const stored = await done(meta.get("client"));
    if (stored === undefined) meta.put(fresh, "client");
    return stored;
  };

  // Mark the outbox entries `ids` sent (those still there).
  const markSent = async (tx, ids) => {
    const outbox = tx.objectStore("outbox");
    for (const entry of await Promise.all(ids.map((id) => done(outbox.get(id))))) {
      if (entry === undefined) continue;
      entry.sent = true;
      outbox.put(entry);
    }
  };

  // Empty every store of `tx`; then put the schema `stamp` back, when there is one, and
  // the `fresh` client metadata: in the same transaction, so no other context ever finds
  // the database without it.
  const clear = (tx, stamp, fresh) => {
    for (const name of tx.objectStoreNames) tx.objectStore(name).clear();
    const meta = tx.objectStore("meta");
    if (stamp !== undefined) meta.put(stamp, "schema");
    meta.put(fresh, "client");
  };

  // A fresh client id, `c-` and 16 hex digits from the platform's CSPRNG (the server keys
  // what it applied by client id and mutation id, so each new database's outbox, numbered
  // from 1, needs one). Where there is no `crypto`, the reason is thrown as the text Rust's
  // message quotes.
  const clientId = () => {
    if (!globalThis.crypto) throw "no `crypto` in this context";
    const bytes = crypto.getRandomValues(new Uint8Array(8));
    return "c-" + Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  };

  return {
    clientId, transact, connect, release, remove, prepare, persist, estimate, marker,
    ended, keyRange, get, getNow, countNow, begin, getAll, count, backwards, take, listLive, pageLive, putAll, takeBatch, openMeta,
    recordProblem, entryProblem,
    markSent, clear,
  };
})();
