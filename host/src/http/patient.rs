//! One patient's history (`/patient?ref=…`, and `/patient.csv?ref=…`, the
//! same as `clinic export --patient`): every screening naming the
//! reference, as a table and as two plots over time, the deciding score and
//! each sign expression's eye-aperture ratio. Screenings scored by another
//! rule or model than the newest are marked in the table and drawn apart
//! in the score plot, never joined to it ([`crate::history`]).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use screening::protocol::SIGN_EXPRESSIONS;
use serde::Deserialize;

use super::auth::{with_store, Auth};
use super::error::PageError;
use super::html::{csv_download, disclaimer, esc, outcome_cell, page, time, url_component};
use super::AppState;
use crate::history::{self, History, Screening, EXPRESSIONS, FISSURE_RATIO};

/// Routes of the history page.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/patient", get(patient_page))
        .route("/patient.csv", get(patient_csv))
}

/// `?ref=`: the patient reference.
#[derive(Debug, Deserialize)]
pub struct PatientQuery {
    #[serde(rename = "ref")]
    reference: String,
}

async fn load(
    state: &AppState,
    query: Result<Query<PatientQuery>, QueryRejection>,
) -> Result<History, PageError> {
    let Query(q) = query
        .map_err(|_| PageError::BadRequest("Name the patient: /patient?ref=REFERENCE.".into()))?;
    let reference = q.reference.trim().to_string();
    if reference.is_empty() {
        return Err(PageError::BadRequest(
            "The patient reference is empty.".into(),
        ));
    }
    let found = with_store(state, move |s| Ok(history::history(s, &reference)?)).await?;
    if found.screenings.is_empty() {
        return Err(PageError::NotFound(format!(
            "No screening stored here names the patient reference \u{201c}{}\u{201d}.",
            found.patient
        )));
    }
    Ok(found)
}

async fn patient_page(
    State(state): State<AppState>,
    auth: Auth,
    query: Result<Query<PatientQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let h = load(&state, query).await?;
    let mut body = format!(
        "<h1>Patient {}</h1>{}<p>{} screenings, oldest first, by the kiosks' clocks (UTC). \
         <a href=\"/patient.csv?ref={}\">Download CSV</a></p>",
        esc(&h.patient),
        disclaimer(),
        h.screenings.len(),
        url_component(&h.patient)
    );
    if let Some(r) = h.reference() {
        body.push_str(&format!(
            "<p id=\"scoring\">Scores are compared with the newest screening's: rule {}, model {} \
             <code>{}</code>. A screening scored by another rule or model is marked \
             <span class=\"warn\">other model</span> and is not joined to them in the plot: \
             its score is on another scale.</p>",
            esc(&r.rule),
            esc(&r.model_name),
            esc(r.model_sha256.get(..12).unwrap_or(&r.model_sha256))
        ));
    }
    body.push_str(&score_plot(&h));
    body.push_str(&ratio_plot(&h));
    body.push_str(&table(&h));
    Ok(Html(page("Patient history", Some(&auth.viewer()), &body)).into_response())
}

async fn patient_csv(
    State(state): State<AppState>,
    _auth: Auth,
    query: Result<Query<PatientQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let h = load(&state, query).await?;
    let mut out = Vec::new();
    history::write_csv(&h, &mut out).map_err(|e| PageError::Internal(e.to_string()))?;
    Ok(csv_download("patient-history.csv", out))
}

fn table(h: &History) -> String {
    let mut out = String::from(
        "<h2>Screenings</h2><table id=\"history\"><tr><th>Time (kiosk clock)</th><th>Kiosk</th>\
         <th>Outcome</th><th class=\"num\">Score</th><th class=\"num\">Threshold</th><th>Scored by</th>",
    );
    for e in EXPRESSIONS {
        out.push_str(&format!(
            "<th class=\"num\">{}<br><small>p · eye ratio</small></th>",
            esc(e.name())
        ));
    }
    out.push_str("</tr>");
    let cell = |v: Option<f32>| v.map_or("–".to_string(), |v| format!("{v:.3}"));
    for s in &h.screenings {
        let link = format!("/records/{}/{}", s.kiosk_hex, s.sequence);
        out.push_str(&format!(
            "<tr><td><a href=\"{link}\">{}</a></td><td><code>{}</code> {} ({})</td><td>{}</td>",
            time(s.wall_time_ms),
            esc(&s.kiosk),
            esc(&s.kiosk_name),
            esc(&s.site),
            outcome_cell(&s.outcome)
        ));
        match &s.verified {
            Ok(v) => {
                let scored = if h.same_scoring(s) {
                    esc(&v.scoring.rule)
                } else {
                    format!(
                        "<span class=\"warn\">other model</span>: {} {} <code>{}</code>",
                        esc(&v.scoring.rule),
                        esc(&v.scoring.model_name),
                        esc(v.scoring.model_sha256.get(..12).unwrap_or(""))
                    )
                };
                out.push_str(&format!(
                    "<td class=\"num\">{}</td><td class=\"num\">{:.3}</td><td>{scored}</td>",
                    cell(v.score),
                    v.threshold
                ));
                for e in EXPRESSIONS {
                    out.push_str(&format!(
                        "<td class=\"num\">{} · {}</td>",
                        cell(s.probability(e)),
                        cell(s.ratio(e, FISSURE_RATIO))
                    ));
                }
            }
            Err(e) => out.push_str(&format!(
                "<td colspan=\"{}\" class=\"refer\">NOT VALID: {}; its figures are not shown</td>",
                3 + EXPRESSIONS.len(),
                esc(e)
            )),
        }
        out.push_str("</tr>");
    }
    out.push_str("</table>");
    out
}

