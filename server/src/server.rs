//! Start-up: open the store, start realtime, bind, serve until shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::config::Config;
use crate::db::{self, StoreError};
use crate::notify::Notifier;
use crate::routes::{router, App};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Database(#[from] StoreError),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
}

/// A server bound to its address, not yet serving.
pub struct Server {
    listener: TcpListener,
    app: App,
    shutdown_tx: watch::Sender<bool>,
    addr: SocketAddr,
}

impl Server {
    pub async fn bind(config: Config) -> Result<Server, StartError> {
        let store = db::open(&config.database).await?;
        let notifier = Arc::new(Notifier::new());
        let (shutdown_tx, shutdown) = watch::channel(false);
        store.start_realtime(notifier.clone(), shutdown.clone()).await?;
        let listener = TcpListener::bind(config.listen).await.map_err(|e| StartError::Bind(config.listen, e))?;
        let addr = listener.local_addr().map_err(|e| StartError::Bind(config.listen, e))?;
        tracing::info!(%addr, backend = store.backend(), auth = ?config.auth, "ready");
        let app = App { config: Arc::new(config), store, notifier, started: Instant::now(), shutdown };
        Ok(Server { listener, app, shutdown_tx, addr })
    }

    /// The address actually bound (the real port when asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Serve until `signal` resolves, then finish open requests and end event streams.
    pub async fn serve(self, signal: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let Server { listener, app, shutdown_tx, .. } = self;
        let stop = async move {
            signal.await;
            tracing::info!("shutting down");
            let _ = shutdown_tx.send(true);
        };
        axum::serve(listener, router(app)).with_graceful_shutdown(stop).await
    }
}
