//! The clinic web page through its router (tower `oneshot`, no socket):
//! login, sessions and their expiry, CSRF on every form, the dashboard,
//! records and one record's checks, and "classify a photo" with every kind
//! of bad upload answered by a clear message and status, never a panic.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use ed25519_dalek::SigningKey;
use host::http::upload::{PhotoAnalyzer, MAX_UPLOAD_BYTES};
use host::http::{router, AppState};
use host::ingest::{ingest, Via};
use host::store::Store;
use image::{Rgb, RgbImage};
use screening::decision::DISCLAIMER;
use screening::record::{DeviceId, Outcome, Record, RecordBody, RecordHash, SignedRecord};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use tower::ServiceExt;

const USER: &str = "nurse";
const PASSWORD: &str = "a long enough password";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The photo analyzer, loaded once per test binary (tract optimises three networks).
fn analyzer() -> Arc<PhotoAnalyzer> {
    static A: OnceLock<Arc<PhotoAnalyzer>> = OnceLock::new();
    A.get_or_init(|| Arc::new(PhotoAnalyzer::load(&repo().join("models")).unwrap()))
        .clone()
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[9; 32])
}

/// Three signed records of one kiosk: refer, no synkinesis, refer.
fn three_records() -> (DeviceId, Vec<SignedRecord>) {
    let key = key();
    let device = DeviceId::of(&key.verifying_key());
    let mut prev = RecordHash::GENESIS;
    let mut out = Vec::new();
    for seq in 0..3u64 {
        let mut body = RecordBody::example();
        if seq == 1 {
            body.decision.outcome = Outcome::NoSynkinesisDetected;
        }
        let r = Record::new(
            device,
            seq,
            prev,
            1_760_000_000_000 + seq as i64,
            2,
            10,
            body,
        );
        let s = SignedRecord::sign(&r, &key).unwrap();
        prev = s.hash();
        out.push(s);
    }
    (device, out)
}

struct App {
    state: AppState,
    router: Router,
    _dir: tempfile::TempDir,
}

fn app(with_photo: bool) -> App {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("clinic.sqlite")).unwrap();
    host::users::add_user(&mut store, USER, PASSWORD, false, 0).unwrap();
    store
        .enroll(&key().verifying_key(), "ward 3 kiosk", "ward 3", 0)
        .unwrap();
    let (device, records) = three_records();
    ingest(&mut store, device, &records, Via::Http).unwrap();
    let mut state = AppState::new(store, SigningKey::from_bytes(&[1; 32]));
    if with_photo {
        state = state.with_photo(Some(analyzer()));
    }
    App {
        router: router(state.clone()),
        state,
        _dir: dir,
    }
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Answer {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .map_or("", |v| v.to_str().unwrap())
    }

    fn cookies(&self) -> Vec<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_string())
            .collect()
    }

    /// The value of the first hidden `csrf` field.
    fn csrf(&self) -> String {
        let at = self
            .body
            .find("name=\"csrf\" value=\"")
            .expect("a csrf field");
        let rest = &self.body[at + 19..];
        rest[..rest.find('"').unwrap()].to_string()
    }
}

