//! HTTP transport for protocol v1 over `fetch` from the global scope (pages and
//! workers alike), with a timeout, one token refresh on 401, and every failure
//! classified.

use std::cell::RefCell;

use js_sys::{Array, Function, JsString, Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, RequestInit, Response};

use crate::body::BodyReader;
use crate::convert::encode_json;
use crate::error::describe;
use crate::sys::{self, now_ms};
use crate::value::JsVal;
use crate::wire;
use pwa_sync_core::engine::{Transport, TransportError};
use pwa_sync_core::error::ErrorClass;
use pwa_sync_core::protocol::{
    PullResponse, PushRequest, PushResponse, SpacesResponse, PROTOCOL_HEADER, PROTOCOL_VERSION,
};
use pwa_sync_core::retry::parse_retry_after;

/// A response larger than this is refused rather than parsed.
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// Where bearer tokens come from: a fixed string, or a function the app gives (called
/// again when the server says 401). Tokens live in memory only, never in storage.
pub struct Auth {
    source: Option<JsValue>,
    cached: RefCell<Option<String>>,
}

impl Auth {
    pub fn new(source: Option<JsValue>) -> Auth {
        Auth { source, cached: RefCell::new(None) }
    }

    fn can_refresh(&self) -> bool {
        self.source.as_ref().is_some_and(JsValue::is_function)
    }

    /// The token a request carries now: the cached one, or a fresh one from the app's
    /// function when there is none yet, it is about to expire, or `refresh` asks.
    pub async fn token(&self, refresh: bool) -> Result<Option<String>, TransportError> {
        let Some(source) = &self.source else { return Ok(None) };
        if let Some(token) = source.as_string() {
            return Ok(Some(token));
        }
        if !refresh {
            let cached = self.cached.borrow().clone();
            // A JWT about to expire is renewed before it is sent, not after a 401.
            if let Some(token) = cached.filter(|t| !expires_within(t, REFRESH_BEFORE_EXPIRY_MS, now_ms())) {
                return Ok(Some(token));
            }
        }
        let auth_error = |m: String| TransportError::new(ErrorClass::Auth, m);
        let function: &Function = source.unchecked_ref();
        let mut value = function
            .call0(&JsValue::UNDEFINED)
            .map_err(|e| auth_error(format!("the token function threw: {}", describe(&e))))?;
        if let Some(promise) = value.dyn_ref::<Promise>() {
            value = JsFuture::from(promise.clone())
                .await
                .map_err(|e| auth_error(format!("the token function rejected: {}", describe(&e))))?;
        }
        let token = value.as_string().ok_or_else(|| auth_error("the token function must return a string".into()))?;
        *self.cached.borrow_mut() = Some(token.clone());
        Ok(Some(token))
    }
}

/// A cached JWT is renewed when it expires within this time.
pub const REFRESH_BEFORE_EXPIRY_MS: u64 = 60_000;

/// Whether `token` is a JWT whose `exp` falls within `margin_ms` of `now_ms`. Anything
/// else (an opaque token, a JWT without `exp`) never expires as far as we can tell.
pub fn expires_within(token: &str, margin_ms: u64, now_ms: u64) -> bool {
    let Some(payload) = token.split('.').nth(1) else { return false };
    // base64url as `atob` reads it (no base64 code in the module). `atob` gives one char
    // per byte: the claims' JSON parses the same as far as `exp`, a number, goes.
    let mut base64: String = payload
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    while base64.len() % 4 != 0 {
        base64.push('=');
    }
    let Ok(text) = crate::sys::global().atob(&base64) else { return false };
    let claims = js_sys::JSON::parse(&text).ok();
    let exp = claims.and_then(|claims| Reflect::get(&claims, &"exp".into()).ok()).and_then(|exp| exp.as_f64());
    exp.is_some_and(|exp| exp * 1000.0 - (now_ms as f64) < margin_ms as f64)
}

pub struct HttpTransport {
    base: String,
    auth: Auth,
    /// The config's `timeoutMs`: one deadline for a request and its answer's body.
    timeout_ms: u32,
}

impl HttpTransport {
    pub fn new(endpoint: &str, auth: Auth, timeout_ms: u32) -> HttpTransport {
        HttpTransport { base: endpoint.trim_end_matches('/').to_owned(), auth, timeout_ms }
    }

    pub fn events_url(&self) -> String {
        format!("{}/events", self.base)
    }

    /// Headers for a request, with a fresh token if asked.
    pub async fn headers(&self, refresh: bool) -> Result<Object, TransportError> {
        let headers = Object::new();
        set(&headers, PROTOCOL_HEADER, PROTOCOL_VERSION);
        if let Some(token) = self.auth.token(refresh).await? {
            set(&headers, "Authorization", &format!("Bearer {token}"));
        }
        Ok(headers)
    }

