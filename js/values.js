// The copy of an app's value that `put`, `putMany` and `patch` keep (Rust's
// `JsVal::copy_of`): the JSON value it stands for, detached from the app's object; and a
// query and `list`'s options checked and copied as the core reads them (`checkQuery`,
// `checkList`); and the field checks of what IndexedDB gives back and the server sends
// (`fieldsProblem`, `storedProblem`). Run as JavaScript
// (ARCHITECTURE.md "The store's script"): in Rust the value's text crossed into wasm memory
// to be measured, a copy and an allocation per write, and a query's checks with their
// messages were ~1.6 KB of the module. js/config.js uses its `byCodePoint` and
// `hasLoneSurrogate`, js/http.js its `fieldsProblem`, so it comes first in the glue.
//
// A script, not a module, like js/store.js: scripts/package.mjs puts it at the top of the
// wasm-bindgen glue, whose imports reach it as `pwaSyncValues`.
const pwaSyncValues = (() => {
  // Whether the JSON `text` nests objects and arrays more than `max` levels deep (brackets
  // inside strings do not count): the same verdicts as core's `value::nests_deeper_than`
  // (the browser test `the_values_script_measures_depth_as_the_core_does`).
  const nestsDeeperThan = (text, max) => {
    // Fewer brackets than the limit cannot nest past it.
    if (text.length <= 2 * max) return false;
    let depth = 0;
    let inString = false;
    for (let at = 0; at < text.length; at++) {
      const c = text.charCodeAt(at);
      if (inString) {
        if (c === 92) at++; // a backslash: the next character is escaped
        else if (c === 34) inString = false;
      } else if (c === 34) {
        inString = true;
      } else if (c === 123 || c === 91) {
        if (++depth > max) return true;
      } else if (c === 125 || c === 93) {
        depth--;
      }
    }
    return false;
  };

  // `[null, copy]`, or why there is none: `["json", error]` (not serialisable: a cycle, a
  // BigInt, a throwing `toJSON`), `["none"]` (undefined, a function or a symbol) or
  // `["deep"]` (nested past `max`). `Date`s become their ISO strings and `undefined`
  // fields go, exactly as `JSON.stringify` (and so the server) has them.
  const copy = (value, max) => {
    let text;
    try {
      text = JSON.stringify(value);
    } catch (error) {
      return ["json", error];
    }
    if (text === undefined || value === undefined) return ["none"];
    if (nestsDeeperThan(text, max)) return ["deep"];
    return [null, JSON.parse(text)];
  };

  const isObject = (value) => typeof value === "object" && value !== null && !Array.isArray(value);
  // Strings in code point order, as Rust orders them (a serde_json object's keys, so the
  // first problem the core's readers met): `sort()` orders UTF-16 code units.
  const byCodePoint = (a, b) => {
    for (let at = 0; ; ) {
      const x = a.codePointAt(at);
      const y = b.codePointAt(at);
      if (x !== y) return x === undefined ? -1 : y === undefined ? 1 : x - y;
      if (x === undefined) return 0;
      at += x > 0xffff ? 2 : 1;
    }
  };
  // A part of a query's JSON copy that is not there, or `null`.
  const absent = (value) => value === undefined || value === null;
  const OPERATORS = "gt, gte, lt, lte, in, startsWith";

  // Whether a JSON text `JSON.stringify` wrote holds a lone surrogate, which it escapes as
  // `\udXXX` (a backslash of the string itself it writes `\\`): Rust reads one as U+FFFD,
  // so two strings a script told apart could be one there.
  const hasLoneSurrogate = (text) => /(?:^|[^\\])(?:\\\\)*\\ud[89a-f]/i.test(text);

  // A query (`query`'s, `count`'s when `count`, `explain`'s, `watch`'s) as the core is to
  // read it: `[json]`, the JSON copy that was checked (`null` for none), or why it is
  // refused (`invalid-query`): the first problem in the order the core's reader met them
  // when it checked queries (`Query::parse` reads what passes, and checks the cursor).
  // `multiEntry`: the collection's fields with a multi-entry index, which no query orders
  // by. Checked as the JSON the core reads (a `Date` its string, a function's field gone).
  const checkQuery = (query, count, multiEntry) => {
    let text;
    try {
      const undefinedAt = undefinedIn(query?.where);
      if (undefinedAt !== undefined) return undefinedAt;
      text = JSON.stringify(query);
    } catch (error) {
      return `the query must be JSON: not serialisable as JSON (${describe(error)})`;
    }
    if (text === undefined) {
      return query === undefined ? [null] : 'the query must be an object such as { where: { owner: "ana" } }';
    }
    if (hasLoneSurrogate(text)) return "the query's strings must be well-formed Unicode (one holds a lone surrogate)";
    const json = JSON.parse(text);
    return problemOf(json, count, multiEntry) ?? [json];
  };

  // JSON has no `undefined`: `{owner: user?.id}` would lose its condition and match every
  // record while `user` loads.
  const undefinedIn = (where) => {
    if (typeof where !== "object" || where === null) return undefined;
    for (const [field, condition] of Object.entries(where)) {
      let at;
      if (condition === undefined) at = field;
      else if (isObject(condition)) {
        for (const [op, operand] of Object.entries(condition)) {
          if (operand === undefined || (Array.isArray(operand) && operand.includes(undefined))) at ??= `${field}.${op}`;
        }
      }
      if (at !== undefined) return `\`where.${at}\` is undefined: give a value, or leave it out`;
    }
  };

  const problemOf = (query, count, multiEntry) => {
    if (query === null) return undefined;
    if (!isObject(query)) return 'the query must be an object such as { where: { owner: "ana" } }';
    const allowed = count ? ["where"] : ["where", "orderBy", "limit", "after"];
    const unknown = Object.keys(query).sort(byCodePoint).find((option) => !allowed.includes(option));
    if (unknown !== undefined) return `unknown option "${unknown}" (expected ${allowed.join(", ")})`;
    const { where, orderBy, limit, after } = query;
    if (!absent(where)) {
      if (!isObject(where)) return "`where` must be an object of field conditions";
      for (const field of Object.keys(where).sort(byCodePoint)) {
        const problem = conditionProblem(where[field]);
        if (problem !== undefined) return `"${field}": ${problem}`;
      }
    }
    if (!absent(orderBy)) {
      const seen = [];
      for (const term of Array.isArray(orderBy) ? orderBy : [orderBy]) {
        if (typeof term !== "string") return '`orderBy` takes a field, "-field" for descending, or an array of them';
        const field = term.startsWith("-") ? term.slice(1) : term;
        if (field === "") return "`orderBy` names an empty field";
        if (seen.includes(field)) return `\`orderBy\` names "${field}" twice`;
        if (multiEntry.includes(field)) return `cannot order by "${field}": it has a multi-entry index (an array field)`;
        seen.push(field);
      }
    }
    if (!absent(limit) && !(Number.isSafeInteger(limit) && limit >= 1)) return "`limit` must be a whole number of at least 1";
    if (!absent(after) && typeof after !== "string") return "`after` must be the `next` string of the previous page, or null";
  };

  // A field's condition: a value it must equal, or an object of operators.
  const conditionProblem = (condition) => {
    if (Array.isArray(condition)) return "to match one of several values use { in: [...] }";
    if (!isObject(condition)) return undefined;
    const operators = Object.keys(condition).sort(byCodePoint);
    if (operators.length === 0) return `no operator (expected ${OPERATORS})`;
    for (const op of operators) {
      const operand = condition[op];
      if (["gt", "gte", "lt", "lte"].includes(op)) {
        if (typeof operand !== "string" && typeof operand !== "number") {
          return `\`${op}\` takes a string or a number`;
        }
      } else if (op === "in") {
        if (!Array.isArray(operand)) return "`in` must be an array";
        if (operand.some((value) => typeof value === "object" && value !== null)) {
          return "`in` takes an array of strings, numbers, booleans or null";
        }
      } else if (op === "startsWith") {
        if (typeof operand !== "string") return "`startsWith` takes a string";
      } else return `unknown operator "${op}" (expected ${OPERATORS})`;
    }
  };

  // `list`'s options (`{index, equals, limit}`) as the core is to read them: `[index,
  // equals, limit]`, each undefined when not given (`equals` as its JSON: a string or a
  // number), or why they are refused (`invalid-value`), the first problem in the order the
  // core met them when it checked them. `declared`: the collection's index names;
  // `single`: those over one field, which `list` takes (`query` takes any).
  const checkList = (query, declared, single) => {
    if (query === undefined || query === null) return [];
    if (typeof query !== "object") return "a list query must be an object such as {index, equals, limit}";
    // Each option read once, in the core's order (`property`).
    const option = (name) => property(query, name);
    const limit = option("limit");
    if (limit !== undefined && !(Number.isInteger(limit) && limit >= 0 && limit <= 4294967295)) {
      return "`limit` must be a whole number of at least 0";
    }
    const index = option("index");
    const equals = option("equals");
    if (index === undefined && equals === undefined) return [undefined, undefined, limit];
    if (typeof index !== "string") return "`index` must name a declared index";
    if (equals === undefined) return "`index` needs `equals`: the value to match";
    // Compared as its JSON, as the server and IndexedDB will have it (a `Date` its string);
    // deeper than the core read JSON (`convert::json_of`: 480 levels below the top) is
    // refused as it refused it.
    const [why, key] = copy(equals, 481);
    if (why === "none") return "expected an object, got undefined, a function or a symbol";
    if (why === "deep") return "not serialisable as JSON (nested more than 480 levels deep)";
    if (why !== null) return `not serialisable as JSON (${describe(key)})`;
    if (!single.includes(index)) return `"${index}" is not a declared index (declared: [${declared.join(", ")}])`;
    if (typeof key !== "string" && typeof key !== "number") return `index value for "${index}" must be a string or a number`;
    return [index, key, limit];
  };

  // `object[name]`, read as Rust's `Reflect::get` read it: absent where the getter throws,
  // and on `null` or `undefined`. What the app gives (options, a config's loader, what it
  // resolves to) is read through it, so nothing it throws gets through.
  const property = (object, name) => {
    try {
      return object == null ? undefined : object[name];
    } catch {
      return undefined;
    }
  };

  // What was thrown, for a message: "name: message", the name or the message alone, or
  // the value as text (`String`). Never throws (a Symbol, an object without a prototype:
  // "a value that cannot be shown"). Rust's `error::describe` is this function.
  const describe = (value) => {
    try {
      const { name, message } = Object(value);
      if (typeof name === "string") return message && typeof message === "string" ? `${name}: ${message}` : name;
      return typeof message === "string" ? message : String(value);
    } catch {
      return "a value that cannot be shown";
    }
  };

  // The first problem of `object`'s `fields` as Rust reads them (serde's verdicts, as its
  // derives had them), or undefined: each `[field, type, mode]` in order, `name` naming the
  // object in messages. Types: "string", "number", "whole" (a safe integer of either
  // sign), "bool", "list", "strings" (a list of strings), a list of the strings allowed,
  // or a bound: "u64" (a safe integer from 0), "u32", "u16". Mode "?": absent or `null` is
  // none; "=": absent is the default (`null` is checked). Used for the server's answers
  // (js/http.js's `answerProblem`) and what IndexedDB gives back (`storedProblem`).
  const BOUNDS = { u64: Number.MAX_SAFE_INTEGER, u32: 4294967295, u16: 65535 };
  const TYPES = {
    string: [(v) => typeof v === "string", "a string"],
    number: [(v) => typeof v === "number", "a number"],
    whole: [Number.isSafeInteger, "a whole number"],
    bool: [(v) => typeof v === "boolean", "true or false"],
    list: [Array.isArray, "a list"],
  };
  // `name` may be a function that makes it, called only for a message: a pull page checks
  // a thousand changes, each named by its place.
  const fieldsProblem = (object, name, fields) => {
    const named = () => (typeof name === "function" ? name() : name);
    if (!isObject(object)) return `${named()} must be an object`;
    for (const [field, type, mode] of fields) {
      const value = object[field];
      if (value === undefined ? mode !== undefined : value === null && mode === "?") continue;
      if (value === undefined) return `missing field \`${field}\` in ${named()}`;
      const wrong = mustBe(type, value);
      if (wrong !== undefined) return `\`${field}\` in ${named()} must be ${wrong}`;
    }
  };
  // What a value of `type` must be, when `value` is not that.
  const mustBe = (type, value) => {
    const max = BOUNDS[type];
    if (max !== undefined) {
      return Number.isSafeInteger(value) && value >= 0 && value <= max ? undefined : `a whole number from 0 to ${max}`;
    }
    if (Array.isArray(type)) {
      if (typeof value !== "string") return "a string";
      return type.includes(value) ? undefined : type.join(" or ");
    }
    if (type === "strings") {
      if (!Array.isArray(value)) return "a list";
      return value.every((item) => typeof item === "string") ? undefined : "a string";
    }
    return TYPES[type][0](value) ? undefined : TYPES[type][1];
  };

  // The stored client metadata ("meta"), a stored conflict ("conflict") or an audit entry
  // ("audit") as src/idb/stored.rs reads it: its first problem, in the order the readers
  // met them when they checked (the metadata's own fields before its clock's), or
  // undefined. Values (a conflict's sides, an audit entry's) are read whole by Rust, which
  // refuses one that is not JSON: after every field here, where the readers met them in
  // the object's order (an object with both problems is refused either way, named by the
  // other one).
  const META = [
    ["clientId", "string"],
    ["nextMutationId", "u64"],
    ["checkpoint", "u64"],
    ["lastSyncedAt", "number", "?"],
    ["format", "u32"],
    ["checkpointScope", "string", "?"],
    ["nextConflictId", "u64", "="],
    ["clockOffsetMs", "whole", "="],
  ];
  const CONFLICT = [
    ["id", "u64"],
    ["collection", "string"],
    ["key", "string"],
    ["detectedAt", "number"],
    ["serverVersion", "u64"],
    ["fields", "strings", "="],
    ["space", "string", "?"],
  ];
  const AUDIT = [
    ["at", "number"],
    ["kind", ["conflict", "rejected"]],
    ["collection", "string"],
    ["key", "string"],
    ["strategy", "string"],
    ["decidedBy", "string"],
    ["serverVersion", "u64", "?"],
  ];
  const storedProblem = (kind, object) => {
    if (kind === "conflict") return fieldsProblem(object, "a stored conflict", CONFLICT);
    if (kind === "audit") return fieldsProblem(object, "an audit entry", AUDIT);
    const name = "the client metadata";
    if (!isObject(object)) return `${name} must be an object`;
    const { hlc, lastFailure } = object;
    if (hlc === undefined) return `missing field \`hlc\` in ${name}`;
    if (!isObject(hlc)) return "hlc must be an object";
    if (!absent(lastFailure)) {
      const failure = [["at", "number"], ["code", "string"], ["message", "string"]];
      const problem = fieldsProblem(lastFailure, "lastFailure", failure);
      if (problem !== undefined) return problem;
    }
    return fieldsProblem(object, name, META) ?? fieldsProblem(hlc, "hlc", [["wallMs", "u64"], ["counter", "u16"]]);
  };

  // What Rust's `Error::Storage(message)` is at the boundary (`error::to_js`), for a
  // failure a script reports to the app itself.
  const storageError = (message) =>
    Object.assign(new Error(`storage error: ${message}`), { name: "PwaSyncError", code: "storage" });

  return { storageError, copy, nestsDeeperThan, checkQuery, checkList, byCodePoint, hasLoneSurrogate, fieldsProblem, storedProblem, describe, absent, property };
})();
