//! Read endpoints (scope `read`): a cart, a user's carts, and the decisions taken for a cart
//! with their messages' delivery status. Users and carts are named with the shop's ids, also
//! when the store keeps pseudonyms ([`crate::engine::Engine::stored_user_id`]).

use super::error::ApiError;
use super::{AppState, blocking};
use crate::auth::Scope;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use cartback_core::Cart;
use cartback_store::{Decision, OutboxMessage};
use serde::{Deserialize, Serialize};

pub async fn cart(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Cart>, ApiError> {
    state.authorize(&headers, Scope::Read)?;
    let engine = state.engine.clone();
    blocking(move || engine.cart(&engine.stored_cart_id(&id)?))
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::not_found("cart", "id"))
}

pub async fn carts_of_user(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Json<Vec<Cart>>, ApiError> {
    state.authorize(&headers, Scope::Read)?;
    let engine = state.engine.clone();
    let user = engine.stored_user_id(&id);
    let carts = blocking(move || engine.with_store(|store| store.carts_of_user(&user))).await?;
    Ok(Json(carts))
}

#[derive(Deserialize)]
pub struct DecisionQuery {
    cart_id: Option<String>,
}

#[derive(Serialize)]
pub struct DecisionView {
    #[serde(flatten)]
    decision: Decision,
    messages: Vec<OutboxMessage>,
}

pub async fn decisions(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<DecisionQuery>,
) -> Result<Json<Vec<DecisionView>>, ApiError> {
    state.authorize(&headers, Scope::Read)?;
    let cart_id = query.cart_id.filter(|c| !c.is_empty()).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "missing_parameter",
            "cart_id is required",
        )
        .field("cart_id")
    })?;
    let engine = state.engine.clone();
    let (decisions, messages) = blocking(move || {
        let cart_id = engine.stored_cart_id(&cart_id)?;
        engine.with_records(|records| {
            Ok((
                records.decisions_of_cart(&cart_id)?,
                records.messages_of_cart(&cart_id)?,
            ))
        })
    })
    .await?;
    Ok(Json(
        decisions
            .into_iter()
            .map(|decision| DecisionView {
                messages: messages
                    .iter()
                    .filter(|m| m.decision_id == decision.id)
                    .cloned()
                    .collect(),
                decision,
            })
            .collect(),
    ))
}