    /// `fetch` with our headers; on 401, once more with a refreshed token.
    /// `abort`, when given, cancels the request from outside (the event stream on close).
    pub async fn fetch(
        &self,
        method: &str,
        url: &str,
        body: Option<&JsValue>,
        timeout_ms: Option<u32>,
        abort: Option<&AbortController>,
    ) -> Result<Response, TransportError> {
        let mut refresh = false;
        loop {
            let headers = self.headers(refresh).await?;
            if body.is_some() {
                set(&headers, "Content-Type", "application/json");
            }
            let response = fetch_once(method, url, &headers, body, timeout_ms, abort).await?;
            if response.status() == 401 && !refresh && self.auth.can_refresh() {
                refresh = true;
                continue;
            }
            return Ok(response);
        }
    }

    async fn call<T>(
        &self,
        method: &str,
        url: &str,
        body: Option<&JsValue>,
        read: fn(&JsValue) -> Result<T, String>,
    ) -> Result<T, TransportError> {
        // Only the read is per type: the exchange is compiled once for every answer type.
        let body = self.exchange(method, url, body).await?;
        let parsed = sys::json_parse(&body.text).map_err(|e| body.unreadable(describe(&e)))?;
        read(&parsed).map_err(|e| body.unreadable(e))
    }

    /// One request and its whole answer, a success (other statuses are errors).
    async fn exchange(&self, method: &str, url: &str, body: Option<&JsValue>) -> Result<Body, TransportError> {
        // One deadline for the whole exchange, the body included: a server that sends its
        // headers and then stalls must not hold the sync (and the flush lock) forever.
        let controller = AbortController::new().map_err(|e| TransportError::new(ErrorClass::Network, describe(&e)))?;
        let _deadline = {
            let controller = controller.clone();
            gloo_timers::callback::Timeout::new(self.timeout_ms, move || controller.abort())
        };
        let response = self.fetch(method, url, body, Some(self.timeout_ms), Some(&controller)).await?;
        let read = read_text(&response).await.map_err(|e| {
            if controller.signal().aborted() {
                TransportError::new(
                    ErrorClass::Timeout,
                    format!("the answer did not arrive within {} ms: {}", self.timeout_ms, e.message),
                )
            } else {
                e
            }
        });
        if !response.ok() {
            // Classified by its status whatever its body (cut, huge or unreadable).
            let text = read.as_ref().map(|b| String::from(&b.text)).unwrap_or_default();
            return Err(http_error(&response, &text));
        }
        read
    }
}

impl HttpTransport {
    /// `GET /sync/spaces`: the caller's spaces and roles.
    pub async fn spaces(&self) -> Result<SpacesResponse, TransportError> {
        self.call("GET", &format!("{}/spaces", self.base), None, wire::spaces_answer).await
    }
}

impl Transport<JsVal> for HttpTransport {
    /// The envelope is serialised by serde, the values are set on it as the objects they
    /// are, and `JSON.stringify` writes the body once, in JS.
    async fn push(&self, request: &PushRequest<JsVal>) -> Result<PushResponse, TransportError> {
        let invalid = |m: String| TransportError::new(ErrorClass::Validation, m);
        let envelope = PushRequest {
            client_id: request.client_id.clone(),
            mutations: request.mutations.iter().map(|m| m.clone().with_value(())).collect(),
        };
        let body = encode_json(&envelope).map_err(invalid)?;
        let mutations = Array::from(&Reflect::get(&body, &"mutations".into()).unwrap_or(JsValue::UNDEFINED));
        for (js, mutation) in mutations.iter().zip(&request.mutations) {
            // A fresh object parsed from our own JSON: setting a data property cannot fail.
            let _ = Reflect::set(&js, &"value".into(), &mutation.value.0);
        }
        let text = js_sys::JSON::stringify(&body).map_err(|e| invalid(describe(&e)))?;
        self.call("POST", &format!("{}/push", self.base), Some(&text.into()), wire::push_answer).await
    }

    /// `JSON.parse` reads the answer in JS; `wire::pull_page` checks the envelope field by
    /// field, and each change takes its value as the parsed object.
    async fn pull(
        &self,
        checkpoint: u64,
        limit: usize,
        collections: &[String],
    ) -> Result<PullResponse<JsVal>, TransportError> {
        let names: Vec<String> = collections.iter().map(|c| String::from(js_sys::encode_uri_component(c))).collect();
        let url = format!("{}/pull?checkpoint={checkpoint}&limit={limit}&collections={}", self.base, names.join(","));
        self.call("GET", &url, None, wire::pull_page).await
    }
}

async fn fetch_once(
    method: &str,
    url: &str,
    headers: &Object,
    body: Option<&JsValue>,
    timeout_ms: Option<u32>,
    abort: Option<&AbortController>,
) -> Result<Response, TransportError> {
    let network = |m: String| TransportError::new(ErrorClass::Network, m);
    let init = RequestInit::new();
    init.set_method(method);
    init.set_headers(headers);
    if let Some(body) = body {
        init.set_body(body);
    }
    let controller = match abort {
        Some(controller) => controller.clone(),
        None => AbortController::new().map_err(|e| network(describe(&e)))?,
    };
    init.set_signal(Some(&controller.signal()));
    // Dropping the timeout (when fetch settles first) cancels it.
    let _timeout = timeout_ms.map(|ms| {
        let controller = controller.clone();
        gloo_timers::callback::Timeout::new(ms, move || controller.abort())
    });
    let promise = sys::global().fetch(url, &init).map_err(|e| network(describe(&e)))?;
    match JsFuture::from(promise).await {
        Ok(response) => response.dyn_into::<Response>().map_err(|_| network("fetch did not return a Response".into())),
        Err(e) if controller.signal().aborted() && timeout_ms.is_some() => Err(TransportError::new(
            ErrorClass::Timeout,
            format!("no answer within {} ms: {}", timeout_ms.unwrap_or(0), describe(&e)),
        )),
        Err(e) => Err(network(describe(&e))),
    }
}

