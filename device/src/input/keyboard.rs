//! Keyboard input on standard input, line by line: an empty line (Enter) is
//! [`InputEvent::Start`], `c` or Esc is [`InputEvent::Cancel`], `r` is
//! [`InputEvent::Retake`], and any other line is [`InputEvent::Text`] — a
//! patient reference typed by the nurse or sent by a barcode scanner in
//! keyboard-wedge mode (which types the code and presses Enter).
//!
//! Control characters are removed from text (scanners frame a code with
//! prefixes, suffixes, tabs or group separators), as is surrounding white
//! space. Nothing else is judged here: the session checks the reference by
//! the record's one rule (`PatientRef::entered`) and says on screen why it
//! refuses one, so a long scan is refused whole, never cut to fit. A reader thread does the blocking
//! reads, so [`Input::poll`] never blocks longer than asked. The terminal
//! stays in line mode: Esc is recognised when Enter follows it.

use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc::{self, Receiver};
use std::time::Duration;

use super::{Input, InputEvent};

/// Longest line read, in bytes; the rest of a longer line is dropped.
const MAX_LINE: usize = 4096;

/// Turns one line (without its line end) into an event.
pub fn parse_line(line: &str) -> Option<InputEvent> {
    let raw = line.trim_matches(|c: char| c == '\r' || c == '\n' || c.is_whitespace());
    // Esc anywhere (alone, or starting an arrow or function key sequence) cancels.
    if line.contains('\u{1b}') || raw.eq_ignore_ascii_case("c") {
        return Some(InputEvent::Cancel);
    }
    if raw.eq_ignore_ascii_case("r") {
        return Some(InputEvent::Retake);
    }
    let clean: String = line.chars().filter(|c| !c.is_control()).collect();
    let clean = clean.trim();
    if clean.is_empty() {
        // Enter alone; a line of nothing but control characters is not text either.
        return if line
            .chars()
            .all(|c| c == '\r' || c == '\n' || c.is_whitespace())
        {
            Some(InputEvent::Start)
        } else {
            None
        };
    }
    Some(InputEvent::Text(clean.to_string()))
}

/// Line input from standard input (or any reader) as an [`Input`].
#[derive(Debug)]
pub struct Keyboard {
    rx: Receiver<InputEvent>,
}

impl Keyboard {
    /// Reads standard input.
    pub fn stdin() -> Self {
        Self::from_reader(std::io::stdin())
    }

    /// Reads any byte stream (a serial port, a pipe, a test buffer).
    pub fn from_reader(reader: impl Read + Send + 'static) -> Self {
        let (tx, rx) = mpsc::channel();
        let spawned = std::thread::Builder::new()
            .name("keyboard".into())
            .spawn(move || {
                let mut reader = BufReader::new(reader);
                let mut line = Vec::new();
                loop {
                    line.clear();
                    match read_bounded_line(&mut reader, &mut line) {
                        Ok(0) => return, // end of input: no more events
                        Ok(_) => {
                            let text = String::from_utf8_lossy(&line);
                            if let Some(event) = parse_line(&text) {
                                if tx.send(event).is_err() {
                                    return;
                                }
                            }
                        }
                        Err(e) => {
                            tracing::warn!("keyboard input stopped: {e}");
                            return;
                        }
                    }
                }
            });
        if let Err(e) = spawned {
            tracing::warn!("keyboard input unavailable: {e}");
        }
        Self { rx }
    }
}

/// Reads up to and including a newline, keeping at most `MAX_LINE` bytes of
/// the line (the newline excluded). Returns the bytes consumed (0 at end of input).
fn read_bounded_line(reader: &mut impl BufRead, line: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut consumed = 0;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(consumed);
        }
        let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
            Some(i) => (i + 1, true),
            None => (chunk.len(), false),
        };
        let room = MAX_LINE.saturating_sub(line.len());
        let payload = if done {
            &chunk[..take - 1]
        } else {
            &chunk[..take]
        };
        line.extend_from_slice(&payload[..payload.len().min(room)]);
        reader.consume(take);
        consumed += take;
        if done {
            return Ok(consumed);
        }
    }
}

impl Input for Keyboard {
    fn poll(&mut self, timeout: Duration) -> Option<InputEvent> {
        self.rx.recv_timeout(timeout).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_map_to_events() {
        assert_eq!(parse_line(""), Some(InputEvent::Start));
        assert_eq!(parse_line("\r"), Some(InputEvent::Start));
        assert_eq!(parse_line("c"), Some(InputEvent::Cancel));
        assert_eq!(parse_line(" C "), Some(InputEvent::Cancel));
        assert_eq!(parse_line("\u{1b}"), Some(InputEvent::Cancel));
        assert_eq!(parse_line("r"), Some(InputEvent::Retake));
        assert_eq!(
            parse_line("PAT-0042"),
            Some(InputEvent::Text("PAT-0042".into()))
        );
    }

    #[test]
    fn control_characters_are_stripped_from_scanned_text() {
        // STX prefix, group separator, tab, ETX suffix, CR from a CRLF scanner.
        let scanned = "\u{2}PAT\u{1d}00\t42\u{3}\r";
        assert_eq!(
            parse_line(scanned),
            Some(InputEvent::Text("PAT0042".into()))
        );
        assert_eq!(
            parse_line("\u{7}\u{8}\u{1b}[A"),
            Some(InputEvent::Cancel),
            "arrow key after Esc"
        );
        assert_eq!(
            parse_line("\u{0}\u{7}"),
            None,
            "only control characters: neither text nor Enter"
        );
        let long = "x".repeat(500);
        assert_eq!(
            parse_line(&long),
            Some(InputEvent::Text(long.clone())),
            "a long scan reaches the session whole, to be refused there"
        );
        assert_eq!(parse_line("Ærø-7"), Some(InputEvent::Text("Ærø-7".into())));
    }

    #[test]
    fn reader_thread_delivers_lines_in_order_without_blocking_poll() {
        let input = b"\nPAT-1\r\nr\nc\n\xff\xfeid\nlast line without newline".to_vec();
        let mut kb = Keyboard::from_reader(std::io::Cursor::new(input));
        let mut got = Vec::new();
        while let Some(e) = kb.poll(Duration::from_millis(500)) {
            got.push(e);
        }
        assert_eq!(
            got,
            vec![
                InputEvent::Start,
                InputEvent::Text("PAT-1".into()),
                InputEvent::Retake,
                InputEvent::Cancel,
                InputEvent::Text("\u{fffd}\u{fffd}id".into()),
                InputEvent::Text("last line without newline".into()),
            ]
        );
        let started = std::time::Instant::now();
        assert_eq!(kb.poll(Duration::from_millis(20)), None);
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn endless_line_is_bounded() {
        let mut input = vec![b'a'; MAX_LINE * 3];
        input.extend_from_slice(b"\nnext\n");
        let mut reader = BufReader::with_capacity(100, std::io::Cursor::new(input));
        let mut line = Vec::new();
        assert_eq!(
            read_bounded_line(&mut reader, &mut line).unwrap(),
            MAX_LINE * 3 + 1
        );
        assert_eq!(line.len(), MAX_LINE);
        line.clear();
        read_bounded_line(&mut reader, &mut line).unwrap();
        assert_eq!(line, b"next");
    }
}