async fn send(app: &App, req: Request<Body>) -> Answer {
    let res = app.router.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn get(path: &str, cookie: Option<&str>) -> Request<Body> {
    let mut b = Request::get(path);
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(Body::empty()).unwrap()
}

fn post_form(path: &str, cookie: Option<&str>, form: &str) -> Request<Body> {
    let mut b =
        Request::post(path).header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(Body::from(form.to_string())).unwrap()
}

fn cookie_value(set_cookies: &[String], name: &str) -> Option<String> {
    set_cookies.iter().find_map(|c| {
        let first = c.split(';').next()?;
        let (k, v) = first.split_once('=')?;
        (k == name).then(|| v.to_string())
    })
}

/// Logs in; returns the `Cookie` header value of the session.
async fn login(app: &App) -> String {
    let page = send(app, get("/login", None)).await;
    assert_eq!(page.status, StatusCode::OK);
    let login_cookie = cookie_value(&page.cookies(), "clinic_login").unwrap();
    let form = format!(
        "name={USER}&password={}&csrf={}",
        PASSWORD.replace(' ', "+"),
        page.csrf()
    );
    let res = send(
        app,
        post_form(
            "/login",
            Some(&format!("clinic_login={login_cookie}")),
            &form,
        ),
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location(), "/");
    let set = res.cookies();
    let session = set
        .iter()
        .find(|c| c.starts_with("clinic_session="))
        .unwrap();
    assert!(
        session.contains("HttpOnly") && session.contains("SameSite=Strict"),
        "{session}"
    );
    format!(
        "clinic_session={}",
        cookie_value(&set, "clinic_session").unwrap()
    )
}

/// Flips one byte of the stored record `sequence`, behind the clinic's back.
fn alter_stored_record(app: &App, sequence: u64) {
    let conn = rusqlite::Connection::open(app._dir.path().join("clinic.sqlite")).unwrap();
    let mut raw: Vec<u8> = conn
        .query_row(
            "SELECT raw FROM records WHERE sequence = ?1",
            [sequence as i64],
            |r| r.get(0),
        )
        .unwrap();
    raw[20] ^= 1;
    conn.execute(
        "UPDATE records SET raw = ?1 WHERE sequence = ?2",
        rusqlite::params![raw, sequence as i64],
    )
    .unwrap();
}

fn multipart(csrf: Option<&str>, file: Option<(&str, &[u8])>) -> (String, Vec<u8>) {
    let boundary = "----clinic-test-boundary-7d1f";
    let mut body = Vec::new();
    if let Some(c) = csrf {
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{c}\r\n")
                .as_bytes(),
        );
    }
    if let Some((content_type, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"p\"\r\n\
                 Content-Type: {content_type}\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

fn upload(cookie: &str, csrf: Option<&str>, file: Option<(&str, &[u8])>) -> Request<Body> {
    let (content_type, body) = multipart(csrf, file);
    Request::post("/upload")
        .header(header::COOKIE, cookie)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap()
}

fn png(img: &RgbImage) -> Vec<u8> {
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[tokio::test]
async fn pages_need_a_login_and_the_login_needs_its_csrf_token() {
    let app = app(false);
    for path in ["/", "/records", "/upload", "/records.csv"] {
        let res = send(&app, get(path, None)).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{path}");
        assert_eq!(res.location(), "/login", "{path}");
    }
    // A forged cookie is no better than none.
    let res = send(&app, get("/", Some("clinic_session=made-up"))).await;
    assert_eq!(res.location(), "/login");

    let page = send(&app, get("/login", None)).await;
    let token = page.csrf();
    let good = format!("name={USER}&password={}", PASSWORD.replace(' ', "+"));
    // No token, or a token without its cookie: 403 with a sentence.
    for (cookie, form) in [
        (Some(format!("clinic_login={token}")), good.clone()),
        (None, format!("{good}&csrf={token}")),
        (
            Some("clinic_login=other".to_string()),
            format!("{good}&csrf={token}"),
        ),
    ] {
        let res = send(&app, post_form("/login", cookie.as_deref(), &form)).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
        assert!(res.body.contains("security token"), "{}", res.body);
        assert!(res
            .cookies()
            .iter()
            .all(|c| !c.starts_with("clinic_session=")));
    }
    // Wrong password: 401, the form again, no session.
    let res = send(
        &app,
        post_form(
            "/login",
            Some(&format!("clinic_login={token}")),
            &format!("name={USER}&password=wrong+password&csrf={token}"),
        ),
    )
    .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(res.body.contains("Wrong user name or password"));
    assert!(res
        .cookies()
        .iter()
        .all(|c| !c.starts_with("clinic_session=")));
    // A body that is not a form: 400, said plainly.
    let res = send(
        &app,
        Request::post("/login")
            .header(header::CONTENT_TYPE, "text/plain")
            .header(header::COOKIE, format!("clinic_login={token}"))
            .body(Body::from("name=x"))
            .unwrap(),
    )
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert!(
        res.body.contains("login form was not understood"),
        "{}",
        res.body
    );

    let cookie = login(&app).await;
    let res = send(&app, get("/", Some(&cookie))).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.contains(USER));
    // The login page sends a logged-in browser to the dashboard.
    assert_eq!(
        send(&app, get("/login", Some(&cookie))).await.location(),
        "/"
    );
}

#[tokio::test]
async fn dashboard_counts_and_disclaimer() {
    let app = app(false);
    let cookie = login(&app).await;
    let res = send(&app, get("/", Some(&cookie))).await;
    assert_eq!(res.status, StatusCode::OK);
    let b = &res.body;
    assert!(b.contains("<b id=\"n-devices\">1</b>"), "{b}");
    assert!(b.contains("<b id=\"n-records\">3</b>"));
    assert!(b.contains("<b id=\"n-refer\" class=\"refer\">2</b>"));
    assert!(b.contains("<b id=\"n-ok\" class=\"ok\">1</b>"));
    assert!(
        b.contains("ward 3 kiosk") && b.contains("(http)"),
        "last sync shown"
    );
    assert!(b.contains(DISCLAIMER));
    assert!(
        b.contains("<svg id=\"plot\"") && b.contains("2 of 3 referred"),
        "{b}"
    );
    assert!(!b.contains("<script"), "no script on the pages");
    let csp = res.headers.get("content-security-policy").unwrap();
    assert!(csp.to_str().unwrap().contains("default-src 'none'"));
}

#[tokio::test]
async fn records_list_filters_and_one_record_is_rechecked() {
    let app = app(false);
    let cookie = login(&app).await;
    let device = DeviceId::of(&key().verifying_key()).to_hex();
    let res = send(&app, get("/records", Some(&cookie))).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body.matches(&format!("/records/{device}/")).count(), 3);
    assert!(res.body.contains(DISCLAIMER));
    let res = send(
        &app,
        get("/records?outcome=no_synkinesis_detected", Some(&cookie)),
    )
    .await;
    assert_eq!(res.body.matches(&format!("/records/{device}/")).count(), 1);
    let res = send(&app, get("/records?outcome=maybe", Some(&cookie))).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("Unknown outcome"));
    let res = send(&app, get("/records?device=xyz", Some(&cookie))).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    let res = send(&app, get("/records.csv?outcome=refer", Some(&cookie))).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body.lines().count(), 3, "header and two refer rows");

    let res = send(&app, get(&format!("/records/{device}/1"), Some(&cookie))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let b = &res.body;
    assert!(b.contains("id=\"signature\">valid"), "{b}");
    assert!(b.contains("id=\"chain\">linked"), "{b}");
    assert!(b.contains("No synkinesis detected") && b.contains("big_smile"));
    assert!(b.contains("palpebral_fissure_ratio 0.620"), "{b}");
    assert!(b.contains(DISCLAIMER));
    for (path, status) in [
        (format!("/records/{device}/7"), StatusCode::NOT_FOUND),
        (format!("/records/{device}/x"), StatusCode::BAD_REQUEST),
        ("/records/abc/1".to_string(), StatusCode::BAD_REQUEST),
    ] {
        let res = send(&app, get(&path, Some(&cookie))).await;
        assert_eq!(res.status, status, "{path}");
        assert!(res.body.contains("id=\"error\""), "{path}: {}", res.body);
    }

    // One byte of the stored record altered behind the clinic's back: the page says so.
    alter_stored_record(&app, 2);
    let res = send(&app, get(&format!("/records/{device}/2"), Some(&cookie))).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        res.body.contains("id=\"signature\">NOT VALID"),
        "{}",
        res.body
    );
}

