//! Records from kiosk to clinic: HTTP sync on a loopback port, USB bundles,
//! refused bodies and bundles, and sync under injected faults.

use device::record_store::RecordStore;
use device::sync::{self, HttpTransport, SyncError, SyncOptions, SyncTransport, TransportError};
use host::challenges::Challenges;
use host::http::{AppState, BackgroundServer};
use host::store::Store;
use screening::record::RecordBody;
use screening::testing::Lcg;
use std::path::Path;
use std::time::Duration;

/// A kiosk with `n` records and a clinic database that enrolled it.
fn kiosk_and_clinic(dir: &Path, n: usize) -> (RecordStore, Store, ed25519_dalek::SigningKey) {
    let mut kiosk = RecordStore::open(&dir.join("kiosk")).unwrap();
    for _ in 0..n {
        kiosk.append(RecordBody::example()).unwrap();
    }
    let mut clinic = Store::open(&dir.join("clinic.sqlite")).unwrap();
    clinic
        .enroll(&kiosk.identity().public_key(), "kiosk 1", "test clinic", 0)
        .unwrap();
    let host_key = ed25519_dalek::SigningKey::from_bytes(&[77; 32]);
    (kiosk, clinic, host_key)
}

/// Checks the clinic holds exactly the kiosk's records, in one verified chain.
pub(crate) fn assert_same_records(kiosk: &RecordStore, clinic: &Store) {
    let rows = clinic.records(&Default::default()).unwrap();
    assert_eq!(
        rows.len() as u64,
        kiosk.len(),
        "clinic and kiosk hold different numbers of records"
    );
    for (seq, row) in rows.iter().enumerate() {
        assert_eq!(row.sequence, seq as u64, "gap or duplicate at {seq}");
        assert_eq!(
            row.hash,
            kiosk
                .log()
                .get(seq as u64)
                .unwrap()
                .unwrap()
                .hash()
                .to_hex()
        );
    }
    let audit = host::audit::audit(clinic).unwrap();
    assert!(audit.problems.is_empty(), "{:?}", audit.problems);
}

