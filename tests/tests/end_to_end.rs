//! Kiosk to clinic, end to end: `kiosk demo` screens three virtual patients
//! into one kiosk's record store, and the clinic ends up holding exactly
//! those three signed records, once over HTTP (`kiosk pair` + `kiosk sync`
//! to a clinic server on a loopback port) and once through a USB bundle
//! directory (`kiosk export` + `clinic import`).
//!
//! Driven in process through the same library functions the `kiosk` and
//! `clinic` subcommands call (`device::demo::run`, `device::admin::*`,
//! `host::admin::*`, and the server `clinic serve` runs), because this test
//! crate cannot name the two binaries with `CARGO_BIN_EXE_*`.

use device::config::Config;
use device::demo::DemoOptions;
use device::identity::Identity;
use device::record_store::RecordStore;
use device::session::SessionEnd;
use host::admin::DataArgs;
use host::http::{AppState, BackgroundServer};
use host::store::Store;
use screening::record::{self, SignedRecord};
use screening::synth::ConditionKind;
use std::path::Path;
use std::time::Duration;

/// The virtual patients screened, in order: the README's
/// `kiosk demo --condition …` patients (seed 7), except a second healthy face
/// for the middle one. (Flaccid seed 11, the earlier third patient, is one
/// the bundled classifier wrongly refers: lagophthalmos in tight eye closure,
/// see the model card's known limits.)
const PATIENTS: [(ConditionKind, u64); 3] = [
    (ConditionKind::Synkinetic, 7),
    (ConditionKind::Healthy, 3),
    (ConditionKind::Flaccid, 7),
];

