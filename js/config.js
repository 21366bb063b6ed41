// The config taken apart and checked before Rust reads it: its parts that are not JSON
// (the event target, the token, the encryption key, the migrations and the resolver
// functions) from its JSON part (`api::split_config`), and the JSON part's settings, each
// known, of its type and in range (`check`), so that `ClientConfig::from_json` only reads.
// Run as JavaScript (ARCHITECTURE.md "The store's script"): in Rust each property read and
// copy was a call through the boundary (~2.7 KB of the module), and the checks with their
// messages ~6 KB, the same checks here a third of that.
//
// A script, not a module, like js/store.js: scripts/package.mjs puts it at the top of the
// wasm-bindgen glue, whose imports reach it as `pwaSyncConfig`.
const pwaSyncConfig = (() => {
  const absent = (value) => value === undefined || value === null;
  const given = (value) => (absent(value) ? undefined : value);
  const isObject = (value) => typeof value === "object" && value !== null && !Array.isArray(value);
  const kind = (value) =>
    value === null ? "null" : Array.isArray(value) ? "an array" : isObject(value) ? "an object" : `a ${typeof value}`;

  // Why the config is refused; thrown by the checks and answered by `split`.
  class Refused extends Error {}
  const refuse = (reason) => {
    throw new Refused(reason);
  };
  const refuseIf = (reason, prefix = "") => {
    if (reason !== undefined) refuse(prefix + reason);
  };

  // `[json, eventTarget, token, encryption, migrations, resolvers]`, each left out one
  // `undefined`; `migrations` is `[version, function, …]` in ascending order, and
  // `resolvers` `[name, function, name, function, …]` for the collections whose `conflict`
  // is a function, which `json` then names "custom". A string instead:
  // why the config is refused (`invalid-config`), also when reading it throws (a getter,
  // a Proxy): nothing the app gives may throw through the module.
  const split = (config) => {
    try {
      return parts(config);
    } catch (error) {
      return error instanceof Refused ? error.message : `the config could not be read: ${error}`;
    }
  };

  const parts = (config) => {
    if (!isObject(config)) refuse("SyncClient.open needs a config object");
    const { eventTarget, token, encryption, migrations, ...json } = config;
    if (!absent(eventTarget) && !(eventTarget instanceof EventTarget)) refuse("`eventTarget` has the wrong type");
    if (!absent(token) && typeof token !== "string" && typeof token !== "function") {
      refuse("`token` must be a string or a function returning one");
    }
    const key = absent(encryption) ? "" : encryption.key;
    if (typeof key !== "string" && !(key instanceof Uint8Array) && !(key instanceof ArrayBuffer)) {
      refuse("`encryption.key` must be 32 bytes: a Uint8Array or a base64 string");
    }
    // A collection's `conflict` that is a function, in either form of `collections`: where
    // it is (a name, or a listed collection's place) and the function.
    const found = [];
    const { collections } = json;
    const custom = (at, spec) => {
      const conflict = absent(spec) ? undefined : spec.conflict;
      if (typeof conflict !== "function") return spec;
      found.push([at, conflict]);
      return { ...spec, conflict: "custom" };
    };
    if (Array.isArray(collections)) {
      json.collections = collections.map((spec, at) => custom(at, spec));
    } else if (isObject(collections)) {
      // Defined, not assigned: a collection named `__proto__` stays one.
      json.collections = Object.fromEntries(Object.entries(collections).map(([name, spec]) => [name, custom(name, spec)]));
    }
    // Checked as the JSON Rust reads: `undefined` and functions' fields gone, `toJSON`
    // applied (a `Date`, a `URL`), a hole in an array `null`.
    let text;
    try {
      text = JSON.stringify(json);
    } catch (error) {
      refuse(`the config must be JSON apart from eventTarget, token, resolvers and migrations: ${error}`);
    }
    if (pwaSyncValues.hasLoneSurrogate(text)) {
      refuse("the config's strings must be well-formed Unicode (one holds a lone surrogate)");
    }
    const checked = JSON.parse(text);
    check(checked, !absent(encryption));
    const steps = absent(migrations) ? undefined : versions(migrations, checked.version ?? 1);
    // A listed collection's name as the checked copy has it (its `name` read once).
    const resolvers = [];
    for (const [at, resolve] of found) resolvers.push(typeof at === "number" ? checked.collections[at].name : at, resolve);
    return [checked, given(eventTarget), given(token), given(encryption), steps, resolvers];
  };

  // The app's `migrations`, an object of functions by the version each leads to (2 to
  // `version`), as `[version, function, …]` in ascending order.
  const versions = (migrations, declared) => {
    if (typeof migrations !== "object" || Array.isArray(migrations)) {
      refuse("`migrations` must be an object of functions by version");
    }
    const found = [];
    for (const name of Object.keys(migrations)) {
      const version = Number(name);
      if (!/^[1-9]\d*$/.test(name) || version < 2 || version > declared) {
        refuse(`\`migrations\` keys are the versions they lead to, 2 to \`version\` (${declared}); got "${name}"`);
      }
      found.push(version);
    }
    const steps = [];
    for (const version of found.sort((a, b) => a - b)) {
      const step = migrations[version];
      if (typeof step !== "function") refuse(`\`migrations[${version}]\` must be a function`);
      steps.push(version, step);
    }
    return steps;
  };

  // The fields of an object, read by name and type: each read notes the first problem
  // and goes on, and `finish` answers it, or else a field that is not `known`, or
  // `undefined`. A field that is `null` is absent, as serde reads an `Option`.
  const fields = (value, path, known) => {
    const own = new Map(isObject(value) ? Object.entries(value) : []);
    let problem = isObject(value)
      ? undefined
      : `${path ? `\`${path}\`` : "the config"} must be an object, got ${kind(value)}`;
    const name = (field) => `\`${path ? `${path}.` : ""}${field}\``;
    const fail = (reason) => {
      problem ??= reason;
    };
    const take = (field) => {
      const value = own.get(field);
      return absent(value) ? undefined : value;
    };
    const typed = (expected, is) => (field) => {
      const value = take(field);
      if (value === undefined || is(value)) return value;
      fail(`${name(field)} must be ${expected}, got ${kind(value)}`);
    };
    const string = typed("a string", (value) => typeof value === "string");
    return {
      has: (field) => own.has(field),
      take,
      fail,
      string,
      // A string that must be there (not `null` either).
      required: (field) => (take(field) === undefined ? fail(`missing field \`${field}\``) : string(field)),
      whole: (field, max) =>
        typed(`a whole number from 0 to ${max}`, (n) => Number.isSafeInteger(n) && n >= 0 && n <= Number(max))(field),
      number: typed("a number", (value) => typeof value === "number"),
      bool: typed("true or false", (value) => typeof value === "boolean"),
      strings: typed("an array of strings", (value) => Array.isArray(value) && value.every((s) => typeof s === "string")),
      finish: () => {
        const unknown = [...own.keys()].sort(pwaSyncValues.byCodePoint).find((field) => !known.includes(field));
        return (
          problem ??
          (unknown === undefined ? undefined : `unknown field ${name(unknown)}, expected one of \`${known.join("`, `")}\``)
        );
      },
    };
  };

  const U32 = "4294967295";
  const U64 = "18446744073709551615";
  // Empty or Rust's white space only (its `trim`: Unicode's White_Space, with U+0085 and
  // without U+FEFF, where JavaScript's `trim` is the other way round).
  const blank = (text) => typeof text === "string" && /^[\t-\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$/.test(text);
  const STRATEGIES = ["serverWins", "clientWins", "lastWriteWins", "merge", "manual", "custom"];
  const STRATEGY_NAMES = "serverWins, clientWins, lastWriteWins, merge, manual, or a resolver function";
  // The object stores the library owns (src/idb/names.rs), which no collection may be.
  const RESERVED = ["outbox", "conflicts", "audit", "meta"];
  const SPACE_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
  const SPACE_RULE = "1-128 characters of A-Z a-z 0-9 _ . : -";
  // An ECMAScript identifier, as an IndexedDB key path's parts must be; other than ASCII,
  // any character passes and IndexedDB refuses the rare one that is no identifier part.
  const IDENTIFIER = /^[A-Za-z_$\u0080-\uffff][\w$\u0080-\uffff]*$/;

  // The JSON part's settings, each known, of its type and in range; the first that is not
  // is why the config is refused.
  const check = (json, encrypted) => {
    const f = fields(json, "", [
      "name", "endpoint", "collections", "retry", "batchSize", "pullIntervalMs", "realtime", "autoSync",
      "auditLimit", "timeoutMs", "syncTag", "storage", "expectStoredData", "version",
    ]);
    const name = f.required("name");
    const endpoint = f.string("endpoint");
    if (!f.has("collections")) f.fail("missing field `collections`");
    const retry = f.take("retry");
    let jitter, base = 1000, max = 30000;
    if (retry !== undefined) {
      const r = fields(retry, "retry", ["maxAttempts", "baseDelayMs", "maxDelayMs", "jitter"]);
      r.whole("maxAttempts", U32);
      base = r.whole("baseDelayMs", U64) ?? base;
      max = r.whole("maxDelayMs", U64) ?? max;
      jitter = r.number("jitter");
      f.fail(r.finish());
    }
    const batchSize = f.whole("batchSize", U32);
    f.whole("pullIntervalMs", U64);
    f.bool("realtime");
    f.bool("autoSync");
    const auditLimit = f.whole("auditLimit", U32);
    const timeout = f.whole("timeoutMs", U64);
    const syncTag = f.string("syncTag");
    const storage = f.string("storage");
    if (storage !== undefined && storage !== "indexeddb" && storage !== "memory") {
      f.fail(`\`storage\` must be "indexeddb" or "memory", got "${storage}"`);
    }
    f.bool("expectStoredData");
    const version = f.whole("version", U32);
    refuseIf(f.finish());
    const checks = [
      [blank(name), "`name` must be a non-empty string"],
      [blank(endpoint), "`endpoint` must be a non-empty URL, or left out for local-only use"],
      [auditLimit === 0, "`auditLimit` must be at least 1"],
      [blank(syncTag), "`syncTag` must be a non-empty string"],
      [timeout === 0 || timeout > 600000, "`timeoutMs` must be between 1 and 600000 (10 minutes)"],
      [batchSize === 0, "`batchSize` must be at least 1"],
      [jitter < 0 || jitter > 1, "`retry.jitter` must be between 0 and 1"],
      [base > max, "`retry.baseDelayMs` must not exceed `retry.maxDelayMs`"],
      [version === 0, "`version` must be a whole number of at least 1"],
    ];
    for (const [failed, reason] of checks) if (failed) refuse(reason);
    const collections = named(json.collections);
    if (collections.length === 0) refuse("`collections` must declare at least one collection");
    const seen = new Set();
    const indexed = [];
    for (const [name, spec] of collections) {
      if (seen.has(name)) refuse(`duplicate collection name "${name}"`);
      seen.add(name);
      if (collection(name, spec)) indexed.push(name);
    }
    // Sealed values cannot be indexed, and an index would keep its fields readable.
    if (encrypted && indexed.length > 0) {
      refuse(`collection "${indexed[0]}" declares indexes, which would keep those fields readable in IndexedDB; with \`encryption\` leave out \`indexes\``);
    }
  };

  // Collections as an object keyed by name, or as an array of `{name, ...}` (where a name
  // can be given twice, which `check` then refuses): `[name, settings]` pairs.
  const named = (collections) => {
    if (isObject(collections)) return Object.keys(collections).sort(pwaSyncValues.byCodePoint).map((name) => [name, collections[name]]);
    if (!Array.isArray(collections)) {
      refuse("`collections` must be an object of collection settings by name, or an array of {name, ...}");
    }
    return collections.map((spec, i) => {
      if (typeof spec?.name !== "string") refuse(`collections[${i}] needs a string \`name\``);
      const { name, ...rest } = spec;
      return [name, rest];
    });
  };

  // Checks a collection's settings; answers whether it declares indexes.
  const collection = (name, spec) => {
    const here = `collection "${name}": `;
    const refuseHere = (reason) => refuse(here + reason);
    if (name === "") refuse("a collection name must not be empty");
    if (RESERVED.includes(name)) refuse(`collection name "${name}" is reserved (reserved: ${RESERVED.join(", ")})`);
    if (!isObject(spec)) refuseHere('must be an object such as { key: "id" }');
    // What `JSON.parse` made has no `undefined`: a field is there when it is not that.
    if (spec.key === undefined) refuseHere('missing `key`: the field that holds each record\'s id, e.g. { key: "id" }');
    if (spec.conflict !== undefined) conflict(spec.conflict, refuseHere);
    const f = fields(spec, "", ["key", "conflict", "event", "ttlMs", "omit", "indexes", "space", "spaceField"]);
    const key = f.required("key");
    const event = f.take("event");
    f.whole("ttlMs", U64);
    const omit = f.strings("omit") ?? [];
    let indexes = f.take("indexes") ?? [];
    if (!Array.isArray(indexes)) {
      f.fail(`\`indexes\` must be an array, got ${kind(indexes)}`);
      indexes = [];
    }
    const space = f.string("space");
    const spaceField = f.string("spaceField");
    refuseIf(f.finish(), here);
    // The first problem is answered, in the order of the checks.
    const problems = [];
    if (blank(key)) problems.push("`key` must name a field");
    if (omit.includes(key)) problems.push(`\`omit\` cannot contain the key field "${key}"`);
    const declared = [];
    for (const raw of indexes) {
      const index = readIndex(raw, omit, problems);
      if (index === undefined) continue;
      if (declared.some((other) => other.name === index.name)) problems.push(`index "${index.name}" is declared twice`);
      else declared.push(index);
    }
    // A condition on a field with a multi-entry index matches any element of its array
    // (`query`); another index over that field holds the whole array as one key, and
    // would answer the same condition otherwise.
    for (const multi of declared.filter((index) => index.multiEntry)) {
      const [field] = multi.fields;
      if (declared.some((index) => !index.multiEntry && index.fields.includes(field))) {
        problems.push(`field "${field}" has a multi-entry index and cannot be in another index`);
      }
    }
    if (event !== undefined) {
      const eventName = typeof event === "string" ? event : readEvent(event);
      if (eventName === undefined) problems.push("`event` must be an event name or {name, valueField}");
      else if (blank(eventName) || blank(event.valueField)) {
        problems.push("`event` needs a non-empty name (and a non-empty valueField if given)");
      }
    }
    if (space !== undefined && spaceField !== undefined) problems.push("give `space` or `spaceField`, not both");
    else if (space !== undefined && !SPACE_ID.test(space)) problems.push(`\`space\` "${space}" is not a space id: ${SPACE_RULE}`);
    else if (blank(spaceField)) problems.push("`spaceField` must name a field");
    else if (omit.includes(spaceField)) {
      problems.push(`\`spaceField\` "${spaceField}" cannot be omitted: it says where the record lives`);
    }
    if (problems.length > 0) refuseHere(problems[0]);
    return declared.length > 0;
  };

  // A conflict setting: a strategy name, or `{strategy, arrays, manualFields, manualWithinMs}`.
  const conflict = (spec, refuseHere) => {
    const unknown = (strategy) => refuseHere(`unknown conflict strategy "${strategy}"; expected ${STRATEGY_NAMES}`);
    const shapes = () => refuseHere(`\`conflict\` must be a strategy name or {strategy, ...}; expected ${STRATEGY_NAMES}`);
    if (typeof spec === "string") {
      if (!STRATEGIES.includes(spec)) unknown(spec);
      return;
    }
    if (!isObject(spec)) shapes();
    const f = fields(spec, "conflict", ["strategy", "arrays", "manualFields", "manualWithinMs"]);
    const strategy = f.take("strategy");
    if (typeof strategy !== "string") shapes();
    if (!STRATEGIES.includes(strategy)) unknown(strategy);
    const arrays = f.take("arrays");
    if (arrays !== undefined) {
      if (!isObject(arrays)) f.fail("`arrays` must be an object of rules by field");
      else {
        for (const field of Object.keys(arrays).sort(pwaSyncValues.byCodePoint)) {
          const rule = arrays[field];
          if (!["union", "append", "replace"].includes(rule)) {
            f.fail(`\`arrays.${field}\` must be "union", "append" or "replace", got ${JSON.stringify(rule) ?? "null"}`);
            break;
          }
        }
      }
    }
    f.strings("manualFields");
    f.whole("manualWithinMs", U64);
    const problem = f.finish();
    if (problem !== undefined) refuseHere(`conflict: ${problem}`);
  };

  // An index: `"owner"`, `["trip", "day"]` or `{field, multiEntry}`, as
  // `{name, fields, multiEntry}` (named as core's `IndexSpec` names it), or `undefined`
  // with its problem noted.
  const readIndex = (raw, omit, problems) => {
    const shapes = "an index must be a field name, an array of field names, or {field, multiEntry}";
    let index;
    if (typeof raw === "string") index = { name: raw, fields: [raw], multiEntry: false };
    else if (Array.isArray(raw)) {
      if (!raw.every((field) => typeof field === "string")) return void problems.push(shapes);
      if (raw.length < 2) return void problems.push("a compound index needs at least two fields");
      index = { name: `[${raw.join("+")}]`, fields: raw, multiEntry: false };
    } else {
      const f = fields(raw, "index", ["field", "multiEntry"]);
      const field = f.required("field");
      const multiEntry = f.bool("multiEntry") ?? false;
      if (f.finish() !== undefined) return void problems.push(shapes);
      index = { name: multiEntry ? `*${field}` : field, fields: [field], multiEntry };
    }
    for (const [i, field] of index.fields.entries()) {
      let problem;
      if (blank(field)) problem = "index fields must not be empty";
      else if (!IDENTIFIER.test(field)) {
        problem = `index field "${field}" must be a top-level identifier (letters, digits, _, $)`;
      } else if (index.fields.indexOf(field) < i) problem = `index ${index.name} names "${field}" twice`;
      else if (omit.includes(field)) problem = `field "${field}" is both indexed and omitted`;
      if (problem !== undefined) return void problems.push(problem);
    }
    return index;
  };

  // An event setting's name when it is `{name, valueField}`, or `undefined`.
  const readEvent = (event) => {
    const f = fields(event, "event", ["name", "valueField"]);
    const name = f.required("name");
    f.string("valueField");
    return f.finish() === undefined ? name : undefined;
  };

  return { split };
})();