#[test]
fn http_sync_over_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let (mut kiosk, clinic, host_key) = kiosk_and_clinic(dir.path(), 300);
    let pinned = host_key.verifying_key();
    let server = BackgroundServer::start(
        "127.0.0.1:0".parse().unwrap(),
        AppState::new(clinic, host_key),
    )
    .unwrap();
    let mut http = HttpTransport::new(&server.url(), Duration::from_secs(20));

    let report = sync::sync(
        &mut kiosk,
        &pinned,
        &mut http,
        SyncOptions {
            batch_records: 64,
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(
        (report.sent, report.stored, report.batches, report.remaining),
        (300, 300, 5, 0)
    );
    assert_eq!(kiosk.acknowledged_through(), Some(299));
    let again = sync::sync(&mut kiosk, &pinned, &mut http, SyncOptions::default()).unwrap();
    assert_eq!(again.sent, 0, "nothing left to send");
    kiosk.append(RecordBody::example()).unwrap();
    assert_eq!(
        sync::sync(&mut kiosk, &pinned, &mut http, SyncOptions::default())
            .unwrap()
            .stored,
        1
    );

    // Refused bodies: a clear 400, a 413 over the limit, nothing about SQL.
    match http.push(b"not a batch") {
        Err(TransportError::Status {
            status: 400,
            message,
            ..
        }) => {
            assert!(message.contains("malformed sync batch"), "{message}");
            assert!(!message.to_lowercase().contains("sql"), "{message}");
        }
        other => panic!("expected 400, got {other:?}"),
    }
    let oversized = vec![0u8; screening::record::wire::MAX_BATCH_BYTES + 1];
    assert!(matches!(
        http.push(&oversized),
        Err(TransportError::Status { status: 413, .. })
    ));
    drop(server);

    let clinic = Store::open(&dir.path().join("clinic.sqlite")).unwrap();
    assert_same_records(&kiosk, &clinic);
}

#[test]
fn kiosks_sync_over_plain_http_to_a_clinic_serving_https() {
    // `clinic serve` beyond localhost: HTTPS for browsers, and on the same
    // port the kiosks' plain HTTP, whose bodies are sealed.
    let dir = tempfile::tempdir().unwrap();
    let (mut kiosk, clinic, host_key) = kiosk_and_clinic(dir.path(), 4);
    let pinned = host_key.verifying_key();
    let tls =
        host::http::tls::TlsSetup::load_or_generate(dir.path(), &["localhost".into()]).unwrap();
    let server = BackgroundServer::start_tls(
        "127.0.0.1:0".parse().unwrap(),
        AppState::new(clinic, host_key),
        &tls,
    )
    .unwrap();
    let mut http = HttpTransport::new(&server.plain_url(), Duration::from_secs(20));
    let report = sync::sync(&mut kiosk, &pinned, &mut http, SyncOptions::default()).unwrap();
    assert_eq!((report.sent, report.stored), (4, 4));
    drop(server);
    let clinic = Store::open(&dir.path().join("clinic.sqlite")).unwrap();
    assert_same_records(&kiosk, &clinic);
}

#[test]
fn unenrolled_kiosk_gets_403_and_rogue_server_gets_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (mut kiosk, _, host_key) = kiosk_and_clinic(dir.path(), 2);
    let empty = Store::open(&dir.path().join("other.sqlite")).unwrap();
    let server = BackgroundServer::start(
        "127.0.0.1:0".parse().unwrap(),
        AppState::new(empty, host_key.clone()),
    )
    .unwrap();
    let mut http = HttpTransport::new(&server.url(), Duration::from_secs(20));
    let err = sync::sync(
        &mut kiosk,
        &host_key.verifying_key(),
        &mut http,
        SyncOptions::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            SyncError::Transport(TransportError::Status { status: 403, .. })
        ),
        "{err}"
    );

    // A server with another key: the kiosk sends no record at all.
    let rogue_key = ed25519_dalek::SigningKey::from_bytes(&[13; 32]);
    let mut rogue_db = Store::open_in_memory().unwrap();
    rogue_db
        .enroll(&kiosk.identity().public_key(), "stolen", "", 0)
        .unwrap();
    let rogue = BackgroundServer::start(
        "127.0.0.1:0".parse().unwrap(),
        AppState::new(rogue_db, rogue_key),
    )
    .unwrap();
    let mut to_rogue = HttpTransport::new(&rogue.url(), Duration::from_secs(20));
    let err = sync::sync(
        &mut kiosk,
        &host_key.verifying_key(),
        &mut to_rogue,
        SyncOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, SyncError::NotPairedHost), "{err}");
    assert_eq!(kiosk.unacknowledged_count(), 2);
}

/// An HTTP link that keeps a copy of every sealed batch it carries, as an
/// eavesdropper on the clinic LAN would.
struct Recording {
    http: HttpTransport,
    pushed: Vec<Vec<u8>>,
}

impl SyncTransport for Recording {
    fn hello(&mut self, body: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.http.hello(body)
    }
    fn push(&mut self, body: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.pushed.push(body.to_vec());
        self.http.push(body)
    }
}

/// A stranger's batch naming `device`, signed by `key`, over a challenge
/// the clinic really handed out, sealed to the clinic's real key.
fn stranger_batch(
    http: &mut HttpTransport,
    key: &ed25519_dalek::SigningKey,
    device: screening::record::DeviceId,
) -> Vec<u8> {
    use screening::record::seal::Session;
    use screening::record::wire::{Hello, HelloAnswer, SyncBatch};
    let hello = Hello { nonce: [9; 32] };
    let answer = HelloAnswer::decode(&http.hello(&hello.encode()).unwrap()).unwrap();
    let mut batch = SyncBatch::signed(key, answer.challenge, vec![]);
    batch.device = device;
    Session::seal_request(&answer.sync_key, &batch.encode())
        .unwrap()
        .0
}

