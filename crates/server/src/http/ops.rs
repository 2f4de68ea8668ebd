//! Operations endpoints: liveness, readiness (the store answers), Prometheus metrics.

use super::AppState;
use super::blocking;
use super::error::ApiError;
use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

pub async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

pub async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let engine = state.engine.clone();
    match blocking(move || engine.with_store(|store| store.schema_version())).await {
        Ok(version) => Ok(Json(
            serde_json::json!({ "status": "ready", "schema_version": version }),
        )),
        Err(e) => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            e.message,
        )),
    }
}

pub async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let engine = state.engine.clone();
    let snapshot = blocking(move || engine.metrics_snapshot()).await?;
    Ok((
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(&snapshot),
    )
        .into_response())
}
