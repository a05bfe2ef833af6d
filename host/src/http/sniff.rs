//! One port for HTTPS and the kiosks' plain HTTP.
//!
//! Each accepted connection is read for its first byte, without consuming
//! it: 0x16 opens a TLS handshake (a browser), anything else is plain HTTP
//! (a kiosk, whose sync bodies are sealed). Handshakes run on their own
//! tasks, bounded by [`HANDSHAKE_WITHIN`], so a client that connects and says
//! nothing holds up nobody. The router learns which it was from [`Peer`],
//! and answers plain connections only on the kiosk sync paths
//! ([`kiosks_only_in_plain`]).

use axum::extract::connect_info::Connected;
use axum::extract::{ConnectInfo, Request};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::serve::{IncomingStream, Listener};
use screening::record::wire::{HELLO_PATH, SYNC_PATH};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tracing::{debug, warn};

/// Longest a connection may take to send its first byte and, for TLS, to
/// finish its handshake.
pub const HANDSHAKE_WITHIN: Duration = Duration::from_secs(10);
/// The first byte of a TLS record carrying a handshake.
const TLS_HANDSHAKE: u8 = 0x16;

/// Who is on the other end, and whether over TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    /// The client's address.
    pub addr: SocketAddr,
    /// Whether the connection is HTTPS.
    pub tls: bool,
}

impl Connected<IncomingStream<'_, SniffingListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, SniffingListener>) -> Self {
        *stream.remote_addr()
    }
}

/// A connection, plain or TLS.
pub enum Io {
    /// Plain HTTP.
    Plain(TcpStream),
    /// HTTPS.
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_flush(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Io::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Accepts connections and hands them on once their protocol is known.
pub struct SniffingListener {
    ready: mpsc::Receiver<(Io, Peer)>,
    local: SocketAddr,
}

impl SniffingListener {
    /// Starts accepting on `listener` (on the current runtime), answering
    /// TLS handshakes with `tls`.
    pub fn new(listener: TcpListener, tls: Arc<rustls::ServerConfig>) -> io::Result<Self> {
        let local = listener.local_addr()?;
        let acceptor = TlsAcceptor::from(tls);
        let (tx, ready) = mpsc::channel(64);
        tokio::spawn(async move {
            loop {
                let accepted = tokio::select! {
                    a = listener.accept() => a,
                    // The server stopped: stop accepting, free the port.
                    () = tx.closed() => return,
                };
                let (stream, addr) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        // Out of descriptors and the like: wait, then go on.
                        warn!("accepting a connection failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let (tx, acceptor) = (tx.clone(), acceptor.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_WITHIN, classify(stream, &acceptor)).await
                    {
                        Ok(Ok((io, tls))) => {
                            let _ = tx.send((io, Peer { addr, tls })).await;
                        }
                        Ok(Err(e)) => debug!(%addr, "connection dropped before its request: {e}"),
                        Err(_) => {
                            debug!(%addr, "connection dropped: nothing sent within {HANDSHAKE_WITHIN:?}")
                        }
                    }
                });
            }
        });
        Ok(SniffingListener { ready, local })
    }
}

async fn classify(stream: TcpStream, acceptor: &TlsAcceptor) -> io::Result<(Io, bool)> {
    let mut first = [0u8; 1];
    let n = stream.peek(&mut first).await?;
    if n == 1 && first[0] == TLS_HANDSHAKE {
        let tls = acceptor.accept(stream).await?;
        Ok((Io::Tls(Box::new(tls)), true))
    } else {
        Ok((Io::Plain(stream), false))
    }
}

impl Listener for SniffingListener {
    type Io = Io;
    type Addr = Peer;

    async fn accept(&mut self) -> (Io, Peer) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accepting task only ends once this receiver is gone.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Peer> {
        Ok(Peer {
            addr: self.local,
            tls: false,
        })
    }
}

/// On a server that has HTTPS, a plain connection reaches only the kiosk
/// sync paths; a browser asking for a page over plain HTTP is sent to the
/// same page over HTTPS, anything else is refused, so no password or result
/// crosses the LAN in the clear.
pub async fn kiosks_only_in_plain(request: Request, next: Next) -> Response {
    let plain = request
        .extensions()
        .get::<ConnectInfo<Peer>>()
        .is_some_and(|c| !c.0.tls);
    let path = request.uri().path();
    if !plain || path == SYNC_PATH || path == HELLO_PATH {
        return next.run(request).await;
    }
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_string();
    if !host.is_empty() && matches!(*request.method(), Method::GET | Method::HEAD) {
        let target = match request.uri().path_and_query() {
            Some(pq) => format!("https://{host}{pq}"),
            None => format!("https://{host}/"),
        };
        return Redirect::permanent(&target).into_response();
    }
    (
        StatusCode::FORBIDDEN,
        "This clinic serves its web page over HTTPS only: open it with https://.\n",
    )
        .into_response()
}