#[test]
fn strangers_learn_nothing_and_captured_batches_do_not_replay() {
    let dir = tempfile::tempdir().unwrap();
    let (mut kiosk, clinic, host_key) = kiosk_and_clinic(dir.path(), 3);
    let pinned = host_key.verifying_key();
    let server = BackgroundServer::start(
        "127.0.0.1:0".parse().unwrap(),
        AppState::new(clinic, host_key),
    )
    .unwrap();
    let mut link = Recording {
        http: HttpTransport::new(&server.url(), Duration::from_secs(20)),
        pushed: Vec::new(),
    };
    sync::sync(&mut kiosk, &pinned, &mut link, SyncOptions::default()).unwrap();
    let device = kiosk.device();
    let before = || {
        let s = Store::open(&dir.path().join("clinic.sqlite")).unwrap();
        let d = s.devices().unwrap().remove(0);
        (d.records, d.stored_through, d.last_sync)
    };
    let synced = before();
    assert_eq!((synced.0, synced.1), (3, Some(2)));

    let forbidden = |r: Result<Vec<u8>, TransportError>, what: &str| match r {
        Err(TransportError::Status {
            status: 403,
            message,
            ..
        }) => message,
        other => panic!("{what}: expected 403, got {other:?}"),
    };
    let mut http = HttpTransport::new(&server.url(), Duration::from_secs(20));
    // The kiosk's own batch, captured and sent again.
    let replayed = forbidden(http.push(&link.pushed[0]), "replay");
    assert!(replayed.contains("challenge"), "{replayed}");
    // An empty batch naming the kiosk, signed by someone else: the probe
    // that used to return the kiosk's chain head.
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[21; 32]);
    let probe = stranger_batch(&mut http, &stranger, device);
    let probed = forbidden(http.push(&probe), "probe");
    assert!(
        probed.contains("not signed by the enrolled kiosk"),
        "{probed}"
    );
    // The stranger under its own name: not enrolled.
    let own = stranger_batch(
        &mut http,
        &stranger,
        screening::record::DeviceId::of(&stranger.verifying_key()),
    );
    forbidden(http.push(&own), "unenrolled");
    assert_eq!(
        before(),
        synced,
        "no refusal moved the kiosk's figures or last sync"
    );

    // The kiosk itself goes on as before.
    kiosk.append(RecordBody::example()).unwrap();
    let report = sync::sync(&mut kiosk, &pinned, &mut link, SyncOptions::default()).unwrap();
    assert_eq!(report.stored, 1);
    drop(server);

    let clinic = Store::open(&dir.path().join("clinic.sqlite")).unwrap();
    let kinds: Vec<String> = clinic
        .security_events(10)
        .unwrap()
        .into_iter()
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        ["unknown kiosk", "sync not proven", "sync not proven"],
        "newest first"
    );
    assert_same_records(&kiosk, &clinic);
}

