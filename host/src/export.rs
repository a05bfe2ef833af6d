//! `clinic export --csv|--json`: the stored records' listing columns for
//! spreadsheets and scripts. CSV cells that a spreadsheet would read as a
//! formula (`=`, `+`, `-`, `@` first) are prefixed with `'`.

use std::io::Write;

use crate::store::{RecordFilter, RecordRow, Store, StoreError};

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Writing failed.
    #[error("writing the export: {0}")]
    Write(String),
}

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Comma-separated values with a header row.
    Csv,
    /// A JSON array of objects.
    Json,
}

/// Writes the records matching `filter` to `out`; returns how many.
pub fn export(
    store: &Store,
    filter: &RecordFilter,
    format: Format,
    out: &mut dyn Write,
) -> Result<usize, ExportError> {
    let rows = store.records(filter)?;
    let werr = |e: &dyn std::fmt::Display| ExportError::Write(e.to_string());
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &rows).map_err(|e| werr(&e))?;
            writeln!(out).map_err(|e| werr(&e))?;
        }
        Format::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record([
                "device",
                "device_name",
                "sequence",
                "time_utc",
                "boot_counter",
                "outcome",
                "score",
                "threshold",
                "rule",
                "patient_ref",
                "model_name",
                "model_sha256",
                "hash",
                "received_utc",
                "received_via",
            ])
            .map_err(|e| werr(&e))?;
            for r in &rows {
                w.write_record(csv_row(r)).map_err(|e| werr(&e))?;
            }
            w.flush().map_err(|e| werr(&e))?;
        }
    }
    Ok(rows.len())
}

fn csv_row(r: &RecordRow) -> Vec<String> {
    vec![
        r.device.clone(),
        cell(&r.device_name),
        r.sequence.to_string(),
        iso8601_utc(r.wall_time_ms),
        r.boot_counter.to_string(),
        r.outcome.clone(),
        r.score.map(|s| format!("{s:.4}")).unwrap_or_default(),
        format!("{:.4}", r.threshold),
        cell(&r.rule),
        r.patient_ref.as_deref().map(cell).unwrap_or_default(),
        cell(&r.model_name),
        r.model_sha256.clone(),
        r.hash.clone(),
        iso8601_utc(r.received_at_ms),
        r.received_via.clone(),
    ]
}

/// Neutralises spreadsheet formulas.
pub(crate) fn cell(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@']) {
        format!("'{text}")
    } else {
        text.to_string()
    }
}

/// `2024-03-01T12:34:56.789Z` from milliseconds since the Unix epoch.
pub fn iso8601_utc(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::tests::{chain, enrolled_store, kiosk_key};
    use crate::ingest::{ingest, Via};
    use screening::record::DeviceId;

    #[test]
    fn dates() {
        assert_eq!(iso8601_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601_utc(1_709_296_496_789), "2024-03-01T12:34:56.789Z");
        assert_eq!(iso8601_utc(-1), "1969-12-31T23:59:59.999Z");
    }

    #[test]
    fn csv_and_json() {
        let k = kiosk_key(1);
        let mut store = enrolled_store(&k);
        ingest(
            &mut store,
            DeviceId::of(&k.verifying_key()),
            &chain(&k, 3),
            Via::Http,
        )
        .unwrap();
        let mut csv = Vec::new();
        assert_eq!(
            export(&store, &RecordFilter::default(), Format::Csv, &mut csv).unwrap(),
            3
        );
        let text = String::from_utf8(csv).unwrap();
        assert_eq!(text.lines().count(), 4);
        assert!(text.lines().nth(1).unwrap().contains(",refer,"));
        let mut json = Vec::new();
        export(&store, &RecordFilter::default(), Format::Json, &mut json).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v.as_array().unwrap().len(), 3);
        assert_eq!(cell("=1+1"), "'=1+1");
    }
}