#[tokio::test]
async fn a_patient_history_lists_and_plots_every_screening_and_refuses_bad_requests() {
    let app = app(false);
    let res = send(&app, get("/patient?ref=P-0001", None)).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "a login comes first");
    let cookie = login(&app).await;
    // The records list links each patient to the history.
    let list = send(&app, get("/records", Some(&cookie))).await;
    assert_eq!(list.body.matches("href=\"/patient?ref=P-0001\"").count(), 3);

    let res = send(&app, get("/patient?ref=P-0001", Some(&cookie))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let b = &res.body;
    assert!(b.contains(DISCLAIMER));
    assert!(b.contains("3 screenings"), "{b}");
    let table = &b[b.find("id=\"history\"").expect("the table")..];
    assert_eq!(
        table.matches("<tr>").count(),
        4,
        "header and three screenings"
    );
    assert!(
        table.contains("0.620"),
        "the big smile's eye ratio: {table}"
    );
    assert!(b.contains("id=\"score-plot\"") && b.contains("id=\"ratio-plot\""));
    assert_eq!(
        b.matches("class=\"same\"").count(),
        3,
        "one model: every dot joined"
    );
    assert!(!b.contains("class=\"other\""));

    let csv = send(&app, get("/patient.csv?ref=P-0001", Some(&cookie))).await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(csv.body.lines().count(), 4, "{}", csv.body);
    assert!(csv
        .body
        .lines()
        .next()
        .unwrap()
        .contains("big_smile_fissure_ratio"));

    for (path, status, words) in [
        ("/patient", StatusCode::BAD_REQUEST, "Name the patient"),
        ("/patient?ref=", StatusCode::BAD_REQUEST, "empty"),
        ("/patient?ref=P-9999", StatusCode::NOT_FOUND, "No screening"),
        (
            "/patient.csv?ref=%3Cb%3E",
            StatusCode::NOT_FOUND,
            "&lt;b&gt;",
        ),
    ] {
        let res = send(&app, get(path, Some(&cookie))).await;
        assert_eq!(res.status, status, "{path}: {}", res.body);
        assert!(res.body.contains(words), "{path}: {}", res.body);
    }

    // A record altered behind the clinic's back stays listed, without figures.
    alter_stored_record(&app, 0);
    let res = send(&app, get("/patient?ref=P-0001", Some(&cookie))).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body.matches("NOT VALID").count(), 1, "{}", res.body);
    assert_eq!(res.body.matches("class=\"same\"").count(), 2);
}