#[test]
fn usb_bundle_round_trip_and_swapped_file() {
    let dir = tempfile::tempdir().unwrap();
    let (mut kiosk, mut clinic, host_key) = kiosk_and_clinic(dir.path(), 5);
    let paired = device::sync::PairedHost {
        host_key: hex_key(&host_key),
        url: None,
    };
    let usb = dir.path().join("usb");

    // Not paired: nothing to seal to, nothing written.
    assert!(matches!(
        device::export::export(&mut kiosk, None, &usb),
        Err(device::export::ExportError::NotPaired)
    ));
    assert!(!usb.exists());

    let exported = device::export::export(&mut kiosk, Some(&paired), &usb).unwrap();
    assert_eq!((exported.records, exported.range), (5, Some((0, 4))));
    // What a finder of the stick reads: no patient reference, no record field.
    let plain = kiosk.log().get(0).unwrap().unwrap().to_bytes();
    assert!(plain.windows(6).any(|w| w == b"P-0001"));
    for entry in std::fs::read_dir(&exported.folder).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(6).any(|w| w == b"P-0001"),
            "a patient reference on the stick in the clear"
        );
        let field = &plain[plain.len() - 112..plain.len() - 96]; // end of the body
        assert!(
            !bytes.windows(16).any(|w| w == field),
            "record bytes on the stick in the clear"
        );
    }
    // Another clinic that enrolled the same kiosk cannot read the bundle.
    let mut other = Store::open_in_memory().unwrap();
    other
        .enroll(&kiosk.identity().public_key(), "kiosk 1", "elsewhere", 0)
        .unwrap();
    let foreign = ed25519_dalek::SigningKey::from_bytes(&[78; 32]);
    let refused = host::import::import(&mut other, &foreign, &usb, false).unwrap();
    assert!(
        refused[0]
            .refused
            .as_deref()
            .unwrap_or("")
            .contains("does not open with this clinic's key"),
        "{refused:?}"
    );
    assert_eq!(other.record_count().unwrap(), 0);
    assert_eq!(other.security_events(5).unwrap()[0].kind, "bundle refused");

    let imported = host::import::import(&mut clinic, &host_key, &usb, false).unwrap();
    assert_eq!(
        (
            imported[0].stored,
            imported[0].acknowledged,
            imported[0].refused.clone()
        ),
        (5, true, None)
    );
    assert_same_records(&kiosk, &clinic);

    // The next export reads the acknowledgement and carries only new records.
    kiosk.append(RecordBody::example()).unwrap();
    let exported = device::export::export(&mut kiosk, Some(&paired), &usb).unwrap();
    assert_eq!(
        (exported.ack_applied, exported.records, exported.range),
        (Some(4), 1, Some((5, 5)))
    );

    // Swap the records file for an older valid one: the manifest hash catches it.
    let folder = exported.folder.clone();
    let sealed = folder.join(screening::record::bundle::RECORDS_FILE);
    let second = std::fs::read(&sealed).unwrap();
    let first_bundle = screening::record::bundle::seal_records(
        &host_key.verifying_key(),
        &kiosk.log().read_range(0, 5, usize::MAX).unwrap(),
    )
    .unwrap();
    std::fs::write(&sealed, &first_bundle).unwrap();
    let before = clinic.record_count().unwrap();
    let outcome = host::import::import(&mut clinic, &host_key, &usb, false).unwrap();
    assert!(
        outcome[0]
            .refused
            .as_deref()
            .unwrap_or("")
            .contains("swapped"),
        "{outcome:?}"
    );
    assert_eq!(
        clinic.record_count().unwrap(),
        before,
        "nothing stored from a swapped bundle"
    );

    std::fs::write(&sealed, &second).unwrap();
    let outcome = host::import::import(&mut clinic, &host_key, &usb, false).unwrap();
    assert_eq!(outcome[0].stored, 1);
    assert_same_records(&kiosk, &clinic);
}

