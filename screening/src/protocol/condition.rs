//! What is wrong with a face, if anything: healthy, a flaccid palsy of one
//! side (the hard negative) or a synkinetic palsy with its severity and
//! pattern. This is the label a screening should recover; virtual patients
//! are drawn with one, and evaluations count results per condition.

use serde::{Deserialize, Serialize};

use crate::geometry::Side;

/// Names an enum's variants for `name()`, `Display` and `FromStr` in one place,
/// so the three can never disagree.
macro_rules! named_enum {
    ($ty:ident, $what:literal, { $($variant:ident => $name:literal),+ $(,)? }) => {
        impl $ty {
            /// Every variant, in declaration order.
            pub const ALL: &'static [$ty] = &[$($ty::$variant),+];

            /// The snake_case name used in data sets and records.
            pub fn name(self) -> &'static str {
                match self { $($ty::$variant => $name),+ }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.name())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                super::parse_name(s, $ty::ALL, $ty::name, $what)
            }
        }
    };
}

/// How strong a synkinesis is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Visible to a trained eye.
    Mild,
    /// Obvious.
    Moderate,
    /// Disfiguring.
    Severe,
}

named_enum!(Severity, "severity", { Mild => "mild", Moderate => "moderate", Severe => "severe" });

/// Which co-contraction a synkinesis shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Pattern {
    /// Mouth movements (smile, pucker) close the eye.
    OralOcular,
    /// Eye closure and brow elevation pull the mouth corner.
    OcularOral,
    /// Both of the above.
    Both,
}

named_enum!(Pattern, "pattern", { OralOcular => "oral_ocular", OcularOral => "ocular_oral", Both => "both" });

impl Pattern {
    /// Whether mouth movements narrow the eye.
    pub fn oral_ocular(self) -> bool {
        matches!(self, Pattern::OralOcular | Pattern::Both)
    }

    /// Whether eye movements pull the mouth.
    pub fn ocular_oral(self) -> bool {
        matches!(self, Pattern::OcularOral | Pattern::Both)
    }
}

/// The coarse class of a [`Condition`], without side, severity or pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConditionKind {
    /// No palsy.
    Healthy,
    /// A weak side without synkinesis.
    Flaccid,
    /// A palsy with synkinesis.
    Synkinetic,
}

named_enum!(ConditionKind, "condition kind", {
    Healthy => "healthy",
    Flaccid => "flaccid",
    Synkinetic => "synkinetic",
});

/// The state of a patient's facial nerve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Condition {
    /// Both sides work, with the few percent of asymmetry every face has.
    Healthy,
    /// `side` moves less and droops at rest, without co-contraction: the
    /// asymmetric face a screening must not refer for synkinesis.
    Flaccid {
        /// The weak side.
        side: Side,
    },
    /// `side` moves less and co-contracts: its eye narrows when the mouth moves
    /// and/or its mouth corner pulls when the eye closes.
    Synkinetic {
        /// The affected side.
        side: Side,
        /// How strong the co-contraction is.
        severity: Severity,
        /// Which co-contraction it shows.
        pattern: Pattern,
    },
}

impl Condition {
    /// Whether the patient has synkinesis (the screening's positive class).
    pub fn has_synkinesis(&self) -> bool {
        matches!(self, Condition::Synkinetic { .. })
    }

    /// The coarse class.
    pub fn kind(&self) -> ConditionKind {
        match self {
            Condition::Healthy => ConditionKind::Healthy,
            Condition::Flaccid { .. } => ConditionKind::Flaccid,
            Condition::Synkinetic { .. } => ConditionKind::Synkinetic,
        }
    }

    /// The affected side, if any.
    pub fn side(&self) -> Option<Side> {
        match *self {
            Condition::Healthy => None,
            Condition::Flaccid { side } | Condition::Synkinetic { side, .. } => Some(side),
        }
    }

    /// The severity of the synkinesis, if any.
    pub fn severity(&self) -> Option<Severity> {
        match *self {
            Condition::Synkinetic { severity, .. } => Some(severity),
            _ => None,
        }
    }

    /// The pattern of the synkinesis, if any.
    pub fn pattern(&self) -> Option<Pattern> {
        match *self {
            Condition::Synkinetic { pattern, .. } => Some(pattern),
            _ => None,
        }
    }
}

/// Reads like `healthy`, `flaccid left`, `synkinetic right severe oral_ocular`.
impl std::fmt::Display for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Condition::Healthy => f.write_str("healthy"),
            Condition::Flaccid { side } => write!(f, "flaccid {side}"),
            Condition::Synkinetic {
                side,
                severity,
                pattern,
            } => {
                write!(f, "synkinetic {side} {severity} {pattern}")
            }
        }
    }
}

/// Parses what `Display` writes.
impl std::str::FromStr for Condition {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let words: Vec<&str> = s.split_whitespace().collect();
        match words.as_slice() {
            [kind] if kind.parse::<ConditionKind>() == Ok(ConditionKind::Healthy) => {
                Ok(Condition::Healthy)
            }
            [kind, side] if kind.parse::<ConditionKind>() == Ok(ConditionKind::Flaccid) => {
                Ok(Condition::Flaccid {
                    side: side.parse()?,
                })
            }
            [kind, side, severity, pattern]
                if kind.parse::<ConditionKind>() == Ok(ConditionKind::Synkinetic) =>
            {
                Ok(Condition::Synkinetic {
                    side: side.parse()?,
                    severity: severity.parse()?,
                    pattern: pattern.parse()?,
                })
            }
            _ => Err(format!(
                "unknown condition {s:?}: expected `healthy`, `flaccid <side>` or \
                 `synkinetic <side> <severity> <pattern>`"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enum_names_round_trip() {
        for &v in Severity::ALL {
            assert_eq!(v.name().parse::<Severity>(), Ok(v));
            assert_eq!(v.to_string(), v.name());
        }
        for &v in Pattern::ALL {
            assert_eq!(v.name().parse::<Pattern>(), Ok(v));
            assert_eq!(v.to_string(), v.name());
        }
        for &v in ConditionKind::ALL {
            assert_eq!(v.name().parse::<ConditionKind>(), Ok(v));
            assert_eq!(v.to_string(), v.name());
        }
        assert_eq!("Oral-Ocular".parse::<Pattern>(), Ok(Pattern::OralOcular));
        assert!("extreme".parse::<Severity>().is_err());
        assert!("".parse::<ConditionKind>().is_err());
    }

    #[test]
    fn conditions_round_trip_and_report_their_parts() {
        let mut all = vec![Condition::Healthy];
        for side in Side::BOTH {
            all.push(Condition::Flaccid { side });
            for &severity in Severity::ALL {
                for &pattern in Pattern::ALL {
                    all.push(Condition::Synkinetic {
                        side,
                        severity,
                        pattern,
                    });
                }
            }
        }
        for c in all {
            assert_eq!(c.to_string().parse::<Condition>(), Ok(c), "{c}");
            assert_eq!(c.has_synkinesis(), c.kind() == ConditionKind::Synkinetic);
            assert_eq!(c.side().is_none(), c.kind() == ConditionKind::Healthy);
            assert_eq!(c.severity().is_some(), c.has_synkinesis());
            assert_eq!(c.pattern().is_some(), c.has_synkinesis());
        }
        assert!("flaccid".parse::<Condition>().is_err());
        assert!("synkinetic left severe".parse::<Condition>().is_err());
    }
}
