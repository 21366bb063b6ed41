//! `pwa-sync-fault-proxy --listen 127.0.0.1:0 --upstream http://127.0.0.1:PORT
//! [--seed N] [--rate R] [--cors-any-origin]`
//!
//! Prints exactly one line on stdout once it accepts connections:
//! `pwa-sync-fault-proxy listening on http://ADDR`.

use std::io::Write;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::Parser;
use pwa_sync_fault_proxy::{Config, FaultProxy};
use tokio::net::TcpListener;

/// Fault-injecting HTTP proxy in front of the pwa-sync reference server.
#[derive(Parser, Debug)]
#[command(name = "pwa-sync-fault-proxy", version)]
struct Args {
    /// Address to listen on (port 0: any free port, printed on start).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Base URL of the upstream server, e.g. http://127.0.0.1:8080
    #[arg(long)]
    upstream: String,
    /// Seed of the random fault source (same seed, same requests: same faults).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Probability (0.0..=1.0) that a proxied request gets a random fault.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Answer CORS preflights and send Access-Control-Allow-Origin: * everywhere.
    #[arg(long)]
    cors_any_origin: bool,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let config =
        Config { upstream: args.upstream, seed: args.seed, rate: args.rate, cors_any_origin: args.cors_any_origin };
    let proxy = match FaultProxy::new(config) {
        Ok(proxy) => proxy,
        Err(e) => {
            eprintln!("pwa-sync-fault-proxy: {e}");
            return ExitCode::from(2);
        }
    };
    let listener = match TcpListener::bind(args.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("pwa-sync-fault-proxy: cannot listen on {}: {e}", args.listen);
            return ExitCode::FAILURE;
        }
    };
    let addr = match listener.local_addr() {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("pwa-sync-fault-proxy: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "pwa-sync-fault-proxy listening on http://{addr}");
    let _ = stdout.flush();
    tokio::select! {
        () = proxy.serve(listener) => {}
        () = shutdown_signal() => {}
    }
    ExitCode::SUCCESS
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
