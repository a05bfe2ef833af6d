//! The two forms of the network the manifest lists, by name.

use super::{CLASSIFIER_F32, CLASSIFIER_INT8};

/// Which of the two forms of the network to run; `int8` or `f32` in
/// configuration files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Variant {
    /// Quantized weights and activations (manifest entry [`CLASSIFIER_INT8`]).
    #[default]
    Int8,
    /// Float weights (manifest entry [`CLASSIFIER_F32`]).
    F32,
}

impl Variant {
    /// Both variants, int8 first.
    pub const BOTH: [Variant; 2] = [Variant::Int8, Variant::F32];

    /// The manifest entry holding this variant.
    pub fn entry(self) -> &'static str {
        match self {
            Variant::Int8 => CLASSIFIER_INT8,
            Variant::F32 => CLASSIFIER_F32,
        }
    }

    /// Short name: `int8` or `f32`.
    pub fn name(self) -> &'static str {
        match self {
            Variant::Int8 => "int8",
            Variant::F32 => "f32",
        }
    }
}

impl std::fmt::Display for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Variant {
    type Err = String;

    fn from_str(s: &str) -> Result<Variant, String> {
        match s {
            "int8" => Ok(Variant::Int8),
            "f32" => Ok(Variant::F32),
            other => Err(format!(
                "unknown classifier variant {other:?} (int8 or f32)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variant_names_round_trip() {
        for v in Variant::BOTH {
            assert_eq!(v.name().parse::<Variant>().unwrap(), v);
        }
        assert!("fp16".parse::<Variant>().is_err());
    }
}
