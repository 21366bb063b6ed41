//! What makes a client sync by itself: a timer for the next attempt (debounced writes,
//! backoff), the global `online` event, the pull interval, and the server's event stream
//! when `realtime` is on. The listeners and timers are the background's script's
//! (`js/background.js`, reached as `pwaSyncBackground`), the event stream the requests'
//! script's (`js/http.js`); both say what happened through one function. Everything here
//! holds the client weakly and stops when dropped (on `close`). It sees the client only
//! through [`Driven`], so it sits below the client that owns it.

use std::rc::Rc;

use wasm_bindgen::closure::Closure;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

use crate::transport::{EventStream, HttpTransport};
use pwa_sync_core::schedule::Trigger;

#[wasm_bindgen(js_namespace = pwaSyncBackground)]
extern "C" {
    /// The listeners and the timers (`pwaSyncBackground.start`).
    type Triggers;

    /// Listen on `scope`; `fired(kind)`: "online", "offline", "interval" or "timer".
    #[wasm_bindgen(js_name = start)]
    fn start_triggers(scope: &JsValue, pull_interval_ms: f64, fired: &JsValue) -> Triggers;

    /// Fire "timer" in `delay_ms`, unless it is due sooner already.
    #[wasm_bindgen(method)]
    fn schedule(this: &Triggers, delay_ms: f64);

    #[wasm_bindgen(method)]
    fn stop(this: &Triggers);

    /// A promise resolved in `ms` (`pwaSyncBackground.sleep`).
    #[wasm_bindgen(js_name = sleep)]
    fn sleep_promise(ms: f64) -> js_sys::Promise;
}

/// Wait `ms`. A timer of the background's script, not gloo's `TimeoutFuture`, whose
/// oneshot channel and callback timer were linked for these waits alone.
pub(crate) async fn sleep(ms: u32) {
    // The promise only resolves.
    let _ = wasm_bindgen_futures::JsFuture::from(sleep_promise(f64::from(ms))).await;
}

/// What the background may ask of the client it drives.
pub(crate) trait Driven: 'static {
    /// Something happened that may call for a sync.
    fn trigger(self: &Rc<Self>, trigger: Trigger);
    /// The browser says it went offline.
    fn went_offline(self: &Rc<Self>);
    /// A timer set by [`Background::schedule`] fired.
    fn timer_fired(self: &Rc<Self>);
    /// The event stream ended (`connected`: it had connected): ms until reconnecting.
    fn stream_ended(self: &Rc<Self>, connected: bool) -> u32;
    fn transport(&self) -> Option<&HttpTransport>;
}

pub(crate) struct Background {
    triggers: Triggers,
    _fired: Closure<dyn FnMut(JsValue) -> JsValue>,
    stream: Option<EventStream>,
}

impl Drop for Background {
    fn drop(&mut self) {
        self.triggers.stop();
        if let Some(stream) = &self.stream {
            stream.stop();
        }
    }
}

impl Background {
    /// Listen for what calls for a sync; `pull_interval_ms` and `realtime` as configured.
    pub fn start<C: Driven>(client: &Rc<C>, pull_interval_ms: Option<u64>, realtime: bool) -> Background {
        let weak = Rc::downgrade(client);
        let fired = {
            Closure::<dyn FnMut(JsValue) -> JsValue>::new(move |kind: JsValue| {
                let Some(client) = weak.upgrade() else { return JsValue::UNDEFINED };
                match kind.as_string().as_deref() {
                    // A page back in the foreground, or the event stream connected: pokes
                    // may have been missed meanwhile.
                    Some("online") => client.trigger(Trigger::Online),
                    Some("offline") => client.went_offline(),
                    Some("interval") => client.trigger(Trigger::Interval),
                    Some("timer") => client.timer_fired(),
                    Some("poke") => client.trigger(Trigger::Poke),
                    // The event stream ended: how long it waits is the session's rule
                    // (backoff with jitter).
                    Some("ended") => return client.stream_ended(true).into(),
                    Some("failed") => return client.stream_ended(false).into(),
                    _ => {}
                }
                JsValue::UNDEFINED
            })
        };
        let interval = pull_interval_ms.unwrap_or(0) as f64;
        let triggers = start_triggers(&js_sys::global(), interval, fired.as_ref());
        let stream = if realtime { client.transport().map(|t| t.events(fired.as_ref())) } else { None };
        Background { triggers, _fired: fired, stream }
    }

    /// Start a sync in `delay` ms, unless one is already due sooner (the session's
    /// `Schedule` command).
    pub fn schedule(&self, delay: u64) {
        self.triggers.schedule(delay as f64);
    }
}
