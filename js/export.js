// The text of `export()`, run as JavaScript (ARCHITECTURE.md "The store's script"): Rust
// asks for each collection's live values in key order (`SyncClient::export_data`, a
// `list` each) and hands the promises here, where the values are JavaScript objects
// already; in Rust they would have to be converted to JSON values first, and its renderer
// was ~2 KB of the gzipped module.
//
// A script, not a module, like js/store.js: scripts/package.mjs puts it at the top of the
// wasm-bindgen glue, whose imports reach it as `pwaSyncExport`.
const pwaSyncExport = (() => {
  // A CSV cell of text (RFC 4180). Text a spreadsheet would run as a formula (`=`, `+`,
  // `-`, `@`, tab, CR first) gets a leading `'`, as OWASP advises for CSV meant to be
  // opened by people.
  const cellText = (text) => {
    const guarded = /^[=+\-@\t\r]/.test(text) ? `'${text}` : text;
    return /[,"\n\r]|^ | $/.test(guarded) ? `"${guarded.replaceAll('"', '""')}"` : guarded;
  };
  // Nothing for null; numbers and booleans as JSON writes them; objects and arrays as
  // their JSON text.
  const cell = (value) => {
    if (value == null) return "";
    if (typeof value === "string") return cellText(value);
    const json = JSON.stringify(value);
    return typeof value === "object" ? cellText(json) : json;
  };

  // One table for all collections: `collection`, then the union of the records'
  // top-level fields in the order first seen (a record is always an object).
  const csv = (names, lists) => {
    const columns = new Set();
    for (const values of lists) for (const value of values) for (const field of Object.keys(value)) columns.add(field);
    const fields = [...columns];
    let out = `${["collection", ...fields].map(cellText).join(",")}\r\n`;
    names.forEach((name, i) => {
      for (const value of lists[i]) {
        const cells = fields.map((field) => (Object.hasOwn(value, field) ? cell(value[field]) : ""));
        out += `${[cellText(name), ...cells].join(",")}\r\n`;
      }
    });
    return out;
  };

  // `{format: "pwa-sync-export", version: 1, exportedAt: ms, collections: {name: [values]}}`
  const json = (names, lists) => {
    const collections = {};
    names.forEach((name, i) => {
      collections[name] = lists[i];
    });
    return JSON.stringify({ format: "pwa-sync-export", version: 1, exportedAt: Date.now(), collections });
  };

  return {
    // Once `lists[i]`, a promise of `names[i]`'s live values, are all read: CSV when
    // `asCsv`, else JSON. A list's rejection is `export()`'s. The text throws only for a
    // value JSON cannot write, which a stored value (copied through JSON when it was
    // written) is not; if one does, `export()` rejects with `storage`.
    text: async (asCsv, names, lists) => {
      const values = await Promise.all(lists);
      try {
        return asCsv ? csv(names, values) : json(names, values);
      } catch (error) {
        throw pwaSyncValues.storageError(`the export could not be written: ${pwaSyncValues.describe(error)}`);
      }
    },
  };
})();
