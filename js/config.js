// The config's parts that are not JSON (the event target, the token, the encryption key,
// the migrations and the resolver functions), taken apart from its JSON part before Rust
// reads that (`api::split_config`). Run as JavaScript (ARCHITECTURE.md "The store's
// script"): in Rust each property read and copy was a call through the boundary, ~2.7 KB
// of the module.
//
// A script, not a module, like js/store.js: scripts/package.mjs puts it at the top of the
// wasm-bindgen glue, whose imports reach it as `pwaSyncConfig`.
const pwaSyncConfig = (() => {
  const absent = (value) => value === undefined || value === null;
  const given = (value) => (absent(value) ? undefined : value);

  // `[json, eventTarget, token, encryption, migrations, resolvers]`, each left out one
  // `undefined`; `resolvers` is `[name, function, name, function, …]` for the collections
  // whose `conflict` is a function, which `json` then names "custom". A string instead:
  // why the config is refused (`invalid-config`), also when reading it throws (a getter,
  // a Proxy): nothing the app gives may throw through the module.
  const split = (config) => {
    try {
      return parts(config);
    } catch (error) {
      return `the config could not be read: ${error}`;
    }
  };

  const parts = (config) => {
    if (typeof config !== "object" || config === null || Array.isArray(config)) {
      return "SyncClient.open needs a config object";
    }
    const { eventTarget, token, encryption, migrations, ...json } = config;
    if (!absent(eventTarget) && !(eventTarget instanceof EventTarget)) return "`eventTarget` has the wrong type";
    if (!absent(token) && typeof token !== "string" && typeof token !== "function") {
      return "`token` must be a string or a function returning one";
    }
    const key = absent(encryption) ? "" : encryption.key;
    if (typeof key !== "string" && !(key instanceof Uint8Array) && !(key instanceof ArrayBuffer)) {
      return "`encryption.key` must be 32 bytes: a Uint8Array or a base64 string";
    }
    const resolvers = [];
    const { collections } = json;
    if (typeof collections === "object" && collections !== null && !Array.isArray(collections)) {
      const replaced = {};
      for (const [name, spec] of Object.entries(collections)) {
        const conflict = absent(spec) ? undefined : spec.conflict;
        if (typeof conflict === "function") resolvers.push(name, conflict);
        replaced[name] = typeof conflict === "function" ? { ...spec, conflict: "custom" } : spec;
      }
      json.collections = replaced;
    }
    return [json, given(eventTarget), given(token), given(encryption), given(migrations), resolvers];
  };

  return { split };
})();
