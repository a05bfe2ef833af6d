//! Inputs: what a nurse or patient presses. A GPIO push button, the keyboard
//! (barcode scanners in keyboard-wedge mode type into it too) and scripted
//! input for demos and tests, all behind one trait.

#[cfg(target_os = "linux")]
pub mod gpio;
pub mod keyboard;

use std::time::Duration;

/// One thing the user did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputEvent {
    /// Start a screening, or go on from the current screen.
    Start,
    /// Cancel the screening and return to the welcome screen.
    Cancel,
    /// Take the current expression again.
    Retake,
    /// A line of text (typed or scanned patient reference), without the line end.
    Text(String),
}

/// A source of input events.
pub trait Input {
    /// Waits at most `timeout` for the next event.
    fn poll(&mut self, timeout: Duration) -> Option<InputEvent>;
}

/// Events decided in advance, for `kiosk demo` and tests.
#[derive(Debug, Default)]
pub struct Scripted {
    events: std::collections::VecDeque<InputEvent>,
}

impl Scripted {
    /// Input that yields `events` in order, then nothing.
    pub fn new(events: impl IntoIterator<Item = InputEvent>) -> Self {
        Self {
            events: events.into_iter().collect(),
        }
    }
}

impl Input for Scripted {
    fn poll(&mut self, _timeout: Duration) -> Option<InputEvent> {
        self.events.pop_front()
    }
}
