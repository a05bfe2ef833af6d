//! Logging in and out of the web page, and the [`Auth`] extractor that
//! every page and form handler takes.
//!
//! - The session cookie (`clinic_session`) is HttpOnly and SameSite=Strict,
//!   carries a random token, and expires with its server-side row.
//! - Every POST form has a hidden `csrf` field: the session's token once
//!   logged in; before that, the login form's token is checked against a
//!   short-lived `clinic_login` cookie (double submit), so another site
//!   cannot log a browser into an account of its choosing.

use axum::extract::rejection::FormRejection;
use axum::extract::{ConnectInfo, FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use std::net::{IpAddr, SocketAddr};
use tracing::{info, warn};

use super::error::PageError;
use super::html::{csrf_field, esc, page, Viewer};
use super::AppState;
use crate::ingest::{now_ms, now_ms_u64};
use crate::login_throttle::Throttled;
use crate::store::security::{SecurityEvent, SecurityKind};
use crate::store::Store;
use crate::users::{self, SessionState};

/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "clinic_session";
/// Name of the login form's CSRF cookie.
pub const LOGIN_COOKIE: &str = "clinic_login";

/// Routes: `GET/POST /login`, `POST /logout`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
}

/// Runs `f` on the store on a blocking thread.
pub async fn with_store<T, F>(state: &AppState, f: F) -> Result<T, PageError>
where
    T: Send + 'static,
    F: FnOnce(&mut Store) -> Result<T, PageError> + Send + 'static,
{
    let store = state.store.clone();
    tokio::task::spawn_blocking(move || {
        let mut store = store
            .lock()
            .map_err(|_| PageError::Internal("store lock poisoned".into()))?;
        f(&mut store)
    })
    .await
    .unwrap_or_else(|e| Err(PageError::Internal(format!("page worker failed: {e}"))))
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// A cookie only the server reads, sent back only from its own pages, and,
/// on a clinic serving HTTPS, only over HTTPS (`secure`).
fn set_cookie(name: &str, value: &str, path: &str, max_age_s: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path={path}; Max-Age={max_age_s}; HttpOnly; SameSite=Strict{secure}")
}

fn https(state: &AppState) -> bool {
    state.web.tls_fingerprint.is_some()
}

/// A logged-in user (extracted from the session cookie).
#[derive(Debug, Clone)]
pub struct Auth {
    /// User name.
    pub user: String,
    /// The session's CSRF token.
    pub csrf: String,
    token: String,
}

impl Auth {
    /// For the page header.
    pub fn viewer(&self) -> Viewer<'_> {
        Viewer {
            name: &self.user,
            csrf: &self.csrf,
        }
    }

    /// Refuses a form whose `csrf` field is not this session's token.
    pub fn check_csrf(&self, sent: Option<&str>) -> Result<(), PageError> {
        match sent {
            Some(s) if users::same_secret(s, &self.csrf) => Ok(()),
            _ => Err(PageError::Csrf),
        }
    }
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, PageError> {
        let redirect = parts.method == Method::GET || parts.method == Method::HEAD;
        let Some(token) = cookie(&parts.headers, SESSION_COOKIE).map(str::to_owned) else {
            return Err(PageError::NotLoggedIn {
                expired: false,
                redirect,
            });
        };
        let t = token.clone();
        let resolved =
            with_store(state, move |s| Ok(users::resolve_session(s, &t, now_ms())?)).await?;
        match resolved {
            SessionState::Valid(row) => Ok(Auth {
                user: row.user_name,
                csrf: row.csrf,
                token,
            }),
            SessionState::Expired => Err(PageError::NotLoggedIn {
                expired: true,
                redirect,
            }),
            SessionState::Unknown => Err(PageError::NotLoggedIn {
                expired: false,
                redirect,
            }),
        }
    }
}

/// Query of `GET /login`.
#[derive(Debug, Default, Deserialize)]
pub struct LoginQuery {
    /// Set when a session expired.
    #[serde(default)]
    expired: Option<String>,
    /// Set after logging out.
    #[serde(default)]
    out: Option<String>,
}

