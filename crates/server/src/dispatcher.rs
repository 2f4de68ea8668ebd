//! The dispatcher: every tick, takes the due outbox messages, re-checks each at send time
//! (through [`Engine::check_and_claim`]), signs its links (and derives its coupon code),
//! hands it to its channel and
//! records the outcome — sent, retried with exponential backoff, or failed after the
//! configured attempts. A message claimed but not recorded as sent (crash in between) is
//! due again after restart and re-sent with the same idempotency key: at-least-once to the
//! provider, exactly-once in cartback's records.

use crate::channels::{ChannelError, Channels, Outgoing};
use crate::config::DispatchConfig;
use crate::decide::CouponSigner;
use crate::engine::{Engine, EngineError, SendCheck};
use crate::metrics::Metrics;
use crate::tracking::{TokenClaims, TokenPurpose, TokenSigner};
use cartback_core::{Duration, Timestamp};
use cartback_store::OutboxMessage;
use std::sync::Arc;
use std::sync::atomic::Ordering;

pub struct Dispatcher {
    pub engine: Arc<Engine>,
    pub channels: Channels,
    pub signer: Arc<TokenSigner>,
    /// Derives the coupon code of a discount message from its id.
    pub coupons: Arc<CouponSigner>,
    pub settings: DispatchConfig,
    pub public_url: String,
    pub token_ttl: Duration,
    pub metrics: Arc<Metrics>,
}

/// Delay before attempt `attempts + 1`: `initial * 2^(attempts - 1)`, capped.
pub fn backoff(settings: &DispatchConfig, attempts: u32) -> Duration {
    let factor = 1_i64 << attempts.saturating_sub(1).min(30);
    Duration(
        settings
            .initial_backoff
            .0
            .saturating_mul(factor)
            .min(settings.max_backoff.0),
    )
}

/// The signed links of one message.
pub fn links(
    signer: &TokenSigner,
    public_url: &str,
    message_id: i64,
    expires: Timestamp,
) -> (String, String, String) {
    let base = public_url.trim_end_matches('/');
    let token = |p| {
        signer.sign(&TokenClaims {
            p,
            m: message_id,
            e: expires.0,
        })
    };
    (
        format!("{base}/t/restore/{}", token(TokenPurpose::Restore)),
        format!("{base}/t/open/{}", token(TokenPurpose::Open)),
        format!("{base}/t/unsubscribe/{}", token(TokenPurpose::Unsubscribe)),
    )
}

/// The coupon a message carries (`payload.coupon`: percent and expiry), if any.
fn coupon_of(message: &OutboxMessage) -> Option<(u32, Timestamp)> {
    let coupon = message.payload.get("coupon")?;
    let percent = u32::try_from(coupon.get("percent")?.as_u64()?).ok()?;
    let expires_at = Timestamp(coupon.get("expires_at")?.as_i64()?);
    Some((percent, expires_at))
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, EngineError> + Send + 'static,
) -> Result<T, EngineError> {
    crate::worker::off_runtime(f).await
}

impl Dispatcher {
    /// Sends everything due now; returns how many messages were handed to channels.
    pub async fn run_once(&self) -> Result<usize, EngineError> {
        let engine = self.engine.clone();
        let due = blocking(move || engine.due_messages(256)).await?;
        let mut sent = 0;
        for message in due {
            if self.dispatch(message.id).await? {
                sent += 1;
            }
        }
        Ok(sent)
    }

    async fn dispatch(&self, message_id: i64) -> Result<bool, EngineError> {
        let engine = self.engine.clone();
        let message = match blocking(move || engine.check_and_claim(message_id)).await? {
            SendCheck::Send(message) => message,
            SendCheck::Cancelled(reason) => {
                tracing::info!(message_id, reason, "message cancelled at send time");
                return Ok(false);
            }
            SendCheck::Gone => return Ok(false),
        };
        let result = self.send(&message).await;
        let engine = self.engine.clone();
        let now = engine.now();
        let settings = self.settings.clone();
        let metrics = self.metrics.clone();
        blocking(move || {
            engine.with_records(|records| match result {
                Ok(()) => {
                    metrics.messages_sent.fetch_add(1, Ordering::Relaxed);
                    records.mark_sent(message.id, now)
                }
                Err(error) => {
                    metrics.messages_failed_attempts.fetch_add(1, Ordering::Relaxed);
                    let text = error.to_string();
                    tracing::warn!(message_id = message.id, attempts = message.attempts, error = %text, "send failed");
                    if matches!(error, ChannelError::Permanent(_)) || message.attempts >= settings.max_attempts {
                        records.mark_failed(message.id, &text)
                    } else {
                        records.mark_retry(message.id, now + backoff(&settings, message.attempts), &text)
                    }
                }
            })
        })
        .await?;
        Ok(true)
    }

    async fn send(&self, message: &OutboxMessage) -> Result<(), ChannelError> {
        let Some(channel) = self.channels.get(&message.channel) else {
            return Err(ChannelError::Permanent(format!(
                "channel {:?} is not configured",
                message.channel
            )));
        };
        let expires = self.engine.now() + self.token_ttl;
        let (restore_link, open_pixel, unsubscribe_link) =
            links(&self.signer, &self.public_url, message.id, expires);
        let coupon = match coupon_of(message) {
            None => None,
            Some((percent, expires_at)) => Some(
                self.coupons
                    .issue(message.id, percent, expires_at)
                    .map_err(|e| ChannelError::Permanent(e.to_string()))?,
            ),
        };
        let outgoing = Outgoing {
            shop_user_id: self.engine.shop_user_id(&message.user_id),
            message: message.clone(),
            restore_link,
            open_pixel,
            unsubscribe_link,
            coupon,
        };
        let started = std::time::Instant::now();
        let timeout = std::time::Duration::from_millis(self.settings.send_timeout.0.max(1) as u64);
        let result = match tokio::time::timeout(timeout, channel.send(&outgoing)).await {
            Ok(result) => result,
            Err(_) => Err(ChannelError::Transient("send timed out".into())),
        };
        self.metrics
            .send_latency
            .observe(started.elapsed().as_secs_f64());
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_the_initial_delay_up_to_the_cap() {
        let settings = DispatchConfig {
            initial_backoff: Duration::seconds(30),
            max_backoff: Duration::minutes(5),
            ..DispatchConfig::default()
        };
        let delays: Vec<i64> = (1..=6)
            .map(|a| backoff(&settings, a).as_millis() / 1_000)
            .collect();
        assert_eq!(delays, [30, 60, 120, 240, 300, 300]);
    }
}