/// Runs the three demo screenings into `out`; returns each saved outcome.
fn three_screenings(out: &Path) -> Vec<String> {
    let config = Config::default();
    PATIENTS
        .iter()
        .map(|&(condition, seed)| {
            let report = device::demo::run(
                &config,
                &DemoOptions {
                    condition,
                    seed,
                    out: out.to_path_buf(),
                },
            )
            .unwrap();
            match report.end {
                SessionEnd::Completed {
                    screening,
                    saved: Ok(_),
                } => screening.decision.outcome.name().to_string(),
                other => panic!("demo of {condition} seed {seed} did not save a result: {other:?}"),
            }
        })
        .collect()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// The clinic holds exactly the kiosk's records, each verifying under the
/// kiosk's key, in chain order, with the demo's outcomes.
fn assert_clinic_holds(clinic: &DataArgs, kiosk_data: &Path, outcomes: &[String], via: &str) {
    let kiosk = RecordStore::open(kiosk_data).unwrap();
    assert_eq!(kiosk.len(), 3, "the demo kiosk holds three records");
    let store = Store::open(&clinic.db).unwrap();
    assert_eq!(
        store.record_count().unwrap(),
        3,
        "{via}: exactly three records"
    );
    let devices = store.devices().unwrap();
    assert_eq!(devices.len(), 1);
    let key = kiosk.identity().public_key();
    assert_eq!(devices[0].device.key, key);
    let stored = store.stored_records(devices[0].device.row_id).unwrap();
    for (seq, row) in stored.iter().enumerate() {
        assert_eq!(row.sequence, seq as u64, "{via}: contiguous from 0");
        let original = kiosk.log().get(seq as u64).unwrap().unwrap();
        assert_eq!(
            row.raw,
            original.to_bytes(),
            "{via}: byte for byte the kiosk's record"
        );
        let signed = SignedRecord::from_bytes(&row.raw).unwrap();
        let rec = record::verify(&signed, &key).expect("the signature verifies");
        assert_eq!(rec.body.decision.outcome.name(), outcomes[seq]);
        assert_eq!(row.outcome, outcomes[seq]);
    }
    let audit = host::audit::audit(&store).unwrap();
    assert!(audit.problems.is_empty(), "{via}: {:?}", audit.problems);
    assert_eq!(audit.records, 3);
}

fn clinic(dir: &Path, name: &str) -> DataArgs {
    DataArgs {
        db: dir.join(format!("{name}.sqlite")),
        // One clinic key: the kiosk pins it once for both transports.
        host_key: dir.join("host.key"),
    }
}

#[test]
fn three_demo_screenings_reach_the_clinic_by_http_and_by_usb() {
    let dir = tempfile::tempdir().unwrap();
    let demo = dir.path().join("kiosk-demo");
    let outcomes = three_screenings(&demo);
    let kiosk_data = demo.join("data");
    assert_eq!(
        outcomes,
        ["refer", "no_synkinesis_detected", "no_synkinesis_detected"],
        "the synkinetic patient is referred, the healthy and the flaccid one are not"
    );

    // `clinic identity` / `clinic enroll` / `kiosk pair`.
    let http_clinic = clinic(dir.path(), "clinic-http");
    let kiosk_key = hex::encode(
        Identity::open_or_create(&kiosk_data)
            .unwrap()
            .public_key()
            .to_bytes(),
    );
    host::admin::enroll(&http_clinic, &kiosk_key, "demo kiosk", "test bench").unwrap();
    let host_key = http_clinic.key().unwrap();
    let host_public = hex::encode(host_key.verifying_key().to_bytes());
    device::admin::pair(&kiosk_data, &host_public, None).unwrap();
    // A second kiosk with the same records, for the USB drive (HTTP sync
    // acknowledges them, after which `kiosk export` would have nothing to write).
    let usb_kiosk = dir.path().join("kiosk-for-usb");
    copy_dir(&kiosk_data, &usb_kiosk);

    // HTTP: `clinic serve` on a loopback port, `kiosk sync`.
    let server = BackgroundServer::start(
        "127.0.0.1:0".parse().unwrap(),
        AppState::new(http_clinic.store().unwrap(), host_key),
    )
    .unwrap();
    let said =
        device::admin::sync(&kiosk_data, Some(server.url()), Duration::from_secs(60)).unwrap();
    assert!(said.contains('3'), "kiosk sync: {said}");
    // Again: nothing new, nothing duplicated.
    device::admin::sync(&kiosk_data, Some(server.url()), Duration::from_secs(60)).unwrap();
    drop(server);
    assert_eq!(
        RecordStore::open(&kiosk_data)
            .unwrap()
            .unacknowledged_count(),
        0,
        "the kiosk holds the clinic's acknowledgement"
    );
    assert_clinic_holds(&http_clinic, &kiosk_data, &outcomes, "http");

    // USB: `kiosk export DIR`, `clinic import DIR`, and the kiosk reads the
    // acknowledgement on its next export.
    let usb_clinic = clinic(dir.path(), "clinic-usb");
    host::admin::enroll(&usb_clinic, &kiosk_key, "demo kiosk", "test bench").unwrap();
    let drive = dir.path().join("usb-drive");
    std::fs::create_dir_all(&drive).unwrap();
    let said = device::admin::export(&usb_kiosk, &drive).unwrap();
    assert!(said.contains('3'), "kiosk export: {said}");
    let said = host::admin::import(&usb_clinic, &drive).unwrap();
    assert!(said.contains("3 stored"), "clinic import: {said}");
    assert_clinic_holds(&usb_clinic, &usb_kiosk, &outcomes, "usb");
    device::admin::export(&usb_kiosk, &drive).unwrap();
    assert_eq!(
        RecordStore::open(&usb_kiosk)
            .unwrap()
            .unacknowledged_count(),
        0,
        "the kiosk read the clinic's acknowledgement from the drive"
    );
    // Importing the same drive again stores nothing new.
    host::admin::import(&usb_clinic, &drive).unwrap();
    assert_clinic_holds(&usb_clinic, &usb_kiosk, &outcomes, "usb again");
}

#[test]
fn kiosk_run_syncs_to_the_paired_clinic_after_every_screening() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("kiosk-data");
    let clinic = clinic(dir.path(), "clinic-run");
    let kiosk_key = hex::encode(
        Identity::open_or_create(&data)
            .unwrap()
            .public_key()
            .to_bytes(),
    );
    host::admin::enroll(&clinic, &kiosk_key, "ward kiosk", "test bench").unwrap();
    let host_key = clinic.key().unwrap();
    let server = BackgroundServer::start(
        "127.0.0.1:0".parse().unwrap(),
        AppState::new(clinic.store().unwrap(), host_key.clone()),
    )
    .unwrap();
    let host_public = hex::encode(host_key.verifying_key().to_bytes());
    device::admin::pair(&data, &host_public, Some(server.url())).unwrap();

    // `kiosk run --screenings 2` on the embedded default, with a start press
    // per screening and automatic sync on (its default).
    let toml = format!(
        "[camera]\nsource = \"virtual\"\ncondition = \"healthy\"\nseed = 5\nfps = 60\n\n\
         [display]\nkind = \"png\"\ndir = {:?}\n\n[input]\nkind = \"automatic\"\n\n\
         [protocol]\nresult_timeout_s = 1\n\n[storage]\ndata_dir = {:?}\n",
        dir.path().join("screens"),
        data
    );
    let config = Config::parse(&toml, Path::new("kiosk.toml")).unwrap();
    assert!(config.sync.automatic);
    device::kiosk::run(&config, Some(2)).unwrap();
    drop(server);

    let kiosk = RecordStore::open(&data).unwrap();
    assert_eq!(kiosk.len(), 2);
    assert_eq!(
        kiosk.unacknowledged_count(),
        0,
        "both screenings were acknowledged without `kiosk sync`"
    );
    let store = Store::open(&clinic.db).unwrap();
    assert_eq!(store.record_count().unwrap(), 2);
    assert!(host::audit::audit(&store).unwrap().problems.is_empty());
}
