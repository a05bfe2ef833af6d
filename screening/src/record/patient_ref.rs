//! The patient reference: a pseudonymous code a nurse types or scans at the
//! kiosk, and the one rule it must meet.
//!
//! The rule is checked once, where the reference is entered, so that a
//! reference the screen accepted is never refused when the record is saved
//! at the end of the series: at most [`MAX_PATIENT_REF_LEN`] bytes (the
//! record's limit), no control characters, no surrounding spaces, and only
//! characters the kiosk's panel font can draw (printable Latin-1: letters
//! with accents such as `é`, `ü`, `ø` are drawn; `Ж` or an emoji are not,
//! and would show as `?`).

use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest accepted patient reference, in bytes of UTF-8 (a letter with an
/// accent takes two).
pub const MAX_PATIENT_REF_LEN: usize = 64;

/// Why a reference is not accepted, in words a nurse can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PatientRefError {
    /// Nothing was typed.
    #[error("it is empty")]
    Empty,
    /// Longer than [`MAX_PATIENT_REF_LEN`] bytes.
    #[error(
        "it is too long: {bytes} bytes, at most {MAX_PATIENT_REF_LEN} \
         (a letter with an accent counts as two)"
    )]
    TooLong {
        /// Bytes of UTF-8 it takes.
        bytes: usize,
    },
    /// A control character: a scanner that sends one is misconfigured, and
    /// the reference may be wrong, so it is refused rather than stripped.
    #[error("it contains a control character (U+{0:04X}); scan or type it again")]
    Control(u32),
    /// Spaces before or after it.
    #[error("it starts or ends with a space")]
    SurroundingSpace,
    /// A character the panel's font cannot draw.
    #[error("the screen cannot show {0:?} (U+{1:04X}); use letters, digits and common signs")]
    NotDrawable(char, u32),
}

/// A checked patient reference. Its `Debug` hides the text (personal data);
/// it dereferences to `str` for display.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
// `pub(crate)` only so the decoder tests can build a reference that breaks the rule.
pub struct PatientRef(pub(crate) String);

impl PatientRef {
    /// Checks a reference against the rule and wraps it.
    pub fn new(text: impl Into<String>) -> Result<Self, PatientRefError> {
        let text = text.into();
        check_stored(&text)?;
        if let Some(c) = text.chars().find(|&c| !drawable(c)) {
            return Err(PatientRefError::NotDrawable(c, c as u32));
        }
        Ok(PatientRef(text))
    }

    /// What a nurse typed or a scanner sent, with the line end and the
    /// surrounding spaces a keyboard wedge adds taken off, checked.
    pub fn entered(text: &str) -> Result<Self, PatientRefError> {
        PatientRef::new(text.trim_matches(|c: char| c == '\r' || c == '\n' || c == ' '))
    }

    /// The reference as typed.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What a record may hold, whoever wrote it: bounded, no control
/// characters (they could rewrite a terminal or a CSV cell), trimmed.
/// Decoding checks this and not [`drawable`]: builds before the panel rule
/// accepted any printable character, and a reader never refuses a record an
/// earlier kiosk signed.
pub(crate) fn check_stored(text: &str) -> Result<(), PatientRefError> {
    if text.is_empty() {
        return Err(PatientRefError::Empty);
    }
    if text.len() > MAX_PATIENT_REF_LEN {
        return Err(PatientRefError::TooLong { bytes: text.len() });
    }
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(PatientRefError::Control(c as u32));
    }
    if text.trim() != text {
        return Err(PatientRefError::SurroundingSpace);
    }
    Ok(())
}

/// Whether the panel's ISO 8859-1 fonts have a glyph for `c` (control
/// characters are refused before this is asked).
fn drawable(c: char) -> bool {
    matches!(c, ' '..='~' | '\u{a0}'..='\u{ff}')
}

impl TryFrom<String> for PatientRef {
    type Error = PatientRefError;
    fn try_from(text: String) -> Result<Self, PatientRefError> {
        check_stored(&text)?;
        Ok(PatientRef(text))
    }
}

impl From<PatientRef> for String {
    fn from(p: PatientRef) -> String {
        p.0
    }
}

impl std::ops::Deref for PatientRef {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PatientRef {
    /// Patient references are personal data: debug output does not show them.
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "PatientRef(<{} bytes>)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_panel_cannot_draw_is_refused_at_entry() {
        assert!(PatientRef::new("Müller-Ærø 7").is_ok());
        let e = PatientRef::new("Жуков").unwrap_err();
        assert_eq!(e, PatientRefError::NotDrawable('Ж', 0x416));
        assert!(e.to_string().contains("cannot show"), "{e}");
        assert!(PatientRef::new("P1 \u{1F600}").is_err());
    }

    #[test]
    fn length_counts_bytes_and_says_so() {
        // 33 letters on screen, 66 bytes in the record.
        let e = PatientRef::new("é".repeat(33)).unwrap_err();
        assert_eq!(e, PatientRefError::TooLong { bytes: 66 });
        assert!(e.to_string().contains("at most 64"), "{e}");
        assert!(PatientRef::new("é".repeat(32)).is_ok());
    }

    #[test]
    fn entry_trims_what_a_keyboard_wedge_adds() {
        assert_eq!(
            PatientRef::entered("  MRN-0042\r\n").unwrap().as_str(),
            "MRN-0042"
        );
        assert_eq!(
            PatientRef::entered("MRN\u{1b}[2J").unwrap_err(),
            PatientRefError::Control(0x1b)
        );
        assert!(PatientRef::entered("MRN\t42").is_err());
        assert_eq!(PatientRef::entered(""), Err(PatientRefError::Empty));
        let long = PatientRef::entered(&"x".repeat(65)).unwrap_err();
        assert!(long.to_string().contains("64"), "{long}");
    }

    #[test]
    fn a_stored_reference_beyond_the_font_still_decodes() {
        let earlier: PatientRef = String::from("Жуков").try_into().unwrap();
        assert_eq!(&*earlier, "Жуков");
        assert!(PatientRef::try_from(String::from("a\u{7}")).is_err());
    }
}
