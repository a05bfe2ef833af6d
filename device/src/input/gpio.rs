//! A push button on a GPIO line (character device `/dev/gpiochipN`): a
//! short press is [`InputEvent::Start`], a long press (2 s by default) is
//! [`InputEvent::Cancel`], fired while the button is still held so the nurse
//! feels when it took.
//!
//! A reader thread waits for edge events on the line, samples its level and
//! feeds a [`Debouncer`]: a level counts only once it has held for the
//! debounce time (30 ms by default), so contact bounce and short spikes on
//! a long cable give no event. The GPIO v1 ABI that `gpio-cdev` speaks has no
//! pull-up control: use the board's pull (on a Pi, `gpio=17=ip,pu` in
//! `config.txt`) or an external resistor, and wire the button to ground
//! (`active_low`, the default).

use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use linux_embedded_hal::gpio_cdev::{Chip, EventRequestFlags, LineEventHandle, LineRequestFlags};
use thiserror::Error;

use super::{Input, InputEvent};

/// Default time a level must hold before it counts.
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(30);
/// Default hold time for a long press (cancel).
pub const DEFAULT_LONG_PRESS: Duration = Duration::from_secs(2);

/// Why the button could not be set up.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum GpioError {
    /// The chip or line could not be opened or requested.
    #[error("GPIO {chip} line {line}: {detail}")]
    Line {
        /// Chip device path.
        chip: String,
        /// Line offset.
        line: u32,
        /// What the system said.
        detail: String,
    },
    /// The settings make no sense.
    #[error("GPIO button settings: {0}")]
    Settings(String),
}

/// Turns raw level samples into button events. Pure logic, driven by the
/// reader thread and by tests with made-up times.
#[derive(Debug, Clone)]
pub struct Debouncer {
    debounce: Duration,
    long_press: Duration,
    raw: bool,
    raw_since: Instant,
    stable: bool,
    pressed_at: Option<Instant>,
    long_fired: bool,
}

impl Debouncer {
    /// A debouncer that starts released at `now`.
    pub fn new(debounce: Duration, long_press: Duration, now: Instant) -> Self {
        Self {
            debounce,
            long_press,
            raw: false,
            raw_since: now,
            stable: false,
            pressed_at: None,
            long_fired: false,
        }
    }

    /// Treats the button as already pressed and spent: a button held at
    /// start-up (or stuck) must be released before it counts again.
    #[must_use]
    pub fn held_at_start(mut self) -> Self {
        self.raw = true;
        self.stable = true;
        self.pressed_at = Some(self.raw_since);
        self.long_fired = true;
        self
    }

    /// Feeds one sample (`pressed` is the logical level) taken at `now`.
    /// Returns the event it completes, if any.
    pub fn update(&mut self, now: Instant, pressed: bool) -> Option<InputEvent> {
        if pressed != self.raw {
            self.raw = pressed;
            self.raw_since = now;
        }
        if self.raw != self.stable && now.saturating_duration_since(self.raw_since) >= self.debounce
        {
            self.stable = self.raw;
            if self.stable {
                self.pressed_at = Some(self.raw_since);
                self.long_fired = false;
            } else {
                let short = !self.long_fired;
                self.pressed_at = None;
                self.long_fired = false;
                if short {
                    return Some(InputEvent::Start);
                }
            }
        }
        if let (true, Some(at), false) = (self.stable, self.pressed_at, self.long_fired) {
            if now.saturating_duration_since(at) >= self.long_press {
                self.long_fired = true;
                return Some(InputEvent::Cancel);
            }
        }
        None
    }

    /// When the next sample is needed even without an edge: at the end of a
    /// pending debounce, or when a held press becomes long. `None`: only on the next edge.
    pub fn deadline(&self) -> Option<Instant> {
        if self.raw != self.stable {
            return Some(self.raw_since + self.debounce);
        }
        match (self.stable, self.pressed_at, self.long_fired) {
            (true, Some(at), false) => Some(at + self.long_press),
            _ => None,
        }
    }
}

/// Settings for a [`GpioButton`]; start with [`GpioButton::builder`].
#[derive(Debug, Clone)]
pub struct GpioButtonBuilder {
    chip: PathBuf,
    line: u32,
    active_low: bool,
    debounce: Duration,
    long_press: Duration,
}

impl GpioButtonBuilder {
    /// Whether pressing pulls the line low (default: yes, button to ground with a pull-up).
    #[must_use]
    pub fn active_low(mut self, yes: bool) -> Self {
        self.active_low = yes;
        self
    }

