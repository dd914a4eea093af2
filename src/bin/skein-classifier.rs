//! The reference image-classifier service as a standalone process (for docker and manual runs).

use std::net::SocketAddr;

use anyhow::Context;
use clap::Parser;
use skein::classifier::{self, ClassifierState};

/// The command line. `about` is spelled out: without a value clap would show the workspace's
/// description (the load tester's), which says nothing about this service.
#[derive(Parser, Debug)]
#[command(
    name = "skein-classifier",
    version,
    about = "The reference image-classifier service that skein load-tests by default",
    long_about = "The reference image-classifier service that skein load-tests by default: the real \
service's HTTP API over a deterministic stand-in model.\n\n\
Routes: GET / and GET /api/v1/health (health), GET /api/v1/model/info (model info), \
POST /api/v1/classify (multipart image upload, FastAPI-shaped errors), and \
GET/DELETE /_skein/counts (requests counted by route, method and status; DELETE resets them).\n\n\
It runs until Ctrl-C or SIGTERM."
)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "SKEIN_CLASSIFIER_BIND", default_value = "127.0.0.1:8000")]
    bind: SocketAddr,

    /// Milliseconds added before every answer, without blocking (a slow target on demand).
    #[arg(long = "delay-ms", env = "SKEIN_CLASSIFIER_DELAY_MS", value_name = "MS",
          default_value = "0", value_parser = classifier::parse_delay_ms)]
    delay_ms: std::time::Duration,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = tokio::net::TcpListener::bind(args.bind)
        .await
        .with_context(|| format!("cannot listen on {}", args.bind))?;
    let addr = listener.local_addr().context("no local address")?;
    println!("skein-classifier listening on http://{addr}");
    classifier::serve(
        listener,
        ClassifierState::new().with_delay(args.delay_ms),
        stop_signal(),
    )
    .await
    .context("server failed")?;
    println!("skein-classifier stopped");
    Ok(())
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM (what `docker stop` sends).
async fn stop_signal() {
    let ctrl_c = async {
        // If the handler cannot be installed, never resolve rather than stop at once.
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
