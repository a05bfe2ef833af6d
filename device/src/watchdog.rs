//! systemd service notifications: `READY=1` once the kiosk can screen, and
//! watchdog pings only while the screening loop is really turning.
//!
//! A ping thread that pinged unconditionally would keep a hung kiosk (a
//! stuck V4L2 ioctl, a wedged SPI transfer) alive for ever. Instead the loop
//! beats a [`Heartbeat`] every time it asks the camera for a frame or polls
//! the input ([`Beating`] wraps both), and the thread pings systemd only
//! while the last beat is recent. When the loop stops beating, the pings
//! stop and systemd restarts the service (`WatchdogSec=` in the unit).
//!
//! Without `NOTIFY_SOCKET` (a terminal, `kiosk demo`, tests) nothing is sent.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::camera::{Camera, CameraError, Frame};
use crate::input::{Input, InputEvent};
use screening::protocol::Expression;

/// Where systemd listens, from `NOTIFY_SOCKET`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotifySocket {
    /// A socket file.
    Path(PathBuf),
    /// A Linux abstract socket (`@name`).
    Abstract(Vec<u8>),
}

impl NotifySocket {
    /// Reads `NOTIFY_SOCKET`; `None` when the kiosk does not run under
    /// systemd's notify protocol.
    pub fn from_env() -> Option<Self> {
        Self::parse(&std::env::var_os("NOTIFY_SOCKET")?.to_string_lossy())
    }

    fn parse(value: &str) -> Option<Self> {
        match value.strip_prefix('@') {
            Some(name) if !name.is_empty() => Some(Self::Abstract(name.as_bytes().to_vec())),
            Some(_) => None,
            None if value.starts_with('/') => Some(Self::Path(value.into())),
            None => None,
        }
    }

    /// Sends one notification (`READY=1`, `WATCHDOG=1`, `STATUS=…`).
    pub fn notify(&self, message: &str) -> std::io::Result<()> {
        let socket = UnixDatagram::unbound()?;
        match self {
            Self::Path(p) => socket.send_to(message.as_bytes(), p).map(drop),
            Self::Abstract(name) => send_abstract(&socket, name, message),
        }
    }
}

#[cfg(target_os = "linux")]
fn send_abstract(socket: &UnixDatagram, name: &[u8], message: &str) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    socket.send_to_addr(message.as_bytes(), &addr).map(drop)
}

#[cfg(not(target_os = "linux"))]
fn send_abstract(_: &UnixDatagram, _: &[u8], _: &str) -> std::io::Result<()> {
    Err(std::io::Error::other("abstract sockets need Linux"))
}

/// The watchdog period systemd asked for (`WATCHDOG_USEC`, for this process
/// when `WATCHDOG_PID` names one).
pub fn watchdog_period_from_env() -> Option<Duration> {
    if let Some(pid) = std::env::var_os("WATCHDOG_PID") {
        if pid.to_string_lossy().parse::<u32>().ok() != Some(std::process::id()) {
            return None;
        }
    }
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    (usec > 0).then(|| Duration::from_micros(usec))
}

/// When the screening loop last showed it was alive.
#[derive(Debug, Clone)]
pub struct Heartbeat {
    start: Instant,
    last_ms: Arc<AtomicU64>,
}

impl Default for Heartbeat {
    fn default() -> Self {
        Self::new()
    }
}

