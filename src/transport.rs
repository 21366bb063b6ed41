//! HTTP transport for protocol v1 over `fetch` from the global scope (pages and
//! workers alike), with a timeout, one token refresh on 401, and every failure
//! classified. The requests themselves run in `js/http.js` (`pwaSyncHttp`): the token
//! (the app's function awaited, renewed before a JWT expires and once after a 401),
//! `fetch` under the deadline and the answer read within the size limit; Rust builds
//! each request and decides on what came back.

use js_sys::{Array, JsString, Object, Promise, Reflect};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::convert::encode_json;
use crate::error::describe;
use crate::sys;
use crate::value::JsVal;
use crate::wire;
use pwa_sync_core::engine::{Transport, TransportError};
use pwa_sync_core::error::ErrorClass;
use pwa_sync_core::json;
use pwa_sync_core::protocol::{
    PullResponse, PushRequest, PushResponse, SpacesResponse, PROTOCOL_HEADER, PROTOCOL_VERSION,
};
use pwa_sync_core::retry::parse_retry_after;

/// A response larger than this is refused rather than parsed.
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

#[wasm_bindgen(js_namespace = pwaSyncHttp)]
extern "C" {
    /// One request and its whole answer within `timeout_ms`: `[status, text, bytes read,
    /// Content-Length, Retry-After]`, or a rejection `[class, message, status, too large]`
    /// (the script's `classified`) that `failed` reads.
    /// With the token of `auth` (`Auth::state`), asked again once after a 401.
    #[wasm_bindgen(catch, js_name = exchange)]
    fn send(
        method: &str,
        url: &str,
        headers: &Object,
        body: &JsValue,
        timeout_ms: u32,
        limit: f64,
        auth: &JsValue,
    ) -> Result<Promise, JsValue>;

    /// The server's event stream, connected again until `stop()` (`pwaSyncHttp.stream`):
    /// `fired(kind)` with "online", "poke", and "ended" or "failed", which `fired`
    /// answers with the ms to wait before the next connection.
    #[wasm_bindgen(js_name = stream)]
    fn open_stream(url: &str, headers: &Object, auth: &JsValue, fired: &JsValue) -> EventStream;

    /// A running event stream (`pwaSyncHttp.stream`'s answer).
    pub type EventStream;

    /// End the stream; nothing fires after it.
    #[wasm_bindgen(method)]
    pub fn stop(this: &EventStream);

    #[cfg(feature = "testing")]
    #[wasm_bindgen(catch, js_name = token)]
    fn token_of(auth: &JsValue, refresh: bool) -> Result<Promise, JsValue>;

    #[cfg(feature = "testing")]
    #[wasm_bindgen(js_name = expiresWithin)]
    fn expires_within_js(token: &str, margin_ms: f64, now_ms: f64) -> bool;
}

/// Where bearer tokens come from: a fixed string, or a function the app gives (called
/// again when the server says 401, or when the JWT it gave is about to expire). The
/// script (`js/http.js`) asks for the token of each request and caches it on `state`, in
/// memory only, never in storage.
pub struct Auth {
    /// `null`, or `{source}` for the script.
    state: JsValue,
}

impl Auth {
    pub fn new(source: Option<JsValue>) -> Auth {
        let state = match source {
            None => JsValue::NULL,
            Some(source) => {
                let state = Object::new();
                // Setting a property of a fresh plain object cannot fail.
                let _ = Reflect::set(&state, &"source".into(), &source);
                state.into()
            }
        };
        Auth { state }
    }

    /// The token the next request carries (the script's cache, or the app's function
    /// asked), for tests of the script's renewal.
    #[cfg(feature = "testing")]
    pub async fn token(&self, refresh: bool) -> Result<Option<String>, TransportError> {
        sys::install_scripts_for_tests();
        let fail = |e: JsValue| TransportError::new(ErrorClass::Auth, describe(&e));
        let token = JsFuture::from(token_of(&self.state, refresh).map_err(fail)?).await.map_err(fail)?;
        Ok(token.as_string())
    }
}

/// Whether `token` is a JWT whose `exp` falls within `margin_ms` of `now_ms` (the
/// script's `expiresWithin`), for tests.
#[cfg(feature = "testing")]
pub fn expires_within(token: &str, margin_ms: u64, now_ms: u64) -> bool {
    sys::install_scripts_for_tests();
    expires_within_js(token, margin_ms as f64, now_ms as f64)
}