#[test]
fn clinic_export_patient_writes_the_history_and_refuses_an_unknown_reference() {
    let app = app(false);
    let data = host::admin::DataArgs {
        db: app._dir.path().join("clinic.sqlite"),
        host_key: app._dir.path().join("host.key"),
    };
    let out = app._dir.path().join("p.csv");
    let said = host::admin::export_patient(&data, "P-0001", Some(&out)).unwrap();
    assert_eq!(said, "3 screenings of P-0001 exported\n");
    let csv = std::fs::read_to_string(&out).unwrap();
    assert_eq!(csv.lines().count(), 4);
    assert!(csv.lines().all(|l| !l.contains("NOT VALID")));
    let err = host::admin::export_patient(&data, "P-0002", None).unwrap_err();
    assert!(
        err.to_string().contains("no stored screening names"),
        "{err}"
    );
}

#[tokio::test]
async fn logout_needs_csrf_and_ends_the_session() {
    let app = app(false);
    let cookie = login(&app).await;
    let page = send(&app, get("/", Some(&cookie))).await;
    let res = send(&app, post_form("/logout", Some(&cookie), "")).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = send(&app, post_form("/logout", Some(&cookie), "csrf=wrong")).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = send(
        &app,
        post_form("/logout", Some(&cookie), &format!("csrf={}", page.csrf())),
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(res.location(), "/login?out=1");
    assert_eq!(
        send(&app, get("/", Some(&cookie))).await.location(),
        "/login"
    );
}

#[tokio::test]
async fn an_expired_session_is_told_so() {
    let app = app(false);
    let cookie = login(&app).await;
    let page = send(&app, get("/upload", Some(&cookie))).await;
    let csrf = page.csrf();
    let token = cookie.trim_start_matches("clinic_session=");
    app.state
        .store
        .lock()
        .unwrap()
        .set_session_expiry(&host::users::token_hash(token), 1)
        .unwrap();
    // A form posted with an expired session: 401 and a sentence.
    let res = send(
        &app,
        upload(&cookie, Some(&csrf), Some(("image/png", b"x"))),
    )
    .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.body);
    assert!(res.body.contains("session has expired"), "{}", res.body);
    // The session is gone now; a page view goes to the login page.
    let res = send(&app, get("/", Some(&cookie))).await;
    assert_eq!(res.location(), "/login");
    let res = send(&app, get("/login?expired=1", None)).await;
    assert!(res.body.contains("Your session has expired"));
}

