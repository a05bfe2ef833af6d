//! The clinic's HTTP server (`clinic serve`): one state struct, one router
//! per module merged here: the kiosk sync endpoint ([`sync`]), logging in
//! ([`auth`]), the read-only pages ([`pages`]), a patient's history ([`patient`]) and "classify a photo"
//! ([`upload`]). It binds to localhost unless told otherwise.

use anyhow::{Context, Result};
use axum::Router;
use ed25519_dalek::SigningKey;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tracing::info;

use crate::challenges::Challenges;
use crate::login_throttle::{LoginThrottle, ThrottlePolicy};
use crate::store::Store;

pub mod auth;
pub mod classify;
pub mod error;
pub mod html;
pub mod pages;
pub mod patient;
pub mod security;
pub mod sniff;
pub mod sync;
pub mod tls;
pub mod upload;

/// How long a web session lasts unless told otherwise: a working day.
pub const DEFAULT_SESSION_TTL_MS: i64 = 10 * 3600 * 1000;

/// What the web pages share.
#[derive(Debug, Clone)]
pub struct Web {
    /// Lifetime of a login session, ms.
    pub session_ttl_ms: i64,
    /// Face stage and classifier for "classify a photo" (None: not loaded).
    pub photo: Option<Arc<upload::PhotoAnalyzer>>,
    /// SHA-256 of the HTTPS certificate, shown on the login page so people
    /// can check it against their browser's (None: plain HTTP).
    pub tls_fingerprint: Option<String>,
}

/// Password checks at once, at most: argon2 takes 19 MiB and tens of ms of
/// one core each, and a flood must not take every core or the memory.
pub const PASSWORD_CHECKS_AT_ONCE: usize = 2;

/// What logging in shares: the throttle, and the permits of the argon2 pool.
#[derive(Debug)]
pub struct Logins {
    /// Failures per account and address.
    pub throttle: LoginThrottle,
    /// One permit per password check that may run at once.
    pub hashing: tokio::sync::Semaphore,
}

impl Logins {
    fn new(policy: ThrottlePolicy) -> Self {
        Logins {
            throttle: LoginThrottle::new(policy),
            hashing: tokio::sync::Semaphore::new(PASSWORD_CHECKS_AT_ONCE),
        }
    }
}

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The database (one writer; handlers lock it inside `spawn_blocking`).
    pub store: Arc<Mutex<Store>>,
    /// The host key that signs acknowledgements and hellos.
    pub host_key: Arc<SigningKey>,
    /// Settings and models of the web pages.
    pub web: Arc<Web>,
    /// Login throttling and the password-check pool.
    pub logins: Arc<Logins>,
    /// The sync challenges open.
    pub challenges: Arc<Challenges>,
}

impl AppState {
    /// State over `store`, signing with `host_key`.
    pub fn new(store: Store, host_key: SigningKey) -> Self {
        AppState {
            store: Arc::new(Mutex::new(store)),
            host_key: Arc::new(host_key),
            web: Arc::new(Web {
                session_ttl_ms: DEFAULT_SESSION_TTL_MS,
                photo: None,
                tls_fingerprint: None,
            }),
            logins: Arc::new(Logins::new(ThrottlePolicy::default())),
            challenges: Arc::new(Challenges::new()),
        }
    }

    /// The same state with another login throttling rule (benchmarks,
    /// tests that need many failures in a row).
    #[must_use]
    pub fn with_login_policy(mut self, policy: ThrottlePolicy) -> Self {
        self.logins = Arc::new(Logins::new(policy));
        self
    }

    /// The same state with the photo page's models.
    #[must_use]
    pub fn with_photo(mut self, photo: Option<Arc<upload::PhotoAnalyzer>>) -> Self {
        Arc::make_mut(&mut self.web).photo = photo;
        self
    }

    /// The same state showing `fingerprint` (the HTTPS certificate's) on
    /// the login page.
    #[must_use]
    pub fn with_tls_fingerprint(mut self, fingerprint: Option<String>) -> Self {
        Arc::make_mut(&mut self.web).tls_fingerprint = fingerprint;
        self
    }