/// A request on its way (the script's promise of its answer), or why it could not leave.
pub type Sent = Result<Promise, TransportError>;

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

    /// The protocol's headers (the script adds the token).
    fn headers(&self) -> Object {
        let headers = Object::new();
        set(&headers, PROTOCOL_HEADER, PROTOCOL_VERSION);
        headers
    }

    /// Read the server's event stream (`GET {endpoint}/events`) until `stop()`, saying
    /// what happens through `fired` (`open_stream`).
    pub fn events(&self, fired: &JsValue) -> EventStream {
        open_stream(&self.events_url(), &self.headers(), &self.auth.state, fired)
    }

    /// One request, started now: it is on its way when this returns.
    fn start(&self, method: &str, url: &str, body: Option<&JsValue>) -> Sent {
        let undefined = JsValue::UNDEFINED;
        let (payload, limit) = (body.unwrap_or(&undefined), MAX_RESPONSE_BYTES as f64);
        let headers = self.headers();
        if body.is_some() {
            set(&headers, "Content-Type", "application/json");
        }
        send(method, url, &headers, payload, self.timeout_ms, limit, &self.auth.state)
            .map_err(|e| TransportError::new(ErrorClass::Network, describe(&e)))
    }

    async fn call<T>(&self, sent: Sent, read: fn(&JsValue) -> Result<T, String>) -> Result<T, TransportError> {
        // Only the read is per type: the exchange is compiled once for every answer type.
        let body = self.exchange(sent).await?;
        let parsed = sys::json_parse(&body.text).map_err(|e| body.unreadable(describe(&e)))?;
        read(&parsed).map_err(|e| body.unreadable(e))
    }

    /// A started request's whole answer, a success (other statuses are errors).
    async fn exchange(&self, sent: Sent) -> Result<Body, TransportError> {
        let answer = Array::from(&JsFuture::from(sent?).await.map_err(|e| failed(&e))?);
        let status = status(&answer);
        let text = answer.get(1).dyn_into::<JsString>().unwrap_or_else(|_| JsString::from(""));
        if !(200..=299).contains(&status) {
            // Classified by its status whatever its body (cut, huge or unreadable).
            return Err(http_error(status, answer.get(4).as_string(), &String::from(&text)));
        }
        let read = answer.get(2).as_f64().unwrap_or(0.0) as usize;
        Ok(Body { text, read, declared: answer.get(3).as_f64().map(|n| n as u64) })
    }
}

impl HttpTransport {
    /// `GET /sync/spaces`: the caller's spaces and roles.
    pub async fn spaces(&self) -> Result<SpacesResponse, TransportError> {
        self.call(self.start("GET", &format!("{}/spaces", self.base), None), wire::spaces_answer).await
    }
}

impl Transport<JsVal> for HttpTransport {
    type Sending = Sent;

    /// The envelope is written as JSON text (`pwa_sync_core::json`), the values are set on
    /// it as the objects they are, and `JSON.stringify` writes the body once, in JS.
    fn send(&self, request: &PushRequest<JsVal>) -> Sent {
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
        self.start("POST", &format!("{}/push", self.base), Some(&text.into()))
    }

    async fn answer(&self, sending: Sent) -> Result<PushResponse, TransportError> {
        self.call(sending, wire::push_answer).await
    }

    /// `JSON.parse` reads the answer in JS; `wire::pull_page` checks the envelope field by
    /// field, and each change takes its value as the parsed object.
    async fn pull(
        &self,
        checkpoint: u64,
        limit: usize,
        collections: &[String],
    ) -> Result<PullResponse<JsVal>, TransportError> {
        let mut url = format!("{}/pull?checkpoint={checkpoint}&limit={limit}&collections=", self.base);
        // Each name encoded as it is pushed: encoding the joined list would turn its
        // commas into `%2C`.
        for (at, name) in collections.iter().enumerate() {
            if at > 0 {
                url.push(',');
            }
            url.push_str(&String::from(js_sys::encode_uri_component(name)));
        }
        self.call(self.start("GET", &url, None), wire::pull_page).await
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
                    format!("the server's answer is not protocol v1: {reason} (starts with {})", json::quoted(&start)),
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

/// What a failed request was, as the script classified and worded it: `[class,
/// message, status, too large]` (`classified` in js/http.js).
fn failed(failure: &JsValue) -> TransportError {
    let parts = failure.dyn_ref::<Array>().cloned().unwrap_or_default();
    let class = match parts.get(0).as_string().as_deref() {
        Some("timeout") => ErrorClass::Timeout,
        Some("auth") => ErrorClass::Auth,
        Some("protocol") => ErrorClass::Protocol,
        _ => ErrorClass::Network,
    };
    let message = parts.get(1).as_string().unwrap_or_else(|| describe(failure));
    TransportError {
        status: parts.get(2).as_f64().map(|status| status as u16),
        too_large: parts.get(3).is_truthy(),
        ..TransportError::new(class, message)
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
    let detail = wire::error_message(body).unwrap_or_else(|| snippet(body));
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
    pwa_sync_core::text::head(text, 120).to_owned()
}

fn set(object: &Object, name: &str, value: &str) {
    // Defining a data property on a plain object cannot fail.
    let _ = Reflect::set(object, &name.into(), &value.into());
}
