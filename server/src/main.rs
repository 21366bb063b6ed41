//! `pwa-sync-server`: see `pwa-sync-server --help`.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use pwa_sync_server::{Cli, Config, Server};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| EnvFilter::new("pwa_sync_server=info,tower_http=warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let config = match Config::from_cli(Cli::parse()) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("pwa-sync-server: {message}");
            return ExitCode::from(2);
        }
    };
    let server = match Server::bind(config).await {
        Ok(server) => server,
        Err(e) => {
            eprintln!("pwa-sync-server: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Tests and `make demo` read this line for the address.
    println!("pwa-sync-server listening on http://{}", server.local_addr());
    let _ = std::io::stdout().flush();
    match server.serve(shutdown_signal()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("pwa-sync-server: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