#[tokio::test]
async fn bad_uploads_get_a_clear_status() {
    let app = app(true);
    let cookie = login(&app).await;
    let csrf = send(&app, get("/upload", Some(&cookie))).await.csrf();
    let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec();
    // 7000 x 7000 declared in a few dozen bytes: refused from its header.
    let huge = screening::testing::png_header(7000, 7000);
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (
            upload(
                &cookie,
                None,
                Some(("image/png", &png(&RgbImage::new(4, 4)))),
            ),
            StatusCode::FORBIDDEN,
            "security token",
        ),
        (
            upload(
                &cookie,
                Some("forged"),
                Some(("image/png", &png(&RgbImage::new(4, 4)))),
            ),
            StatusCode::FORBIDDEN,
            "security token",
        ),
        (
            upload(&cookie, Some(&csrf), None),
            StatusCode::BAD_REQUEST,
            "No photo",
        ),
        (
            upload(&cookie, Some(&csrf), Some(("image/png", b""))),
            StatusCode::BAD_REQUEST,
            "No photo",
        ),
        (
            upload(&cookie, Some(&csrf), Some(("image/gif", &gif))),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Only PNG and JPEG",
        ),
        (
            upload(
                &cookie,
                Some(&csrf),
                Some(("image/png", b"MZ\x90\x00 not a png at all")),
            ),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "does not start like an image",
        ),
        (
            upload(
                &cookie,
                Some(&csrf),
                Some(("image/png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR truncated")),
            ),
            StatusCode::BAD_REQUEST,
            "cannot be read",
        ),
        (
            upload(
                &cookie,
                Some(&csrf),
                Some(("image/png", &vec![0x89; MAX_UPLOAD_BYTES + 100_000])),
            ),
            StatusCode::PAYLOAD_TOO_LARGE,
            "larger than",
        ),
        (
            upload(&cookie, Some(&csrf), Some(("image/png", &huge))),
            StatusCode::PAYLOAD_TOO_LARGE,
            "7000×7000 pixels",
        ),
        (
            Request::post("/upload")
                .header(header::COOKIE, &cookie)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::from(format!("csrf={csrf}")))
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "multipart/form-data",
        ),
        (
            Request::post("/upload")
                .header(header::COOKIE, &cookie)
                .header(header::CONTENT_TYPE, "multipart/form-data; boundary=x")
                .body(Body::from(
                    "--x\r\nContent-Disposition: form-data; name=\"photo\"\r\n\r\nno end",
                ))
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "not understood",
        ),
    ];
    for (i, (req, status, text)) in cases.into_iter().enumerate() {
        let res = send(&app, req).await;
        assert_eq!(res.status, status, "case {i}: {}", res.body);
        assert!(res.body.contains(text), "case {i}: {}", res.body);
        assert!(res.body.contains("id=\"error\""), "case {i}: an error page");
    }
}

#[tokio::test]
async fn a_photo_is_aligned_and_classified_or_refused_with_the_reason() {
    let app = app(true);
    let cookie = login(&app).await;
    let csrf = send(&app, get("/upload", Some(&cookie))).await.csrf();
    let astronaut = std::fs::read(repo().join("tests/data/astronaut.png")).unwrap();
    let res = send(
        &app,
        upload(&cookie, Some(&csrf), Some(("image/png", &astronaut))),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let b = &res.body;
    assert!(b.contains(DISCLAIMER));
    assert!(b.contains("id=\"gate\">The quality gate accepts"), "{b}");
    assert!(
        b.contains("<img id=\"aligned\""),
        "the standard view is shown"
    );
    assert!(
        b.contains("Refer to a facial palsy specialist") || b.contains("No synkinesis detected"),
        "a decision against the threshold: {b}"
    );
    assert!(
        b.contains("id=\"probability\">Probability of synkinesis <b>0."),
        "{b}"
    );
    assert!(
        b.contains("<img id=\"overlay\""),
        "the activation map is shown"
    );

    let jpeg = std::fs::read(repo().join("tests/data/grace_hopper.jpg")).unwrap();
    let res = send(
        &app,
        upload(&cookie, Some(&csrf), Some(("image/jpeg", &jpeg))),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.contains("<img id=\"aligned\""));

    // Refusals name the gate's reason.
    let dark = png(&RgbImage::new(320, 240));
    let res = send(
        &app,
        upload(&cookie, Some(&csrf), Some(("image/png", &dark))),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.contains("too dark"), "{}", res.body);
    assert!(!res.body.contains("id=\"probability\""));
    assert!(res.body.contains(DISCLAIMER));
    let grey = png(&RgbImage::from_pixel(320, 240, Rgb([128, 128, 128])));
    let res = send(
        &app,
        upload(&cookie, Some(&csrf), Some(("image/png", &grey))),
    )
    .await;
    assert!(res.body.contains("no face"), "{}", res.body);
    let a = image::load_from_memory(&astronaut).unwrap().to_rgb8();
    let tile = image::imageops::crop_imm(&a, 124, 28, 200, 200).to_image();
    let mut two = RgbImage::from_pixel(520, 260, Rgb([128, 128, 128]));
    image::imageops::overlay(&mut two, &tile, 20, 30);
    image::imageops::overlay(&mut two, &tile, 300, 30);
    let res = send(
        &app,
        upload(&cookie, Some(&csrf), Some(("image/png", &png(&two)))),
    )
    .await;
    assert!(res.body.contains("2 faces"), "{}", res.body);
}

#[tokio::test]
async fn garbage_never_makes_a_server_error() {
    let app = app(true);
    let cookie = login(&app).await;
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..200 {
        let len = (next() % 600) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        let (path, ctype) = match i % 4 {
            0 => ("/login", "application/x-www-form-urlencoded"),
            1 => ("/logout", "application/x-www-form-urlencoded"),
            2 => ("/upload", "multipart/form-data; boundary=abc"),
            _ => ("/upload", "image/png"),
        };
        let req = Request::post(path)
            .header(header::COOKIE, &cookie)
            .header(header::CONTENT_TYPE, ctype)
            .body(Body::from(bytes))
            .unwrap();
        let res = send(&app, req).await;
        assert!(
            res.status.is_client_error() || res.status.is_redirection(),
            "{path} answered {}: {}",
            res.status,
            res.body
        );
    }
}

#[test]
fn clinic_user_add_reads_the_password_from_stdin() {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("c.sqlite");
    let run = |name: &str, password: &str| {
        let mut child = Command::new(env!("CARGO_BIN_EXE_clinic"))
            .args(["user", "add", name, "--db"])
            .arg(&db)
            .arg("--host-key")
            .arg(dir.path().join("host.key"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
        child.wait_with_output().unwrap()
    };
    let out = run("ana", "short");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("passwords are"));
    let out = run("ana", PASSWORD);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run("ana", PASSWORD);
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));
    let store = Store::open(&db).unwrap();
    let hash = store.user("ana").unwrap().unwrap().password_hash;
    assert!(hash.starts_with("$argon2id$") && !hash.contains(PASSWORD));
    assert!(host::users::check_login(&store, "ana", PASSWORD)
        .unwrap()
        .is_some());
}

