//! A fault-injecting reverse proxy for the pwa-sync reference server.
//!
//! Every request is forwarded to the upstream (method, path and query, headers, body)
//! and the answer streamed back unbuffered (so `GET /sync/events` keeps streaming),
//! unless a fault applies. Faults come from a queue of scripted rules, or at random
//! with probability `rate` from a seeded ChaCha8 source, so a run can be replayed.
//!
//! Control API (never forwarded):
//! - `POST /_faults` `{"rules": [{"path": "/sync/push", "method": "POST", "fault": {...},
//!   "times": 1}], "rate": 0.1, "seed": 42, "kinds": [...], "paths": ["/sync/"]}` replaces
//!   the rule queue; absent `rate`/`seed`/`kinds`/`paths` keep their values.
//! - `GET /_faults`: rules still queued, rate, seed, counters (`requests`, `forwarded`,
//!   `injected` per kind) and the last 1000 injected faults (`log`).
//! - `DELETE /_faults`: no rules, rate 0 (counters stay).
//!
//! Fault kinds: see [`Fault`]. Connections are never kept alive, so a browser never
//! silently re-sends a request whose connection the proxy closed (browsers retry
//! requests on a *reused* connection that closes without an answer).

mod faults;

use std::convert::Infallible;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, Uri, Version};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use futures_util::{stream, StreamExt};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::header;
use hyper::http::request::Parts;
use hyper::service::service_fn;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use pwa_sync_core::protocol::ErrorBody;
use tokio::net::TcpListener;
use tower::ServiceExt;

pub use faults::{Fault, FaultState, LogEntry, Rule, Update, KINDS, RANDOM_KINDS};

/// Path of the control API.
pub const CONTROL_PATH: &str = "/_faults";
/// Largest request body the proxy buffers (it buffers them to be able to duplicate).
pub const MAX_REQUEST_BODY: usize = 128 << 20;
/// Pause between the partial body of `cut_body` and the cut, so it reaches the client.
const CUT_PAUSE: Duration = Duration::from_millis(50);

type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// Body of every response the proxy sends.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

/// What the proxy needs to start.
#[derive(Debug, Clone)]
pub struct Config {
    /// `http://host:port[/base]`; the request path is appended to the base.
    pub upstream: String,
    pub seed: u64,
    /// Probability, per proxied request, of a random fault.
    pub rate: f64,
    /// Answer CORS preflights and allow any origin on every response.
    pub cors_any_origin: bool,
}

/// A configuration the proxy cannot run with.
#[derive(Debug)]
pub struct ConfigError(String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Returned to hyper to make it close the connection without answering.
#[derive(Debug)]
struct Dropped;

impl fmt::Display for Dropped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

/// The error that ends a `cut_body` response part way.
#[derive(Debug)]
struct Cut;

impl fmt::Display for Cut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("body cut by fault injection")
    }
}

impl std::error::Error for Cut {}

struct Upstream {
    /// `scheme://authority` without a trailing slash.
    origin: String,
    /// Path prefix without a trailing slash (may be empty).
    base: String,
}

struct Inner {
    upstream: Upstream,
    client: Client<HttpConnector, Full<Bytes>>,
    cors: bool,
    state: Mutex<FaultState>,
}

/// The proxy. Build it with [`FaultProxy::new`], run it with [`FaultProxy::serve`].
#[derive(Clone)]
pub struct FaultProxy {
    inner: Arc<Inner>,
    control: Router,
}

impl FaultProxy {
    pub fn new(config: Config) -> Result<FaultProxy, ConfigError> {
        faults::validate_rate(config.rate).map_err(ConfigError)?;
        let uri: Uri =
            config.upstream.parse().map_err(|e| ConfigError(format!("--upstream {:?}: {e}", config.upstream)))?;
        if uri.scheme_str() != Some("http") {
            return Err(ConfigError(format!("--upstream {:?}: only http:// is supported", config.upstream)));
        }
        let Some(authority) = uri.authority() else {
            return Err(ConfigError(format!("--upstream {:?}: no host", config.upstream)));
        };
        if uri.query().is_some() {
            return Err(ConfigError(format!("--upstream {:?}: no query allowed", config.upstream)));
        }
        let upstream =
            Upstream { origin: format!("http://{authority}"), base: uri.path().trim_end_matches('/').to_owned() };
        let client = Client::builder(TokioExecutor::new()).build_http();
        let inner = Arc::new(Inner {
            upstream,
            client,
            cors: config.cors_any_origin,
            state: Mutex::new(FaultState::new(config.seed, config.rate)),
        });
        let control = Router::new()
            .route(CONTROL_PATH, get(get_faults).post(post_faults).delete(delete_faults))
            .with_state(inner.clone());
        Ok(FaultProxy { inner, control })
    }