fn login_form(
    token: &str,
    notice: Option<(&str, &str)>,
    name: &str,
    fingerprint: Option<&str>,
) -> String {
    let notice = notice
        .map(|(class, text)| format!("<p class=\"{class}\" id=\"notice\">{}</p>", esc(text)))
        .unwrap_or_default();
    // A clinic's own certificate is trusted by comparing this with what the
    // browser shows, before a password is typed.
    let certificate = fingerprint
        .map(|f| {
            format!(
                "<p id=\"certificate\">This page comes from the clinic computer whose HTTPS \
                 certificate has the SHA-256 fingerprint <code id=\"fingerprint\">{}</code>. \
                 If your browser shows another one, do not log in: call the clinic's IT.</p>",
                esc(f)
            )
        })
        .unwrap_or_default();
    format!(
        "<h1>Log in</h1>{notice}<form class=\"box\" method=\"post\" action=\"/login\">{}\
         <label>User name <input type=\"text\" name=\"name\" id=\"name\" value=\"{}\" autocomplete=\"username\" required></label>\
         <label>Password <input type=\"password\" name=\"password\" id=\"password\" autocomplete=\"current-password\" required></label>\
         <button class=\"primary\" id=\"login\">Log in</button></form>\
         <p>Accounts are made on the clinic computer with <code>clinic user add NAME</code>.</p>{certificate}",
        csrf_field(token),
        esc(name)
    )
}

/// The login page, with a fresh login CSRF cookie.
fn login_response(
    state: &AppState,
    status: StatusCode,
    notice: Option<(&str, &str)>,
    name: &str,
) -> Response {
    let token = users::random_token();
    (
        status,
        [(
            "set-cookie",
            set_cookie(LOGIN_COOKIE, &token, "/login", 3600, https(state)),
        )],
        Html(page(
            "Log in",
            None,
            &login_form(&token, notice, name, state.web.tls_fingerprint.as_deref()),
        )),
    )
        .into_response()
}

async fn login_page(
    State(state): State<AppState>,
    headers: HeaderMap,
    query: Result<Query<LoginQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    if let Some(token) = cookie(&headers, SESSION_COOKIE).map(str::to_owned) {
        let valid = with_store(&state, move |s| {
            Ok(users::resolve_session(s, &token, now_ms())?)
        })
        .await;
        if matches!(valid, Ok(SessionState::Valid(_))) {
            return Redirect::to("/").into_response();
        }
    }
    let q = query.map(|q| q.0).unwrap_or_default();
    let notice = if q.expired.is_some() {
        Some(("warn", "Your session has expired: please log in again."))
    } else if q.out.is_some() {
        Some(("ok", "You are logged out."))
    } else {
        None
    };
    login_response(&state, StatusCode::OK, notice, "")
}

/// Fields of the login form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: Option<String>,
}

async fn login(
    State(state): State<AppState>,
    client: ClientAddr,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Result<Response, PageError> {
    let Form(form) = form.map_err(|r| {
        PageError::BadRequest(format!(
            "The login form was not understood: {}",
            r.body_text()
        ))
    })?;
    let expected = cookie(&headers, LOGIN_COOKIE);
    match (expected, form.csrf.as_deref()) {
        (Some(c), Some(f)) if users::same_secret(c, f) => {}
        _ => return Err(PageError::Csrf),
    }
    if form.name.is_empty() || form.password.is_empty() {
        return Ok(login_response(
            &state,
            StatusCode::BAD_REQUEST,
            Some(("error", "Please give a user name and a password.")),
            &form.name,
        ));
    }
    let address = client.0;
    if let Err(wait) = state
        .logins
        .throttle
        .check(&form.name, address, now_ms_u64())
    {
        warn!(user = %form.name, what = %wait.what, retry_after_s = wait.retry_after_s, "login refused: throttled");
        return Ok(throttled_response(&state, &wait, &form.name));
    }
    let Some(user_id) = (match check_password(&state, &form.name, address, form.password).await? {
        Checked::Throttled(wait) => return Ok(throttled_response(&state, &wait, &form.name)),
        Checked::Match(id) => id,
    }) else {
        warn!(user = %form.name, address = ?address, "failed web login");
        record_failed_login(&state, &form.name, address).await?;
        return Ok(login_response(
            &state,
            StatusCode::UNAUTHORIZED,
            Some(("error", &PageError::BadLogin.to_string())),
            &form.name,
        ));
    };
    state.logins.throttle.succeeded(&form.name);
    let ttl = state.web.session_ttl_ms;
    let token = with_store(&state, move |s| {
        Ok(users::start_session(s, user_id, now_ms(), ttl)?)
    })
    .await?;
    info!(user = %form.name, "web login");
    let mut response = Redirect::to("/").into_response();
    let h = response.headers_mut();
    let session = set_cookie(SESSION_COOKIE, &token, "/", ttl / 1000, https(&state));
    let clear = set_cookie(LOGIN_COOKIE, "", "/login", 0, https(&state));
    for c in [session, clear] {
        if let Ok(v) = c.parse() {
            h.append("set-cookie", v);
        }
    }
    Ok(response)
}

/// The client's IP address, where the server knows it (tests that call the
/// router in process have none).
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<IpAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let ext = &parts.extensions;
        let peer = ext
            .get::<ConnectInfo<super::sniff::Peer>>()
            .map(|c| c.0.addr);
        let plain = ext.get::<ConnectInfo<SocketAddr>>().map(|c| c.0);
        Ok(ClientAddr(peer.or(plain).map(|a| a.ip())))
    }
}

