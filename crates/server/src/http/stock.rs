//! Stock endpoints: `PUT /v1/stock` (scope `ingest`) records the shop's stock levels,
//! `GET /v1/stock/{item_id}` (scope `read`) shows the level kept for one item. The body is
//! read by `cartback_ingest::parse_stock_levels` (refused whole, naming every bad field);
//! the engine's store keeps the newest level of each item (`Store::upsert_stock`).

use super::error::ApiError;
use super::{AppState, blocking, body_error};
use crate::auth::Scope;
use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use cartback_core::StockLevel;
use cartback_ingest::{ParseOptions, Rejection, parse_stock_levels};
use cartback_store::StockReport;
use serde::Serialize;
use std::sync::atomic::Ordering;

/// One item's level as `GET /v1/stock/{item_id}` shows it.
#[derive(Serialize)]
pub struct StockView {
    pub item_id: String,
    pub available: i64,
    pub in_stock: bool,
    /// When the shop counted, epoch milliseconds.
    pub updated_at: i64,
}

impl From<StockLevel> for StockView {
    fn from(level: StockLevel) -> Self {
        StockView {
            in_stock: level.in_stock(),
            item_id: level.item_id,
            available: level.available,
            updated_at: level.updated_at.as_millis(),
        }
    }
}

/// The refusal of a stock body: 400 `invalid_stock`, the first problem as message and
/// field, all of them in `rejections`.
pub fn refusal(rejections: Vec<Rejection>) -> ApiError {
    let first = rejections.first();
    let mut error = ApiError::new(
        StatusCode::BAD_REQUEST,
        "invalid_stock",
        first.map_or_else(
            || "invalid stock levels".to_owned(),
            |r| match &r.field {
                Some(field) => format!("{field}: {}", r.message),
                None => r.message.clone(),
            },
        ),
    );
    error.field = first.and_then(|r| r.field.clone()).or(Some("body".into()));
    error.rejections = rejections;
    error
}

pub async fn put(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<StockReport>, ApiError> {
    state.authorize(&headers, Scope::Ingest)?;
    let body = body.map_err(body_error)?;
    let levels = parse_stock_levels(&body, &ParseOptions::at(state.engine.now())).map_err(|r| {
        state
            .metrics
            .requests_refused
            .fetch_add(1, Ordering::Relaxed);
        refusal(r)
    })?;
    let engine = state.engine.clone();
    Ok(Json(blocking(move || engine.upsert_stock(&levels)).await?))
}

pub async fn get(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(item_id): Path<String>,
) -> Result<Json<StockView>, ApiError> {
    state.authorize(&headers, Scope::Read)?;
    let engine = state.engine.clone();
    match blocking(move || engine.stock_level(&item_id)).await? {
        Some(level) => Ok(Json(level.into())),
        None => Err(ApiError::not_found("stock level", "item_id")),
    }
}