/// Plot geometry: width, height, margin.
const W: f64 = 640.0;
const H: f64 = 180.0;
const PAD: f64 = 30.0;

/// x of each screening: its place in time between the first and the last.
fn xs(h: &History) -> Vec<f64> {
    let first = h.screenings.first().map_or(0, |s| s.wall_time_ms);
    let last = h.screenings.last().map_or(0, |s| s.wall_time_ms);
    let span = (last - first) as f64;
    h.screenings
        .iter()
        .map(|s| {
            if span <= 0.0 {
                W / 2.0
            } else {
                PAD + (s.wall_time_ms - first) as f64 / span * (W - 2.0 * PAD)
            }
        })
        .collect()
}

fn y_of(v: f64, top: f64) -> f64 {
    H - PAD - (v / top).clamp(0.0, 1.0) * (H - 2.0 * PAD)
}

fn frame(id: &str, title: &str, top: f64, inner: &str, legend: &str, h: &History) -> String {
    let first = h.screenings.first().map_or(0, |s| s.wall_time_ms);
    let last = h.screenings.last().map_or(0, |s| s.wall_time_ms);
    let day = |ms: i64| {
        let t = time(ms);
        esc(t.get(..10).unwrap_or(&t))
    };
    format!(
        "<h2>{title}</h2><svg id=\"{id}\" role=\"img\" width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" \
         style=\"background:#fff;border:1px solid #dde\">\
         <line x1=\"{PAD}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#889\"/>\
         <text x=\"2\" y=\"{}\" font-size=\"10\">{top:.1}</text><text x=\"2\" y=\"{}\" font-size=\"10\">0</text>\
         <text x=\"{PAD}\" y=\"{}\" font-size=\"10\">{}</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{}</text>{inner}</svg>\
         <p><small>{legend}</small></p>",
        H - PAD,
        W - PAD,
        H - PAD,
        PAD + 4.0,
        H - PAD,
        H - 8.0,
        day(first),
        W - PAD,
        H - 8.0,
        day(last),
    )
}

fn polyline(points: &[(f64, f64)], colour: &str) -> String {
    if points.len() < 2 {
        return String::new();
    }
    let p: Vec<String> = points
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect();
    format!(
        "<polyline points=\"{}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"1.5\"/>",
        p.join(" ")
    )
}

/// The deciding score over time: the newest scoring's screenings joined,
/// with its threshold; the others as hollow squares, not joined.
fn score_plot(h: &History) -> String {
    let xs = xs(h);
    let top = h
        .screenings
        .iter()
        .filter_map(|s| s.verified.as_ref().ok())
        .flat_map(|v| [v.score.unwrap_or(0.0), v.threshold])
        .fold(1.0f32, f32::max) as f64;
    let mut inner = String::new();
    let mut joined = Vec::new();
    let mut threshold = None;
    for (s, &x) in h.screenings.iter().zip(&xs) {
        let Ok(v) = &s.verified else { continue };
        let Some(score) = v.score else { continue };
        let y = y_of(score as f64, top);
        let tip = format!("{}: {score:.3}", esc(&time(s.wall_time_ms)));
        if h.same_scoring(s) {
            joined.push((x, y));
            threshold = Some(v.threshold);
            inner.push_str(&format!(
                "<circle class=\"same\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"#1d3557\"><title>{tip}</title></circle>"
            ));
        } else {
            inner.push_str(&format!(
                "<rect class=\"other\" x=\"{:.1}\" y=\"{:.1}\" width=\"8\" height=\"8\" fill=\"none\" stroke=\"#8a5a00\">\
                 <title>{tip} (another model)</title></rect>",
                x - 4.0,
                y - 4.0
            ));
        }
    }
    let mut lines = polyline(&joined, "#1d3557");
    if let Some(t) = threshold {
        let y = y_of(t as f64, top);
        lines.push_str(&format!(
            "<line x1=\"{PAD}\" y1=\"{y:.1}\" x2=\"{}\" y2=\"{y:.1}\" stroke=\"#a4161a\" stroke-dasharray=\"4\"/>",
            W - PAD
        ));
    }
    frame(
        "score-plot",
        "Deciding score over time",
        top,
        &(lines + &inner),
        "Dots: screenings scored like the newest, joined; dashed: their threshold (refer at or above). \
         Hollow squares: scored by another rule or model, on another scale, not joined.",
        h,
    )
}

/// Each sign expression's eye-aperture ratio over time (the landmark
/// measure, the same whichever model scored the screening).
fn ratio_plot(h: &History) -> String {
    let xs = xs(h);
    let colours = ["#1d3557", "#2a9d8f", "#e76f51"];
    let top = 1.2;
    let mut inner = String::new();
    let mut legend = Vec::new();
    for (e, colour) in SIGN_EXPRESSIONS.iter().zip(colours) {
        let points: Vec<(f64, f64)> = h
            .screenings
            .iter()
            .zip(&xs)
            .filter_map(|(s, &x): (&Screening, _)| {
                s.ratio(*e, FISSURE_RATIO).map(|r| (x, y_of(r as f64, top)))
            })
            .collect();
        inner.push_str(&polyline(&points, colour));
        for (x, y) in &points {
            inner.push_str(&format!(
                "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"3\" fill=\"{colour}\"/>"
            ));
        }
        legend.push(format!(
            "<span style=\"color:{colour}\">{}</span>",
            esc(e.name())
        ));
    }
    frame(
        "ratio-plot",
        "Eye-aperture ratio over time",
        top,
        &inner,
        &format!(
            "The narrower eye's opening over the wider one's, each eye over its own \
             opening at rest (1 = both eyes alike): {}.",
            legend.join(", ")
        ),
        h,
    )
}
