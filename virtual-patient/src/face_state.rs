//! The animated face state (expression, how far into it, blink) that drives
//! one frame of a virtual patient.

use serde::{Deserialize, Serialize};

use screening::protocol::Expression;

/// What the face is doing in one frame: an expression, how far into it the
/// patient is, and a blink on top.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct FaceState {
    /// The expression the patient is making (or moving towards).
    pub expression: Expression,
    /// 0 = still at rest, 1 = the full expression; values between let a live
    /// camera animate the onset.
    pub intensity: f32,
    /// Eyelid closure added on top of the expression: 0 open, 1 closed.
    pub blink: f32,
}

impl FaceState {
    /// The full expression, no blink.
    pub fn full(expression: Expression) -> FaceState {
        FaceState {
            expression,
            intensity: 1.0,
            blink: 0.0,
        }
    }

    /// The face at rest, no blink.
    pub fn rest() -> FaceState {
        FaceState::full(Expression::Rest)
    }
}

impl Default for FaceState {
    fn default() -> Self {
        FaceState::rest()
    }
}
