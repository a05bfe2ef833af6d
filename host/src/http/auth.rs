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
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use tracing::{info, warn};

use super::error::PageError;
use super::html::{csrf_field, esc, page, Viewer};
use super::AppState;
use crate::ingest::now_ms;
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

fn set_cookie(name: &str, value: &str, path: &str, max_age_s: i64) -> String {
    format!("{name}={value}; Path={path}; Max-Age={max_age_s}; HttpOnly; SameSite=Strict")
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

fn login_form(token: &str, notice: Option<(&str, &str)>, name: &str) -> String {
    let notice = notice
        .map(|(class, text)| format!("<p class=\"{class}\" id=\"notice\">{}</p>", esc(text)))
        .unwrap_or_default();
    format!(
        "<h1>Log in</h1>{notice}<form class=\"box\" method=\"post\" action=\"/login\">{}\
         <label>User name <input type=\"text\" name=\"name\" id=\"name\" value=\"{}\" autocomplete=\"username\" required></label>\
         <label>Password <input type=\"password\" name=\"password\" id=\"password\" autocomplete=\"current-password\" required></label>\
         <button class=\"primary\" id=\"login\">Log in</button></form>\
         <p>Accounts are made on the clinic computer with <code>clinic user add NAME</code>.</p>",
        csrf_field(token),
        esc(name)
    )
}

/// The login page, with a fresh login CSRF cookie.
fn login_response(status: StatusCode, notice: Option<(&str, &str)>, name: &str) -> Response {
    let token = users::random_token();
    (
        status,
        [(
            "set-cookie",
            set_cookie(LOGIN_COOKIE, &token, "/login", 3600),
        )],
        Html(page("Log in", None, &login_form(&token, notice, name))),
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
    login_response(StatusCode::OK, notice, "")
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
            StatusCode::BAD_REQUEST,
            Some(("error", "Please give a user name and a password.")),
            &form.name,
        ));
    }
    let ttl = state.web.session_ttl_ms;
    let (name, password) = (form.name.clone(), form.password);
    let token = with_store(&state, move |s| {
        match users::check_login(s, &name, &password)? {
            Some(id) => Ok(Some(users::start_session(s, id, now_ms(), ttl)?)),
            None => Ok(None),
        }
    })
    .await?;
    let Some(token) = token else {
        warn!(user = %form.name, "failed web login");
        return Ok(login_response(
            StatusCode::UNAUTHORIZED,
            Some(("error", &PageError::BadLogin.to_string())),
            &form.name,
        ));
    };
    info!(user = %form.name, "web login");
    let mut response = Redirect::to("/").into_response();
    let h = response.headers_mut();
    let session = set_cookie(SESSION_COOKIE, &token, "/", ttl / 1000);
    let clear = set_cookie(LOGIN_COOKIE, "", "/login", 0);
    for c in [session, clear] {
        if let Ok(v) = c.parse() {
            h.append("set-cookie", v);
        }
    }
    Ok(response)
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
            ("set-cookie", set_cookie(SESSION_COOKIE, "", "/", 0)),
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
        let c = set_cookie(SESSION_COOKIE, "t", "/", 60);
        assert!(
            c.contains("HttpOnly") && c.contains("SameSite=Strict"),
            "{c}"
        );
    }
}