    /// Accepts connections until the future is dropped (accept errors are retried).
    pub async fn serve(self, listener: TcpListener) {
        loop {
            let stream = match listener.accept().await {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Usually too many open files: wait and go on.
                    eprintln!("pwa-sync-fault-proxy: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            let _ = stream.set_nodelay(true);
            let proxy = self.clone();
            tokio::spawn(async move {
                let service = service_fn(move |req| proxy.clone().handle(req));
                // Errors here are the faults themselves or clients going away.
                let _ = hyper::server::conn::http1::Builder::new()
                    .timer(TokioTimer::new())
                    .keep_alive(false)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    }

    /// Binds `addr` and serves in a background task; returns the bound address.
    pub async fn spawn(self, addr: SocketAddr) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
        let listener = TcpListener::bind(addr).await?;
        let local = listener.local_addr()?;
        Ok((local, tokio::spawn(self.serve(listener))))
    }

    async fn handle(self, req: Request<Incoming>) -> Result<Response<Body>, Dropped> {
        let cors = self.inner.cors;
        if cors && req.method() == Method::OPTIONS && req.headers().contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            return Ok(preflight());
        }
        let mut response = if req.uri().path() == CONTROL_PATH {
            match self.control.clone().oneshot(req).await {
                Ok(response) => response.map(|b| b.map_err(BoxError::from).boxed_unsync()),
                Err(never) => match never {},
            }
        } else {
            self.inner.proxy(req).await?
        };
        if cors {
            allow_any_origin(response.headers_mut());
        }
        Ok(response)
    }
}

impl Inner {
    fn state(&self) -> MutexGuard<'_, FaultState> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn proxy(&self, req: Request<Incoming>) -> Result<Response<Body>, Dropped> {
        let fault = self.state().decide(req.method().as_str(), req.uri().path());
        let (parts, body) = req.into_parts();
        let body = match Limited::new(body, MAX_REQUEST_BODY).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(e) if e.is::<LengthLimitError>() => {
                return Ok(error_response(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload-too-large",
                    &format!("fault-proxy buffers request bodies up to {MAX_REQUEST_BODY} bytes"),
                ))
            }
            // The client went away while sending.
            Err(_) => return Err(Dropped),
        };
        let Some(fault) = fault else {
            return Ok(self.forward(&parts, &body).await.map_or_else(|e| e, pass_through));
        };
        match fault {
            Fault::DropRequest => Err(Dropped),
            Fault::DropResponse => {
                if let Ok(response) = self.forward(&parts, &body).await {
                    drain(response).await;
                }
                Err(Dropped)
            }
            Fault::Status { status, body, content_type, retry_after_seconds } => {
                let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
                let mut response = match body {
                    Some(body) => text_response(
                        status,
                        content_type.as_deref().unwrap_or("text/plain; charset=utf-8"),
                        Bytes::from(body),
                    ),
                    None => {
                        let message = format!("fault-proxy injected status {}", status.as_u16());
                        let mut r = error_response(status, "injected", &message);
                        if let Some(ct) = content_type.as_deref().and_then(|c| HeaderValue::from_str(c).ok()) {
                            r.headers_mut().insert(header::CONTENT_TYPE, ct);
                        }
                        r
                    }
                };
                if let Some(secs) = retry_after_seconds {
                    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
                }
                Ok(response)
            }
            Fault::RateLimit { retry_after_seconds } => {
                let mut response = error_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate-limited",
                    &format!("fault-proxy: too many requests, retry after {retry_after_seconds} s"),
                );
                response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds));
                Ok(response)
            }
            Fault::Delay { ms } => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                Ok(self.forward(&parts, &body).await.map_or_else(|e| e, pass_through))
            }
            Fault::Duplicate => {
                if let Ok(first) = self.forward(&parts, &body).await {
                    drain(first).await;
                }
                Ok(self.forward(&parts, &body).await.map_or_else(|e| e, pass_through))
            }
            Fault::CutBody => match self.forward(&parts, &body).await {
                Ok(response) => cut(response).await,
                Err(_) => Err(Dropped),
            },
            Fault::ReplaceBody { status, body: replacement, content_type, repeat } => {
                let upstream_status = match self.forward(&parts, &body).await {
                    Ok(response) => {
                        let status = response.status();
                        drain(response).await;
                        status
                    }
                    Err(_) => StatusCode::OK,
                };
                let status = status.and_then(|s| StatusCode::from_u16(s).ok()).unwrap_or(upstream_status);
                let content_type = content_type.as_deref().unwrap_or("application/json");
                Ok(repeated_response(status, content_type, Bytes::from(replacement), repeat.unwrap_or(1)))
            }
        }
    }

    /// Sends one copy of the request upstream. `Err` is a ready 502 answer.
    async fn forward(&self, parts: &Parts, body: &Bytes) -> Result<Response<Incoming>, Response<Body>> {
        let path_and_query = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        let uri: Uri = format!("{}{}{}", self.upstream.origin, self.upstream.base, path_and_query)
            .parse()
            .map_err(|e| bad_gateway(&format!("bad upstream URI: {e}")))?;
        let mut request = Request::new(Full::new(body.clone()));
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = uri;
        *request.version_mut() = Version::HTTP_11;
        let headers = request.headers_mut();
        for (name, value) in &parts.headers {
            if name != header::HOST && name != header::CONTENT_LENGTH {
                headers.append(name.clone(), value.clone());
            }
        }
        strip_hop_by_hop(headers);
        self.state().count_forwarded();
        self.client.request(request).await.map_err(|e| bad_gateway(&format!("upstream request failed: {e}")))
    }
}

