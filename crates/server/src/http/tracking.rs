//! Tracking endpoints, authenticated by signed expiring tokens (no API key): the open
//! pixel, the restore-cart redirect (only ever to the configured shop URL) and the
//! RFC 8058 one-click unsubscribe (`GET` shows a confirmation page and changes nothing, so
//! link scanners cannot unsubscribe anyone; `POST` unsubscribes).

use super::error::ApiError;
use super::{AppState, blocking};
use crate::tracking::{TokenError, TokenPurpose};
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use cartback_store::OutboxMessage;

/// A transparent 1×1 GIF.
const PIXEL: &[u8] = &[
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0x01, 0x00, 0x01, 0x00, 0x80, 0x00, 0x00, 0x00, 0x00, 0x00,
    0xff, 0xff, 0xff, 0x21, 0xf9, 0x04, 0x01, 0x00, 0x00, 0x00, 0x00, 0x2c, 0x00, 0x00, 0x00, 0x00,
    0x01, 0x00, 0x01, 0x00, 0x00, 0x02, 0x02, 0x44, 0x01, 0x00, 0x3b,
];

fn token_error(e: TokenError) -> ApiError {
    let status = match e {
        TokenError::Expired => StatusCode::GONE,
        _ => StatusCode::BAD_REQUEST,
    };
    ApiError::new(status, "invalid_token", e.to_string()).field("token")
}

/// Verifies the token, records the tracking event, returns the message.
async fn track(
    state: &AppState,
    token: &str,
    purpose: TokenPurpose,
    kind: &'static str,
) -> Result<OutboxMessage, ApiError> {
    let claims = state
        .signer
        .verify(token, purpose, state.engine.now())
        .map_err(token_error)?;
    let engine = state.engine.clone();
    let now = engine.now();
    let message = blocking(move || {
        engine.with_records(|records| {
            let message = records.message(claims.m)?;
            if message.is_some() {
                records.record_tracking(claims.m, kind, now)?;
            }
            Ok(message)
        })
    })
    .await?;
    message.ok_or_else(|| ApiError::not_found("message", "token"))
}

pub async fn open(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Response, ApiError> {
    track(&state, &token, TokenPurpose::Open, "open").await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/gif"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        PIXEL,
    )
        .into_response())
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn encode_component(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub async fn restore(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Redirect, ApiError> {
    let message = track(&state, &token, TokenPurpose::Restore, "click").await?;
    let target = state
        .config
        .restore_url
        .replace("{cart_id}", &encode_component(&message.cart_id));
    Ok(Redirect::to(&target))
}

pub async fn unsubscribe_page(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<Html<String>, ApiError> {
    state
        .signer
        .verify(&token, TokenPurpose::Unsubscribe, state.engine.now())
        .map_err(token_error)?;
    Ok(Html(format!(
        "<!doctype html><html><body><form method=\"post\" action=\"{token}\">\
         <p>Stop cart reminders?</p><button type=\"submit\">Unsubscribe</button></form></body></html>"
    )))
}

pub async fn unsubscribe(
    State(state): State<AppState>,
    Path(token): Path<String>,
) -> Result<axum::Json<serde_json::Value>, ApiError> {
    let message = track(&state, &token, TokenPurpose::Unsubscribe, "unsubscribe").await?;
    let engine = state.engine.clone();
    let now = engine.now();
    let (user, channel) = (message.user_id.clone(), message.channel.clone());
    blocking(move || {
        engine.with_records(|records| records.set_consent(&user, &channel, false, now))
    })
    .await?;
    Ok(axum::Json(
        serde_json::json!({ "unsubscribed": true, "channel": message.channel }),
    ))
}

#[cfg(test)]
mod tests {
    use super::encode_component;

    #[test]
    fn cart_ids_cannot_break_out_of_the_restore_url() {
        assert_eq!(encode_component("u1#2"), "u1%232");
        assert_eq!(encode_component("../x?y=//evil"), "..%2Fx%3Fy%3D%2F%2Fevil");
    }
}
