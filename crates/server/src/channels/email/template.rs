//! The e-mail's words: minijinja templates (subject, HTML, plain text) read from a
//! user-editable directory or the bundled defaults, rendered with the cart snapshot, the
//! signed links and, for a discount, the coupon (`coupon.code`, `coupon.percent`,
//! `coupon.expires`).

use super::super::{ChannelError, Outgoing};
use minijinja::{AutoEscape, Environment};
use std::path::Path;

pub const TEMPLATE_NAMES: [&str; 3] = ["reminder.subject.txt", "reminder.html", "reminder.txt"];

const BUNDLED: [&str; 3] = [
    include_str!("../../../templates/reminder.subject.txt"),
    include_str!("../../../templates/reminder.html"),
    include_str!("../../../templates/reminder.txt"),
];

/// One rendered e-mail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RenderedEmail {
    pub subject: String,
    pub html: String,
    pub text: String,
}

pub struct EmailTemplates {
    env: Environment<'static>,
}

impl EmailTemplates {
    /// Loads the three templates from `dir`, or the bundled ones when `dir` is `None`;
    /// a template that does not compile is an error naming the file.
    pub fn load(dir: Option<&Path>) -> Result<Self, ChannelError> {
        let mut env = Environment::new();
        env.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        for (name, bundled) in TEMPLATE_NAMES.into_iter().zip(BUNDLED) {
            let source = match dir {
                Some(dir) => std::fs::read_to_string(dir.join(name)).map_err(|e| {
                    ChannelError::Permanent(format!(
                        "reading template {}: {e}",
                        dir.join(name).display()
                    ))
                })?,
                None => bundled.to_owned(),
            };
            env.add_template_owned(name, source)
                .map_err(|e| ChannelError::Permanent(format!("template {name}: {e}")))?;
        }
        Ok(EmailTemplates { env })
    }

    pub fn render(&self, outgoing: &Outgoing) -> Result<RenderedEmail, ChannelError> {
        let payload = &outgoing.message.payload;
        let context = minijinja::context! {
            lines => payload.get("lines"),
            value => payload.get("value"),
            coupon => outgoing.coupon_json(),
            action => payload.get("action"),
            recommended => payload.get("recommended"),
            restore_link => outgoing.restore_link,
            unsubscribe_link => outgoing.unsubscribe_link,
            open_pixel => outgoing.open_pixel,
        };
        let render = |name: &str| {
            self.env
                .get_template(name)
                .and_then(|t| t.render(&context))
                .map_err(|e| ChannelError::Permanent(format!("rendering {name}: {e}")))
        };
        Ok(RenderedEmail {
            subject: render(TEMPLATE_NAMES[0])?.trim().to_owned(),
            html: render(TEMPLATE_NAMES[1])?,
            text: render(TEMPLATE_NAMES[2])?,
        })
    }
}
