//! Kiosk sync while the clinic's login form is flooded with wrong passwords
//! (issue 19, point 2). One "empty sync" is what a kiosk with nothing new
//! does: a hello, then an empty batch signed over the clinic's challenge,
//! both over loopback HTTP, the ack checked. Its median and 90th percentile
//! are measured idle, then while four threads post wrong passwords as fast
//! as the server answers: once with the default throttle, once with
//! throttling off (argon2 still off the store's lock, two checks at once).
//!
//! `cargo bench -p host --bench login_flood`; the bar is a median under
//! 20 ms with the flood on. Prints figures; asserts nothing about time.

use ed25519_dalek::{SigningKey, VerifyingKey};
use host::http::{AppState, BackgroundServer};
use host::login_throttle::ThrottlePolicy;
use host::store::Store;
use screening::record::seal::Session;
use screening::record::wire::{Hello, HelloAnswer, SyncBatch, SyncResponse, HELLO_PATH, SYNC_PATH};
use screening::record::DeviceId;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const SYNCS: usize = 200;
const FLOOD_THREADS: usize = 4;
const USER: &str = "nurse";

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .into()
}

fn post(agent: &ureq::Agent, url: &str, body: &[u8]) -> Vec<u8> {
    let mut resp = agent
        .post(url)
        .header("content-type", "application/octet-stream")
        .send(body)
        .expect("sync request");
    assert_eq!(resp.status().as_u16(), 200, "{url}");
    resp.body_mut().read_to_vec().expect("body")
}

/// One empty sync; its wall time.
fn empty_sync(
    agent: &ureq::Agent,
    base: &str,
    kiosk: &SigningKey,
    pinned: &VerifyingKey,
) -> Duration {
    let start = Instant::now();
    let mut nonce = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
    let hello = Hello { nonce };
    let answer = HelloAnswer::decode(&post(
        agent,
        &format!("{base}{HELLO_PATH}"),
        &hello.encode(),
    ))
    .expect("hello answer");
    let sync_key = answer.verify(&hello, pinned).expect("the clinic's key");
    let batch = SyncBatch::signed(kiosk, answer.challenge, vec![]);
    let (body, session) = Session::seal_request(&sync_key, &batch.encode()).expect("seal");
    let plain = session
        .open_answer(&post(agent, &format!("{base}{SYNC_PATH}"), &body))
        .expect("sealed answer");
    let response = SyncResponse::decode(&plain).expect("sync response");
    response
        .ack
        .verify(pinned, DeviceId::of(&kiosk.verifying_key()))
        .expect("ack");
    start.elapsed()
}

/// Posts wrong passwords until `stop`; counts answers by status.
fn flood(base: String, stop: Arc<AtomicBool>, refused: Arc<AtomicU64>, checked: Arc<AtomicU64>) {
    let agent = agent();
    while !stop.load(Ordering::Relaxed) {
        let mut page = agent
            .get(format!("{base}/login"))
            .call()
            .expect("login page");
        let cookie = page
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(|c| {
                c.split(';')
                    .next()
                    .filter(|kv| kv.starts_with("clinic_login="))
            })
            .expect("login cookie")
            .to_string();
        let html = page.body_mut().read_to_string().expect("login page body");
        let at = html.find("name=\"csrf\" value=\"").expect("csrf field") + 19;
        let token = &html[at..at + html[at..].find('"').expect("end of token")];
        let resp = agent
            .post(format!("{base}/login"))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("cookie", &cookie)
            .send(format!(
                "name={USER}&password=not+the+password&csrf={token}"
            ))
            .expect("login post");
        match resp.status().as_u16() {
            429 => refused.fetch_add(1, Ordering::Relaxed),
            401 => checked.fetch_add(1, Ordering::Relaxed),
            s => panic!("a wrong password was answered {s}"),
        };
    }
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// Serves a fresh clinic with `policy`; measures syncs with or without a
/// flood; prints one line.
fn run(label: &str, policy: ThrottlePolicy, with_flood: bool) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut store = Store::open(&dir.path().join("clinic.sqlite")).expect("store");
    host::users::add_user(&mut store, USER, "a long enough password", false, 0).expect("user");
    let kiosk = SigningKey::from_bytes(&[7; 32]);
    store
        .enroll(&kiosk.verifying_key(), "bench kiosk", "bench", 0)
        .expect("enrol");
    let host_key = SigningKey::from_bytes(&[1; 32]);
    let pinned = host_key.verifying_key();
    let server = BackgroundServer::start(
        "127.0.0.1:0".parse().expect("address"),
        AppState::new(store, host_key).with_login_policy(policy),
    )
    .expect("server");
    let base = server.url();
    let stop = Arc::new(AtomicBool::new(false));
    let (refused, checked) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let flooders: Vec<_> = (0..if with_flood { FLOOD_THREADS } else { 0 })
        .map(|_| {
            let (b, s, r, c) = (base.clone(), stop.clone(), refused.clone(), checked.clone());
            std::thread::spawn(move || flood(b, s, r, c))
        })
        .collect();
    // Let the flood reach its steady state (and the throttle close).
    std::thread::sleep(Duration::from_millis(if with_flood { 1500 } else { 0 }));
    let agent = agent();
    let t = Instant::now();
    let mut times: Vec<Duration> = (0..SYNCS)
        .map(|_| empty_sync(&agent, &base, &kiosk, &pinned))
        .collect();
    let window = t.elapsed().as_secs_f64();
    let (refused_before, checked_before) = (
        refused.load(Ordering::Relaxed),
        checked.load(Ordering::Relaxed),
    );
    stop.store(true, Ordering::Relaxed);
    for f in flooders {
        f.join().expect("flood thread");
    }
    times.sort();
    println!(
        "{label:<38} empty sync median {:>7.2} ms  p90 {:>7.2} ms  max {:>7.2} ms  | wrong logins answered: {:>6.0}/s refused unchecked, {:>5.0}/s argon2-checked",
        percentile(&times, 0.5),
        percentile(&times, 0.9),
        percentile(&times, 1.0),
        refused_before as f64 / window,
        checked_before as f64 / window,
    );
    drop(server);
}

fn main() {
    // `cargo test --benches` runs bench binaries with no `--bench`: skip.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let off = ThrottlePolicy {
        free_per_account: u32::MAX,
        free_per_address: u32::MAX,
        ..ThrottlePolicy::default()
    };
    println!(
        "{SYNCS} empty syncs each (hello + kiosk-signed empty batch + checked ack, loopback HTTP); flood: {FLOOD_THREADS} threads of wrong passwords; {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    run("idle", ThrottlePolicy::default(), false);
    run("flood, default throttle", ThrottlePolicy::default(), true);
    run("flood, throttling off", off, true);
}
