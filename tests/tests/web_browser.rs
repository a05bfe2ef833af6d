//! The clinic web page in a real browser: Debian's headless Chromium,
//! driven through `chromedriver` (Debian's `chromium-driver`) over the W3C
//! WebDriver protocol, against a clinic server on a loopback port, over
//! HTTPS with the certificate a clinic generates for itself, which the
//! browser trusts by its public key's fingerprint alone (as a person
//! comparing the fingerprint on the login page would). It logs in, sees the
//! dashboard, opens a record and its patient's history, uploads
//! `astronaut.png` and sees the result,
//! taking a screenshot of each page. On the same port, plain HTTP sends a
//! page request to HTTPS and still answers kiosk sync.
//!
//! Screenshots go to the test's temporary folder, and to `docs/screens/`
//! when `KIOSK_SAVE_SCREENS=1`. Without Chromium the test fails and says how
//! to install it (the README's test command, `scripts/test.sh`, installs both
//! first); `KIOSK_SKIP_BROWSER=1` skips it on purpose.

use base64::Engine;
use ed25519_dalek::SigningKey;
use host::http::tls::TlsSetup;
use host::http::{upload::PhotoAnalyzer, AppState, BackgroundServer};
use host::ingest::{ingest, Via};
use host::store::Store;
use screening::decision::DISCLAIMER;
use screening::record::{DeviceId, Outcome, Record, RecordBody, RecordHash, SignedRecord};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const USER: &str = "nurse";
const PASSWORD: &str = "browser test password";
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn find_program(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([
            PathBuf::from("/usr/bin"),
            PathBuf::from("/usr/lib/chromium"),
        ])
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// `chromedriver` on a free loopback port; killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start(program: &Path) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(program)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let driver = Driver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        let started = Instant::now();
        loop {
            if let Ok(v) = request(&driver.url, "GET", "/status", None) {
                if v["value"]["ready"] == json!(true) {
                    return driver;
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "chromedriver did not get ready within 30 s"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(120)))
        .http_status_as_error(false)
        .build()
        .into()
}

/// One WebDriver command; `Err` with the driver's message when it fails.
fn request(base: &str, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
    let url = format!("{base}{path}");
    let agent = agent();
    let response = match (method, body) {
        ("GET", _) => agent.get(&url).call(),
        ("DELETE", _) => agent.delete(&url).call(),
        (_, body) => agent
            .post(&url)
            .header("content-type", "application/json")
            .send(body.unwrap_or(json!({})).to_string().as_bytes()),
    };
    let mut response = response.map_err(|e| format!("{method} {path}: {e}"))?;
    let status = response.status().as_u16();
    let text = response
        .body_mut()
        .with_config()
        .limit(64 << 20)
        .read_to_string()
        .map_err(|e| format!("{method} {path}: {e}"))?;
    let value: Value =
        serde_json::from_str(&text).map_err(|e| format!("{method} {path}: {e}: {text}"))?;
    if status != 200 {
        return Err(format!("{method} {path}: {status} {}", value["value"]));
    }
    Ok(value)
}

/// One browser session.
struct Browser<'a> {
    driver: &'a Driver,
    session: String,
    shots: Vec<(String, Vec<u8>)>,
}

impl Drop for Browser<'_> {
    /// Ends the session (and Chromium with it), also when an assertion failed.
    fn drop(&mut self) {
        let _ = request(
            &self.driver.url,
            "DELETE",
            &format!("/session/{}", self.session),
            None,
        );
    }
}

