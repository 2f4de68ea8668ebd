//! The HTTP API: shared state, authentication of each request, the router, and the JSON
//! fallbacks for unknown paths and methods. Handlers live in `ingest.rs` (events, Segment,
//! Shopify), `read.rs` (carts, decisions), `coupons.rs` (coupon verification), `users.rs`
//! (consent, erasure), `stock.rs` (stock levels), `tracking.rs` (pixel, restore,
//! unsubscribe), `report.rs` (the report and the dashboard) and `ops.rs` (health, readiness,
//! metrics, OpenAPI).

mod coupons;
pub mod error;
mod ingest;
mod openapi;
mod ops;
mod read;
mod report;
mod stock;
mod tracking;
mod users;

use crate::auth::{KeyRing, Scope};
use crate::config::ServerConfig;
use crate::decide::CouponSigner;
use crate::engine::{Engine, EngineError};
use crate::metrics::Metrics;
use crate::tracking::TokenSigner;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post, put};
use error::ApiError;
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub struct AppContext {
    pub engine: Arc<Engine>,
    pub keys: KeyRing,
    pub signer: Arc<TokenSigner>,
    /// Verifies coupon codes (`GET /v1/coupons/{code}`).
    pub coupons: Arc<CouponSigner>,
    pub config: ServerConfig,
    pub metrics: Arc<Metrics>,
}

pub type AppState = Arc<AppContext>;

impl AppContext {
    /// Checks the request's API key and scope, and meters the key. The key comes as
    /// `Authorization: Bearer KEY`, `X-Api-Key: KEY`, or as the password of HTTP Basic
    /// authentication (any user name; browsers, for the dashboard).
    pub fn authorize(&self, headers: &HeaderMap, scope: Scope) -> Result<(), ApiError> {
        let authorization = headers.get("authorization").and_then(|v| v.to_str().ok());
        let basic = authorization
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(basic_password);
        let presented = authorization
            .and_then(|v| v.strip_prefix("Bearer "))
            .or(basic.as_deref())
            .or_else(|| headers.get("x-api-key").and_then(|v| v.to_str().ok()));
        let refuse = |e: ApiError| {
            self.metrics
                .requests_refused
                .fetch_add(1, Ordering::Relaxed);
            Err(e)
        };
        let Some(key) = presented.and_then(|p| self.keys.verify(p.trim())) else {
            return refuse(ApiError::unauthorized());
        };
        if !key.allows(scope) {
            return refuse(
                ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    format!("key {:?} lacks the {:?} scope", key.name, scope.as_str()),
                )
                .field("authorization"),
            );
        }
        if !self.keys.admit(key) {
            return refuse(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                format!(
                    "key {:?} exceeds {} requests per second",
                    key.name, self.config.rate_limit_per_key
                ),
            ));
        }
        Ok(())
    }
}

/// The password of HTTP Basic credentials (`base64(user:password)`).
fn basic_password(credentials: &str) -> Option<String> {
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credentials.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    text.split_once(':')
        .map(|(_, password)| password.to_owned())
}

/// Runs engine work on the blocking pool (the store clients are synchronous).
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, EngineError> + Send + 'static,
) -> Result<T, ApiError> {
    crate::worker::off_runtime(f)
        .await
        .map_err(ApiError::internal)
}

pub fn router(state: AppState) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .route("/v1/events", post(ingest::events))
        .route("/v1/segment", post(ingest::segment))
        .route("/v1/webhooks/shopify", post(ingest::shopify))
        .route("/v1/carts/{id}", get(read::cart))
        .route("/v1/users/{id}/carts", get(read::carts_of_user))
        .route("/v1/decisions", get(read::decisions))
        .route("/v1/coupons/{code}", get(coupons::verify))
        .route("/v1/report", get(report::json))
        .route("/dashboard", get(report::dashboard))
        .route(
            "/v1/users/{id}/consent",
            put(users::put_consent).get(users::get_consent),
        )
        .route("/v1/users/{id}", axum::routing::delete(users::erase))
        .route("/v1/stock", put(stock::put))
        .route("/v1/stock/{item_id}", get(stock::get))
        .route("/t/open/{token}", get(tracking::open))
        .route("/t/restore/{token}", get(tracking::restore))
        .route(
            "/t/unsubscribe/{token}",
            get(tracking::unsubscribe_page).post(tracking::unsubscribe),
        )
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .route("/openapi.json", get(openapi::document))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(limit))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such endpoint; see /openapi.json",
    )
    .field("path")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take this method",
    )
    .field("method")
}

/// Maps a body-reading failure (mostly: over the size limit) to a JSON 4xx.
pub fn body_error(rejection: axum::extract::rejection::BytesRejection) -> ApiError {
    let status = rejection.status();
    let (code, message) = if status == StatusCode::PAYLOAD_TOO_LARGE {
        (
            "body_too_large",
            "the request body exceeds max_body_bytes".to_owned(),
        )
    } else {
        ("bad_body", rejection.body_text())
    };
    ApiError::new(status, code, message).field("body")
}
