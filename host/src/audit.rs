//! `clinic verify`: re-checks everything in the database from the raw
//! signed bytes: every signature, every chain link from record 0, the stored
//! hash and sequence columns, and the listing columns a person reads
//! (outcome, patient reference, time), so an edited row is caught.

use screening::record::{ChainVerifier, SignedRecord};

use crate::store::{Store, StoreError};

/// What `verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditReport {
    /// Kiosks checked.
    pub devices: u64,
    /// Records checked.
    pub records: u64,
    /// One line per problem (empty when all is well).
    pub problems: Vec<String>,
}

/// Re-verifies every stored record.
pub fn audit(store: &Store) -> Result<AuditReport, StoreError> {
    let mut report = AuditReport::default();
    for summary in store.devices()? {
        let dev = &summary.device;
        report.devices += 1;
        let mut chain = ChainVerifier::new(dev.key);
        for row in store.stored_records(dev.row_id)? {
            report.records += 1;
            let mut problem = |what: String| {
                report.problems.push(format!(
                    "kiosk {} ({}) record {}: {what}",
                    dev.device, dev.name, row.sequence
                ))
            };
            let signed = match SignedRecord::from_bytes(&row.raw) {
                Ok(s) => s,
                Err(e) => {
                    problem(format!("raw bytes malformed: {e}"));
                    continue;
                }
            };
            let record = match chain.push(&signed) {
                Ok(r) => r,
                Err(e) => {
                    problem(e.to_string());
                    continue;
                }
            };
            let columns_match = record.sequence == row.sequence
                && signed.hash() == row.hash
                && record.prev_hash == row.prev_hash
                && record.body.decision.outcome.name() == row.outcome
                && record.body.patient.as_ref().map(|p| p.as_str()) == row.patient_ref.as_deref()
                && record.wall_time_ms == row.wall_time_ms;
            if !columns_match {
                problem("listing columns differ from the signed record (database edited?)".into());
            }
        }
        if let Some(through) = summary.stored_through {
            if chain.next_sequence() != through + 1 {
                report.problems.push(format!(
                    "kiosk {} ({}): sync state says {} records, the chain holds {}",
                    dev.device,
                    dev.name,
                    through + 1,
                    chain.next_sequence()
                ));
            }
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::tests::{chain, enrolled_store, kiosk_key};
    use crate::ingest::{ingest, Via};
    use screening::record::DeviceId;

    #[test]
    fn clean_database_passes_and_edits_are_caught() {
        let k = kiosk_key(1);
        let mut store = enrolled_store(&k);
        ingest(
            &mut store,
            DeviceId::of(&k.verifying_key()),
            &chain(&k, 4),
            Via::Http,
        )
        .unwrap();
        let report = audit(&store).unwrap();
        assert_eq!(
            (report.devices, report.records, report.problems.len()),
            (1, 4, 0)
        );

        store
            .conn_mut()
            .execute(
                "UPDATE records SET outcome = 'no_synkinesis_detected' WHERE sequence = 2",
                [],
            )
            .unwrap();
        store
            .conn_mut()
            .execute(
                "UPDATE records SET raw = substr(raw, 1, 20) WHERE sequence = 3",
                [],
            )
            .unwrap();
        let report = audit(&store).unwrap();
        assert_eq!(report.problems.len(), 3, "{:?}", report.problems);
        assert!(report.problems[0].contains("record 2") && report.problems[0].contains("columns"));
        assert!(
            report.problems[1].contains("record 3") && report.problems[1].contains("malformed")
        );
        assert!(report.problems[2].contains("sync state says 4 records, the chain holds 3"));
    }
}
