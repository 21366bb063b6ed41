//! HTTP transport for protocol v1 over `fetch` from the global scope (pages and
//! workers alike), with a timeout, one token refresh on 401, and every failure
//! classified. The requests themselves run in `js/http.js` (`pwaSyncHttp`): `fetch`
//! under the deadline and the answer read within the size limit; Rust builds each
//! request and decides on what came back.

use std::cell::RefCell;

use js_sys::{Array, Function, JsString, Object, Promise, Reflect};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, ReadableStream};

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

#[wasm_bindgen(js_namespace = pwaSyncHttp)]
extern "C" {
    /// One request and its whole answer within `timeout_ms`: `[status, text, bytes read,
    /// Content-Length, Retry-After]`, or a rejection `[why, what]` that `failed` reads.
    #[wasm_bindgen(catch, js_name = exchange)]
    fn send(
        method: &str,
        url: &str,
        headers: &Object,
        body: &JsValue,
        timeout_ms: u32,
        limit: f64,
    ) -> Result<Promise, JsValue>;

    /// A GET whose answer is read as it comes: `[status, body stream or null]`.
    #[wasm_bindgen(catch, js_name = open)]
    fn open_stream(url: &str, headers: &Object, signal: &web_sys::AbortSignal) -> Result<Promise, JsValue>;
}

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
        #[cfg(feature = "testing")]
        sys::install_scripts_for_tests();
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

    /// The server's event stream (`GET {endpoint}/events`): its body once a success
    /// answered (`None`: no body). `abort` ends it from outside. `Err` if the request
    /// failed or was refused.
    pub async fn events(&self, abort: &AbortController) -> Result<Option<ReadableStream>, ()> {
        let (url, signal) = (self.events_url(), abort.signal());
        let answer = self.with_token(&|headers| open_stream(&url, headers, &signal)).await.map_err(drop)?;
        match status(&answer) {
            200..=299 => Ok(answer.get(1).dyn_into::<ReadableStream>().ok()),
            _ => Err(()),
        }
    }

    /// `request` (a call into `js/http.js` with our headers, answering `[status, ...]`),
    /// made once more with a refreshed token when the server says 401: the one loop under
    /// the exchanges and the event stream.
    async fn with_token(&self, request: &dyn Fn(&Object) -> Result<Promise, JsValue>) -> Result<Array, TransportError> {
        let mut refresh = false;
        loop {
            let headers = self.headers(refresh).await?;
            let sent = request(&headers).map_err(|e| TransportError::new(ErrorClass::Network, describe(&e)))?;
            let answer = Array::from(&JsFuture::from(sent).await.map_err(|e| self.failed(&e))?);
            if status(&answer) == 401 && !refresh && self.auth.can_refresh() {
                refresh = true;
                continue;
            }
            return Ok(answer);
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
        let undefined = JsValue::UNDEFINED;
        let (payload, limit) = (body.unwrap_or(&undefined), MAX_RESPONSE_BYTES as f64);
        let answer = self
            .with_token(&|headers| {
                if body.is_some() {
                    set(headers, "Content-Type", "application/json");
                }
                send(method, url, headers, payload, self.timeout_ms, limit)
            })
            .await?;
        let status = status(&answer);
        let text = answer.get(1).dyn_into::<JsString>().unwrap_or_else(|_| JsString::from(""));
        if !(200..=299).contains(&status) {
            // Classified by its status whatever its body (cut, huge or unreadable).
            return Err(http_error(status, answer.get(4).as_string(), &String::from(&text)));
        }
        let read = answer.get(2).as_f64().unwrap_or(0.0) as usize;
        Ok(Body { text, read, declared: answer.get(3).as_f64().map(|n| n as u64) })
    }

    /// What a failed request (`[why, what]` from the script) was.
    fn failed(&self, failure: &JsValue) -> TransportError {
        let parts = Array::from(failure);
        let (why, what) = (parts.get(0).as_string().unwrap_or_default(), parts.get(1));
        let within = |what: &str| format!("{what} within {} ms", self.timeout_ms);
        match why.as_str() {
            "timeout" => {
                TransportError::new(ErrorClass::Timeout, format!("{}: {}", within("no answer"), describe(&what)))
            }
            "body-timeout" => TransportError::new(
                ErrorClass::Timeout,
                format!("{}: reading the answer failed: {}", within("the answer did not arrive"), describe(&what)),
            ),
            "body" => {
                TransportError::new(ErrorClass::Network, format!("reading the answer failed: {}", describe(&what)))
            }
            "large" => TransportError {
                too_large: true,
                ..TransportError::new(
                    ErrorClass::Protocol,
                    format!(
                        "the server's answer is {} bytes, over the {MAX_RESPONSE_BYTES} limit",
                        what.as_string().unwrap_or_default()
                    ),
                )
            },
            "network" => TransportError::new(ErrorClass::Network, describe(&what)),
            // Not the script's: the script missing, or what it threw unexpectedly.
            _ => TransportError::new(ErrorClass::Network, describe(failure)),
        }
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

/// A non-2xx answer, classified, with the server's JSON error message if it sent one.
fn http_error(status: u16, retry_after: Option<String>, body: &str) -> TransportError {
    let retry_after = retry_after.and_then(|h| {
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

/// The HTTP status a script's answer starts with.
fn status(answer: &Array) -> u16 {
    answer.get(0).as_f64().unwrap_or(0.0) as u16
}

fn snippet(text: &str) -> String {
    text.chars().take(120).collect()
}

fn set(object: &Object, name: &str, value: &str) {
    // Defining a data property on a plain object cannot fail.
    let _ = Reflect::set(object, &name.into(), &value.into());
}
