//! `/security`: what was refused at the clinic's door (failed and throttled
//! logins, unproven and refused sync batches, refused USB bundles, unknown
//! kiosks), newest
//! first, for the people who look after the clinic.

use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use super::auth::{with_store, Auth};
use super::error::PageError;
use super::html::{esc, page, time};
use super::AppState;

/// Events the page lists at most.
pub const MAX_SHOWN: usize = 200;

/// Routes of the security page.
pub fn router() -> Router<AppState> {
    Router::new().route("/security", get(security_page))
}

async fn security_page(State(state): State<AppState>, auth: Auth) -> Result<Response, PageError> {
    let events = with_store(&state, |s| Ok(s.security_events(MAX_SHOWN)?)).await?;
    let mut body = format!(
        "<h1>Security events</h1><p>The latest {MAX_SHOWN} refusals: wrong passwords, accounts or \
         computers made to wait, sync batches an enrolled kiosk did not sign over a fresh \
         challenge (a replay, or someone probing), records a kiosk's signature or chain did not \
         vouch for, and kiosks that are not enrolled. Many of them from one address, or records refused from a \
         kiosk you know, are worth a look by the clinic's IT.</p>\
         <table id=\"security-events\"><tr><th>When</th><th>What</th><th>Account or kiosk</th>\
         <th>From</th><th>Detail</th></tr>"
    );
    if events.is_empty() {
        body.push_str("<tr><td colspan=\"5\">Nothing has been refused.</td></tr>");
    }
    for e in &events {
        body.push_str(&format!(
            "<tr class=\"event\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&time(e.at_ms)),
            esc(&e.kind),
            esc(&e.subject),
            esc(&e.address),
            esc(&e.detail)
        ));
    }
    body.push_str("</table>");
    Ok(Html(page("Security events", Some(&auth.viewer()), &body)).into_response())
}