async fn get_faults(State(inner): State<Arc<Inner>>) -> Response<Body> {
    json_response(StatusCode::OK, &inner.state().snapshot())
}

async fn post_faults(State(inner): State<Arc<Inner>>, body: Bytes) -> Response<Body> {
    let update: Update = match serde_json::from_slice(&body) {
        Ok(update) => update,
        Err(e) => return error_response(StatusCode::BAD_REQUEST, "bad-request", &format!("invalid faults: {e}")),
    };
    let mut state = inner.state();
    match state.apply(update) {
        Ok(()) => json_response(StatusCode::OK, &state.snapshot()),
        Err(e) => error_response(StatusCode::BAD_REQUEST, "bad-request", &e),
    }
}

async fn delete_faults(State(inner): State<Arc<Inner>>) -> Response<Body> {
    let mut state = inner.state();
    state.clear();
    json_response(StatusCode::OK, &state.snapshot())
}

fn is_event_stream<B>(response: &Response<B>) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().to_ascii_lowercase().starts_with("text/event-stream"))
}

/// Reads the upstream's whole answer (so it has finished), except an event stream,
/// which never ends and is dropped instead.
async fn drain(response: Response<Incoming>) {
    if !is_event_stream(&response) {
        let _ = response.into_body().collect().await;
    }
}

/// Upstream head made fit for the client: no hop-by-hop headers, HTTP/1.1 (an HTTP/1.0
/// upstream's version would otherwise show on the status line).
fn client_head(parts: &mut hyper::http::response::Parts) {
    strip_hop_by_hop(&mut parts.headers);
    parts.version = Version::HTTP_11;
}

fn pass_through(response: Response<Incoming>) -> Response<Body> {
    let (mut parts, body) = response.into_parts();
    client_head(&mut parts);
    Response::from_parts(parts, body.map_err(BoxError::from).boxed_unsync())
}

