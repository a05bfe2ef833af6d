//! `clinic export --fhir` against HL7's own FHIR R4 JSON schema
//! (`tests/data/fhir`, CC0, from a pinned npm package), validated by the
//! `jsonschema` crate: the Bundle the clinic writes must be a valid FHIR R4
//! document, and the schema must refuse the same Bundle with one field
//! misspelled or one code outside its value set, so the check can fail.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use ed25519_dalek::SigningKey;
use host::admin::DataArgs;
use host::ingest::{ingest, Via};
use host::store::Store;
use screening::decision::DISCLAIMER;
use screening::record::{DeviceId, PatientRef, Record, RecordBody, RecordHash, SignedRecord};
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The FHIR R4 schema, compiled once (3.4 MB, 680 definitions).
fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let gz = std::fs::read(repo().join("tests/data/fhir/fhir.schema.json.gz")).unwrap();
        let mut text = String::new();
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_string(&mut text)
            .unwrap();
        let schema: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(schema["id"], "http://hl7.org/fhir/json-schema/4.0");
        jsonschema::draft6::new(&schema).expect("the FHIR schema compiles")
    })
}

fn errors(bundle: &Value) -> Vec<String> {
    validator()
        .iter_errors(bundle)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// A clinic with one kiosk and four screenings: P-0001 twice, P-0002 once
/// (referred), and one without a patient reference.
fn clinic() -> (tempfile::TempDir, DataArgs, String) {
    let dir = tempfile::tempdir().unwrap();
    let data = DataArgs {
        db: dir.path().join("clinic.sqlite"),
        host_key: dir.path().join("host.key"),
    };
    let key = SigningKey::from_bytes(&[5; 32]);
    let mut store = Store::open(&data.db).unwrap();
    store
        .enroll(&key.verifying_key(), "ward 3 kiosk", "ward 3", 0)
        .unwrap();
    let device = DeviceId::of(&key.verifying_key());
    let mut prev = RecordHash::GENESIS;
    let mut records = Vec::new();
    for (seq, patient) in [Some("P-0001"), Some("P-0002"), Some("P-0001"), None]
        .into_iter()
        .enumerate()
    {
        let mut body = RecordBody::example();
        body.patient = patient.map(|p| PatientRef::new(p).unwrap());
        if seq != 1 {
            body.decision.outcome = screening::record::Outcome::NoSynkinesisDetected;
        }
        let r = Record::new(
            device,
            seq as u64,
            prev,
            1_760_000_000_000 + seq as i64 * 86_400_000,
            2,
            10,
            body,
        );
        let s = SignedRecord::sign(&r, &key).unwrap();
        prev = s.hash();
        records.push(s);
    }
    ingest(&mut store, device, &records, Via::Http).unwrap();
    (dir, data, device.to_hex())
}

fn export(data: &DataArgs, patient: Option<&str>) -> (Value, String) {
    let out = data.db.with_file_name("fhir.json");
    let said = host::admin::export_fhir(data, patient, Some(&out)).unwrap();
    (
        serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap(),
        said,
    )
}

#[test]
fn the_fhir_export_is_valid_fhir_r4_and_says_what_a_hospital_needs() {
    let (_dir, data, device) = clinic();
    let (bundle, said) = export(&data, None);
    assert_eq!(said, "4 observations exported as FHIR R4\n");
    let found = errors(&bundle);
    assert!(found.is_empty(), "not valid FHIR R4: {found:#?}");
    assert_eq!(bundle["resourceType"], "Bundle");
    let entries = bundle["entry"].as_array().unwrap();
    assert_eq!(entries.len(), 4);

    let referred = &entries[1]["resource"];
    assert_eq!(referred["resourceType"], "Observation");
    assert_eq!(referred["status"], "final");
    assert_eq!(referred["subject"]["identifier"]["value"], "P-0002");
    assert_eq!(referred["device"]["identifier"]["value"], device);
    assert_eq!(referred["device"]["display"], "ward 3 kiosk (ward 3)");
    assert_eq!(
        referred["valueCodeableConcept"]["coding"][0]["code"],
        "refer"
    );
    let model = hex::encode([0xab_u8; 32]);
    assert!(referred["method"]["text"]
        .as_str()
        .unwrap()
        .contains(&model));
    let components = referred["component"].as_array().unwrap();
    let value = |code: &str| {
        components
            .iter()
            .find(|c| c["code"]["coding"][0]["code"] == code)
            .unwrap_or_else(|| panic!("no component {code}: {components:#?}"))
            .clone()
    };
    assert_eq!(value("score")["valueQuantity"]["value"], 0.38);
    assert_eq!(value("threshold")["valueQuantity"]["value"], 0.25);
    assert_eq!(value("model-sha256")["valueString"], model);
    assert_eq!(
        value("big_smile-fissure-ratio")["valueQuantity"]["value"],
        0.62
    );
    assert!(referred["note"][0]["text"]
        .as_str()
        .unwrap()
        .contains(DISCLAIMER));
    // The record's hash identifies it, so a second export is the same result.
    assert_eq!(
        referred["identifier"][0]["value"].as_str().unwrap().len(),
        64
    );
    // No patient reference typed: no subject, still a valid Observation.
    assert!(entries[3]["resource"].get("subject").is_none());

    let (mine, _) = export(&data, Some("P-0001"));
    assert!(errors(&mine).is_empty());
    assert_eq!(mine["entry"].as_array().unwrap().len(), 2);
    let err = host::admin::export_fhir(&data, Some("P-9"), None).unwrap_err();
    assert!(
        err.to_string().contains("no stored screening names"),
        "{err}"
    );
}

#[test]
fn the_schema_refuses_what_fhir_does_not_allow() {
    let (_dir, data, _) = clinic();
    let (bundle, _) = export(&data, None);
    let mut misspelt = bundle.clone();
    let o = misspelt["entry"][0]["resource"].as_object_mut().unwrap();
    let v = o.remove("valueCodeableConcept").unwrap();
    o.insert("valueCodableConcept".into(), v);
    assert!(!errors(&misspelt).is_empty(), "a misspelt field passed");
    let mut bad_status = bundle.clone();
    bad_status["entry"][0]["resource"]["status"] = "done".into();
    assert!(!errors(&bad_status).is_empty(), "status `done` passed");
    let mut bad_time = bundle;
    bad_time["entry"][0]["resource"]["effectiveDateTime"] = "yesterday".into();
    assert!(!errors(&bad_time).is_empty(), "a free-text date passed");
}

#[test]
fn a_record_that_does_not_verify_is_left_out_and_counted() {
    let (_dir, data, _) = clinic();
    let conn = rusqlite::Connection::open(&data.db).unwrap();
    let mut raw: Vec<u8> = conn
        .query_row("SELECT raw FROM records WHERE sequence = 2", [], |r| {
            r.get(0)
        })
        .unwrap();
    raw[20] ^= 1;
    conn.execute("UPDATE records SET raw = ?1 WHERE sequence = 2", [raw])
        .unwrap();
    let (bundle, said) = export(&data, None);
    assert!(said.starts_with("3 observations exported"), "{said}");
    assert!(said.contains("1 records left out"), "{said}");
    assert_eq!(bundle["entry"].as_array().unwrap().len(), 3);
    assert!(errors(&bundle).is_empty());
}
