//! Start-up: open the store, start realtime, bind, serve until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

use crate::config::Config;
use crate::db::{self, StoreError};
use crate::delivery::Deliverer;
use crate::notify::Notifier;
use crate::routes::router;
use crate::state::AppState;

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Database(#[from] StoreError),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("{0}")]
    Config(String),
}

/// How long shutdown waits for the webhook task to record its last outcomes.
const DELIVERY_DRAIN: Duration = Duration::from_secs(5);

/// A server bound to its address, not yet serving.
pub struct Server {
    listener: TcpListener,
    state: AppState,
    shutdown_tx: watch::Sender<bool>,
    addr: SocketAddr,
    deliverer: Option<Deliverer>,
}

impl Server {
    pub async fn bind(config: Config) -> Result<Server, StartError> {
        config.webhooks.check().map_err(StartError::Config)?;
        let store = db::open(&config.database).await?;
        let notifier = Arc::new(Notifier::new());
        let (shutdown_tx, shutdown) = watch::channel(false);
        store.start_realtime(notifier.clone(), shutdown.clone()).await?;
        let listener = TcpListener::bind(config.listen).await.map_err(|e| StartError::Bind(config.listen, e))?;
        let addr = listener.local_addr().map_err(|e| StartError::Bind(config.listen, e))?;
        let webhook_wake = Arc::new(Notify::new());
        let deliverer = if config.webhooks.enabled() {
            let d = Deliverer::new(store.clone(), config.webhooks.clone(), webhook_wake.clone(), shutdown.clone());
            Some(d.map_err(StartError::Config)?)
        } else {
            None
        };
        tracing::info!(%addr, backend = store.backend(), auth = ?config.auth, webhooks = config.webhooks.urls.len(), "ready");
        let state =
            AppState { config: Arc::new(config), store, notifier, shutdown, webhook_wake, streams: Arc::default() };
        Ok(Server { listener, state, shutdown_tx, addr, deliverer })
    }

    /// The address actually bound (the real port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serve (and deliver webhooks) until `signal` resolves, then finish open requests,
    /// end event streams and stop delivering (an event being sent is released, to be
    /// sent again: delivery is at least once).
    pub async fn serve(self, signal: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let Server { listener, state, shutdown_tx, deliverer, .. } = self;
        let shutdown_tx = Arc::new(shutdown_tx);
        let mut delivery = deliverer.map(|d| tokio::spawn(d.run()));
        let stop = {
            let shutdown_tx = shutdown_tx.clone();
            async move {
                signal.await;
                tracing::info!("shutting down");
                let _ = shutdown_tx.send(true);
            }
        };
        let served = axum::serve(listener, router(state)).with_graceful_shutdown(stop).await;
        let _ = shutdown_tx.send(true);
        if let Some(task) = delivery.as_mut() {
            if tokio::time::timeout(DELIVERY_DRAIN, &mut *task).await.is_err() {
                tracing::warn!("webhook delivery did not stop in time; its claimed events are sent again later");
                task.abort();
            }
        }
        served
    }
}
