//! What makes a client sync by itself: a timer for the next attempt (debounced writes,
//! backoff), the global `online` event, the pull interval, and the server's event stream
//! when `realtime` is on. Everything here holds the client weakly and stops when dropped
//! (on `close`). It sees the client only through [`Driven`], so it sits below the client
//! that owns it.

use std::rc::{Rc, Weak};

use gloo_events::EventListener;
use gloo_timers::callback::{Interval, Timeout};
use wasm_bindgen::JsCast;
use web_sys::{AbortController, EventTarget, VisibilityState};

use crate::event_stream::EventStream;
use crate::sys;
use crate::transport::HttpTransport;
use pwa_sync_core::schedule::Trigger;

/// What the background may ask of the client it drives.
#[allow(async_fn_in_trait)]
pub(crate) trait Driven: 'static {
    /// Something happened that may call for a sync.
    fn trigger(self: &Rc<Self>, trigger: Trigger);
    /// The browser says it went offline.
    fn went_offline(self: &Rc<Self>);
    /// A timer set by [`Background::schedule`] fired.
    async fn timer_fired(self: Rc<Self>);
    /// The event stream ended (`connected`: it had connected): ms until reconnecting.
    fn stream_ended(self: &Rc<Self>, connected: bool) -> u32;
    fn is_closed(&self) -> bool;
    fn transport(&self) -> Option<&HttpTransport>;
}

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
    /// Listen for what calls for a sync; `pull_interval_ms` and `realtime` as configured.
    pub fn start<C: Driven>(client: &Rc<C>, pull_interval_ms: Option<u64>, realtime: bool) -> Background {
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
        let visible = sys::global().document().map(|document| {
            let weak = weak.clone();
            let target: EventTarget = document.clone().into();
            EventListener::new(&target, "visibilitychange", move |_| {
                if document.visibility_state() == VisibilityState::Visible {
                    with(&weak, |c| c.trigger(Trigger::Online));
                }
            })
        });
        let interval = pull_interval_ms.filter(|ms| *ms > 0).map(|ms| {
            let weak = weak.clone();
            Interval::new(ms.min(u32::MAX as u64) as u32, move || with(&weak, |c| c.trigger(Trigger::Interval)))
        });
        let stream = realtime.then(|| {
            let controller = AbortController::new().ok();
            if let Some(controller) = &controller {
                sys::spawn(stream_events(weak.clone(), controller.clone()));
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
    pub fn schedule<C: Driven>(&mut self, client: Weak<C>, delay: u64) {
        let due = sys::now_ms() + delay;
        if self.timer.as_ref().is_some_and(|(at, _)| *at <= due) {
            return;
        }
        let timeout = Timeout::new(delay.min(i32::MAX as u64) as u32, move || {
            // Not from inside the callback: that would drop the running timer's closure.
            let client = client.clone();
            sys::spawn(async move {
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

fn with<C: Driven>(weak: &Weak<C>, f: impl FnOnce(&Rc<C>)) {
    if let Some(client) = weak.upgrade() {
        f(&client);
    }
}

/// Read the server's event stream (`GET {endpoint}/events`, SSE) with `fetch`, which,
/// unlike `EventSource`, sends our headers and works in service workers. Each event is a
/// poke to sync; the stream reconnects with backoff until the client closes.
async fn stream_events<C: Driven>(weak: Weak<C>, abort: AbortController) {
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
async fn read_stream<C: Driven>(weak: &Weak<C>, abort: &AbortController) -> Result<bool, ()> {
    let mut stream = {
        let client = weak.upgrade().ok_or(())?;
        if client.is_closed() {
            return Err(());
        }
        let transport = client.transport().ok_or(())?;
        // Hold the client only for the request, not for the whole stream.
        let stream = EventStream::connect(transport, abort).await?;
        // Changes may have been missed while disconnected.
        client.trigger(Trigger::Online);
        stream
    };
    while stream.next_poke().await? {
        let Some(client) = weak.upgrade() else { return Ok(true) };
        client.trigger(Trigger::Poke);
    }
    Ok(true)
}
