//! `GET /v1/coupons/{code}` (scope `read`): lets the shop check a coupon code at checkout.
//! The code's signature and expiry are checked first (no lookup for a forged code), then
//! its message: a coupon counts as issued only once its message went out, so a code whose
//! message was cancelled (or erased) is unknown.

use super::error::ApiError;
use super::{AppState, blocking};
use crate::auth::Scope;
use crate::decide::{Coupon, CouponError};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use cartback_store::MessageStatus;
use serde::Serialize;

/// A valid coupon, as the shop sees it.
#[derive(Serialize)]
pub struct CouponView {
    pub valid: bool,
    pub code: String,
    pub percent: u32,
    pub cart_id: String,
    pub user_id: String,
    pub message_id: i64,
    /// Epoch milliseconds; the coupon is valid before this instant.
    pub expires_at: i64,
    /// The same, RFC 3339 UTC.
    pub expires: String,
}

/// A coupon's expiry as RFC 3339 UTC text.
fn expiry_text(coupon: &Coupon) -> String {
    chrono::DateTime::from_timestamp_millis(coupon.expires_at.as_millis())
        .map(|t| t.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

fn refusal(error: &CouponError) -> ApiError {
    let (status, code) = match error {
        CouponError::Malformed => (StatusCode::BAD_REQUEST, "malformed_coupon"),
        CouponError::BadSignature | CouponError::OutOfRange(_) => {
            (StatusCode::NOT_FOUND, "unknown_coupon")
        }
        CouponError::Expired(_) => (StatusCode::GONE, "coupon_expired"),
    };
    let message = match error {
        CouponError::Expired(coupon) => {
            format!("the coupon expired at {}", expiry_text(coupon))
        }
        other => other.to_string(),
    };
    ApiError::new(status, code, message).field("code")
}

pub async fn verify(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(code): Path<String>,
) -> Result<Json<CouponView>, ApiError> {
    state.authorize(&headers, Scope::Read)?;
    let coupon = state
        .coupons
        .verify(&code, state.engine.now())
        .map_err(|e| refusal(&e))?;
    let engine = state.engine.clone();
    let message_id = coupon.message_id;
    let message =
        blocking(move || engine.with_records(|records| records.message(message_id))).await?;
    let issued = message.filter(|m| {
        matches!(m.status, MessageStatus::Sent | MessageStatus::Sending)
            && m.payload["coupon"]["percent"].as_u64() == Some(u64::from(coupon.percent))
    });
    let Some(message) = issued else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_coupon",
            "no coupon with this code was issued",
        )
        .field("code"));
    };
    Ok(Json(CouponView {
        valid: true,
        expires: expiry_text(&coupon),
        expires_at: coupon.expires_at.as_millis(),
        code: coupon.code,
        percent: coupon.percent,
        cart_id: message.cart_id,
        user_id: message.user_id,
        message_id,
    }))
}
