//! The user-facing settings of `cartback serve`: [`ServerConfig`] read from a TOML file,
//! overridden by `CARTBACK_*` environment variables, validated before anything starts.
//! [`DEFAULT_CONFIG_TOML`] is the full default file with every field commented.

use cartback_core::tracker::duration_text;
use cartback_core::{Duration, TrackerConfig};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;

/// The default configuration file, every field commented (`cartback serve --print-config`).
pub const DEFAULT_CONFIG_TOML: &str = include_str!("default_config.toml");

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("reading {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("environment variable {variable}: {message}")]
    Environment { variable: String, message: String },
    #[error("`{field}`: {message}")]
    Invalid { field: String, message: String },
}

fn invalid(field: &str, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        field: field.to_owned(),
        message: message.into(),
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    pub db: String,
    /// Public base URL of this server, used in tracking and unsubscribe links.
    pub public_url: String,
    /// Where a restore link finally sends the shopper; `{cart_id}` is replaced.
    pub restore_url: String,
    /// Secret that signs tracking tokens; generated per start when empty (links then die
    /// with the process, so set it in production).
    pub signing_secret: String,
    #[serde(with = "duration_text")]
    pub token_ttl: Duration,
    pub max_body_bytes: usize,
    /// Requests per second allowed per API key (burst: the same number).
    pub rate_limit_per_key: u32,
    #[serde(with = "duration_text")]
    pub tick: Duration,
    /// Abandonments older than this at decision time (e.g. replayed history) get no message.
    #[serde(with = "duration_text")]
    pub max_decision_lag: Duration,
    /// Fraction of users (by a hash of their id) kept as a never-contacted holdout.
    pub holdout_fraction: f64,
    pub tracker: TrackerConfig,
    pub flow: FlowConfig,
    pub auth: AuthConfig,
    pub shopify: ShopifyConfig,
    pub dispatch: DispatchConfig,
    pub email: EmailConfig,
    pub webhook: WebhookConfig,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlowConfig {
    /// Delay between abandonment and the reminder.
    #[serde(with = "duration_text")]
    pub reminder_delay: Duration,
    /// `email`, `webhook` or `log`.
    pub channel: String,
    /// Products recommended in each message (0 = none).
    pub recommendations: usize,
    /// A model file from `cartback recommend train`; empty = the shop's most ordered items.
    pub recommendation_model: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    pub keys: Vec<ApiKeyConfig>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeyConfig {
    pub name: String,
    /// `sha256:` + hex of SHA-256 of the key (`cartback serve --hash-key KEY` prints it).
    pub hash: String,
    pub scopes: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ShopifyConfig {
    /// The app's webhook secret; the endpoint refuses every call while empty.
    pub webhook_secret: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DispatchConfig {
    pub max_attempts: u32,
    #[serde(with = "duration_text")]
    pub initial_backoff: Duration,
    #[serde(with = "duration_text")]
    pub max_backoff: Duration,
    #[serde(with = "duration_text")]
    pub send_timeout: Duration,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EmailConfig {
    pub smtp_host: String,
    pub smtp_port: u16,
    /// `none` (plain, for a local relay), `starttls` or `tls`.
    pub smtp_security: String,
    pub smtp_username: String,
    pub smtp_password: String,
    pub from: String,
    /// Directory with `reminder.subject.txt`, `reminder.html` and `reminder.txt`; the
    /// bundled templates are used when empty.
    pub template_dir: String,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookConfig {
    pub url: String,
    pub secret: String,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            db: "cartback.db".into(),
            public_url: "http://127.0.0.1:8080".into(),
            restore_url: "https://shop.example/cart/{cart_id}".into(),
            signing_secret: String::new(),
            token_ttl: Duration::days(30),
            max_body_bytes: 1 << 20,
            rate_limit_per_key: 5_000,
            tick: Duration::seconds(1),
            max_decision_lag: Duration::days(1),
            holdout_fraction: 0.1,
            tracker: TrackerConfig::default(),
            flow: FlowConfig::default(),
            auth: AuthConfig::default(),
            shopify: ShopifyConfig::default(),
            dispatch: DispatchConfig::default(),
            email: EmailConfig::default(),
            webhook: WebhookConfig::default(),
        }
    }
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            reminder_delay: Duration::hours(1),
            channel: "log".into(),
            recommendations: 3,
            recommendation_model: String::new(),
        }
    }
}

impl Default for DispatchConfig {
    fn default() -> Self {
        DispatchConfig {
            max_attempts: 8,
            initial_backoff: Duration::seconds(30),
            max_backoff: Duration::hours(1),
            send_timeout: Duration::seconds(10),
        }
    }
}

impl Default for EmailConfig {
    fn default() -> Self {
        EmailConfig {
            smtp_host: "127.0.0.1".into(),
            smtp_port: 25,
            smtp_security: "none".into(),
            smtp_username: String::new(),
            smtp_password: String::new(),
            from: "Shop <shop@example.com>".into(),
            template_dir: String::new(),
        }
    }
}

/// Sets one field from an environment variable's text.
type EnvSetter = fn(&mut ServerConfig, &str) -> Result<(), String>;

/// Environment variables that override the file: name → setter.
const ENV_OVERRIDES: &[(&str, EnvSetter)] = &[
    ("CARTBACK_LISTEN", |c, v| {
        c.listen = v.parse().map_err(|e| format!("{e}"))?;
        Ok(())
    }),
    ("CARTBACK_DB", |c, v| {
        c.db = v.to_owned();
        Ok(())
    }),
    ("CARTBACK_PUBLIC_URL", |c, v| {
        c.public_url = v.to_owned();
        Ok(())
    }),
    ("CARTBACK_SIGNING_SECRET", |c, v| {
        c.signing_secret = v.to_owned();
        Ok(())
    }),
    ("CARTBACK_SHOPIFY_WEBHOOK_SECRET", |c, v| {
        c.shopify.webhook_secret = v.to_owned();
        Ok(())
    }),
    ("CARTBACK_SMTP_HOST", |c, v| {
        c.email.smtp_host = v.to_owned();
        Ok(())
    }),
    ("CARTBACK_SMTP_PORT", |c, v| {
        c.email.smtp_port = v.parse().map_err(|e| format!("{e}"))?;
        Ok(())
    }),
    ("CARTBACK_SMTP_USERNAME", |c, v| {
        c.email.smtp_username = v.to_owned();
        Ok(())
    }),
    ("CARTBACK_SMTP_PASSWORD", |c, v| {
        c.email.smtp_password = v.to_owned();
        Ok(())
    }),
    ("CARTBACK_WEBHOOK_URL", |c, v| {
        c.webhook.url = v.to_owned();
        Ok(())
    }),
    ("CARTBACK_WEBHOOK_SECRET", |c, v| {
        c.webhook.secret = v.to_owned();
        Ok(())
    }),
];

impl ServerConfig {
    /// Parses a TOML document (`path` only names it in errors).
    pub fn from_toml(text: &str, path: &str) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// Reads the file when given, else the defaults.
    pub fn load(path: Option<&std::path::Path>) -> Result<Self, ConfigError> {
        match path {
            None => Ok(ServerConfig::default()),
            Some(path) => {
                let shown = path.display().to_string();
                let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
                    path: shown.clone(),
                    source,
                })?;
                ServerConfig::from_toml(&text, &shown)
            }
        }
    }

    /// Applies `CARTBACK_*` overrides read through `lookup` (the process environment in
    /// production, a map in tests).
    pub fn apply_env(
        &mut self,
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        for (variable, set) in ENV_OVERRIDES {
            if let Some(value) = lookup(variable) {
                set(self, &value).map_err(|message| ConfigError::Environment {
                    variable: (*variable).to_owned(),
                    message,
                })?;
            }
        }
        Ok(())
    }

    pub fn validate(&self) -> Result<(), ConfigError> {
        self.tracker
            .validate()
            .map_err(|e| invalid("tracker", e.to_string()))?;
        if self.max_body_bytes < 1024 {
            return Err(invalid("max_body_bytes", "must be at least 1024"));
        }
        if !(0.0..=1.0).contains(&self.holdout_fraction) {
            return Err(invalid("holdout_fraction", "must be between 0 and 1"));
        }
        if self.rate_limit_per_key == 0 {
            return Err(invalid("rate_limit_per_key", "must be positive"));
        }
        for (field, value) in [
            ("tick", self.tick),
            ("token_ttl", self.token_ttl),
            ("max_decision_lag", self.max_decision_lag),
            ("dispatch.initial_backoff", self.dispatch.initial_backoff),
            ("dispatch.max_backoff", self.dispatch.max_backoff),
            ("dispatch.send_timeout", self.dispatch.send_timeout),
        ] {
            if value.as_millis() <= 0 {
                return Err(invalid(field, "must be positive"));
            }
        }
        if self.flow.reminder_delay.as_millis() < 0 {
            return Err(invalid("flow.reminder_delay", "must not be negative"));
        }
        if self.dispatch.max_attempts == 0 {
            return Err(invalid("dispatch.max_attempts", "must be at least 1"));
        }
        match self.flow.channel.as_str() {
            "log" | "email" => {}
            "webhook" if self.webhook.url.is_empty() => {
                return Err(invalid(
                    "webhook.url",
                    "required when flow.channel = \"webhook\"",
                ));
            }
            "webhook" => {}
            other => {
                return Err(invalid(
                    "flow.channel",
                    format!("expected email, webhook or log, got {other:?}"),
                ));
            }
        }
        if !matches!(
            self.email.smtp_security.as_str(),
            "none" | "starttls" | "tls"
        ) {
            return Err(invalid(
                "email.smtp_security",
                "expected none, starttls or tls",
            ));
        }
        if !self.restore_url.starts_with("https://") && !self.restore_url.starts_with("http://") {
            return Err(invalid("restore_url", "must be an http(s) URL"));
        }
        for (index, key) in self.auth.keys.iter().enumerate() {
            crate::auth::parse_key_config(key)
                .map_err(|message| invalid(&format!("auth.keys[{index}]"), message))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_printed_default_file_is_the_default_configuration() {
        let parsed = ServerConfig::from_toml(DEFAULT_CONFIG_TOML, "default").unwrap();
        assert_eq!(parsed, ServerConfig::default());
        parsed.validate().unwrap();
    }

    #[test]
    fn environment_overrides_win_and_bad_values_name_the_variable() {
        let mut config = ServerConfig::default();
        config
            .apply_env(|name| (name == "CARTBACK_LISTEN").then(|| "0.0.0.0:9000".to_owned()))
            .unwrap();
        assert_eq!(config.listen.port(), 9000);
        let err = config
            .apply_env(|name| (name == "CARTBACK_SMTP_PORT").then(|| "many".to_owned()))
            .unwrap_err();
        assert!(err.to_string().contains("CARTBACK_SMTP_PORT"), "{err}");
    }

    #[test]
    fn unknown_and_invalid_fields_are_named() {
        let err = ServerConfig::from_toml("lisen = \"x\"", "c.toml").unwrap_err();
        assert!(err.to_string().contains("lisen"), "{err}");
        let config = ServerConfig::from_toml("holdout_fraction = 1.5", "c.toml").unwrap();
        let err = config.validate().unwrap_err();
        assert!(err.to_string().contains("holdout_fraction"), "{err}");
    }
}
