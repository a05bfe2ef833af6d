//! The clinical vocabulary every part of the screening speaks: the
//! expressions of the standard photo series, which of them show the sign,
//! and the conditions a screening tells apart.
//!
//! It holds names and rules, no pixels: the kiosk's prompts, its
//! configuration, the decision, the records and the clinic's evaluation all
//! read it, and the virtual-patient renderer draws from it.

mod condition;
mod expression;

pub use condition::{Condition, ConditionKind, Pattern, Severity};
pub use expression::Expression;

/// The standard photo series (Mass Eye and Ear / eFACE), in the order a
/// clinic photographs it.
pub const STANDARD_SERIES: [Expression; 8] = Expression::ALL;

/// The expressions in which synkinesis shows, in the order they are weighed:
/// the eye narrows on the affected side while the mouth moves (big smile,
/// pucker), and the mouth corner pulls while the eyes squeeze shut.
pub const SIGN_EXPRESSIONS: [Expression; 3] = [
    Expression::BigSmile,
    Expression::Pucker,
    Expression::TightEyeClosure,
];

/// The sign expressions whose eye narrowing the landmark measure compares
/// (Auto-eFACE: the affected fissure over the healthy one).
pub const EYE_NARROWING_EXPRESSIONS: [Expression; 2] = [Expression::BigSmile, Expression::Pucker];

/// Parses one of `all` by its snake_case `name`, forgiving case, spaces and
/// hyphens (`Big-Smile` is `big_smile`); the error lists every name, so a
/// bad configuration value says what it could have been.
fn parse_name<T: Copy>(
    s: &str,
    all: &[T],
    name: fn(T) -> &'static str,
    what: &str,
) -> Result<T, String> {
    let wanted = s.trim().to_ascii_lowercase().replace(['-', ' '], "_");
    all.iter()
        .copied()
        .find(|&v| name(v) == wanted)
        .ok_or_else(|| {
            let names: Vec<&str> = all.iter().map(|&v| name(v)).collect();
            format!("unknown {what} {s:?}: expected one of {}", names.join(", "))
        })
}
