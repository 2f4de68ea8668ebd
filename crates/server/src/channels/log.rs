//! The log channel: writes each message as one structured log line (development, demos).

use super::{Channel, Outgoing, SendFuture};

pub struct LogChannel;

impl Channel for LogChannel {
    fn name(&self) -> &'static str {
        "log"
    }

    fn send<'a>(&'a self, outgoing: &'a Outgoing) -> SendFuture<'a> {
        Box::pin(async move {
            let m = &outgoing.message;
            tracing::info!(
                target: "cartback::message",
                message_id = m.id,
                idempotency_key = %m.idempotency_key,
                user_id = %m.user_id,
                cart_id = %m.cart_id,
                action = m.payload["action"].as_str().unwrap_or("reminder"),
                coupon = outgoing.coupon.as_ref().map_or("", |c| c.code.as_str()),
                restore_link = %outgoing.restore_link,
                "message sent (log channel)"
            );
            Ok(())
        })
    }
}
