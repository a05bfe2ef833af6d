//! The sync endpoint: `POST /api/v1/hello` (the host proves it holds the
//! key the kiosk pinned, and vouches for its sealing key) and
//! `POST /api/v1/sync` (a sealed batch of signed records in, a sealed
//! host-signed acknowledgement out; see [`screening::record::seal`]). Bodies
//! are `postcard` bytes, limited to [`MAX_BATCH_BYTES`]; malformed or
//! unopenable ones get a 400 with a plain message, unenrolled kiosks a 403.
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

use super::error::ApiError;
use super::AppState;
use crate::ingest::{acknowledge, ingest, Via};
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
    host_key: &SigningKey,
    body: &[u8],
) -> Result<Vec<u8>, ApiError> {
    let (plain, session) = ClinicSecret::derive(host_key)
        .open_request(body)
        .map_err(|e| {
            warn!(bytes = body.len(), error = %e, "refused a sync body that does not open");
            ApiError::BadRequest(format!("malformed sync batch: {e}"))
        })?;
    let answer = handle_plain_batch(store, host_key, &plain)?;
    Ok(session.seal_answer(&answer))
}

/// [`handle_batch`] after the envelope is open: plain batch in, plain response out.
pub fn handle_plain_batch(
    store: &mut Store,
    host_key: &SigningKey,
    body: &[u8],
) -> Result<Vec<u8>, ApiError> {
    let batch = SyncBatch::decode(body).map_err(|e| {
        warn!(bytes = body.len(), error = %e, "refused a malformed sync body");
        ApiError::BadRequest(format!("malformed sync batch: {e}"))
    })?;
    let report = ingest(store, batch.device, &batch.records, Via::Http)?;
    let response = SyncResponse {
        ack: acknowledge(batch.device, report.head, host_key),
        stored: report.stored,
        duplicates: report.duplicates,
        refused: report.refused.map(|e| e.to_string()),
    };
    Ok(response.encode())
}

/// Answers one encoded [`Hello`] with the host's signature over its nonce
/// and sealing key.
pub fn handle_hello(host_key: &SigningKey, body: &[u8]) -> Result<Vec<u8>, ApiError> {
    let hello = Hello::decode(body).map_err(|e| {
        warn!(bytes = body.len(), error = %e, "refused a malformed hello");
        ApiError::BadRequest(format!("malformed hello: {e}"))
    })?;
    Ok(hello.answer(host_key).encode())
}

fn octets(bytes: Vec<u8>) -> Response {
    ([("content-type", "application/octet-stream")], bytes).into_response()
}

fn log_rejection(body: Result<Bytes, BytesRejection>) -> Result<Bytes, BytesRejection> {
    body.inspect_err(|rejection| {
        warn!(status = %rejection.status(), reason = %rejection.body_text(), "refused a sync body");
    })
}

async fn sync(State(state): State<AppState>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match log_rejection(body) {
        Ok(b) => b,
        Err(rejection) => return rejection.into_response(),
    };
    let result = tokio::task::spawn_blocking(move || {
        let mut store = state
            .store
            .lock()
            .map_err(|_| ApiError::Internal("store lock poisoned".into()))?;
        handle_batch(&mut store, &state.host_key, &body)
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
        Ok(body) => match handle_hello(&state.host_key, &body) {
            Ok(bytes) => octets(bytes),
            Err(e) => e.into_response(),
        },
        Err(rejection) => rejection.into_response(),
    }
}
