// The HTTP exchanges with the sync server, run as JavaScript (ARCHITECTURE.md "The
// store's script"): the bearer token (the app's function awaited, a JWT renewed before
// it expires, once more after a 401), `fetch` under one deadline, and the answer read
// whole within a size limit, decoded, parsed and checked, or classified and worded as a
// failure, so Rust (`src/transport.rs`) only builds the request and reads what came back.
// Rust awaited each step as a future
// before (the token, the request, every chunk of the body); the bytes never entered wasm
// memory either way. It uses js/values.js's `fieldsProblem` and `describe`, which come
// before it in the glue.
//
// A script, not a module, like js/store.js: scripts/package.mjs puts both at the top of
// the wasm-bindgen glue, whose imports reach this one as `pwaSyncHttp`; the browser
// suites evaluate it into the global scope (feature "testing"). `fetch` is looked up on
// each call (tests stand in for it).
const pwaSyncHttp = (() => {
  // Bearer tokens: `auth` is `null` (no token) or `{source, cached}`, made by Rust from the
  // config's `token`, a string or a function the app gives (called again when the server
  // says 401, or when the JWT it gave last is about to expire). Tokens live in memory only,
  // never in storage. A failing function fails the request with [why, what] (`withToken`'s
  // shape; `exchange` rejects with it `classified`): "token-threw" (what it threw),
  // "token-rejected" (why its promise rejected), "token-type" (what it gave that is not a
  // string).
  const REFRESH_BEFORE_EXPIRY_MS = 60_000;

  // Whether `token` is a JWT whose `exp` falls within `marginMs` of `nowMs`. Anything else
  // (an opaque token, a JWT without `exp`, a payload that is not base64url JSON) never
  // expires as far as we can tell.
  const expiresWithin = (token, marginMs, nowMs) => {
    const payload = token.split(".")[1];
    if (payload === undefined) return false;
    const base64 = payload.replace(/=+$/, "").replace(/-/g, "+").replace(/_/g, "/");
    let claims;
    try {
      // `atob` gives one char per byte: the claims' JSON parses the same as far as `exp`,
      // a number, goes.
      claims = JSON.parse(atob(base64.padEnd(Math.ceil(base64.length / 4) * 4, "=")));
    } catch {
      return false;
    }
    const exp = claims?.exp;
    return typeof exp === "number" && exp * 1000 - nowMs < marginMs;
  };

  // The token a request carries now: the cached one, or a fresh one from the app's
  // function when there is none yet, it is about to expire, or `refresh` asks.
  const token = async (auth, refresh) => {
    if (auth === null) return undefined;
    const { source } = auth;
    if (typeof source === "string") return source;
    const cached = auth.cached;
    if (!refresh && cached !== undefined && !expiresWithin(cached, REFRESH_BEFORE_EXPIRY_MS, Date.now())) {
      return cached;
    }
    let value;
    try {
      value = source();
    } catch (error) {
      throw ["token-threw", error];
    }
    if (value instanceof Promise) {
      try {
        value = await value;
      } catch (error) {
        throw ["token-rejected", error];
      }
    }
    if (typeof value !== "string") throw ["token-type", value];
    auth.cached = value;
    return value;
  };

  // `request` with `headers` and the token, made once more with a fresh token when the
  // server says 401 and the token comes from a function: the one loop under the exchanges
  // and the event stream. `request` resolves to [status, ...].
  // `signal`: once aborted, the app is not asked for a fresh token (the event stream
  // stopped: its client closed).
  // A token function failing on the refresh a 401 asked for rejects with the 401 too
  // ([why, what, 401]): the server refused the session, and the user must sign in again.
  const withToken = async (auth, headers, request, signal) => {
    for (let refresh = false; ; refresh = true) {
      let bearer;
      try {
        bearer = await token(auth, refresh);
      } catch (failure) {
        if (refresh) failure[2] = 401;
        throw failure;
      }
      const sent = bearer === undefined ? headers : { ...headers, Authorization: `Bearer ${bearer}` };
      const answer = await request(sent);
      if (answer[0] !== 401 || refresh || typeof auth?.source !== "function" || signal?.aborted) return answer;
    }
  };

  // One request and its whole answer within `timeoutMs`, the body included: a server that
  // sends its headers and then stalls must not hold the sync (and the flush lock) forever.
  // Resolves to what `JSON.parse` made of a success's text, checked as an answer of `kind`
  // ("pull", "push", "spaces": `answerProblem`); any other answer rejects (`judged`; the
  // body of an answer that is not a success is read as an empty text when it cannot be
  // read). A body over `limit` bytes is refused as soon as that is
  // known (from its Content-Length, without downloading it; or once the bytes read pass
  // it: a body without a length is never read whole first). A request that does not get
  // its answer rejects with `classified`'s [class, message, status, too
  // large] for each of these failures, met as [why, what]: "network" (the request failed;
  // the error), "timeout" (no answer in time; the error), "body" (reading the answer
  // failed; the error), "body-timeout" (the answer stopped before the deadline; the
  // error), "large" (the size: "N" or "more than N"), or a token's failure (above). With
  // `auth`'s token, asked again once after a 401 (`withToken`), each try under its deadline.
  // Like `done`'s promise, it may be left unawaited (a push sent while the answer before it
  // was stored, when that store failed), and is never an unhandled rejection.
  const exchange = (method, url, headers, body, timeoutMs, limit, auth, kind) => {
    const answer = withToken(auth, headers, (sent) => exchangeOnce(method, url, sent, body, timeoutMs, limit))
      .catch((failure) => {
        throw classified(failure, timeoutMs, limit);
      })
      .then((answered) => judged(answered, kind));
    answer.catch(() => {});
    return answer;
  };

  // A whole answer, [status, text, bytes read, Content-Length (undefined: none or
  // unreadable), Retry-After (null: none)], as the transport takes it: a success's text
  // parsed and checked as an answer of `kind`. Any other status rejects, classified by
  // the status whatever the body (cut, huge or unreadable), with the server's error
  // message and, fifth, its Retry-After in ms. An answer that does not parse or pass the
  // check rejects as cut in transit (a network failure) when fewer bytes arrived than its
  // Content-Length said (WebKit ends a body cut mid-way as if it were complete, others
  // fail the read: the same event, classified the same everywhere), else as not protocol
  // v1. A short body that parses is whole: a length that counts encoded bytes (gzip) can
  // exceed the decoded body, and `Content-Encoding` is hidden from a cross-origin page
  // unless the server exposes it.
  const judged = ([status, text, read, declared, retryAfter], kind) => {
    if (status < 200 || status > 299) {
      const message = `HTTP ${status}: ${errorMessage(text) ?? head(text)}`;
      throw [statusClass(status), message, status, false, retryAfterMs(retryAfter)];
    }
    let parsed;
    let problem;
    try {
      parsed = JSON.parse(text);
      problem = answerProblem(kind, parsed);
    } catch (error) {
      problem = pwaSyncValues.describe(error);
    }
    if (problem === undefined) return parsed;
    if (read < declared) throw ["network", `the answer was cut off: ${read} of its ${declared} bytes arrived`];
    throw ["protocol", `the server's answer is not protocol v1: ${problem} (starts with ${JSON.stringify(head(text))})`];
  };

  // The class of a status that is not a success (core's `ErrorClass::from_status`, which
  // a browser suite holds this to for every status).
  const statusClass = (status) =>
    status === 401 || status === 403 ? "auth"
    : status === 408 ? "timeout"
    : status === 409 ? "protocol"
    : status === 429 || status === 503 ? "rate-limited"
    : status >= 500 && status <= 599 ? "server"
    : "validation";

  // A Retry-After header in ms from now: whole seconds, or an HTTP date (past: 0); undefined
  // for none or one that is neither (core's `retry::parse_retry_after`).
  const retryAfterMs = (header) => {
    if (header == null) return undefined;
    const trimmed = header.trim();
    if (/^\+?\d+$/.test(trimmed)) return Number(trimmed) * 1000;
    const at = Date.parse(trimmed);
    return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
  };

  // The first 120 characters of `text` (code points, as Rust counted them), for a message.
  const head = (text) => {
    let end = 0;
    for (let n = 0; n < 120 && end < text.length; n++) end += text.codePointAt(end) > 0xffff ? 2 : 1;
    return text.slice(0, end);
  };

  // A failed exchange as Rust's `TransportError` takes it: [class, message, status (a 401
  // the token's refresh answered), too large]. From the rejections above; anything else
  // (the script broken) is a network failure named by what was thrown.
  const classified = (failure, timeoutMs, limit) => {
    const { describe } = pwaSyncValues;
    const [why, what, status] = Array.isArray(failure) ? failure : [];
    // What was thrown, described only where the message names it (an app's value that is
    // no string is not looked into).
    const cause = () => describe(what);
    const within = (late) => `${late} within ${timeoutMs} ms`;
    const read = () => `reading the answer failed: ${cause()}`;
    const [kind, message] =
      why === "timeout" ? ["timeout", `${within("no answer")}: ${cause()}`]
      : why === "body-timeout" ? ["timeout", `${within("the answer did not arrive")}: ${read()}`]
      : why === "body" ? ["network", read()]
      : why === "large" ? ["protocol", `the server's answer is ${what} bytes, over the ${limit} limit`]
      : why === "network" ? ["network", cause()]
      : why === "token-threw" ? ["auth", `the token function threw: ${cause()}`]
      : why === "token-rejected" ? ["auth", `the token function rejected: ${cause()}`]
      : why === "token-type" ? ["auth", "the token function must return a string"]
      : ["network", describe(failure)];
    return [kind, message, status, why === "large"];
  };

  const exchangeOnce = async (method, url, headers, body, timeoutMs, limit) => {
    const controller = new AbortController();
    const deadline = setTimeout(() => controller.abort(), timeoutMs);
    try {
      let response;
      try {
        response = await globalThis.fetch(url, { method, headers, body, signal: controller.signal });
      } catch (error) {
        throw [controller.signal.aborted ? "timeout" : "network", error];
      }
      const length = response.headers.get("content-length");
      const declared = length !== null && /^\s*\+?\d+\s*$/.test(length) ? Number(length) : undefined;
      const answer = (text, read) => [response.status, text, read, declared, response.headers.get("retry-after")];
      try {
        const [text, read] = await readText(response, declared, limit);
        return answer(text, read);
      } catch (failure) {
        if (!response.ok) return answer("", 0);
        if (failure[0] === "body" && controller.signal.aborted) failure[0] = "body-timeout";
        throw failure;
      }
    } finally {
      clearTimeout(deadline);
    }
  };

  // The body as text (UTF-8, as `Response.text()` decodes), with the bytes read.
  const readText = async (response, declared, limit) => {
    if (declared > limit) {
      // Not downloaded.
      response.body?.cancel().catch(() => {});
      throw ["large", String(declared)];
    }
    if (!response.body) return ["", 0];
    const reader = response.body.getReader();
    const chunks = [];
    let read = 0;
    for (;;) {
      let step;
      try {
        step = await reader.read();
      } catch (error) {
        throw ["body", error];
      }
      // A result that does not say counts as the end.
      if (step.done !== false) break;
      const chunk = step.value;
      if (!(chunk instanceof Uint8Array)) throw ["body", chunk];
      if (read + chunk.length > limit) {
        // Stop the download; what was read is dropped.
        reader.cancel().catch(() => {});
        throw ["large", `more than ${read + chunk.length}`];
      }
      read += chunk.length;
      chunks.push(chunk);
    }
    const whole = new Uint8Array(read);
    let at = 0;
    for (const chunk of chunks) {
      whole.set(chunk, at);
      at += chunk.length;
    }
    return [new TextDecoder().decode(whole), read];
  };

  // The server's event stream (`GET url`, `text/event-stream`), read with `fetch`, which,
  // unlike `EventSource`, sends our headers and the token and works in service workers,
  // and connected again until `stop()`. `fired(kind)` says what happened: "online" once a
  // connection is accepted (a 200 of `text/event-stream`, as EventSource takes it, whose
  // first bytes came: the server's `: connected`; changes may have been missed while
  // there was none), "poke" for each event that carries data, and when a connection ends
  // "ended" (it had been accepted) or "failed" (it had not: refused, cut before its first
  // bytes, or not an event stream, such as a host answering every path with its page),
  // to which `fired` answers how many ms to wait before connecting again (the session's
  // backoff, in Rust, which grows only with failures). Nothing fires after `stop()`, and a
  // stopped stream asks the app for no token. `fired` throws only when the module broke
  // (a trap): the stream then stops, and what it threw is reported.
  const stream = (url, headers, auth, fired) => {
    const controller = new AbortController();
    const { signal } = controller;
    let timer = 0;
    const stop = () => {
      controller.abort();
      clearTimeout(timer);
    };
    const fire = (kind) => {
      if (signal.aborted) return undefined;
      try {
        return fired(kind);
      } catch (error) {
        stop();
        (globalThis.reportError ?? console.error)(error);
        return undefined;
      }
    };
    const connect = async () => {
      let accepted = false;
      let body = null;
      let reader = null;
      try {
        let type;
        let status;
        [status, body, type] = await withToken(
          auth,
          headers,
          (sent) =>
            globalThis
              .fetch(url, { headers: sent, signal })
              .then((r) => [r.status, r.body, r.headers.get("content-type")]),
          signal,
        );
        if (status !== 200 || !/^text\/event-stream\b/i.test(type ?? "")) return false;
        reader = body.getReader();
        const decoder = new TextDecoder();
        const pokes = eventsWithData();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          if (!accepted && value.length > 0) {
            accepted = true;
            fire("online");
          }
          for (let n = pokes(decoder.decode(value, { stream: true })); n > 0; n--) fire("poke");
          if (signal.aborted) break;
        }
      } catch {
        // A failed request, a lost connection or `stop()`: this connection ends here.
      } finally {
        // A body not read to its end (refused, or a `fire` that stopped the stream) is let go.
        (reader ?? body)?.cancel().catch(() => {});
      }
      return accepted;
    };
    (async () => {
      while (!signal.aborted) {
        const wait = fire((await connect()) ? "ended" : "failed");
        // A client gone answers no wait: the loop ends by `stop()`, never spins. `stop()`
        // clears the timer: the loop then waits for good, holding nothing.
        await new Promise((resolve) => {
          timer = setTimeout(resolve, typeof wait === "number" ? wait : 1000);
        });
      }
    })();
    return { stop };
  };

  // A counter of an event stream's events that carry data, fed its text as it comes (the
  // decoder has dropped a leading BOM and turned bytes that are not UTF-8 into U+FFFD,
  // which hides no line end). As `EventSource` reads it: lines end in CRLF, LF or a lone
  // CR; a blank line ends an event; a `data` field ("data" or "data:...") makes it one
  // to count; comments and other fields do not.
  const eventsWithData = () => {
    let rest = "";
    let data = false;
    // The last text ended in CR: a LF opening the next is that CRLF's second half.
    let afterCr = false;
    return (text) => {
      if (text === "") return 0;
      if (afterCr && text[0] === "\n") text = text.slice(1);
      afterCr = text.endsWith("\r");
      const lines = (rest + text).split(/\r\n|\r|\n/);
      rest = lines.pop();
      let ended = 0;
      for (const line of lines) {
        if (line === "") {
          ended += data;
          data = false;
        } else if (line === "data" || line.startsWith("data:")) {
          data = true;
        }
      }
      return ended;
    };
  };

  // The server's answers checked before Rust reads them (src/wire.rs), with the verdicts
  // serde's derives had (js/values.js's `fieldsProblem`: a missing field or one of the
  // wrong type makes the answer unreadable, `null` or absent is none for an optional
  // field, unknown fields are ignored, whole numbers are safe integers). Rust read each
  // object's fields in order and named the first problem; so does this. `kind` is "pull",
  // "push" or "spaces"; answers the problem, or undefined. A change's value is not looked
  // at here (the engine checks that it is a record of its key); a conflict's server value
  // is read whole by Rust once this passed, which refuses one nested too deep. A `server`
  // on a result that is no conflict is checked here and its value not read (nothing uses
  // it; the old reader read it, so one nested too deep refused the answer).
  const CHANGE = [
    ["collection", "string"],
    ["key", "string"],
    ["version", "u64"],
    ["hlc", "string"],
    ["space", "string", "?"],
    ["schemaVersion", "u32", "?"],
  ];
  const RESULT = [
    ["status", "string"],
    ["id", "u64"],
    ["version", "u64", "?"],
    ["code", "string", "?"],
    ["message", "string", "?"],
  ];
  const SERVER = [["version", "u64"], ["hlc", "string"], ["schemaVersion", "u32", "?"]];
  const NEEDS = { applied: ["version"], conflict: ["server"], rejected: ["code", "message"] };
  // The first problem of the items, each checked by `check(item, index)`.
  const each = (items, check) => {
    for (let i = 0; i < items.length; i++) {
      const problem = check(items[i], i);
      if (problem !== undefined) return problem;
    }
  };
  const resultProblem = (result, i) => {
    const { fieldsProblem, absent } = pwaSyncValues;
    const name = `results[${i}]`;
    const problem =
      fieldsProblem(result, name, []) ??
      (absent(result.server) ? undefined : fieldsProblem(result.server, `${name}.server`, SERVER)) ??
      fieldsProblem(result, name, RESULT);
    if (problem !== undefined) return problem;
    // The fields the status needs (the variant serde read).
    const { status } = result;
    if (!Object.prototype.hasOwnProperty.call(NEEDS, status)) {
      return `unknown variant \`${status}\`, expected one of \`applied\`, \`conflict\`, \`rejected\``;
    }
    const missing = NEEDS[status].find((field) => absent(result[field]));
    return missing === undefined ? undefined : `missing field \`${missing}\``;
  };
  const spaceProblem = (space, i) => {
    const { fieldsProblem } = pwaSyncValues;
    const name = `spaces[${i}]`;
    const problem = fieldsProblem(space, name, [["role", "string"]]);
    if (problem !== undefined) return problem;
    if (!["reader", "writer", "owner"].includes(space.role)) {
      return `\`role\` in ${name}: unknown role ${JSON.stringify(space.role)}`;
    }
    return fieldsProblem(space, name, [["id", "string"]]);
  };
  const answerProblem = (kind, answer) => {
    const { fieldsProblem } = pwaSyncValues;
    if (kind === "pull") {
      const name = "the pull answer";
      return (
        fieldsProblem(answer, name, [["revoked", "strings", "="], ["changes", "list"]]) ??
        each(answer.changes, (change, i) => fieldsProblem(change, () => `changes[${i}]`, CHANGE)) ??
        fieldsProblem(answer, name, [["checkpoint", "u64"], ["hasMore", "bool"], ["serverTime", "u64", "?"]])
      );
    }
    if (kind === "push") {
      const name = "the push answer";
      return (
        fieldsProblem(answer, name, [["results", "list"]]) ??
        each(answer.results, resultProblem) ??
        fieldsProblem(answer, name, [["lastMutationId", "u64"], ["serverTime", "u64", "?"]])
      );
    }
    return fieldsProblem(answer, "the spaces answer", [["spaces", "list"]]) ?? each(answer.spaces, spaceProblem);
  };

  // The message of an error body, `{"error": {"code"?, "message"}}`, or undefined when
  // `text` is not one (`code`, when there, is a string).
  const errorMessage = (text) => {
    let error;
    try {
      error = JSON.parse(text)?.error;
    } catch {
      return undefined;
    }
    const problem = pwaSyncValues.fieldsProblem(error, "error", [["code", "string", "="], ["message", "string"]]);
    return problem === undefined ? error.message : undefined;
  };

  return { exchange, stream, eventsWithData, token, expiresWithin, answerProblem, errorMessage, statusClass, retryAfterMs };
})();
