//! What makes a client sync by itself: a timer for the next attempt (debounced writes,
//! backoff), the global `online` event, the pull interval, and the server's event stream
//! when `realtime` is on. Everything here holds the client weakly and stops when dropped
//! (on `close`).

use std::rc::{Rc, Weak};

use gloo_events::EventListener;
use gloo_timers::callback::{Interval, Timeout};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::spawn_local;
use web_sys::{AbortController, EventTarget, VisibilityState};

use crate::client::{now_ms, Client};
use crate::event_stream::EventStream;
use crate::sys;
use pwa_sync_core::schedule::{Next, Trigger};

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
            EventListener::new(&global, "online", move |_| with(&weak, |c| Background::trigger(c, Trigger::Online)))
        };
        let offline = {
            let weak = weak.clone();
            EventListener::new(&global, "offline", move |_| {
                with(&weak, |c| {
                    if !c.sync.borrow().running {
                        c.set_state("offline", None);
                    }
                })
            })
        };
        // A page coming back to the foreground may have missed pokes while it slept.
        let visible = sys::global().document().map(|document| {
            let weak = weak.clone();
            let target: EventTarget = document.clone().into();
            EventListener::new(&target, "visibilitychange", move |_| {
                if document.visibility_state() == VisibilityState::Visible {
                    with(&weak, |c| Background::trigger(c, Trigger::Online));
                }
            })
        });
        let interval = client.config.pull_interval_ms.filter(|ms| *ms > 0).map(|ms| {
            let weak = weak.clone();
            Interval::new(ms.min(u32::MAX as u64) as u32, move || {
                with(&weak, |c| Background::trigger(c, Trigger::Interval))
            })
        });
        let stream = client.config.realtime.then(|| {
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

    /// Something happened that may call for a sync.
    pub fn trigger(client: &Rc<Client>, trigger: Trigger) {
        if client.closed.get() || client.transport.is_none() {
            return;
        }
        let next = {
            let mut sync = client.sync.borrow_mut();
            if sync.running {
                sync.rerun = true;
                return;
            }
            sync.scheduler.on_trigger(trigger, now_ms())
        };
        Background::schedule(client, next);
    }

    /// Start a sync after `next`, unless one is already due sooner.
    pub fn schedule(client: &Rc<Client>, next: Next) {
        let Next::In(delay) = next else { return };
        let due = now_ms() + delay;
        let mut background = client.background.borrow_mut();
        let Some(background) = background.as_mut() else { return };
        if background.timer.as_ref().is_some_and(|(at, _)| *at <= due) {
            return;
        }
        let weak = Rc::downgrade(client);
        let timeout = Timeout::new(delay.min(i32::MAX as u64) as u32, move || {
            // Not from inside the callback: that would drop the running timer's closure.
            let weak = weak.clone();
            spawn_local(async move {
                let Some(client) = weak.upgrade() else { return };
                if let Some(background) = client.background.borrow_mut().as_mut() {
                    background.timer = None;
                }
                client.sync_in_background().await;
            });
        });
        background.timer = Some((due, timeout));
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
    let mut failures: u32 = 0;
    loop {
        if abort.signal().aborted() {
            return;
        }
        let connected = read_stream(&weak, &abort).await.unwrap_or_default();
        failures = if connected { 0 } else { failures.saturating_add(1) };
        let delay = 1_000u64.saturating_mul(1 << failures.min(5)).min(30_000);
        let jittered = (delay as f64 * (0.8 + 0.4 * js_sys::Math::random())) as u32;
        gloo_timers::future::TimeoutFuture::new(jittered).await;
    }
}

/// One connection: `Ok(true)` if it connected (and later ended), `Err` if it did not.
async fn read_stream(weak: &Weak<Client>, abort: &AbortController) -> Result<bool, ()> {
    let mut stream = {
        let client = weak.upgrade().ok_or(())?;
        if client.closed.get() {
            return Err(());
        }
        let transport = client.transport.as_ref().ok_or(())?;
        // Hold the client only for the request, not for the whole stream.
        let stream = EventStream::connect(transport, abort).await?;
        // Changes may have been missed while disconnected.
        Background::trigger(&client, Trigger::Online);
        stream
    };
    while stream.next_poke().await? {
        let Some(client) = weak.upgrade() else { return Ok(true) };
        Background::trigger(&client, Trigger::Poke);
    }
    Ok(true)
}
