//! Where messages go: the [`Channel`] trait and the channels cartback ships — e-mail over
//! SMTP (`email/`), HMAC-signed webhooks for SMS / push / WhatsApp providers (`webhook.rs`)
//! and a log channel for development (`log.rs`). A channel gets an [`Outgoing`]: the outbox
//! message with its signed links and, for a discount, its signed coupon code, and reports
//! success or a retryable error.

pub mod email;
pub mod log;
pub mod webhook;

use crate::decide::Coupon;
use cartback_store::OutboxMessage;
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A message ready to send: the outbox row plus the links signed for it.
#[derive(Clone, Debug)]
pub struct Outgoing {
    pub message: OutboxMessage,
    /// The shopper's id as the shop issued it (`message.user_id` is a pseudonym when ids are
    /// pseudonymised): what a webhook's receiver looks the shopper up by.
    pub shop_user_id: String,
    pub restore_link: String,
    pub open_pixel: String,
    pub unsubscribe_link: String,
    /// The coupon of a discount action, its code derived from the message id.
    pub coupon: Option<Coupon>,
}

impl Outgoing {
    /// The coupon as templates and webhook bodies show it: `code`, `percent`, `expires_at`
    /// (epoch ms) and `expires` (`2026-06-20 11:00 UTC`); `null` without one.
    pub fn coupon_json(&self) -> serde_json::Value {
        match &self.coupon {
            None => serde_json::Value::Null,
            Some(coupon) => serde_json::json!({
                "code": coupon.code,
                "percent": coupon.percent,
                "expires_at": coupon.expires_at,
                "expires": chrono::DateTime::from_timestamp_millis(coupon.expires_at.as_millis())
                    .map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string()),
            }),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ChannelError {
    /// Worth retrying (network, timeout, 4xx/5xx from the provider).
    #[error("{0}")]
    Transient(String),
    /// Retrying cannot help (no address, template error).
    #[error("{0}")]
    Permanent(String),
}

pub type SendFuture<'a> = Pin<Box<dyn Future<Output = Result<(), ChannelError>> + Send + 'a>>;

pub trait Channel: Send + Sync {
    fn name(&self) -> &'static str;
    fn send<'a>(&'a self, outgoing: &'a Outgoing) -> SendFuture<'a>;
}

/// The configured channels by name.
#[derive(Clone, Default)]
pub struct Channels {
    by_name: HashMap<&'static str, Arc<dyn Channel>>,
}

impl Channels {
    pub fn with(mut self, channel: Arc<dyn Channel>) -> Self {
        self.by_name.insert(channel.name(), channel);
        self
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Channel>> {
        self.by_name.get(name)
    }
}