/// What a password check found.
enum Checked {
    /// The user's id when the password is theirs.
    Match(Option<i64>),
    /// A wait began while this request queued for a permit.
    Throttled(Throttled),
}

/// Checks `password` for `name`. The row is read under the store's lock;
/// argon2 runs after it is released, on a blocking thread, holding one of
/// [`super::PASSWORD_CHECKS_AT_ONCE`] permits, so password checks never hold
/// up kiosk sync or the async workers. The throttle is asked again once the
/// permit is held: guesses that queued while a wait began are refused
/// without hashing.
async fn check_password(
    state: &AppState,
    name: &str,
    address: Option<IpAddr>,
    password: String,
) -> Result<Checked, PageError> {
    let n = name.to_owned();
    let user = with_store(state, move |s| Ok(s.user(&n)?)).await?;
    let _permit = state
        .logins
        .hashing
        .acquire()
        .await
        .map_err(|_| PageError::Internal("password check pool closed".into()))?;
    if let Err(wait) = state.logins.throttle.check(name, address, now_ms_u64()) {
        return Ok(Checked::Throttled(wait));
    }
    tokio::task::spawn_blocking(move || users::password_matches(user.as_ref(), &password))
        .await
        .map(Checked::Match)
        .map_err(|e| PageError::Internal(format!("password check failed: {e}")))
}

/// Counts the failure and stores it, with any wait it started, as
/// security events.
async fn record_failed_login(
    state: &AppState,
    name: &str,
    address: Option<IpAddr>,
) -> Result<(), PageError> {
    let now = now_ms();
    let waits = state
        .logins
        .throttle
        .failed(name, address, u64::try_from(now).unwrap_or(0));
    let address = address.map(|a| a.to_string()).unwrap_or_default();
    let mut events = vec![SecurityEvent {
        at_ms: now,
        kind: SecurityKind::LoginFailed,
        subject: name.to_owned(),
        address: address.clone(),
        detail: "wrong user name or password".into(),
    }];
    events.extend(waits.into_iter().map(|w| SecurityEvent {
        at_ms: now,
        kind: SecurityKind::LoginThrottled,
        subject: name.to_owned(),
        address: address.clone(),
        detail: format!(
            "{} waits {} s after {} failed logins in a row",
            w.what,
            w.wait_ms.div_ceil(1000),
            w.failures
        ),
    }));
    with_store(state, move |s| {
        for e in &events {
            s.record_security_event(e)?;
        }
        Ok(())
    })
    .await
}

/// 429 with `Retry-After` and the login page saying how long to wait.
fn throttled_response(state: &AppState, wait: &Throttled, name: &str) -> Response {
    let text = format!(
        "Too many wrong passwords for this {}: please wait {} s before trying again.",
        if wait.what.starts_with("account") {
            "account"
        } else {
            "computer"
        },
        wait.retry_after_s
    );
    let mut response = login_response(
        state,
        StatusCode::TOO_MANY_REQUESTS,
        Some(("error", &text)),
        name,
    );
    if let Ok(v) = wait.retry_after_s.to_string().parse() {
        response.headers_mut().insert("retry-after", v);
    }
    response
}

/// Fields of a form that carries only its CSRF token.
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: Option<String>,
}

async fn logout(
    State(state): State<AppState>,
    auth: Auth,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, PageError> {
    let form = form.map(|f| f.0).unwrap_or(CsrfForm { csrf: None });
    auth.check_csrf(form.csrf.as_deref())?;
    let hash = users::token_hash(&auth.token);
    with_store(&state, move |s| Ok(s.delete_session(&hash)?)).await?;
    info!(user = %auth.user, "web logout");
    Ok((
        StatusCode::SEE_OTHER,
        [
            ("location", "/login?out=1".to_string()),
            (
                "set-cookie",
                set_cookie(SESSION_COOKIE, "", "/", 0, https(&state)),
            ),
        ],
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.append("cookie", "a=1; clinic_session=tok; b=2".parse().unwrap());
        h.append("cookie", "clinic_login=l".parse().unwrap());
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie(&h, LOGIN_COOKIE), Some("l"));
        assert_eq!(cookie(&h, "clinic"), None);
    }

    #[test]
    fn session_cookie_is_locked_down() {
        let c = set_cookie(SESSION_COOKIE, "t", "/", 60, false);
        assert!(
            c.contains("HttpOnly") && c.contains("SameSite=Strict") && !c.contains("Secure"),
            "{c}"
        );
        assert!(set_cookie(SESSION_COOKIE, "t", "/", 60, true).ends_with("; Secure"));
    }
}
