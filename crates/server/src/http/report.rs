//! `GET /v1/report` (JSON) and `GET /dashboard` (HTML): the report of what was won back,
//! built on its own store connection (a SQLite reader does not wait for the engine's
//! writes, and the engine does not wait for the report).
//!
//! Both need a read key. The dashboard also takes the key as the password of HTTP Basic
//! authentication (any user name), so a browser asks for it.

use super::error::ApiError;
use super::{AppState, blocking};
use crate::auth::Scope;
use crate::outcomes::Booking;
use crate::report::build_report;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use cartback_report::{FilterError, Period, Report, html::render_html, parse_currency};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct PeriodQuery {
    /// `YYYY-MM-DD` (UTC) or RFC 3339; inclusive.
    pub since: Option<String>,
    /// `YYYY-MM-DD` (UTC) or RFC 3339; exclusive.
    pub until: Option<String>,
    /// Only carts in this currency (ISO 4217).
    pub currency: Option<String>,
}

async fn report(state: &AppState, query: PeriodQuery) -> Result<Report, ApiError> {
    let refuse = |e: FilterError| {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_parameter", e.to_string()).field(e.field())
    };
    let period = Period::parse(query.since.as_deref(), query.until.as_deref()).map_err(refuse)?;
    let currency = query
        .currency
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(parse_currency)
        .transpose()
        .map_err(refuse)?;
    let db = state.config.db.clone();
    let booking = Booking {
        costs: state.config.costs,
        attribution_window: state.config.tracker.attribution_window,
        as_of: state.engine.now(),
    };
    blocking(move || {
        let mut store = cartback_store::open(&db)?;
        Ok(build_report(&mut *store, &booking, period, currency)?)
    })
    .await
}

pub async fn json(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<PeriodQuery>,
) -> Result<Json<Report>, ApiError> {
    state.authorize(&headers, Scope::Read)?;
    Ok(Json(report(&state, query).await?))
}

pub async fn dashboard(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<PeriodQuery>,
) -> Result<Response, ApiError> {
    if let Err(error) = state.authorize(&headers, Scope::Read) {
        let mut response = error.into_response();
        if response.status() == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"cartback dashboard\", charset=\"UTF-8\""),
            );
        }
        return Ok(response);
    }
    let report = report(&state, query).await?;
    let page = render_html(&report).map_err(ApiError::internal)?;
    Ok(Html(page).into_response())
}