/// Headers and the first half of the body (of an event stream: its first chunk), then
/// the connection closes.
async fn cut(response: Response<Incoming>) -> Result<Response<Body>, Dropped> {
    let event_stream = is_event_stream(&response);
    let (mut parts, mut body) = response.into_parts();
    client_head(&mut parts);
    let first: Bytes = if event_stream {
        loop {
            match body.frame().await {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) if !data.is_empty() => break data,
                    _ => continue,
                },
                _ => break Bytes::new(),
            }
        }
    } else {
        let full = body.collect().await.map_err(|_| Dropped)?.to_bytes();
        if full.is_empty() {
            // Nothing to halve: send chunked and never terminate it.
            parts.headers.remove(header::CONTENT_LENGTH);
        } else {
            parts.headers.insert(header::CONTENT_LENGTH, HeaderValue::from(full.len()));
        }
        full.slice(..full.len() / 2)
    };
    let head = stream::iter((!first.is_empty()).then(|| Ok::<_, BoxError>(Frame::data(first))));
    let tail = stream::once(async {
        tokio::time::sleep(CUT_PAUSE).await;
        Err::<Frame<Bytes>, BoxError>(Box::new(Cut))
    });
    Ok(Response::from_parts(parts, StreamBody::new(head.chain(tail)).boxed_unsync()))
}

const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
];

fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let listed: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::from_bytes(name.trim().as_bytes()).ok())
        .collect();
    for name in listed {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
    headers.remove(header::UPGRADE);
}

fn full_body(bytes: Bytes) -> Body {
    Full::new(bytes).map_err(|never: Infallible| match never {}).boxed_unsync()
}

fn text_response(status: StatusCode, content_type: &str, body: Bytes) -> Response<Body> {
    let mut response = Response::new(full_body(body));
    *response.status_mut() = status;
    let content_type =
        HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("application/octet-stream"));
    response.headers_mut().insert(header::CONTENT_TYPE, content_type);
    response
}

fn json_response(status: StatusCode, value: &impl serde::Serialize) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(json) => text_response(status, "application/json", Bytes::from(json)),
        // Only maps with non-string keys fail to serialize, and none of ours has one.
        Err(e) => {
            text_response(StatusCode::INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8", Bytes::from(e.to_string()))
        }
    }
}

/// The reference server's error body (the core's [`ErrorBody`]), so clients read the
/// proxy's own errors as they read the server's.
fn error_response(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json_response(status, &ErrorBody::new(code, message))
}

fn bad_gateway(message: &str) -> Response<Body> {
    error_response(StatusCode::BAD_GATEWAY, "bad-gateway", &format!("fault-proxy: {message}"))
}

/// `body` repeated `times` times, streamed in chunks of about 64 KiB.
fn repeated_response(status: StatusCode, content_type: &str, body: Bytes, times: u64) -> Response<Body> {
    let total = (body.len() as u64).saturating_mul(times);
    let per_chunk = if body.is_empty() { times.max(1) } else { (65_536 / body.len() as u64).clamp(1, times.max(1)) };
    let chunk = Bytes::from(body.repeat(per_chunk as usize));
    let full_chunks = times / per_chunk;
    let rest = Bytes::from(body.repeat((times % per_chunk) as usize));
    let frames = stream::iter((0..full_chunks).map(move |_| chunk.clone()))
        .chain(stream::iter((!rest.is_empty()).then_some(rest)))
        .map(|data| Ok::<_, BoxError>(Frame::data(data)));
    let mut response = Response::new(StreamBody::new(frames).boxed_unsync());
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(content_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(total));
    response
}

fn preflight() -> Response<Body> {
    let mut response = Response::new(full_body(Bytes::new()));
    *response.status_mut() = StatusCode::NO_CONTENT;
    let headers = response.headers_mut();
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE, OPTIONS"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("Authorization, X-Sync-Protocol, Content-Type"),
    );
    headers.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    response
}

fn allow_any_origin(headers: &mut HeaderMap) {
    headers.remove(header::ACCESS_CONTROL_ALLOW_CREDENTIALS);
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
    headers.insert(header::ACCESS_CONTROL_EXPOSE_HEADERS, HeaderValue::from_static("Retry-After"));
}
