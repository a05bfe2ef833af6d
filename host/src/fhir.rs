//! `clinic export --fhir`: screenings as HL7 FHIR R4 resources in JSON, the
//! form a hospital's record system takes results in. One `Bundle` of type
//! `collection` holds one `Observation` per screening:
//!
//! - `identifier`: the record's hash, so a re-export is recognised as the
//!   same result, never a second one;
//! - `subject`: the patient reference as an identifier (the kiosk never
//!   knows the hospital's patient resource; the interface engine matches
//!   the reference to it);
//! - `device`: the kiosk, by its key's fingerprint, with its name and site;
//! - `effectiveDateTime`: the kiosk's clock at the screening;
//! - `valueCodeableConcept`: the outcome, coded;
//! - `method`: the rule and the model with its sha256;
//! - `component`: the deciding score, the threshold, the model's sha256,
//!   and each expression's classifier probability and eye-aperture ratio;
//! - `note`: the disclaimer.
//!
//! The codes are this project's own code system
//! ([`CODE_SYSTEM`]`/outcome`, `/observation`): no LOINC or SNOMED CT code
//! names an automated synkinesis screening, and inventing a mapping would
//! be worse than a local code an interface engine maps deliberately. Only
//! records that verify against their kiosk's enrolled key are exported; the
//! others are counted and left out, since a result that may be forged must
//! not reach a patient's record.

use std::io::Write;

use screening::decision::DISCLAIMER;
use serde_json::{json, Map, Value};

use crate::export::{iso8601_utc, ExportError};
use crate::history::{Screening, EXPRESSIONS, FISSURE_RATIO};

/// The base of this project's FHIR code systems and identifier systems.
pub const CODE_SYSTEM: &str = "urn:synkinesis-kiosk";

/// What the export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exported {
    /// Observations written.
    pub observations: usize,
    /// Records left out because they do not verify.
    pub not_valid: usize,
}

/// A FHIR decimal: four places are more than any score or ratio holds, and
/// keep `0.38` from being written as `0.3799999952316284`.
fn decimal(v: f32) -> Value {
    serde_json::Number::from_f64((f64::from(v) * 1e4).round() / 1e4)
        .map_or(Value::Null, Value::Number)
}

fn concept(code: &str, display: &str, system: &str) -> Value {
    json!({
        "coding": [{ "system": format!("{CODE_SYSTEM}/{system}"), "code": code, "display": display }],
        "text": display,
    })
}

fn component(code: &str, display: &str, value: (&str, Value)) -> Value {
    let mut c = Map::new();
    c.insert("code".into(), concept(code, display, "observation"));
    c.insert(value.0.into(), value.1);
    Value::Object(c)
}

/// The Observation of one verified screening; `None` when it does not verify.
pub fn observation(s: &Screening) -> Option<Value> {
    let v = s.verified.as_ref().ok()?;
    let mut components = Vec::new();
    if let Some(score) = v.score {
        components.push(component(
            "score",
            "Deciding score",
            ("valueQuantity", json!({ "value": decimal(score) })),
        ));
    }
    components.push(component(
        "threshold",
        "Threshold (refer at or above)",
        ("valueQuantity", json!({ "value": decimal(v.threshold) })),
    ));
    components.push(component(
        "model-sha256",
        "SHA-256 of the model that scored",
        ("valueString", json!(v.scoring.model_sha256)),
    ));
    for e in EXPRESSIONS {
        if let Some(p) = s.probability(e) {
            components.push(component(
                &format!("{}-probability", e.name()),
                &format!("Classifier probability, {}", e.name().replace('_', " ")),
                ("valueQuantity", json!({ "value": decimal(p) })),
            ));
        }
        if let Some(r) = s.ratio(e, FISSURE_RATIO) {
            components.push(component(
                &format!("{}-fissure-ratio", e.name()),
                &format!("Eye-aperture ratio, {}", e.name().replace('_', " ")),
                ("valueQuantity", json!({ "value": decimal(r) })),
            ));
        }
    }
    let mut o = json!({
        "resourceType": "Observation",
        "id": format!("{}-{}", s.kiosk, s.sequence),
        "identifier": [{ "system": format!("{CODE_SYSTEM}/record"), "value": s.hash }],
        "status": "final",
        "category": [{ "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "exam",
            "display": "Exam",
        }] }],
        "code": concept("synkinesis-screening", "Facial synkinesis screening (screening aid)", "observation"),
        "effectiveDateTime": iso8601_utc(s.wall_time_ms),
        "device": {
            "identifier": { "system": format!("{CODE_SYSTEM}/kiosk"), "value": s.kiosk_hex },
            "display": format!("{} ({})", s.kiosk_name, s.site),
        },
        "method": { "text": format!(
            "rule {}, model {} sha256 {}",
            v.scoring.rule, v.scoring.model_name, v.scoring.model_sha256
        ) },
        "valueCodeableConcept": concept(v.outcome.name(), v.outcome.headline(), "outcome"),
        "component": components,
        "note": [{ "text": format!(
            "{DISCLAIMER} The model was trained on virtual patients only; a referral \
             is a reason to see a facial palsy specialist, not a finding."
        ) }],
    });
    if let Some(patient) = &v.patient {
        o["subject"] = json!({
            "identifier": { "system": format!("{CODE_SYSTEM}/patient-ref"), "value": patient },
        });
    }
    Some(o)
}

/// The Bundle of every screening of `screenings` that verifies.
pub fn bundle(screenings: &[Screening], now_ms: i64) -> (Value, Exported) {
    let entries: Vec<Value> = screenings
        .iter()
        .filter_map(observation)
        .map(|o| json!({ "resource": o }))
        .collect();
    let exported = Exported {
        observations: entries.len(),
        not_valid: screenings.len() - entries.len(),
    };
    let mut b = json!({
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": iso8601_utc(now_ms),
    });
    // FHIR's JSON allows no empty array: an empty export has no `entry`.
    if !entries.is_empty() {
        b["entry"] = Value::Array(entries);
    }
    (b, exported)
}

/// Writes the Bundle of `screenings` to `out`.
pub fn write(
    screenings: &[Screening],
    now_ms: i64,
    out: &mut dyn Write,
) -> Result<Exported, ExportError> {
    let (b, exported) = bundle(screenings, now_ms);
    let werr = |e: &dyn std::fmt::Display| ExportError::Write(e.to_string());
    serde_json::to_writer_pretty(&mut *out, &b).map_err(|e| werr(&e))?;
    writeln!(out).map_err(|e| werr(&e))?;
    Ok(exported)
}
