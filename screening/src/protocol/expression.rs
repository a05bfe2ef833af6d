//! The eight expressions of the standard facial-palsy photo series, their
//! names in data sets, records and configuration, and the instruction each
//! gives the patient.

use serde::{Deserialize, Serialize};

/// One expression of the standard photo series (Mass Eye and Ear / eFACE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expression {
    /// Face relaxed, eyes open, looking at the camera.
    Rest,
    /// Eyebrows raised as high as possible.
    BrowElevation,
    /// Eyes closed gently, as in sleep.
    GentleEyeClosure,
    /// Eyes squeezed shut.
    TightEyeClosure,
    /// A small smile with closed lips.
    SmallSmile,
    /// The widest smile, showing the teeth.
    BigSmile,
    /// Lips pushed forward as if to whistle or kiss.
    Pucker,
    /// Lower lip pulled down to show the lower teeth.
    LowerLipDepression,
}

impl Expression {
    /// All expressions in the order of the standard series.
    pub const ALL: [Expression; 8] = [
        Expression::Rest,
        Expression::BrowElevation,
        Expression::GentleEyeClosure,
        Expression::TightEyeClosure,
        Expression::SmallSmile,
        Expression::BigSmile,
        Expression::Pucker,
        Expression::LowerLipDepression,
    ];

    /// The snake_case name used in data sets, records and configuration.
    pub fn name(self) -> &'static str {
        match self {
            Expression::Rest => "rest",
            Expression::BrowElevation => "brow_elevation",
            Expression::GentleEyeClosure => "gentle_eye_closure",
            Expression::TightEyeClosure => "tight_eye_closure",
            Expression::SmallSmile => "small_smile",
            Expression::BigSmile => "big_smile",
            Expression::Pucker => "pucker",
            Expression::LowerLipDepression => "lower_lip_depression",
        }
    }

    /// The instruction shown to the patient, in plain words.
    pub fn prompt(self) -> &'static str {
        match self {
            Expression::Rest => "Relax your face and look at the camera",
            Expression::BrowElevation => "Raise your eyebrows as high as you can",
            Expression::GentleEyeClosure => "Close your eyes gently, as if you were falling asleep",
            Expression::TightEyeClosure => "Squeeze your eyes shut as tightly as you can",
            Expression::SmallSmile => "Give a small smile with your lips closed",
            Expression::BigSmile => "Smile as wide as you can and show your teeth",
            Expression::Pucker => "Push your lips forward as if to whistle or give a kiss",
            Expression::LowerLipDepression => "Pull your lower lip down to show your bottom teeth",
        }
    }
}

impl std::fmt::Display for Expression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Expression {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        super::parse_name(s, &Expression::ALL, Expression::name, "expression")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        for e in Expression::ALL {
            assert_eq!(e.name().parse::<Expression>(), Ok(e));
            assert_eq!(e.to_string(), e.name());
            assert!(!e.prompt().is_empty());
        }
        let mut names: Vec<&str> = Expression::ALL.iter().map(|e| e.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Expression::ALL.len());
        assert_eq!("Big-Smile".parse::<Expression>(), Ok(Expression::BigSmile));
        assert!("grin".parse::<Expression>().is_err());
    }
}
