// The copy of an app's value that `put`, `putMany` and `patch` keep (Rust's
// `JsVal::copy_of`): the JSON value it stands for, detached from the app's object. Run as
// JavaScript (ARCHITECTURE.md "The store's script"): in Rust the value's text crossed into
// wasm memory to be measured, a copy and an allocation per write.
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

  // Where a query's `where` holds `undefined` ("field", or "field.operator" for an
  // operator's operand), or undefined if nowhere. JSON drops it: the condition or bound
  // would vanish and match more than asked. A `where` that throws when read is left to
  // the JSON step, which reports it.
  const undefinedCondition = (query) => {
    try {
      const where = query?.where;
      if (where === null || typeof where !== "object") return undefined;
      for (const [field, condition] of Object.entries(where)) {
        if (condition === undefined) return field;
        if (condition === null || typeof condition !== "object" || Array.isArray(condition)) continue;
        for (const [op, operand] of Object.entries(condition)) {
          if (operand === undefined || (Array.isArray(operand) && operand.includes(undefined))) return `${field}.${op}`;
        }
      }
    } catch {
      // Read again, and reported, by the JSON step.
    }
    return undefined;
  };

  return { copy, nestsDeeperThan, undefinedCondition };
})();
