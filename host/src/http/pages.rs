//! The web page's read-only views: the dashboard (`/`), the records list
//! (`/records`, with filters and a CSV download) and one record
//! (`/records/{device}/{sequence}`), whose signature and chain link are
//! re-checked each time it is shown.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use screening::record::{self, DeviceId, RecordHash};
use serde::Deserialize;
use std::collections::HashMap;

use super::auth::{with_store, Auth};
use super::error::PageError;
use super::html::{csv_download, disclaimer, esc, outcome_cell, page, patient_link, time};
use super::AppState;
use crate::store::{RecordFilter, RecordRow};

/// Days shown in the dashboard's plot.
pub const PLOT_DAYS: u32 = 30;

/// The refer rate per day as an inline SVG bar chart (no script, no external asset).
fn refer_plot(days: &[crate::store::report::Day]) -> String {
    if days.is_empty() {
        return String::new();
    }
    let (w, h, pad) = (640.0f64, 160.0f64, 24.0f64);
    let step = (w - 2.0 * pad) / days.len() as f64;
    let mut bars = String::new();
    for (i, d) in days.iter().enumerate() {
        let rate = d.refer as f64 / d.records.max(1) as f64;
        let bh = rate * (h - 2.0 * pad);
        let x = pad + i as f64 * step + step * 0.15;
        let date = time(d.day * 86_400_000);
        bars.push_str(&format!(
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"#a4161a\">\
             <title>{}: {} of {} referred</title></rect>",
            h - pad - bh,
            step * 0.7,
            esc(date.get(..10).unwrap_or(&date)),
            d.refer,
            d.records
        ));
    }
    let first = time(days[0].day * 86_400_000);
    let last = time(days[days.len() - 1].day * 86_400_000);
    format!(
        "<h2>Refer rate per day</h2><svg id=\"plot\" role=\"img\" width=\"{w}\" height=\"{h}\" \
         viewBox=\"0 0 {w} {h}\" style=\"background:#fff;border:1px solid #dde\">\
         <line x1=\"{pad}\" y1=\"{pad}\" x2=\"{}\" y2=\"{pad}\" stroke=\"#ccd\" stroke-dasharray=\"4\"/>\
         <line x1=\"{pad}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#889\"/>{bars}\
         <text x=\"2\" y=\"{}\" font-size=\"10\">100 %</text>\
         <text x=\"{pad}\" y=\"{}\" font-size=\"10\">{}</text>\
         <text x=\"{}\" y=\"{}\" font-size=\"10\" text-anchor=\"end\">{}</text></svg>\
         <p><small>Share of screenings with the outcome \u{201c}refer\u{201d}, by the kiosks' clocks (UTC), the last {} days with records.</small></p>",
        w - pad,
        h - pad,
        w - pad,
        h - pad,
        pad - 4.0,
        h - 6.0,
        esc(first.get(..10).unwrap_or(&first)),
        w - pad,
        h - 6.0,
        esc(last.get(..10).unwrap_or(&last)),
        days.len()
    )
}

/// Most rows the records page lists at once.
pub const MAX_LISTED: u64 = 500;

/// Routes of the read-only pages.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(dashboard))
        .route("/records", get(records))
        .route("/records.csv", get(records_csv))
        .route("/records/{device}/{sequence}", get(record_page))
}