    /// The same state with another session lifetime.
    #[must_use]
    pub fn with_session_ttl_ms(mut self, ttl_ms: i64) -> Self {
        Arc::make_mut(&mut self.web).session_ttl_ms = ttl_ms.max(1000);
        self
    }
}

/// Every route of the server.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(sync::router())
        .merge(auth::router())
        .merge(pages::router())
        .merge(patient::router())
        .merge(security::router())
        .merge(upload::router())
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Headers every answer carries: no framing by other sites, no sniffing,
/// no caching of pages that show patient data, nothing loaded from elsewhere.
async fn security_headers(mut response: axum::response::Response) -> axum::response::Response {
    let h = response.headers_mut();
    let set = [
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("cache-control", "no-store"),
        (
            "content-security-policy",
            "default-src 'none'; img-src data:; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    ];
    for (name, value) in set {
        if let Ok(v) = axum::http::HeaderValue::from_str(value) {
            h.entry(name).or_insert(v);
        }
    }
    response
}

/// Serves on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // The peer's address reaches the handlers, for login throttling and
    // security events.
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Serves HTTPS and the kiosks' plain HTTP on `listener` until `shutdown`
/// completes: browsers get every page over TLS, plain connections only the
/// kiosk sync paths ([`sniff`]).
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    state: AppState,
    tls: Arc<rustls::ServerConfig>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = sniff::SniffingListener::new(listener, tls)?;
    let app = router(state)
        .layer(axum::middleware::from_fn(sniff::kiosks_only_in_plain))
        .into_make_service_with_connect_info::<sniff::Peer>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// A server on its own thread and runtime (tests, tools); stops when dropped.
pub struct BackgroundServer {
    addr: SocketAddr,
    https: bool,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
}

impl BackgroundServer {
    /// Binds `bind` (port 0 picks a free one) and serves `state` in the background.
    pub fn start(bind: SocketAddr, state: AppState) -> Result<Self> {
        BackgroundServer::start_with(bind, state, None)
    }

    /// [`BackgroundServer::start`] with HTTPS as `clinic serve` has it
    /// beyond localhost ([`serve_tls`]).
    pub fn start_tls(bind: SocketAddr, state: AppState, tls: &tls::TlsSetup) -> Result<Self> {
        BackgroundServer::start_with(bind, state, Some(tls.config.clone()))
    }

    fn start_with(
        bind: SocketAddr,
        state: AppState,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind(bind))
            .with_context(|| format!("binding {bind}"))?;
        let addr = listener.local_addr()?;
        let https = tls.is_some();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let stopped = async {
                let _ = stopped.await;
            };
            runtime.block_on(async move {
                match tls {
                    Some(tls) => serve_tls(listener, state, tls, stopped).await,
                    None => serve(listener, state, stopped).await,
                }
            })
        });
        Ok(BackgroundServer {
            addr,
            https,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `https://ADDR` for a server started with HTTPS, else `http://ADDR`.
    pub fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// `http://ADDR`: where kiosks sync, with or without HTTPS.
    pub fn plain_url(&self) -> String {
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

/// `clinic serve`: binds `bind`, serves until Ctrl-C; HTTPS with `tls`.
pub fn run(bind: SocketAddr, state: AppState, tls: Option<&tls::TlsSetup>) -> Result<()> {
    let tls_config = tls.map(|t| t.config.clone());
    let scheme = if tls.is_some() { "https" } else { "http" };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .with_context(|| format!("binding {bind}"))?;
        let address = listener.local_addr()?;
        info!(%address, host_key = %hex::encode(state.host_key.verifying_key().to_bytes()),
              "clinic serving kiosk sync and the web page at {scheme}://{address}/");
        let stop = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        match tls_config {
            Some(config) => serve_tls(listener, state, config, stop).await,
            None => serve(listener, state, stop).await,
        }
        .context("serving")
    })
}