impl Heartbeat {
    /// A heartbeat that has just beaten.
    pub fn new() -> Self {
        Heartbeat {
            start: Instant::now(),
            last_ms: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The loop is alive now.
    pub fn beat(&self) {
        let ms = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }

    /// Time since the last beat.
    pub fn age(&self) -> Duration {
        let now = self.start.elapsed().as_millis() as u64;
        Duration::from_millis(now.saturating_sub(self.last_ms.load(Ordering::Relaxed)))
    }
}

/// Ping while the last beat is younger than half the period: systemd then
/// kills a loop that has been silent for between half and one period.
pub fn should_ping(age: Duration, period: Duration) -> bool {
    age < period / 2
}

/// Starts the ping thread when systemd asked for a watchdog; returns the
/// heartbeat the loop must beat (a detached one otherwise).
pub fn start(socket: Option<NotifySocket>, period: Option<Duration>) -> Heartbeat {
    let heartbeat = Heartbeat::new();
    let (Some(socket), Some(period)) = (socket, period) else {
        return heartbeat;
    };
    let watched = heartbeat.clone();
    let spawned = std::thread::Builder::new()
        .name("watchdog".into())
        .spawn(move || loop {
            if should_ping(watched.age(), period) {
                if let Err(e) = socket.notify("WATCHDOG=1") {
                    tracing::warn!("watchdog ping failed: {e}");
                }
            } else {
                tracing::error!(
                    silent_ms = watched.age().as_millis() as u64,
                    "the screening loop stopped; withholding watchdog pings so systemd restarts the kiosk"
                );
            }
            std::thread::sleep(period / 4);
        });
    if let Err(e) = spawned {
        tracing::warn!("could not start the watchdog thread: {e}");
    }
    heartbeat
}

/// A camera or input that beats the heartbeat whenever the loop uses it.
pub struct Beating<T> {
    inner: T,
    heartbeat: Heartbeat,
}

impl<T> Beating<T> {
    /// Wraps `inner`.
    pub fn new(inner: T, heartbeat: Heartbeat) -> Self {
        Beating { inner, heartbeat }
    }
}

impl Camera for Beating<Box<dyn Camera>> {
    fn next_frame(&mut self) -> Result<Frame, CameraError> {
        self.heartbeat.beat();
        self.inner.next_frame()
    }

    fn reopen(&mut self) -> Result<(), CameraError> {
        self.heartbeat.beat();
        self.inner.reopen()
    }

    fn follow_prompt(&mut self, prompt: Option<Expression>) {
        self.inner.follow_prompt(prompt)
    }

    fn describe(&self) -> String {
        self.inner.describe()
    }
}

impl Input for Beating<Box<dyn Input>> {
    fn poll(&mut self, timeout: Duration) -> Option<InputEvent> {
        self.heartbeat.beat();
        self.inner.poll(timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_socket_forms() {
        assert_eq!(
            NotifySocket::parse("/run/systemd/notify"),
            Some(NotifySocket::Path("/run/systemd/notify".into()))
        );
        assert_eq!(
            NotifySocket::parse("@sd-notify"),
            Some(NotifySocket::Abstract(b"sd-notify".to_vec()))
        );
        assert_eq!(NotifySocket::parse("@"), None);
        assert_eq!(NotifySocket::parse("relative/path"), None);
    }

    #[test]
    fn notifications_reach_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        NotifySocket::Path(path).notify("READY=1").unwrap();
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1");
    }

    #[test]
    fn pings_stop_when_the_loop_goes_silent() {
        let period = Duration::from_secs(60);
        assert!(should_ping(Duration::ZERO, period));
        assert!(should_ping(Duration::from_secs(29), period));
        assert!(!should_ping(Duration::from_secs(30), period));
        assert!(!should_ping(Duration::from_secs(3600), period));
    }

    #[test]
    fn using_the_camera_or_input_beats() {
        struct Still;
        impl Input for Still {
            fn poll(&mut self, _: Duration) -> Option<InputEvent> {
                None
            }
        }
        // A heartbeat whose only beat was ten seconds ago.
        let heartbeat = Heartbeat {
            start: Instant::now().checked_sub(Duration::from_secs(10)).unwrap(),
            last_ms: Arc::new(AtomicU64::new(0)),
        };
        assert!(heartbeat.age() >= Duration::from_secs(10));
        let mut input = Beating::new(Box::new(Still) as Box<dyn Input>, heartbeat.clone());
        input.poll(Duration::ZERO);
        assert!(heartbeat.age() < Duration::from_secs(5));
    }
}
