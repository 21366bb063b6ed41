//! What makes a client sync by itself: a timer for the next attempt (debounced writes,
//! backoff), the global `online` event, the pull interval, and the server's event stream
//! when `realtime` is on. Everything here holds the client weakly and stops when dropped
//! (on `close`).

use std::rc::{Rc, Weak};

use gloo_events::EventListener;
use gloo_timers::callback::{Interval, Timeout};
use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{AbortController, EventTarget, ReadableStreamDefaultReader, TextDecodeOptions, TextDecoder};

use crate::client::{now_ms, Client};
use pwa_sync_core::schedule::Trigger;

pub(crate) struct Background {
    /// The next scheduled sync and when it is due.
    timer: Option<(u64, Timeout)>,
    _online: Option<EventListener>,
    _visible: Option<EventListener>,
    _offline: Option<EventListener>,
    _interval: Option<Interval>,
    stream: Option<AbortController>,
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(stream) = &self.stream {
            stream.abort();
        }
    }
}

impl Background {
    pub fn start(client: &Rc<Client>) -> Background {
        let global: EventTarget = js_sys::global().unchecked_into();
        let weak = Rc::downgrade(client);
        let online = {
            let weak = weak.clone();
            EventListener::new(&global, "online", move |_| with(&weak, |c| c.trigger(Trigger::Online)))
        };
        let offline = {
            let weak = weak.clone();
            EventListener::new(&global, "offline", move |_| with(&weak, |c| c.went_offline()))
        };
        // A page coming back to the foreground may have missed pokes while it slept.
        let visible =
            Reflect::get(&js_sys::global(), &"document".into()).ok().filter(|d| d.is_object()).map(|document| {
                let weak = weak.clone();
                let target: EventTarget = document.clone().unchecked_into();
                EventListener::new(&target, "visibilitychange", move |_| {
                    let state = Reflect::get(&document, &"visibilityState".into()).ok().and_then(|v| v.as_string());
                    if state.as_deref() == Some("visible") {
                        with(&weak, |c| c.trigger(Trigger::Online));
                    }
                })
            });
        let interval = client.config().pull_interval_ms.filter(|ms| *ms > 0).map(|ms| {
            let weak = weak.clone();
            Interval::new(ms.min(u32::MAX as u64) as u32, move || with(&weak, |c| c.trigger(Trigger::Interval)))
        });
        let stream = client.config().realtime.then(|| {
            let controller = AbortController::new().ok();
            if let Some(controller) = &controller {
                spawn_local(stream_events(weak.clone(), controller.clone()));
            }
            controller
        });
        Background {
            timer: None,
            _online: Some(online),
            _visible: visible,
            _offline: Some(offline),
            _interval: interval,
            stream: stream.flatten(),
        }
    }

    /// Start a sync in `delay` ms, unless one is already due sooner (the session's
    /// `Schedule` command).
    pub fn schedule(&mut self, client: Weak<Client>, delay: u64) {
        let due = now_ms() + delay;
        if self.timer.as_ref().is_some_and(|(at, _)| *at <= due) {
            return;
        }
        let timeout = Timeout::new(delay.min(i32::MAX as u64) as u32, move || {
            // Not from inside the callback: that would drop the running timer's closure.
            let client = client.clone();
            spawn_local(async move {
                if let Some(client) = client.upgrade() {
                    client.timer_fired().await;
                }
            });
        });
        self.timer = Some((due, timeout));
    }

    /// The scheduled sync is starting: the next one may be set.
    pub fn timer_fired(&mut self) {
        self.timer = None;
    }
}

fn with(weak: &Weak<Client>, f: impl FnOnce(&Rc<Client>)) {
    if let Some(client) = weak.upgrade() {
        f(&client);
    }
}

/// Read the server's event stream (`GET {endpoint}/events`, SSE) with `fetch`, which,
/// unlike `EventSource`, sends our headers and works in service workers. Each event is a
/// poke to sync; the stream reconnects with backoff until the client closes.
async fn stream_events(weak: Weak<Client>, abort: AbortController) {
    loop {
        if abort.signal().aborted() {
            return;
        }
        let connected = read_stream(&weak, &abort).await.unwrap_or_default();
        // How long to wait is the session's rule (backoff with jitter).
        let Some(delay) = weak.upgrade().map(|client| client.stream_ended(connected)) else { return };
        gloo_timers::future::TimeoutFuture::new(delay).await;
    }
}

/// One connection: `Ok(true)` if it connected (and later ended), `Err` if it did not.
async fn read_stream(weak: &Weak<Client>, abort: &AbortController) -> Result<bool, ()> {
    let request = {
        let client = weak.upgrade().ok_or(())?;
        if client.is_closed() {
            return Err(());
        }
        let transport = client.transport().ok_or(())?;
        let url = transport.events_url();
        // Hold the client only for the request, not for the whole stream.
        let response = transport.fetch("GET", &url, None, None, Some(abort)).await.map_err(|_| ())?;
        if !response.ok() {
            return Err(());
        }
        // Changes may have been missed while disconnected.
        client.trigger(Trigger::Online);
        response
    };
    let body = request.body().ok_or(())?;
    let reader: ReadableStreamDefaultReader = body.get_reader().dyn_into().map_err(|_| ())?;
    let decoder = TextDecoder::new().map_err(|_| ())?;
    let options = TextDecodeOptions::new();
    options.set_stream(true);
    let mut buffer = String::new();
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(|_| ())?;
        if Reflect::get(&chunk, &"done".into()).ok().and_then(|d| d.as_bool()).unwrap_or(true) {
            return Ok(true);
        }
        let bytes: Uint8Array = Reflect::get(&chunk, &"value".into()).map_err(|_| ())?.dyn_into().map_err(|_| ())?;
        let text = decoder.decode_with_js_u8_array_and_options(&bytes, &options).map_err(|_| ())?;
        buffer.push_str(&text.replace("\r\n", "\n"));
        while let Some(end) = buffer.find("\n\n") {
            let event: String = buffer.drain(..end + 2).collect();
            if event.lines().any(|line| line.starts_with("data:")) {
                let Some(client) = weak.upgrade() else { return Ok(true) };
                client.trigger(Trigger::Poke);
            }
        }
    }
}

/// From a page: ask the service worker's Background Sync to flush (tag `pwa-sync`) once
/// the browser is online again, even if this page is closed by then. Does nothing where
/// there is no service worker or no Background Sync (Firefox, Safari): those flush on the
/// next start, page load, `online` or visibility change instead.
pub(crate) fn request_background_sync() {
    if crate::events::in_worker() {
        return;
    }
    spawn_local(async {
        let get = |target: &JsValue, name: &str| Reflect::get(target, &name.into()).ok().filter(|v| v.is_object());
        let Some(navigator) = get(&js_sys::global(), "navigator") else { return };
        let Some(container) = get(&navigator, "serviceWorker") else { return };
        let Some(get_registration) = Reflect::get(&container, &"getRegistration".into())
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        else {
            return;
        };
        let Ok(promise) = get_registration.call0(&container) else { return };
        let Ok(registration) = JsFuture::from(js_sys::Promise::from(promise)).await else { return };
        let Some(sync) = get(&registration, "sync") else { return };
        let Some(register) =
            Reflect::get(&sync, &"register".into()).ok().and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        else {
            return;
        };
        if let Ok(promise) = register.call1(&sync, &"pwa-sync".into()) {
            // Refused (e.g. no permission): the other flush paths still run.
            let _ = JsFuture::from(js_sys::Promise::from(promise)).await;
        }
    });
}
