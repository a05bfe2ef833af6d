//! The clinic's HTTP server (`clinic serve`): one state struct, one router
//! per module merged here. Today it serves the kiosk sync endpoint
//! ([`sync`]); the web pages come later. It binds to localhost unless told
//! otherwise.

use anyhow::{Context, Result};
use axum::Router;
use ed25519_dalek::SigningKey;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tracing::info;

use crate::store::Store;

pub mod error;
pub mod sync;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The database (one writer; handlers lock it inside `spawn_blocking`).
    pub store: Arc<Mutex<Store>>,
    /// The host key that signs acknowledgements and hellos.
    pub host_key: Arc<SigningKey>,
}

impl AppState {
    /// State over `store`, signing with `host_key`.
    pub fn new(store: Store, host_key: SigningKey) -> Self {
        AppState {
            store: Arc::new(Mutex::new(store)),
            host_key: Arc::new(host_key),
        }
    }
}

/// Every route of the server.
pub fn router(state: AppState) -> Router {
    Router::new().merge(sync::router()).with_state(state)
}

/// Serves on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// A server on its own thread and runtime (tests, tools); stops when dropped.
pub struct BackgroundServer {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl BackgroundServer {
    /// Binds `bind` (port 0 picks a free one) and serves `state` in the background.
    pub fn start(bind: SocketAddr, state: AppState) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(bind))
            .with_context(|| format!("binding {bind}"))?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            runtime.block_on(serve(listener, state, async {
                let _ = stopped.await;
            }))
        });
        Ok(BackgroundServer {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for BackgroundServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `clinic serve`: binds `bind`, serves until Ctrl-C.
pub fn run(bind: SocketAddr, state: AppState) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(bind).await.with_context(|| format!("binding {bind}"))?;
        info!(address = %listener.local_addr()?, host_key = %hex::encode(state.host_key.verifying_key().to_bytes()),
              "clinic serving kiosk sync");
        serve(listener, state, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")
    })
}