async fn dashboard(State(state): State<AppState>, auth: Auth) -> Result<Response, PageError> {
    let (totals, devices, days) = with_store(&state, |s| {
        Ok((s.totals()?, s.devices()?, s.daily(PLOT_DAYS)?))
    })
    .await?;
    let pct = |n: u64| {
        if totals.records == 0 {
            "–".to_string()
        } else {
            format!("{:.0} %", 100.0 * n as f64 / totals.records as f64)
        }
    };
    let mut body = format!(
        "<h1>Dashboard</h1>{}<div class=\"cards\" id=\"totals\">\
         <div class=\"card\"><b id=\"n-devices\">{}</b>kiosks</div>\
         <div class=\"card\"><b id=\"n-records\">{}</b>records</div>\
         <div class=\"card\"><b id=\"n-refer\" class=\"refer\">{}</b>refer ({})</div>\
         <div class=\"card\"><b id=\"n-ok\" class=\"ok\">{}</b>no synkinesis detected ({})</div>\
         <div class=\"card\"><b id=\"n-incomplete\" class=\"warn\">{}</b>incomplete</div></div>",
        disclaimer(),
        totals.devices,
        totals.records,
        totals.refer,
        pct(totals.refer),
        totals.no_synkinesis,
        pct(totals.no_synkinesis),
        totals.incomplete,
    );
    body.push_str(
        "<h2>Kiosks</h2><table id=\"devices\"><tr><th>Kiosk</th><th>Name</th><th>Site</th>\
         <th class=\"num\">Records</th><th>Last sync</th></tr>",
    );
    if devices.is_empty() {
        body.push_str(
            "<tr><td colspan=\"5\">No kiosk is enrolled yet: <code>clinic enroll --key … --name …</code></td></tr>",
        );
    }
    for d in &devices {
        let last = d
            .last_sync
            .as_ref()
            .map_or("never".to_string(), |(ms, via)| {
                format!("{} ({})", time(*ms), esc(via))
            });
        body.push_str(&format!(
            "<tr><td><a href=\"/records?device={}\"><code>{}</code></a></td><td>{}</td><td>{}</td>\
             <td class=\"num\">{}</td><td>{last}</td></tr>",
            d.device.device.to_hex(),
            d.device.device.short(),
            esc(&d.device.name),
            esc(&d.device.site),
            d.records
        ));
    }
    body.push_str("</table>");
    body.push_str(&refer_plot(&days));
    body.push_str("<p><a href=\"/upload\">Classify a photo</a></p>");
    Ok(Html(page("Dashboard", Some(&auth.viewer()), &body)).into_response())
}

/// Filters of the records list.
#[derive(Debug, Default, Deserialize)]
pub struct RecordsQuery {
    /// Full hex id of one kiosk.
    #[serde(default)]
    device: Option<String>,
    /// `refer`, `no_synkinesis_detected` or `incomplete`.
    #[serde(default)]
    outcome: Option<String>,
}

fn parse_device(text: &str) -> Result<DeviceId, PageError> {
    let mut id = [0u8; 32];
    hex::decode_to_slice(text.trim(), &mut id).map_err(|_| {
        PageError::BadRequest("A kiosk is named by its 64-hex-character id.".into())
    })?;
    Ok(DeviceId(id))
}

fn filter_of(
    query: Result<Query<RecordsQuery>, QueryRejection>,
    limit: Option<u64>,
) -> Result<(RecordFilter, RecordsQuery), PageError> {
    let Query(q) = query.map_err(|r| {
        PageError::BadRequest(format!("The filter was not understood: {}", r.body_text()))
    })?;
    let device = q
        .device
        .as_deref()
        .filter(|d| !d.is_empty())
        .map(parse_device)
        .transpose()?;
    let outcome = q.outcome.clone().filter(|o| !o.is_empty());
    if let Some(o) = &outcome {
        if !["refer", "no_synkinesis_detected", "incomplete"].contains(&o.as_str()) {
            return Err(PageError::BadRequest(format!(
                "Unknown outcome `{o}`: use refer, no_synkinesis_detected or incomplete."
            )));
        }
    }
    Ok((
        RecordFilter {
            device,
            outcome,
            limit,
        },
        q,
    ))
}