    /// How long a level must hold to count (default 30 ms; 1 to 500 ms).
    #[must_use]
    pub fn debounce(mut self, time: Duration) -> Self {
        self.debounce = time;
        self
    }

    /// Hold time for a long press (default 2 s; must exceed the debounce).
    #[must_use]
    pub fn long_press(mut self, time: Duration) -> Self {
        self.long_press = time;
        self
    }

    /// Checks the settings, requests the line and starts the reader thread.
    pub fn open(self) -> Result<GpioButton, GpioError> {
        if self.debounce < Duration::from_millis(1) || self.debounce > Duration::from_millis(500) {
            return Err(GpioError::Settings(format!(
                "debounce {:?} outside 1–500 ms",
                self.debounce
            )));
        }
        if self.long_press <= self.debounce * 2 {
            return Err(GpioError::Settings(format!(
                "long press {:?} must be longer than twice the debounce",
                self.long_press
            )));
        }
        let chip_name = self.chip.display().to_string();
        let line_err = |detail: String| GpioError::Line {
            chip: chip_name.clone(),
            line: self.line,
            detail,
        };
        let mut chip = Chip::new(&self.chip).map_err(|e| line_err(e.to_string()))?;
        let line = chip
            .get_line(self.line)
            .map_err(|e| line_err(e.to_string()))?;
        let mut flags = LineRequestFlags::INPUT;
        if self.active_low {
            flags |= LineRequestFlags::ACTIVE_LOW;
        }
        let events = line
            .events(flags, EventRequestFlags::BOTH_EDGES, "kiosk-button")
            .map_err(|e| line_err(e.to_string()))?;
        let initial = events.get_value().map_err(|e| line_err(e.to_string()))? != 0;

        let (tx, rx) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let thread_stop = Arc::clone(&stop);
        let name = format!("{chip_name} line {}", self.line);
        let thread = std::thread::Builder::new()
            .name("gpio-button".into())
            .spawn(move || {
                read_loop(
                    events,
                    initial,
                    self.debounce,
                    self.long_press,
                    tx,
                    thread_stop,
                )
            })
            .map_err(|e| line_err(format!("reader thread: {e}")))?;
        Ok(GpioButton {
            rx,
            stop,
            thread: Some(thread),
            name,
        })
    }
}

/// How often the reader thread looks at the stop flag while idle.
const IDLE_WAKE: Duration = Duration::from_millis(250);

