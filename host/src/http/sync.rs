//! The sync endpoint: `POST /api/v1/hello` (the host proves it holds the
//! key the kiosk pinned, vouches for its sealing key and hands out the
//! challenge of the first batch) and `POST /api/v1/sync` (a sealed batch of
//! signed records in, a sealed host-signed acknowledgement and the next
//! challenge out; see [`screening::record::seal`]). Bodies are `postcard`
//! bytes, limited to [`MAX_BATCH_BYTES`]; malformed or unopenable ones get a
//! 400 with a plain message. A batch from a kiosk that is not enrolled, or
//! one its enrolled key did not sign over an open challenge, gets a 403 and
//! a security event, and nothing else: no acknowledgement, no "last sync".
//!
//! [`handle_batch`] and [`handle_hello`] hold the logic without HTTP, so
//! fault-injecting tests can drive them in process.

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use ed25519_dalek::SigningKey;
use screening::record::seal::ClinicSecret;
use screening::record::wire::{
    Hello, SyncBatch, SyncResponse, HELLO_PATH, MAX_BATCH_BYTES, SYNC_PATH,
};
use tracing::warn;

use super::auth::ClientAddr;
use super::error::ApiError;
use super::AppState;
use crate::challenges::Challenges;
use crate::ingest::{
    acknowledge, ingest_from, now_ms, now_ms_u64, unknown_kiosk_event, IngestError, Via,
};
use crate::store::security::{SecurityEvent, SecurityKind};
use crate::store::Store;

/// Routes of the sync endpoint.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(SYNC_PATH, post(sync))
        .route(HELLO_PATH, post(hello))
        .layer(DefaultBodyLimit::max(MAX_BATCH_BYTES))
}

/// Opens one sealed [`SyncBatch`], verifies and stores it; returns the
/// sealed [`SyncResponse`].
pub fn handle_batch(
    store: &mut Store,
    challenges: &Challenges,
    host_key: &SigningKey,
    body: &[u8],
    origin: &str,
) -> Result<Vec<u8>, ApiError> {
    let (plain, session) = ClinicSecret::derive(host_key)
        .open_request(body)
        .map_err(|e| {
            warn!(bytes = body.len(), error = %e, "refused a sync body that does not open");
            ApiError::BadRequest(format!("malformed sync batch: {e}"))
        })?;
    let answer = handle_plain_batch(store, challenges, host_key, &plain, origin)?;
    Ok(session.seal_answer(&answer))
}

/// [`handle_batch`] after the envelope is open: plain batch in, plain response out.
pub fn handle_plain_batch(
    store: &mut Store,
    challenges: &Challenges,
    host_key: &SigningKey,
    body: &[u8],
    origin: &str,
) -> Result<Vec<u8>, ApiError> {
    let batch = SyncBatch::decode(body).map_err(|e| {
        warn!(bytes = body.len(), error = %e, "refused a malformed sync body");
        ApiError::BadRequest(format!("malformed sync batch: {e}"))
    })?;
    prove(store, challenges, &batch, origin)?;
    let report = ingest_from(store, batch.device, &batch.records, Via::Http, origin)?;
    let response = SyncResponse {
        ack: acknowledge(batch.device, report.head, host_key),
        stored: report.stored,
        duplicates: report.duplicates,
        refused: report.refused.map(|e| e.to_string()),
        next_challenge: challenges.issue(now_ms_u64()),
    };
    Ok(response.encode())
}

/// Refuses, with a security event, a batch that its enrolled kiosk did not
/// sign over a challenge this clinic has open; spends the challenge of one
/// it did. Nothing else is read or changed before this passes.
fn prove(
    store: &mut Store,
    challenges: &Challenges,
    batch: &SyncBatch,
    origin: &str,
) -> Result<(), ApiError> {
    let now = now_ms();
    let Some(dev) = store.device(batch.device)? else {
        warn!(device = %batch.device, %origin, "refused a sync batch from a kiosk that is not enrolled");
        store.record_security_event(&unknown_kiosk_event(
            batch.device,
            batch.records.len(),
            Via::Http,
            origin,
            now,
        ))?;
        return Err(IngestError::UnknownDevice(batch.device).into());
    };
    let at = u64::try_from(now).unwrap_or(0);
    let unproven = if !batch.proven_by(&dev.key) {
        Some("the batch is not signed by the enrolled kiosk's key".to_string())
    } else {
        // Checked only after the signature, so a stranger who saw a
        // challenge cannot spend it for the kiosk.
        challenges
            .take(&batch.challenge, at)
            .err()
            .map(|e| e.to_string())
    };
    let Some(reason) = unproven else {
        return Ok(());
    };
    warn!(device = %batch.device, name = %dev.name, %origin, %reason, "refused an unproven sync batch");
    store.record_security_event(&SecurityEvent {
        at_ms: now,
        kind: SecurityKind::SyncUnproven,
        subject: format!("{} ({})", batch.device, dev.name),
        address: origin.to_string(),
        detail: format!("{} record(s): {reason}", batch.records.len()),
    })?;
    Err(ApiError::Forbidden(format!(
        "sync refused: {reason}; nothing was stored or acknowledged"
    )))
}

/// Answers one encoded [`Hello`] with the host's signature over its nonce,
/// its sealing key and a fresh challenge.
pub fn handle_hello(
    challenges: &Challenges,
    host_key: &SigningKey,
    body: &[u8],
) -> Result<Vec<u8>, ApiError> {
    let hello = Hello::decode(body).map_err(|e| {
        warn!(bytes = body.len(), error = %e, "refused a malformed hello");
        ApiError::BadRequest(format!("malformed hello: {e}"))
    })?;
    Ok(hello
        .answer(host_key, challenges.issue(now_ms_u64()))
        .encode())
}

fn octets(bytes: Vec<u8>) -> Response {
    ([("content-type", "application/octet-stream")], bytes).into_response()
}

fn log_rejection(body: Result<Bytes, BytesRejection>) -> Result<Bytes, BytesRejection> {
    body.inspect_err(|rejection| {
        warn!(status = %rejection.status(), reason = %rejection.body_text(), "refused a sync body");
    })
}

async fn sync(
    State(state): State<AppState>,
    client: ClientAddr,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match log_rejection(body) {
        Ok(b) => b,
        Err(rejection) => return rejection.into_response(),
    };
    let result = tokio::task::spawn_blocking(move || {
        let mut store = state
            .store
            .lock()
            .map_err(|_| ApiError::Internal("store lock poisoned".into()))?;
        let origin = client.0.map(|a| a.to_string()).unwrap_or_default();
        handle_batch(
            &mut store,
            &state.challenges,
            &state.host_key,
            &body,
            &origin,
        )
    })
    .await
    .unwrap_or_else(|e| Err(ApiError::Internal(format!("sync worker failed: {e}"))));
    match result {
        Ok(bytes) => octets(bytes),
        Err(e) => e.into_response(),
    }
}

async fn hello(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    match log_rejection(body) {
        Ok(body) => match handle_hello(&state.challenges, &state.host_key, &body) {
            Ok(bytes) => octets(bytes),
            Err(e) => e.into_response(),
        },
        Err(rejection) => rejection.into_response(),
    }
}
