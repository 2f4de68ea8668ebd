//! The webhook channel: POSTs the message as JSON to a provider-facing receiver, signed with
//! `X-Cartback-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` and
//! carrying `Idempotency-Key`, with a per-request timeout. The body names the `action` and,
//! for a discount, carries the signed `coupon` (`code`, `percent`, `expires_at`, `expires`).
//! Any non-2xx answer is retried by the dispatcher.

use super::{Channel, ChannelError, Outgoing, SendFuture};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

pub struct WebhookChannel {
    client: reqwest::Client,
    url: String,
    secret: Vec<u8>,
}

/// The signature header value for `body` at `unix_seconds`.
pub fn signature(secret: &[u8], unix_seconds: i64, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(unix_seconds.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={unix_seconds},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

impl WebhookChannel {
    pub fn new(
        url: &str,
        secret: &str,
        timeout: std::time::Duration,
    ) -> Result<Self, ChannelError> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| ChannelError::Permanent(format!("webhook client: {e}")))?;
        Ok(WebhookChannel {
            client,
            url: url.to_owned(),
            secret: secret.as_bytes().to_vec(),
        })
    }
}

impl Channel for WebhookChannel {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn send<'a>(&'a self, outgoing: &'a Outgoing) -> SendFuture<'a> {
        Box::pin(async move {
            let m = &outgoing.message;
            let body = serde_json::to_vec(&serde_json::json!({
                "message_id": m.id,
                "idempotency_key": m.idempotency_key,
                "user_id": outgoing.shop_user_id,
                "cart_id": m.cart_id,
                "cart": m.payload,
                "action": m.payload.get("action"),
                "coupon": outgoing.coupon_json(),
                "restore_link": outgoing.restore_link,
                "unsubscribe_link": outgoing.unsubscribe_link,
            }))
            .map_err(|e| ChannelError::Permanent(e.to_string()))?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            let response = self
                .client
                .post(&self.url)
                .header("content-type", "application/json")
                .header("idempotency-key", &m.idempotency_key)
                .header("x-cartback-signature", signature(&self.secret, now, &body))
                .body(body)
                .send()
                .await
                .map_err(|e| ChannelError::Transient(format!("webhook request: {e}")))?;
            if response.status().is_success() {
                Ok(())
            } else {
                Err(ChannelError::Transient(format!(
                    "webhook answered {}",
                    response.status()
                )))
            }
        })
    }
}
