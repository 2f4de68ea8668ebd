//! Per-user endpoints: consent per channel (`PUT`/`GET /v1/users/{id}/consent`, scope
//! `ingest` to write, `read` to read) and erasure (`DELETE /v1/users/{id}`, scope `admin`).
//! `{id}` is the shop's user id, or its pseudonym when ids are pseudonymised
//! ([`crate::engine::Engine::stored_user_id`]).

use super::error::ApiError;
use super::{AppState, blocking, body_error};
use crate::auth::Scope;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use cartback_store::ErasureReport;
use std::collections::BTreeMap;

/// Channels consent can be given or withdrawn for.
pub const CONSENT_CHANNELS: [&str; 3] = ["email", "webhook", "log"];

pub async fn put_consent(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<BTreeMap<String, bool>>, ApiError> {
    state.authorize(&headers, Scope::Ingest)?;
    let body = body.map_err(body_error)?;
    let mut de = serde_json::Deserializer::from_slice(&body);
    let consent: BTreeMap<String, bool> =
        serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_consent",
                format!("expected an object of channel → true/false: {}", e.inner()),
            )
            .field(if path == "." { "body".to_owned() } else { path })
        })?;
    if consent.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_consent",
            "name at least one channel",
        )
        .field("body"));
    }
    if let Some(unknown) = consent
        .keys()
        .find(|c| !CONSENT_CHANNELS.contains(&c.as_str()))
    {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "invalid_consent",
            format!("unknown channel {unknown:?}; expected one of {CONSENT_CHANNELS:?}"),
        )
        .field(unknown.clone()));
    }
    let engine = state.engine.clone();
    let id = engine.stored_user_id(&id);
    let now = engine.now();
    let stored = consent.clone();
    blocking(move || {
        engine.with_records(|records| {
            for (channel, granted) in &stored {
                records.set_consent(&id, channel, *granted, now)?;
            }
            Ok(())
        })
    })
    .await?;
    Ok(Json(consent))
}

pub async fn get_consent(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<BTreeMap<String, Option<bool>>>, ApiError> {
    state.authorize(&headers, Scope::Read)?;
    let engine = state.engine.clone();
    let id = engine.stored_user_id(&id);
    let consent = blocking(move || {
        engine.with_records(|records| {
            CONSENT_CHANNELS
                .iter()
                .map(|c| Ok((c.to_string(), records.consent(&id, c)?)))
                .collect()
        })
    })
    .await?;
    Ok(Json(consent))
}

pub async fn erase(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<ErasureReport>, ApiError> {
    state.authorize(&headers, Scope::Admin)?;
    let engine = state.engine.clone();
    let id = engine.stored_user_id(&id);
    Ok(Json(blocking(move || engine.erase_user(&id)).await?))
}
