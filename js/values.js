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

  return { copy, nestsDeeperThan };
})();
