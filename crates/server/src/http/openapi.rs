//! The OpenAPI 3.1 document served at `/openapi.json`, written by hand next to the routes
//! it describes (a test checks every route is in it).

use axum::Json;
use serde_json::{Value, json};

fn error_responses() -> Value {
    json!({
        "400": {"$ref": "#/components/responses/Error"},
        "401": {"$ref": "#/components/responses/Error"},
        "403": {"$ref": "#/components/responses/Error"},
        "413": {"$ref": "#/components/responses/Error"},
        "429": {"$ref": "#/components/responses/Error"}
    })
}

fn ingest_op(summary: &str) -> Value {
    json!({
        "summary": summary,
        "security": [{"apiKey": []}],
        "requestBody": {"required": true, "content": {
            "application/json": {"schema": {}},
            "application/x-ndjson": {"schema": {"type": "string"}}
        }},
        "responses": {"200": {"description": "stored (valid records) and refused records by line and field",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/IngestResponse"}}}}}
    })
}

fn path_param(name: &str) -> Value {
    json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}})
}

pub fn openapi() -> Value {
    let errors = error_responses();
    let with_errors = |mut op: Value| {
        for (code, response) in errors.as_object().expect("object") {
            op["responses"][code] = response.clone();
        }
        op
    };
    json!({
        "openapi": "3.1.0",
        "info": {"title": "cartback", "version": env!("CARGO_PKG_VERSION"),
            "description": "Abandoned-cart recovery engine. Authenticate with `Authorization: Bearer KEY` or `X-Api-Key: KEY`; scopes ingest, read, admin."},
        "paths": {
            "/v1/events": {"post": with_errors(ingest_op("Ingest cartback events: one object, a JSON array, or NDJSON (scope ingest)"))},
            "/v1/segment": {"post": with_errors(ingest_op("Ingest Segment track calls or a batch (scope ingest)"))},
            "/v1/webhooks/shopify": {"post": with_errors(json!({
                "summary": "Shopify webhook, verified by X-Shopify-Hmac-Sha256: checkouts/create, checkouts/update, orders/create, orders/paid, orders/cancelled become events; products/create, products/update, products/delete update stock levels ({\"stock\": {applied, stale}}); other topics are ignored",
                "parameters": [
                    {"name": "X-Shopify-Topic", "in": "header", "required": true, "schema": {"type": "string"}},
                    {"name": "X-Shopify-Hmac-Sha256", "in": "header", "required": true, "schema": {"type": "string"}}
                ],
                "requestBody": {"required": true, "content": {"application/json": {"schema": {}}}},
                "responses": {"200": {"description": "stored, stock levels applied, or ignored topic"}}
            }))},
            "/v1/carts/{id}": {"get": with_errors(json!({
                "summary": "One cart (scope read)", "security": [{"apiKey": []}],
                "parameters": [path_param("id")],
                "responses": {"200": {"description": "the cart"}, "404": {"$ref": "#/components/responses/Error"}}
            }))},
            "/v1/users/{id}/carts": {"get": with_errors(json!({
                "summary": "A user's carts; {id} is the shop's user id, pseudonymised on the way in when ids are (scope read)", "security": [{"apiKey": []}],
                "parameters": [path_param("id")],
                "responses": {"200": {"description": "the carts"}}
            }))},
            "/v1/decisions": {"get": with_errors(json!({
                "summary": "Decisions for a cart with action, send time, propensity, scores, reasons, guardrail outcome and messages (scope read)",
                "security": [{"apiKey": []}],
                "parameters": [{"name": "cart_id", "in": "query", "required": true, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "the decisions"}}
            }))},
            "/v1/report": {"get": with_errors(json!({
                "summary": "The report of what was won back: cart KPIs, messages, the lift of the engine's decisions against the holdout with 95 % intervals, and off-policy estimates of other first touches (scope read)",
                "security": [{"apiKey": []}],
                "parameters": [
                    {"name": "since", "in": "query", "required": false, "schema": {"type": "string"}, "description": "YYYY-MM-DD (UTC) or RFC 3339, inclusive"},
                    {"name": "until", "in": "query", "required": false, "schema": {"type": "string"}, "description": "YYYY-MM-DD (UTC) or RFC 3339, exclusive"},
                    {"name": "currency", "in": "query", "required": false, "schema": {"type": "string"}, "description": "only carts in this ISO 4217 currency"}
                ],
                "responses": {"200": {"description": "the report"}}
            }))},
            "/dashboard": {"get": with_errors(json!({
                "summary": "The report as an HTML page with charts; the read key also as the password of HTTP Basic authentication (scope read)",
                "security": [{"apiKey": []}],
                "parameters": [
                    {"name": "since", "in": "query", "required": false, "schema": {"type": "string"}},
                    {"name": "until", "in": "query", "required": false, "schema": {"type": "string"}},
                    {"name": "currency", "in": "query", "required": false, "schema": {"type": "string"}}
                ],
                "responses": {"200": {"description": "the dashboard", "content": {"text/html": {}}}}
            }))},
            "/v1/coupons/{code}": {"get": with_errors(json!({
                "summary": "Check a coupon code from a message: validity, percent, cart and expiry (scope read); 400 malformed, 404 unknown or tampered, 410 expired",
                "security": [{"apiKey": []}],
                "parameters": [path_param("code")],
                "responses": {"200": {"description": "{valid, code, percent, cart_id, user_id, message_id, expires_at, expires}"}}
            }))},
            "/v1/users/{id}/consent": {
                "put": with_errors(json!({
                    "summary": "Give or withdraw consent per channel, e.g. {\"email\": false} (scope ingest)",
                    "security": [{"apiKey": []}], "parameters": [path_param("id")],
                    "requestBody": {"required": true, "content": {"application/json": {"schema":
                        {"type": "object", "additionalProperties": {"type": "boolean"}}}}},
                    "responses": {"200": {"description": "the consent written"}}
                })),
                "get": with_errors(json!({
                    "summary": "Consent per channel (null: never set) (scope read)",
                    "security": [{"apiKey": []}], "parameters": [path_param("id")],
                    "responses": {"200": {"description": "consent per channel"}}
                }))
            },
            "/v1/users/{id}": {"delete": with_errors(json!({
                "summary": "Erase every trace of a user (by the shop's user id or its pseudonym); returns counts removed (scope admin)",
                "security": [{"apiKey": []}], "parameters": [path_param("id")],
                "responses": {"200": {"description": "what was removed"}}
            }))},
            "/v1/stock": {"put": with_errors(json!({
                "summary": "Record the shop's stock levels (scope ingest). available ≤ 0 is out of stock (negative: oversold); a level older than the one kept for its item (updated_at) is ignored and counted stale; updated_at defaults to now. Items never reported count as in stock. At most 10,000 items; a body with a bad item is refused whole, every bad field named (items[3].available)",
                "security": [{"apiKey": []}],
                "requestBody": {"required": true, "content": {"application/json": {"schema":
                    {"$ref": "#/components/schemas/StockLevels"}}}},
                "responses": {"200": {"description": "levels applied and ignored as stale",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/StockReport"}}}}}
            }))},
            "/v1/stock/{item_id}": {"get": with_errors(json!({
                "summary": "The stock level kept for one item (scope read); 404 when the shop never reported it (it counts as in stock)",
                "security": [{"apiKey": []}], "parameters": [path_param("item_id")],
                "responses": {"200": {"description": "{item_id, available, in_stock, updated_at (epoch ms)}"},
                    "404": {"$ref": "#/components/responses/Error"}}
            }))},
            "/t/open/{token}": {"get": {"summary": "Open pixel", "parameters": [path_param("token")],
                "responses": {"200": {"description": "a 1×1 GIF"}, "400": {"$ref": "#/components/responses/Error"}, "410": {"$ref": "#/components/responses/Error"}}}},
            "/t/restore/{token}": {"get": {"summary": "Signed restore-cart redirect to the configured shop URL", "parameters": [path_param("token")],
                "responses": {"303": {"description": "to the shop's cart"}, "400": {"$ref": "#/components/responses/Error"}, "410": {"$ref": "#/components/responses/Error"}}}},
            "/t/unsubscribe/{token}": {
                "get": {"summary": "Unsubscribe confirmation page", "parameters": [path_param("token")], "responses": {"200": {"description": "HTML"}}},
                "post": {"summary": "One-click unsubscribe (RFC 8058)", "parameters": [path_param("token")], "responses": {"200": {"description": "unsubscribed"}}}
            },
            "/healthz": {"get": {"summary": "Liveness", "responses": {"200": {"description": "ok"}}}},
            "/readyz": {"get": {"summary": "Readiness: the store answers", "responses": {"200": {"description": "ready"}, "503": {"description": "not ready"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text exposition format"}}}},
            "/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI 3.1"}}}}
        },
        "components": {
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer"}},
            "responses": {"Error": {"description": "refused; the body names the problem and the field",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
            "schemas": {
                "Error": {"type": "object", "required": ["error", "message"], "properties": {
                    "error": {"type": "string"}, "message": {"type": "string"}, "field": {"type": "string"},
                    "rejections": {"type": "array", "items": {"$ref": "#/components/schemas/Rejection"}}}},
                "Rejection": {"type": "object", "properties": {"line": {"type": "integer"}, "field": {"type": "string"}, "message": {"type": "string"}}},
                "StockLevels": {"type": "object", "required": ["items"], "additionalProperties": false, "properties": {
                    "items": {"type": "array", "minItems": 1, "maxItems": 10000, "items": {
                        "type": "object", "required": ["item_id", "available"], "additionalProperties": false, "properties": {
                            "item_id": {"type": ["string", "integer"], "description": "the id cart lines carry"},
                            "available": {"type": "integer", "description": "units the shop can sell; ≤ 0 is out of stock"},
                            "updated_at": {"type": "string", "format": "date-time", "description": "when the shop counted; default now"}}}}}},
                "StockReport": {"type": "object", "properties": {
                    "applied": {"type": "integer"}, "stale": {"type": "integer"}}},
                "IngestResponse": {"type": "object", "properties": {
                    "accepted": {"type": "integer"}, "duplicates": {"type": "integer"}, "rejected": {"type": "integer"},
                    "skipped": {"type": "integer"}, "rejections": {"type": "array", "items": {"$ref": "#/components/schemas/Rejection"}}}}
            }
        }
    })
}

pub async fn document() -> Json<Value> {
    Json(openapi())
}