/// A response body read whole (decoded in JS, never copied into wasm memory), with what
/// its `Content-Length` promised.
struct Body {
    text: JsString,
    read: usize,
    declared: Option<u64>,
}

impl Body {
    /// The error for an answer that does not parse (`reason`): a network failure when it
    /// was cut short, else not protocol v1.
    fn unreadable(&self, reason: String) -> TransportError {
        match self.cut() {
            // Some engines (WebKit) end a body cut mid-way as if it were complete, others
            // fail the read: the same event, classified the same everywhere.
            Some((read, declared)) => TransportError::new(
                ErrorClass::Network,
                format!("the answer was cut off: {read} of its {declared} bytes arrived"),
            ),
            None => {
                let start = String::from(self.text.slice(0, 120));
                TransportError::new(
                    ErrorClass::Protocol,
                    format!("the server's answer is not protocol v1: {reason} (starts with {start:?})"),
                )
            }
        }
    }

    /// `(bytes read, bytes declared)` when fewer bytes arrived than `Content-Length` said.
    /// The caller decides with the text: an answer that does not parse and is short was
    /// cut in transit (a network failure). One that parses is whole: a length that counts
    /// encoded bytes (gzip) can exceed the decoded body, and `Content-Encoding` is hidden
    /// from a cross-origin page unless the server exposes it, so a short body alone is
    /// not proof.
    fn cut(&self) -> Option<(usize, u64)> {
        self.declared.filter(|n| (self.read as u64) < *n).map(|n| (self.read, n))
    }
}

/// The body as text, refusing bodies over `MAX_RESPONSE_BYTES`: at once when the
/// `Content-Length` says so, else as soon as the bytes read pass the limit (a body with
/// no length, e.g. chunked, is never read whole into memory first).
async fn read_text(response: &Response) -> Result<Body, TransportError> {
    let too_large = |n: String| TransportError {
        too_large: true,
        ..TransportError::new(
            ErrorClass::Protocol,
            format!("the server's answer is {n} bytes, over the {MAX_RESPONSE_BYTES} limit"),
        )
    };
    let network =
        |e: JsValue| TransportError::new(ErrorClass::Network, format!("reading the answer failed: {}", describe(&e)));
    let declared = response.headers().get("content-length").ok().flatten().and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(n) = declared.filter(|n| *n > MAX_RESPONSE_BYTES as u64) {
        if let Some(body) = response.body() {
            // Do not download it.
            let _ = body.cancel();
        }
        return Err(too_large(n.to_string()));
    }
    let Some(body) = response.body() else { return Ok(Body { text: JsString::from(""), read: 0, declared }) };
    let reader = BodyReader::new(&body);
    let mut chunks: Vec<Uint8Array> = Vec::new();
    let mut read = 0usize;
    while let Some(data) = reader.next().await.map_err(network)? {
        let len = data.length() as usize;
        if read + len > MAX_RESPONSE_BYTES {
            // Stop the download; what was read is dropped.
            reader.cancel();
            return Err(too_large(format!("more than {}", read + len)));
        }
        read += len;
        chunks.push(data);
    }
    // The chunks joined and decoded in JS, as `Response.text()` decodes.
    let whole = Uint8Array::new_with_length(read as u32);
    let mut at = 0u32;
    for chunk in &chunks {
        whole.set(chunk, at);
        at += chunk.length();
    }
    let decoder = sys::Utf8Decoder::new().map_err(network)?;
    let text = decoder.decode(&whole).map_err(network)?;
    Ok(Body { text, read, declared })
}

/// A non-2xx answer, classified, with the server's JSON error message if it sent one.
pub fn http_error(response: &Response, body: &str) -> TransportError {
    let status = response.status();
    let retry_after = response.headers().get("retry-after").ok().flatten().and_then(|h| {
        parse_retry_after(&h, crate::sys::now_ms(), |date| {
            let at = js_sys::Date::parse(date);
            at.is_finite().then_some(at as u64)
        })
    });
    let parsed = js_sys::JSON::parse(body).ok();
    let detail = parsed.and_then(|b| wire::error_message(&b)).unwrap_or_else(|| snippet(body));
    TransportError {
        class: ErrorClass::from_status(status),
        status: Some(status),
        retry_after_ms: retry_after,
        message: format!("HTTP {status}: {detail}"),
        too_large: false,
    }
}

fn snippet(text: &str) -> String {
    text.chars().take(120).collect()
}

fn set(object: &Object, name: &str, value: &str) {
    // Defining a data property on a plain object cannot fail.
    let _ = Reflect::set(object, &name.into(), &value.into());
}
