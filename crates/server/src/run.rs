//! Running the server as a process: logging set-up, a multi-threaded runtime, start-up
//! messages, and a clean stop on Ctrl-C or SIGTERM. Used by `cartback serve`.

use crate::channels::Channel;
use crate::clock::Clock;
use crate::config::ServerConfig;
use crate::server::{RunningServer, ServerError, start_with_channels};
use std::sync::Arc;

/// Logs to standard error; `RUST_LOG` filters (default `info`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colours only on a terminal: a log piped to a file or `tee` stays plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .try_init();
}

async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
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

/// Starts the server with `extra` channels, calls `started` once it listens (print the
/// address and any generated key there), runs `work` alongside it (e.g. the demo shop),
/// and stops on a signal.
pub fn serve_until_signal<W, F>(
    config: ServerConfig,
    clock: Arc<dyn Clock>,
    extra: Vec<Arc<dyn Channel>>,
    started: impl FnOnce(&RunningServer),
    work: W,
) -> Result<(), ServerError>
where
    W: FnOnce(&RunningServer) -> F,
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| ServerError::Task(e.to_string()))?;
    runtime.block_on(async move {
        let server = start_with_channels(config, clock, extra).await?;
        started(&server);
        let background = tokio::spawn(work(&server));
        let result = server.wait_for(stop_signal()).await;
        background.abort();
        result
    })
}