async fn records(
    State(state): State<AppState>,
    auth: Auth,
    query: Result<Query<RecordsQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let (filter, q) = filter_of(query, Some(MAX_LISTED))?;
    let (rows, devices) = with_store(&state, move |s| {
        let ids: HashMap<String, String> = s
            .devices()?
            .into_iter()
            .map(|d| (d.device.device.short(), d.device.device.to_hex()))
            .collect();
        Ok((s.records(&filter)?, ids))
    })
    .await?;
    let selected = |value: &str, current: &Option<String>| {
        if current.as_deref() == Some(value) {
            " selected"
        } else {
            ""
        }
    };
    let mut options = String::from("<option value=\"\">all kiosks</option>");
    let mut kiosks: Vec<_> = devices.iter().collect();
    kiosks.sort();
    for (short, hex) in kiosks {
        options.push_str(&format!(
            "<option value=\"{hex}\"{}>{}</option>",
            selected(hex, &q.device),
            esc(short)
        ));
    }
    let mut outcomes = String::from("<option value=\"\">all outcomes</option>");
    for (v, label) in [
        ("refer", "refer"),
        ("no_synkinesis_detected", "no synkinesis detected"),
        ("incomplete", "incomplete"),
    ] {
        outcomes.push_str(&format!(
            "<option value=\"{v}\"{}>{label}</option>",
            selected(v, &q.outcome)
        ));
    }
    let csv_query = format!(
        "device={}&amp;outcome={}",
        esc(q.device.as_deref().unwrap_or("")),
        esc(q.outcome.as_deref().unwrap_or(""))
    );
    let mut body = format!(
        "<h1>Records</h1>{}<form method=\"get\" action=\"/records\">\
         <select name=\"device\">{options}</select> <select name=\"outcome\">{outcomes}</select> \
         <button>Filter</button> <a href=\"/records.csv?{csv_query}\">Download CSV</a></form>\
         <p>{} records shown (newest first, at most {MAX_LISTED}).</p>\
         <table id=\"records\"><tr><th>Kiosk</th><th class=\"num\">Seq</th><th>Time (kiosk clock)</th>\
         <th>Outcome</th><th class=\"num\">Score</th><th class=\"num\">Threshold</th><th>Patient</th></tr>",
        disclaimer(),
        rows.len()
    );
    for r in &rows {
        body.push_str(&row_html(r, devices.get(&r.device)));
    }
    body.push_str("</table>");
    Ok(Html(page("Records", Some(&auth.viewer()), &body)).into_response())
}

fn row_html(r: &RecordRow, hex: Option<&String>) -> String {
    let link = hex.map_or(String::new(), |h| format!("/records/{h}/{}", r.sequence));
    format!(
        "<tr><td><code>{}</code> {}</td><td class=\"num\"><a href=\"{link}\">{}</a></td><td>{}</td>\
         <td>{}</td><td class=\"num\">{}</td><td class=\"num\">{:.3}</td><td>{}</td></tr>",
        esc(&r.device),
        esc(&r.device_name),
        r.sequence,
        time(r.wall_time_ms),
        outcome_cell(&r.outcome),
        r.score.map_or("–".into(), |s| format!("{s:.3}")),
        r.threshold,
        patient_link(r.patient_ref.as_deref())
    )
}

async fn records_csv(
    State(state): State<AppState>,
    _auth: Auth,
    query: Result<Query<RecordsQuery>, QueryRejection>,
) -> Result<Response, PageError> {
    let (filter, _) = filter_of(query, None)?;
    let bytes = with_store(&state, move |s| {
        let mut out = Vec::new();
        crate::export::export(s, &filter, crate::export::Format::Csv, &mut out)
            .map_err(|e| PageError::Internal(e.to_string()))?;
        Ok(out)
    })
    .await?;
    Ok(csv_download("clinic-records.csv", bytes))
}