fn read_loop(
    mut events: LineEventHandle,
    initial: bool,
    debounce: Duration,
    long_press: Duration,
    tx: Sender<InputEvent>,
    stop: Arc<AtomicBool>,
) {
    let mut debouncer = Debouncer::new(debounce, long_press, Instant::now());
    if initial {
        debouncer = debouncer.held_at_start();
    }
    while !stop.load(Ordering::Relaxed) {
        let now = Instant::now();
        let wait = debouncer.deadline().map_or(IDLE_WAKE, |d| {
            d.saturating_duration_since(now).min(IDLE_WAKE)
        });
        let mut pfd = libc::pollfd {
            fd: events.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the line's event file.
        let ready = unsafe { libc::poll(&mut pfd, 1, wait.as_millis().max(1) as libc::c_int) };
        if ready < 0 {
            if std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            tracing::warn!(
                "GPIO button: poll failed, button disabled: {}",
                std::io::Error::last_os_error()
            );
            return;
        }
        if ready > 0 {
            if pfd.revents & (libc::POLLERR | libc::POLLHUP | libc::POLLNVAL) != 0 {
                tracing::warn!("GPIO button: line went away, button disabled");
                return;
            }
            // Consume the edge; the level below is what counts.
            if let Err(e) = events.get_event() {
                tracing::warn!("GPIO button: reading an edge failed, button disabled: {e}");
                return;
            }
        }
        let level = match events.get_value() {
            Ok(v) => v != 0,
            Err(e) => {
                tracing::warn!("GPIO button: reading the level failed, button disabled: {e}");
                return;
            }
        };
        if let Some(event) = debouncer.update(Instant::now(), level) {
            if tx.send(event).is_err() {
                return;
            }
        }
    }
}

/// A GPIO push button as an [`Input`].
#[derive(Debug)]
pub struct GpioButton {
    rx: Receiver<InputEvent>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    name: String,
}

impl GpioButton {
    /// Settings for a button on `line` of `chip` (e.g. `/dev/gpiochip0`, 17).
    pub fn builder(chip: impl AsRef<Path>, line: u32) -> GpioButtonBuilder {
        GpioButtonBuilder {
            chip: chip.as_ref().to_path_buf(),
            line,
            active_low: true,
            debounce: DEFAULT_DEBOUNCE,
            long_press: DEFAULT_LONG_PRESS,
        }
    }

    /// Opens a button with the defaults (active low, 30 ms, 2 s).
    pub fn open(chip: impl AsRef<Path>, line: u32) -> Result<Self, GpioError> {
        Self::builder(chip, line).open()
    }

    /// Which chip and line this is.
    pub fn describe(&self) -> &str {
        &self.name
    }
}

impl Input for GpioButton {
    fn poll(&mut self, timeout: Duration) -> Option<InputEvent> {
        self.rx.recv_timeout(timeout).ok()
    }
}

impl Drop for GpioButton {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            // The thread wakes at least every IDLE_WAKE; a panic in it is already logged.
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    /// Feeds (milliseconds, level) samples and collects (milliseconds, event).
    fn run(samples: &[(u64, bool)]) -> Vec<(u64, InputEvent)> {
        let t0 = Instant::now();
        let mut d = Debouncer::new(30 * MS, 2000 * MS, t0);
        samples
            .iter()
            .filter_map(|&(ms, level)| {
                d.update(t0 + Duration::from_millis(ms), level)
                    .map(|e| (ms, e))
            })
            .collect()
    }

    #[test]
    fn short_press_starts_on_release() {
        assert_eq!(
            run(&[(0, true), (40, true), (200, false), (240, false)]),
            vec![(240, InputEvent::Start)]
        );
    }

    #[test]
    fn bounce_shorter_than_debounce_is_ignored() {
        let bouncy = [
            (0, true),
            (5, false),
            (9, true),
            (12, false),
            (20, false),
            (60, false),
            (100, false),
        ];
        assert!(run(&bouncy).is_empty());
        // A bouncing press that then holds still counts once.
        let press = [
            (0, true),
            (3, false),
            (6, true),
            (50, true),
            (300, false),
            (302, true),
            (304, false),
            (340, false),
        ];
        assert_eq!(run(&press), vec![(340, InputEvent::Start)]);
    }

    #[test]
    fn long_press_cancels_while_held_and_release_is_silent() {
        let hold = [
            (0, true),
            (40, true),
            (1999, true),
            (2000, true),
            (2500, true),
            (3000, false),
            (3100, false),
        ];
        assert_eq!(run(&hold), vec![(2000, InputEvent::Cancel)]);
        // The next short press is a start again.
        let then = [
            (0, true),
            (2100, true),
            (2200, false),
            (2300, false),
            (2400, true),
            (2450, true),
            (2500, false),
            (2550, false),
        ];
        assert_eq!(
            run(&then),
            vec![(2100, InputEvent::Cancel), (2550, InputEvent::Start)]
        );
    }

    #[test]
    fn button_held_at_start_gives_nothing_until_pressed_again() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(30 * MS, 2000 * MS, t0).held_at_start();
        assert_eq!(d.update(t0 + 5000 * MS, true), None);
        assert_eq!(d.update(t0 + 5100 * MS, false), None);
        assert_eq!(d.update(t0 + 5200 * MS, false), None);
        assert_eq!(d.update(t0 + 5300 * MS, true), None);
        assert_eq!(d.update(t0 + 5400 * MS, true), None);
        assert_eq!(d.update(t0 + 5500 * MS, false), None);
        assert_eq!(d.update(t0 + 5540 * MS, false), Some(InputEvent::Start));
    }

    #[test]
    fn deadline_asks_for_the_samples_that_complete_events() {
        let t0 = Instant::now();
        let mut d = Debouncer::new(30 * MS, 2000 * MS, t0);
        assert_eq!(d.deadline(), None);
        d.update(t0, true);
        assert_eq!(d.deadline(), Some(t0 + 30 * MS));
        d.update(t0 + 30 * MS, true);
        assert_eq!(d.deadline(), Some(t0 + 2000 * MS));
        assert_eq!(d.update(t0 + 2000 * MS, true), Some(InputEvent::Cancel));
        assert_eq!(d.deadline(), None);
    }

    #[test]
    fn bad_settings_and_missing_chip_are_errors() {
        let b = GpioButton::builder("/dev/gpiochip-none", 17);
        assert!(matches!(
            b.clone().debounce(Duration::ZERO).open(),
            Err(GpioError::Settings(_))
        ));
        assert!(matches!(
            b.clone().long_press(40 * MS).open(),
            Err(GpioError::Settings(_))
        ));
        assert!(matches!(b.open(), Err(GpioError::Line { .. })));
    }
}
