//! The e-mail channel: renders the templates (`template.rs`), builds a multipart
//! (plain text + HTML) message with `List-Unsubscribe` and `List-Unsubscribe-Post`
//! (RFC 8058) and a `Message-ID` derived from the idempotency key, and sends it over SMTP
//! with lettre (plain, STARTTLS or implicit TLS, optional credentials, a timeout).

pub mod template;

use super::{Channel, ChannelError, Outgoing, SendFuture};
use crate::config::EmailConfig;
use lettre::message::header::{HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use template::EmailTemplates;

pub struct EmailChannel {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    templates: EmailTemplates,
}

impl EmailChannel {
    pub fn new(config: &EmailConfig, timeout: std::time::Duration) -> Result<Self, ChannelError> {
        let bad = |field: &str, e: &dyn std::fmt::Display| {
            ChannelError::Permanent(format!("email.{field}: {e}"))
        };
        let builder = match config.smtp_security.as_str() {
            "tls" => AsyncSmtpTransport::<Tokio1Executor>::relay(&config.smtp_host)
                .map_err(|e| bad("smtp_host", &e))?,
            "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&config.smtp_host)
                .map_err(|e| bad("smtp_host", &e))?,
            _ => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&config.smtp_host),
        };
        let mut builder = builder.port(config.smtp_port).timeout(Some(timeout));
        if !config.smtp_username.is_empty() {
            builder = builder.credentials(Credentials::new(
                config.smtp_username.clone(),
                config.smtp_password.clone(),
            ));
        }
        let from: Mailbox = config.from.parse().map_err(|e| bad("from", &e))?;
        let dir =
            (!config.template_dir.is_empty()).then(|| std::path::Path::new(&config.template_dir));
        Ok(EmailChannel {
            transport: builder.build(),
            from,
            templates: EmailTemplates::load(dir)?,
        })
    }

    /// The full message for `outgoing` (exposed for tests and previews).
    pub fn build_message(&self, outgoing: &Outgoing) -> Result<Message, ChannelError> {
        let address = outgoing
            .message
            .payload
            .get("email")
            .and_then(|v| v.as_str())
            .ok_or_else(|| ChannelError::Permanent("the cart has no e-mail address".into()))?;
        let to: Mailbox = address
            .parse()
            .map_err(|e| ChannelError::Permanent(format!("e-mail address {address:?}: {e}")))?;
        let rendered = self.templates.render(outgoing)?;
        let domain = self.from.email.domain().to_owned();
        let message_id = format!(
            "<{}@{domain}>",
            outgoing
                .message
                .idempotency_key
                .replace(|c: char| !c.is_ascii_alphanumeric(), "-")
        );
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(rendered.subject)
            .message_id(Some(message_id))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{}>", outgoing.unsubscribe_link),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".into(),
            ))
            .multipart(MultiPart::alternative_plain_html(
                rendered.text,
                rendered.html,
            ))
            .map_err(|e| ChannelError::Permanent(format!("building the e-mail: {e}")))
    }
}

impl Channel for EmailChannel {
    fn name(&self) -> &'static str {
        "email"
    }

    fn send<'a>(&'a self, outgoing: &'a Outgoing) -> SendFuture<'a> {
        Box::pin(async move {
            let message = self.build_message(outgoing)?;
            self.transport
                .send(message)
                .await
                .map_err(|e| ChannelError::Transient(format!("SMTP: {e}")))?;
            Ok(())
        })
    }
}
