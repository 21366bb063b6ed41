//! What every handler shares. Cloned per request by axum, so every field is a handle
//! (`Arc`, a watch receiver) and cloning copies no data.

use std::sync::Arc;

use tokio::sync::{watch, Notify};

use crate::config::Config;
use crate::db::Store;
use crate::notify::Notifier;
use crate::streams::Streams;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub store: Arc<dyn Store>,
    pub notifier: Arc<Notifier>,
    /// Becomes `true` at shutdown; ends the event streams.
    pub shutdown: watch::Receiver<bool>,
    /// Wakes this process's webhook delivery after a push queued events.
    pub webhook_wake: Arc<Notify>,
    /// Open `/sync/events` streams, capped.
    pub streams: Arc<Streams>,
}