/// Posts one login try of `password` with a fresh login token.
async fn try_login(app: &App, password: &str) -> Answer {
    let page = send(app, get("/login", None)).await;
    let token = page.csrf();
    let login_cookie = cookie_value(&page.cookies(), "clinic_login").unwrap();
    send(
        app,
        post_form(
            "/login",
            Some(&format!("clinic_login={login_cookie}")),
            &format!(
                "name={USER}&password={}&csrf={token}",
                password.replace(' ', "+")
            ),
        ),
    )
    .await
}

#[tokio::test]
async fn wrong_passwords_are_throttled_and_shown_with_refused_records() {
    let app = app(false);
    let policy = host::login_throttle::ThrottlePolicy::default();
    for _ in 0..policy.free_per_account {
        let res = try_login(&app, "wrong password").await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.body);
    }
    // The next try waits, whatever the password: even the right one.
    for password in ["wrong password", PASSWORD] {
        let res = try_login(&app, password).await;
        assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.body);
        let wait: u64 = res.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(
            (1..=policy.first_wait_ms / 1000).contains(&wait),
            "Retry-After {wait}"
        );
        assert!(
            res.body
                .contains("Too many wrong passwords for this account"),
            "{}",
            res.body
        );
        assert!(res
            .cookies()
            .iter()
            .all(|c| !c.starts_with("clinic_session=")));
    }

    // A forked record from the enrolled kiosk: refused, and "last sync"
    // stays where the real delivery left it.
    let (device, records) = three_records();
    let mut forked = RecordBody::example();
    forked.decision.outcome = Outcome::NoSynkinesisDetected;
    let fork = Record::new(
        device,
        1,
        records[0].hash(),
        1_760_000_000_500,
        2,
        11,
        forked,
    );
    let fork = SignedRecord::sign(&fork, &key()).unwrap();
    {
        let mut store = app.state.store.lock().unwrap();
        let before = store.devices().unwrap()[0].last_sync.clone();
        let report = ingest(&mut store, device, &[fork], Via::Usb).unwrap();
        assert!(report.refused.is_some());
        assert_eq!(store.devices().unwrap()[0].last_sync, before);
    }

    // Wait out the throttle, then log in and look.
    tokio::time::sleep(std::time::Duration::from_millis(policy.first_wait_ms + 100)).await;
    let cookie = login(&app).await;
    let res = send(&app, get("/security", Some(&cookie))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body.contains("id=\"security-events\""));
    let rows = res.body.matches("<tr class=\"event\">").count();
    // Five failures, the wait the fifth started, the fork; throttled tries
    // are refused before a password is checked and are not counted again.
    assert_eq!(rows, 7, "{}", res.body);
    assert_eq!(res.body.matches("<td>login failed</td>").count(), 5);
    assert!(res.body.contains("<td>login throttled</td>"));
    assert!(res.body.contains("<td>records refused</td>"));
    assert!(res.body.contains("ward 3 kiosk"));
    // The page needs a login like every other.
    let res = send(&app, get("/security", None)).await;
    assert_eq!(res.location(), "/login");
}
