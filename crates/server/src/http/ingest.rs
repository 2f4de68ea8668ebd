//! Ingest endpoints: `POST /v1/events` (cartback events: one, an array, or NDJSON),
//! `POST /v1/segment` (Segment `track` / `batch`), `POST /v1/webhooks/shopify` (HMAC
//! verified; checkout and order topics are events, product topics stock levels). Valid
//! records are stored before the answer; invalid ones are listed by line and field. A body
//! where nothing is valid gets 400.

use super::error::ApiError;
use super::{AppState, blocking, body_error};
use crate::auth::Scope;
use crate::engine::IngestOutcome;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use cartback_core::Event;
use cartback_ingest::{
    Format, ParseOptions, Rejection, parse_json_payload, parse_shopify, parse_shopify_stock,
};
use hmac::{Hmac, KeyInit, Mac};
use serde::Serialize;
use sha2::Sha256;
use std::sync::atomic::Ordering;

#[derive(Serialize)]
pub struct IngestResponse {
    pub accepted: u64,
    pub duplicates: u64,
    pub rejected: usize,
    pub skipped: u32,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rejections: Vec<Rejection>,
}

pub async fn events(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<IngestResponse>, ApiError> {
    state.authorize(&headers, Scope::Ingest)?;
    ingest_body(state, Format::Ndjson, body.map_err(body_error)?).await
}

pub async fn segment(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<IngestResponse>, ApiError> {
    state.authorize(&headers, Scope::Ingest)?;
    ingest_body(state, Format::Segment, body.map_err(body_error)?).await
}

async fn ingest_body(
    state: AppState,
    format: Format,
    body: Bytes,
) -> Result<Json<IngestResponse>, ApiError> {
    let started = std::time::Instant::now();
    let options = ParseOptions::at(state.engine.now());
    let batch = parse_json_payload(format, &body, &options).map_err(|e| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_payload", e.to_string()).field("body")
    })?;
    state
        .metrics
        .events_rejected
        .fetch_add(batch.rejections.len() as u64, Ordering::Relaxed);
    if batch.events.is_empty() && !batch.rejections.is_empty() {
        let first = &batch.rejections[0];
        let mut error = ApiError::new(StatusCode::BAD_REQUEST, "invalid_events", first.to_string());
        error.field = first.field.clone().or(Some("body".into()));
        error.rejections = batch.rejections;
        state
            .metrics
            .requests_refused
            .fetch_add(1, Ordering::Relaxed);
        return Err(error);
    }
    let outcome = store_events(&state, batch.events).await?;
    state
        .metrics
        .ingest_latency
        .observe(started.elapsed().as_secs_f64());
    Ok(Json(IngestResponse {
        accepted: outcome.accepted,
        duplicates: outcome.duplicates,
        rejected: batch.rejections.len(),
        skipped: batch.skipped,
        rejections: batch.rejections,
    }))
}

async fn store_events(state: &AppState, events: Vec<Event>) -> Result<IngestOutcome, ApiError> {
    if events.is_empty() {
        return Ok(IngestOutcome::default());
    }
    // Group commit: stored in one transaction with the events of the requests waiting
    // beside it, answered after the commit.
    state
        .engine
        .ingest_queued(events)
        .await
        .map_err(ApiError::internal)
}

/// `X-Shopify-Hmac-Sha256` must be the base64 HMAC-SHA256 of the raw body under the
/// configured secret (compared in constant time).
fn verify_shopify(secret: &str, headers: &HeaderMap, body: &[u8]) -> Result<(), ApiError> {
    let refuse = |m: &str| {
        ApiError::new(StatusCode::UNAUTHORIZED, "bad_signature", m.to_owned())
            .field("x-shopify-hmac-sha256")
    };
    if secret.is_empty() {
        return Err(refuse(
            "shopify.webhook_secret is not configured; webhooks are refused",
        ));
    }
    let header = headers
        .get("x-shopify-hmac-sha256")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| refuse("the X-Shopify-Hmac-Sha256 header is missing"))?;
    let expected = STANDARD
        .decode(header.trim())
        .map_err(|_| refuse("the X-Shopify-Hmac-Sha256 header is not base64"))?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| refuse("the HMAC does not match the body"))
}

pub async fn shopify(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let body = body.map_err(body_error)?;
    if let Err(e) = verify_shopify(&state.config.shopify.webhook_secret, &headers, &body) {
        state
            .metrics
            .requests_refused
            .fetch_add(1, Ordering::Relaxed);
        return Err(e);
    }
    let topic = headers
        .get("x-shopify-topic")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "missing_topic",
                "the X-Shopify-Topic header is missing",
            )
            .field("x-shopify-topic")
        })?
        .to_owned();
    let options = ParseOptions::at(state.engine.now());
    // Product topics carry stock levels, never cart events.
    let parsed = match parse_shopify_stock(&topic, &body, &options) {
        Ok(Some(levels)) => {
            let engine = state.engine.clone();
            let report = blocking(move || engine.upsert_stock(&levels)).await?;
            return Ok(Json(serde_json::json!({ "stock": report })));
        }
        Ok(None) => parse_shopify(&topic, &body, &options),
        Err(rejection) => Err(rejection),
    };
    match parsed {
        Ok(None) => Ok(Json(serde_json::json!({ "ignored_topic": topic }))),
        Ok(Some(event)) => {
            let outcome = store_events(&state, vec![event]).await?;
            Ok(Json(
                serde_json::json!({ "accepted": outcome.accepted, "duplicates": outcome.duplicates }),
            ))
        }
        Err(rejection) => {
            state
                .metrics
                .events_rejected
                .fetch_add(1, Ordering::Relaxed);
            let mut error = ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_webhook",
                rejection.to_string(),
            );
            error.field = rejection.field.clone();
            error.rejections = vec![rejection];
            Err(error)
        }
    }
}