impl Browser<'_> {
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.session);
        request(&self.driver.url, method, &path, body).unwrap_or_else(|e| panic!("{e}"))
    }

    fn go(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    fn url(&self) -> String {
        self.cmd("GET", "/url", None)["value"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn source(&self) -> String {
        self.cmd("GET", "/source", None)["value"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// The element matching `css`, waiting up to 60 s for it to appear.
    fn find(&self, css: &str) -> String {
        let started = Instant::now();
        loop {
            let path = format!("/session/{}/element", self.session);
            let found = request(
                &self.driver.url,
                "POST",
                &path,
                Some(json!({ "using": "css selector", "value": css })),
            );
            if let Ok(v) = found {
                if let Some(id) = v["value"][ELEMENT].as_str() {
                    return id.to_string();
                }
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "no element `{css}` on {} after 60 s:\n{}",
                self.url(),
                self.source()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn type_into(&self, css: &str, text: &str) {
        let el = self.find(css);
        self.cmd(
            "POST",
            &format!("/element/{el}/value"),
            Some(json!({ "text": text })),
        );
    }

    fn click(&self, css: &str) {
        let el = self.find(css);
        self.cmd("POST", &format!("/element/{el}/click"), Some(json!({})));
    }

    fn text(&self, css: &str) -> String {
        let el = self.find(css);
        self.cmd("GET", &format!("/element/{el}/text"), None)["value"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    fn screenshot(&mut self, name: &str) {
        let b64 = self.cmd("GET", "/screenshot", None)["value"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .expect("the screenshot is base64");
        assert!(png.starts_with(b"\x89PNG"), "the screenshot is a PNG");
        self.shots.push((name.to_string(), png));
    }
}

/// A clinic with a user, one kiosk and three of its records, and the photo page's models.
fn clinic(dir: &Path) -> AppState {
    let mut store = Store::open(&dir.join("clinic.sqlite")).unwrap();
    host::users::add_user(&mut store, USER, PASSWORD, false, 0).unwrap();
    let key = SigningKey::from_bytes(&[21; 32]);
    store
        .enroll(&key.verifying_key(), "ward 3 kiosk", "Ward 3", 0)
        .unwrap();
    let device = DeviceId::of(&key.verifying_key());
    let mut prev = RecordHash::GENESIS;
    let mut records = Vec::new();
    for seq in 0..3u64 {
        let mut body = RecordBody::example();
        if seq == 1 {
            body.decision.outcome = Outcome::NoSynkinesisDetected;
            body.decision.score = Some(0.08);
        }
        let r = Record::new(
            device,
            seq,
            prev,
            1_764_000_000_000 + seq as i64 * 3_600_000,
            3,
            seq * 60_000,
            body,
        );
        let s = SignedRecord::sign(&r, &key).unwrap();
        prev = s.hash();
        records.push(s);
    }
    ingest(&mut store, device, &records, Via::Http).unwrap();
    let photo = PhotoAnalyzer::load(&repo().join("models")).expect("the face models load");
    AppState::new(store, SigningKey::from_bytes(&[1; 32])).with_photo(Some(Arc::new(photo)))
}

/// One plain HTTP/1.1 request to `server`'s port; the status line and headers.
fn plain_request(server: &BackgroundServer, request: &str) -> String {
    use std::io::{Read, Write};
    let mut tcp = std::net::TcpStream::connect(server.addr()).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    tcp.write_all(request.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = tcp.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).into_owned()
}

/// Plain HTTP on the HTTPS port: a page goes to HTTPS, a form post is
/// refused, and the kiosks' hello is answered.
fn plain_http_is_for_kiosks_only(server: &BackgroundServer) {
    let host = server.addr();
    let page = plain_request(
        server,
        &format!(
            "GET /records?outcome=refer HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert!(page.starts_with("HTTP/1.1 308"), "{page}");
    assert!(
        page.to_lowercase()
            .contains(&format!("location: https://{host}/records?outcome=refer")),
        "{page}"
    );
    let form = plain_request(
        server,
        &format!("POST /login HTTP/1.1\r\nHost: {host}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"),
    );
    assert!(form.starts_with("HTTP/1.1 403"), "{form}");
    let hello = screening::record::wire::Hello { nonce: [3; 32] }.encode();
    let mut request = format!(
        "POST {} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        screening::record::wire::HELLO_PATH,
        hello.len()
    );
    request.push_str(&String::from_utf8_lossy(&hello));
    // The nonce is bytes 3, which are ASCII: the request travels as written.
    let answered = plain_request(server, &request);
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
}

#[test]
fn browser_logs_in_sees_the_dashboard_and_classifies_a_photo() {
    if std::env::var_os("KIOSK_SKIP_BROWSER").is_some() {
        eprintln!("SKIPPED on request (KIOSK_SKIP_BROWSER): the browser test did not run");
        return;
    }
    let chromium = find_program("CHROMIUM", &["chromium", "chromium-browser"]).expect(
        "Chromium is not installed: install Debian's `chromium` and `chromium-driver` \
         (`scripts/test.sh` installs both, or `.ci/install-deps.sh test`), or set KIOSK_SKIP_BROWSER=1 to skip this test on purpose",
    );
    let chromedriver = find_program("CHROMEDRIVER", &["chromedriver"]).expect(
        "chromedriver is not installed: install Debian's `chromium-driver` \
         (`scripts/test.sh` installs both, or `.ci/install-deps.sh test`), or set KIOSK_SKIP_BROWSER=1 to skip this test on purpose",
    );
    let dir = tempfile::tempdir().unwrap();
    let tls =
        TlsSetup::load_or_generate(dir.path(), &["localhost".into(), "127.0.0.1".into()]).unwrap();
    let spki = tls
        .spki_sha256_base64
        .clone()
        .expect("a generated key's pin");
    let state = clinic(dir.path()).with_tls_fingerprint(Some(tls.fingerprint.clone()));
    let server = BackgroundServer::start_tls("127.0.0.1:0".parse().unwrap(), state, &tls).unwrap();
    let base = server.url();
    assert!(base.starts_with("https://"), "{base}");
    plain_http_is_for_kiosks_only(&server);
    let profile = dir.path().join("chromium-profile");
    let driver = Driver::start(&chromedriver);
    let caps = json!({ "capabilities": { "alwaysMatch": {
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium.to_string_lossy(),
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--hide-scrollbars", "--window-size=1200,1100",
                format!("--user-data-dir={}", profile.display()),
                // Trust exactly this certificate's key, nothing else.
                format!("--ignore-certificate-errors-spki-list={spki}"),
            ]
        }
    }}});
    let session = request(&driver.url, "POST", "/session", Some(caps))
        .unwrap_or_else(|e| panic!("Chromium did not start under chromedriver: {e}"));
    let session = session["value"]["sessionId"].as_str().unwrap().to_string();
    let mut b = Browser {
        driver: &driver,
        session,
        shots: Vec::new(),
    };

    // Any page sends a stranger to the login page.
    b.go(&format!("{base}/"));
    assert!(b.url().ends_with("/login"), "{}", b.url());
    b.find("#name");
    assert_eq!(
        b.text("#fingerprint"),
        tls.fingerprint,
        "the login page shows the certificate"
    );
    b.screenshot("web-login");
    b.type_into("#name", USER);
    b.type_into("#password", "not the password");
    b.click("#login");
    assert!(b.text("#notice").contains("Wrong user name or password"));
    b.type_into("#password", PASSWORD);
    b.click("#login");

    // The dashboard.
    b.find("#totals");
    assert_eq!(b.url(), format!("{base}/"));
    assert_eq!(b.text("#n-records"), "3");
    assert_eq!(b.text("#n-refer"), "2");
    assert_eq!(b.text("#n-devices"), "1");
    assert!(b.text("#devices").contains("ward 3 kiosk"));
    assert!(b.text("#disclaimer").contains(DISCLAIMER));
    b.screenshot("web-dashboard");

    // The records list and one record, re-checked.
    b.click("header a[href='/records']");
    b.find("#records");
    b.screenshot("web-records");
    b.click("#records tr:nth-child(2) td:nth-child(2) a");
    assert!(b.text("#signature").starts_with("valid"), "{}", b.source());
    assert!(b.text("#chain").starts_with("linked"));
    b.screenshot("web-record");

    // The patient's history, from the record's patient reference.
    b.click("#record a[href^='/patient']");
    b.find("#history");
    assert!(b.text("h1").contains("P-0001"), "{}", b.source());
    assert_eq!(b.text("#history").matches("ward 3 kiosk").count(), 3);
    b.find("#score-plot");
    b.find("#ratio-plot");
    b.screenshot("web-patient");

    // Classify a photo.
    b.click("header a[href='/upload']");
    let photo = repo().join("tests/data/astronaut.png");
    b.type_into("#photo", &photo.canonicalize().unwrap().to_string_lossy());
    b.screenshot("web-upload");
    b.click("#classify");
    let gate = b.text("#gate");
    assert!(gate.contains("accepts"), "{gate}");
    b.find("#aligned");
    let decision = b.text("#decision");
    assert!(!decision.is_empty());
    assert!(b.text("#disclaimer").contains(DISCLAIMER));
    assert!(
        decision.starts_with("Refer") || decision.starts_with("No synkinesis"),
        "{decision}"
    );
    assert!(b
        .text("#probability")
        .starts_with("Probability of synkinesis"));
    // One photo has no rest view: the page says its answer is the weaker one.
    let note = b.text("#single-view");
    assert!(note.contains("single-view answer"), "{note}");
    assert!(note.contains("narrower eye is open"), "{note}");
    b.find("#overlay");
    b.screenshot("web-result");

    // Log out.
    b.click("header form button");
    assert!(b.text("#notice").contains("logged out"));

    let save = std::env::var_os("KIOSK_SAVE_SCREENS").is_some();
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screens");
    std::fs::create_dir_all(&out).unwrap();
    let shots = std::mem::take(&mut b.shots);
    drop(b);
    for (name, png) in &shots {
        std::fs::write(out.join(format!("{name}.png")), png).unwrap();
        if save {
            let docs = repo().join("docs/screens");
            std::fs::write(docs.join(format!("{name}.png")), png).unwrap();
        }
    }
    eprintln!(
        "browser test: {} screenshots in {}{}; result: {decision}",
        shots.len(),
        out.display(),
        if save { " and docs/screens/" } else { "" }
    );
}
