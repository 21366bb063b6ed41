//! HTTP transport for protocol v1 over `fetch` from the global scope (pages and
//! workers alike), with a timeout, one token refresh on 401, and every failure
//! classified. The requests themselves run in `js/http.js` (`pwaSyncHttp`): the token
//! (the app's function awaited, renewed before a JWT expires and once after a 401),
//! `fetch` under the deadline, the answer read within the size limit, parsed and checked,
//! and every failure classified and worded; Rust builds each request and reads what came
//! back.

use js_sys::{Array, Object, Promise, Reflect};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::convert::encode_json;
use crate::error::describe;
#[cfg(feature = "testing")]
use crate::sys;
use crate::value::JsVal;
use crate::wire;
use pwa_sync_core::engine::{Transport, TransportError};
use pwa_sync_core::error::ErrorClass;
use pwa_sync_core::protocol::{
    PullResponse, PushRequest, PushResponse, SpacesResponse, PROTOCOL_HEADER, PROTOCOL_VERSION,
};

/// A response larger than this is refused rather than parsed.
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

#[wasm_bindgen(js_namespace = pwaSyncHttp)]
extern "C" {
    /// One request and its whole answer within `timeout_ms`: a success's text parsed and
    /// checked as an answer of `kind` ("pull", "push", "spaces"), or a rejection `[class,
    /// message, status, too large, Retry-After in ms]` (the script's `classified` and
    /// `judged`) that `failed` reads. With the token of `auth` (`Auth::state`), asked
    /// again once after a 401.
    #[wasm_bindgen(catch, js_name = exchange)]
    #[allow(clippy::too_many_arguments)]
    fn send(
        method: &str,
        url: &str,
        headers: &Object,
        body: &JsValue,
        timeout_ms: u32,
        limit: f64,
        auth: &JsValue,
        kind: &str,
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

    /// One request, started now: it is on its way when this returns. Its answer is checked
    /// as one of `kind`.
    fn start(&self, method: &str, url: &str, body: Option<&JsValue>, kind: &str) -> Sent {
        let undefined = JsValue::UNDEFINED;
        let (payload, limit) = (body.unwrap_or(&undefined), MAX_RESPONSE_BYTES as f64);
        let headers = self.headers();
        if body.is_some() {
            set(&headers, "Content-Type", "application/json");
        }
        send(method, url, &headers, payload, self.timeout_ms, limit, &self.auth.state, kind)
            .map_err(|e| TransportError::new(ErrorClass::Network, describe(&e)))
    }

    async fn call<T>(&self, sent: Sent, read: fn(&JsValue) -> Result<T, String>) -> Result<T, TransportError> {
        // Only the read is per type: the exchange is compiled once for every answer type.
        let parsed = JsFuture::from(sent?).await.map_err(|e| failed(&e))?;
        // The script checked the answer; what the reader still refuses (a conflict's server
        // value nested too deep to compare) is not protocol v1 either.
        read(&parsed).map_err(|reason| {
            TransportError::new(ErrorClass::Protocol, format!("the server's answer is not protocol v1: {reason}"))
        })
    }
}

impl HttpTransport {
    /// `GET /sync/spaces`: the caller's spaces and roles.
    pub async fn spaces(&self) -> Result<SpacesResponse, TransportError> {
        self.call(self.start("GET", &format!("{}/spaces", self.base), None, "spaces"), wire::spaces_answer).await
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
        self.start("POST", &format!("{}/push", self.base), Some(&text.into()), "push")
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
        self.call(self.start("GET", &url, None, "pull"), wire::pull_page).await
    }
}

/// What a failed request was, as the script classified and worded it: `[class,
/// message, status, too large, Retry-After in ms]` (`classified` and `judged` in
/// js/http.js); a class it does not name is a network failure.
fn failed(failure: &JsValue) -> TransportError {
    let parts = failure.dyn_ref::<Array>().cloned().unwrap_or_default();
    let named = parts.get(0).as_string();
    let class = ErrorClass::ALL.into_iter().find(|class| named.as_deref() == Some(class.as_str()));
    let message = parts.get(1).as_string().unwrap_or_else(|| describe(failure));
    TransportError {
        status: parts.get(2).as_f64().map(|status| status as u16),
        too_large: parts.get(3).is_truthy(),
        retry_after_ms: parts.get(4).as_f64().map(|ms| ms as u64),
        ..TransportError::new(class.unwrap_or(ErrorClass::Network), message)
    }
}

fn set(object: &Object, name: &str, value: &str) {
    // Defining a data property on a plain object cannot fail.
    let _ = Reflect::set(object, &name.into(), &value.into());
}