fn hex_key(key: &ed25519_dalek::SigningKey) -> String {
    key.verifying_key()
        .to_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// In-process transport to a clinic database on disk, with faults.
struct FaultyLink {
    db: std::path::PathBuf,
    store: Option<Store>,
    challenges: Challenges,
    host_key: ed25519_dalek::SigningKey,
    rng: Lcg,
    faults: [u32; 7],
}

const FAULT_NAMES: [&str; 7] = [
    "none",
    "request dropped",
    "response dropped after commit",
    "request duplicated",
    "request truncated",
    "host restarted mid-batch",
    "response truncated",
];

impl FaultyLink {
    fn store(&mut self) -> &mut Store {
        let db = self.db.clone();
        self.store.get_or_insert_with(|| Store::open(&db).unwrap())
    }

    fn host(&mut self, body: &[u8]) -> Result<Vec<u8>, TransportError> {
        let key = self.host_key.clone();
        let challenges = std::mem::take(&mut self.challenges);
        let answer =
            host::http::sync::handle_batch(self.store(), &challenges, &key, body, "in-process");
        self.challenges = challenges;
        answer.map_err(|e| TransportError::Status {
            url: "in-process".into(),
            status: e.status().as_u16(),
            message: e.to_string(),
        })
    }
}

fn dropped() -> TransportError {
    TransportError::Unreachable {
        url: "in-process".into(),
        reason: "injected fault".into(),
    }
}

impl SyncTransport for FaultyLink {
    fn hello(&mut self, body: &[u8]) -> Result<Vec<u8>, TransportError> {
        if self.rng.below(10) == 0 {
            return Err(dropped());
        }
        host::http::sync::handle_hello(&self.challenges, &self.host_key, body)
            .map_err(|_| dropped())
    }

    fn push(&mut self, body: &[u8]) -> Result<Vec<u8>, TransportError> {
        // What an eavesdropper on the LAN sees: no patient reference.
        assert!(
            !body.windows(6).any(|w| w == b"P-0001"),
            "a patient reference crossed the link in the clear"
        );
        // Half the pushes meet a fault, spread over the six kinds.
        let fault = match self.rng.below(12) as usize {
            f @ 1..=6 => f,
            _ => 0,
        };
        self.faults[fault] += 1;
        match fault {
            1 => Err(dropped()),
            2 => {
                self.host(body)?;
                Err(dropped())
            }
            3 => {
                let _ = self.host(body)?;
                self.host(body)
            }
            4 => {
                let cut = self.rng.below(body.len() as u64) as usize;
                self.host(&body[..cut])
            }
            5 => {
                // The host commits, then its process dies before answering.
                self.host(body)?;
                self.store = None;
                self.challenges = Challenges::new();
                Err(dropped())
            }
            6 => {
                let mut answer = self.host(body)?;
                answer.truncate(self.rng.below(answer.len() as u64) as usize);
                Ok(answer)
            }
            _ => self.host(body),
        }
    }
}

#[test]
fn sync_under_faults_ends_with_exactly_the_kiosks_records() {
    const ROUNDS: usize = 500;
    let dir = tempfile::tempdir().unwrap();
    let (mut kiosk, clinic, host_key) = kiosk_and_clinic(dir.path(), 0);
    drop(clinic);
    let pinned = host_key.verifying_key();
    let mut link = FaultyLink {
        db: dir.path().join("clinic.sqlite"),
        store: None,
        challenges: Challenges::new(),
        host_key,
        rng: Lcg(0xfa17),
        faults: [0; 7],
    };
    let opts = SyncOptions {
        batch_records: 4,
        ..Default::default()
    };
    let (mut ok, mut failed) = (0, 0);
    for _ in 0..ROUNDS {
        for _ in 0..link.rng.below(4) {
            kiosk.append(RecordBody::example()).unwrap();
        }
        match sync::sync(&mut kiosk, &pinned, &mut link, opts) {
            Ok(_) => ok += 1,
            Err(SyncError::Transport(_) | SyncError::Malformed(_)) => failed += 1,
            Err(e) => panic!("a fault must only delay sync, not break it: {e}"),
        }
    }
    // Faults over: one clean link finishes the job.
    link.rng = Lcg(1);
    let mut clean = CleanLink(&mut link);
    sync::sync(&mut kiosk, &pinned, &mut clean, opts).unwrap();
    assert_eq!(kiosk.unacknowledged_count(), 0);
    link.store = None;
    let clinic = Store::open(&dir.path().join("clinic.sqlite")).unwrap();
    assert_same_records(&kiosk, &clinic);
    let plain = kiosk.log().get(0).unwrap().unwrap().to_bytes();
    assert!(
        plain.windows(6).any(|w| w == b"P-0001"),
        "the eavesdropping check above looks for bytes a plain record holds"
    );
    let faults: Vec<String> = FAULT_NAMES
        .iter()
        .zip(link.faults)
        .map(|(n, c)| format!("{n}: {c}"))
        .collect();
    println!(
        "sync under faults: {ROUNDS} rounds ({ok} completed, {failed} cut short), {} records, host holds exactly them; {}",
        kiosk.len(),
        faults.join(", ")
    );
    assert!(
        link.faults.iter().all(|&c| c > 0),
        "every fault kind was exercised"
    );
}

struct CleanLink<'a>(&'a mut FaultyLink);

impl SyncTransport for CleanLink<'_> {
    fn hello(&mut self, body: &[u8]) -> Result<Vec<u8>, TransportError> {
        host::http::sync::handle_hello(&self.0.challenges, &self.0.host_key, body)
            .map_err(|_| dropped())
    }
    fn push(&mut self, body: &[u8]) -> Result<Vec<u8>, TransportError> {
        self.0.host(body)
    }
}