async fn record_page(
    State(state): State<AppState>,
    auth: Auth,
    Path((device, sequence)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let device = parse_device(&device)?;
    let sequence: u64 = sequence
        .parse()
        .map_err(|_| PageError::BadRequest("The record number is not a number.".into()))?;
    let detail = with_store(&state, move |s| Ok(s.record_detail(device, sequence)?))
        .await?
        .ok_or_else(|| {
            PageError::NotFound(format!(
                "The clinic holds no record {sequence} of kiosk {}.",
                device.short()
            ))
        })?;
    let dev = &detail.device;
    let stored = &detail.record;
    let verified = crate::history::verify_stored(&stored.raw, &dev.key);
    let signature = match &verified {
        Ok(_) => {
            "<span class=\"ok\" id=\"signature\">valid: signed by this kiosk's enrolled key</span>"
                .to_string()
        }
        Err(e) => format!(
            "<span class=\"refer\" id=\"signature\">NOT VALID: {}</span>",
            esc(e)
        ),
    };
    let expected_prev = if sequence == 0 {
        Some(RecordHash::GENESIS)
    } else {
        detail.previous_hash
    };
    let chain = match expected_prev {
        Some(p) if p == stored.prev_hash => format!(
            "<span class=\"ok\" id=\"chain\">linked: record {sequence} of this kiosk's chain{}</span>",
            if sequence == 0 { " (its first)" } else { ", names record before it" }
        ),
        Some(_) => "<span class=\"refer\" id=\"chain\">BROKEN: the previous record stored has another hash</span>".into(),
        None => "<span class=\"warn\" id=\"chain\">unchecked: the previous record is not stored</span>".into(),
    };
    let mut body = format!(
        "<h1>Record {sequence} of kiosk {}</h1>{}<table id=\"record\">\
         <tr><th>Kiosk</th><td><code>{}</code> {} ({})</td></tr>\
         <tr><th>Time (kiosk clock)</th><td>{}</td></tr>\
         <tr><th>Received</th><td>{} via {}</td></tr>\
         <tr><th>Patient</th><td>{}</td></tr>\
         <tr><th>Outcome</th><td id=\"outcome\">{}</td></tr>\
         <tr><th>Signature</th><td>{signature}</td></tr>\
         <tr><th>Chain position</th><td>{chain}</td></tr>\
         <tr><th>Hash</th><td><code>{}</code></td></tr>\
         <tr><th>Previous hash</th><td><code>{}</code></td></tr>",
        esc(&dev.device.short()),
        disclaimer(),
        esc(&dev.device.short()),
        esc(&dev.name),
        esc(&dev.site),
        time(stored.wall_time_ms),
        time(detail.received.0),
        esc(&detail.received.1),
        patient_link(stored.patient_ref.as_deref()),
        outcome_cell(&stored.outcome),
        stored.hash.to_hex(),
        stored.prev_hash.to_hex(),
    );
    if let Ok(rec) = &verified {
        let d = &rec.body.decision;
        body.push_str(&format!(
            "<tr><th>Decision</th><td>score {} against threshold {:.3} ({})</td></tr>\
             <tr><th>Model</th><td>{} <code>{}</code></td></tr>\
             <tr><th>Kiosk start / uptime</th><td>start {} · {:.1} s after it</td></tr></table>",
            d.score.map_or("–".into(), |s| format!("{s:.3}")),
            d.threshold,
            esc(&d.rule),
            esc(&rec.body.model.name),
            hex::encode(rec.body.model.sha256),
            rec.boot_counter,
            rec.uptime_ms as f64 / 1000.0
        ));
        body.push_str(
            "<h2>Per expression</h2><table id=\"expressions\"><tr><th>Expression</th>\
             <th class=\"num\">Probability</th><th>Landmark ratios</th><th>Quality</th></tr>",
        );
        let figures = |fs: &[record::Figure]| {
            fs.iter()
                .map(|f| format!("{} {:.3}", esc(&f.name), f.value))
                .collect::<Vec<_>>()
                .join(", ")
        };
        for e in &rec.body.expressions {
            body.push_str(&format!(
                "<tr><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                esc(&e.expression),
                e.probability.map_or("–".into(), |p| format!("{p:.3}")),
                figures(&e.ratios),
                figures(&e.quality)
            ));
        }
        body.push_str("</table>");
    } else {
        body.push_str("</table><p class=\"error\">The record's contents are not shown because it does not verify.</p>");
    }
    Ok(Html(page("Record", Some(&auth.viewer()), &body)).into_response())
}
