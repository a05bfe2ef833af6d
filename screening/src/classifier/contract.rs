//! Reading the classifier's part of the manifest contract: the keys beside
//! `file` and `sha256` (`threshold`, `mean`, `std`), which stay loose TOML
//! because each model kind has its own, and the input shape the ONNX file
//! declares against the manifest's.

use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;

/// A number under `key`, integer or float.
pub(super) fn float_key(table: &toml::Table, key: &str) -> Result<f32, String> {
    match table.get(key) {
        Some(toml::Value::Float(f)) => Ok(*f as f32),
        Some(toml::Value::Integer(i)) => Ok(*i as f32),
        Some(other) => Err(format!("{key} must be a number, not {other}")),
        None => Err(format!("{key} is missing")),
    }
}

/// Three numbers (R, G, B) under `key`.
pub(super) fn triple_key(table: &toml::Table, key: &str) -> Result<[f32; 3], String> {
    let values = match table.get(key) {
        Some(toml::Value::Array(a)) => a
            .iter()
            .map(|v| match v {
                toml::Value::Float(f) => Some(*f as f32),
                toml::Value::Integer(i) => Some(*i as f32),
                _ => None,
            })
            .collect::<Option<Vec<f32>>>(),
        Some(_) => None,
        None => return Err(format!("{key} is missing (three values, R, G, B)")),
    };
    match values.as_deref() {
        Some(&[r, g, b]) if [r, g, b].iter().all(|v| v.is_finite()) => Ok([r, g, b]),
        _ => Err(format!("{key} must be three numbers (R, G, B)")),
    }
}

/// Checks the input shape the ONNX file declares against the manifest's;
/// symbolic or unknown dimensions (a free batch axis) are accepted.
pub(super) fn check_declared_shape(
    declared: &InferenceFact,
    manifest: &[usize],
) -> Result<(), String> {
    let dims: Vec<Option<usize>> = declared
        .shape
        .dims()
        .map(|d| d.concretize().and_then(|d| d.as_i64()).map(|d| d as usize))
        .collect();
    let rank_known = !declared.shape.is_open();
    let mismatch = (rank_known && dims.len() != manifest.len())
        || dims
            .iter()
            .zip(manifest)
            .any(|(d, m)| d.is_some_and(|d| d != *m));
    if mismatch {
        let shown: Vec<String> = dims
            .iter()
            .map(|d| d.map_or("?".to_string(), |d| d.to_string()))
            .collect();
        return Err(format!(
            "the model file declares input shape [{}], the manifest says {manifest:?}",
            shown.join(", ")
        ));
    }
    Ok(())
}
