//! The user-facing settings of `cartback serve`: [`ServerConfig`] read from a TOML file,
//! overridden by `CARTBACK_*` environment variables, validated before anything starts.
//! [`DEFAULT_CONFIG_TOML`] is the full default file with every field commented.

pub use crate::decide::policy_file::PolicyKind;
use cartback_core::tracker::duration_text;
use cartback_core::{Duration, TrackerConfig};
use cartback_policy::actions::ActionCosts;
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
    pub policy: PolicyConfig,
    pub guardrails: GuardrailsConfig,
    pub auth: AuthConfig,
    pub shopify: ShopifyConfig,
    pub dispatch: DispatchConfig,
    pub email: EmailConfig,
    pub webhook: WebhookConfig,
    /// What messages, coupons and unsubscribes cost (`[costs]`, the simulator's fields):
    /// the reports book each abandonment's net revenue with them.
    pub costs: ActionCosts,
    /// Events from a NATS JetStream stream (`[nats]`), beside the HTTP API.
    pub nats: NatsConfig,
    /// Data protection (`[privacy]`): retention.
    pub privacy: PrivacyConfig,
}

/// The NATS JetStream event source (`[nats]`): a durable pull consumer on a stream whose
/// messages carry events (each one JSON event, an array, NDJSON, or Segment calls).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsConfig {
    /// Server URL, e.g. `nats://127.0.0.1:4222`; empty: no NATS source.
    pub url: String,
    /// The stream holding the events; created with `subjects` when it does not exist.
    pub stream: String,
    /// Subjects the stream captures when cartback creates it (partition by user, e.g.
    /// `cartback.events.<user>`, to keep each user's events in order with many publishers).
    pub subjects: Vec<String>,
    /// Name of the durable consumer: it remembers what was acknowledged across restarts.
    pub durable: String,
    /// `ndjson` (cartback events) or `segment` (Segment `track` calls).
    pub format: String,
    /// Messages fetched (and stored in one group commit) at a time.
    pub batch: usize,
    /// How long a failed batch (store error) waits before the server redelivers it.
    #[serde(with = "duration_text")]
    pub retry_after: Duration,
}

impl Default for NatsConfig {
    fn default() -> Self {
        NatsConfig {
            url: String::new(),
            stream: "CARTBACK_EVENTS".into(),
            subjects: vec!["cartback.events.>".into()],
            durable: "cartback-engine".into(),
            format: "ndjson".into(),
            batch: 256,
            retry_after: Duration::seconds(5),
        }
    }
}

/// Data protection settings (`[privacy]`).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PrivacyConfig {
    /// How long shoppers' data is kept (GDPR storage limitation): events older than this, and
    /// carts closed longer ago with their decisions, messages and tracking, are purged at
    /// start-up and once a day (`crate::retention`). `None` (an empty string in the file):
    /// kept for ever.
    #[serde(with = "optional_duration")]
    pub retention: Option<Duration>,
    /// The secret that pseudonymises shoppers' ids (`cartback_ingest::Pseudonymiser`): with
    /// it, every accepted event's `user_id` and `anonymous_id` are stored as pseudonyms. Empty:
    /// ids are stored as the shop sends them. At least 32 bytes; `CARTBACK_PSEUDONYMISE_KEY`
    /// overrides it.
    pub pseudonymise_key: String,
}

impl PrivacyConfig {
    /// The pseudonymiser of the configured key, if one is set.
    pub fn pseudonymiser(&self) -> Result<Option<cartback_ingest::Pseudonymiser>, ConfigError> {
        if self.pseudonymise_key.is_empty() {
            return Ok(None);
        }
        cartback_ingest::Pseudonymiser::new(&self.pseudonymise_key)
            .map(Some)
            .map_err(|e| invalid("privacy.pseudonymise_key", e.to_string()))
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FlowConfig {
    /// Where e-mail actions go: `email` (SMTP), `webhook` or `log`.
    pub channel: String,
    /// Products recommended in a `recommendation_email` (0 = none).
    pub recommendations: usize,
    /// A model file from `cartback recommend train`; empty = the shop's most ordered items.
    pub recommendation_model: String,
}

/// Which policy decides, from which files, and when (`[policy]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PolicyConfig {
    /// `fixed_flow`, `threshold`, `uplift_greedy`, `linucb`, `thompson`, `q_learning` or
    /// `fitted_q`.
    pub kind: PolicyKind,
    /// When each decision step comes, counted from the abandonment.
    #[serde(with = "duration_list")]
    pub step_delays: Vec<Duration>,
    /// The fixed flow: one action name per step (also what `threshold` sends).
    pub fixed_flow: Vec<String>,
    /// `threshold`: contact only carts predicted to buy with less than this probability.
    pub threshold: f64,
    /// A model file from `cartback train`; empty: every cart gets `prior_propensity`.
    pub propensity_model: String,
    pub prior_propensity: f64,
    /// A learned policy's state file from `cartback policy train`.
    pub state_file: String,
    /// How often the files are checked for changes (their modification time and size).
    #[serde(with = "duration_text")]
    pub reload_check: Duration,
    /// Seed of the policies' exploration; each (cart, abandonment, step) draws from its own
    /// stream, so a decision is reproducible.
    pub seed: u64,
    /// Share of decisions drawn uniformly among the allowed actions instead of by the policy
    /// (`cartback_policy::policies::Exploring`), so that the decision log can evaluate other
    /// policies off-policy. 0: none (a deterministic policy's log evaluates nothing else).
    pub exploration: f64,
    /// How long a coupon stays valid after its message is due.
    #[serde(with = "duration_text")]
    pub coupon_ttl: Duration,
    /// The shop sends an event whenever a code is typed into its checkout's coupon field
    /// (`coupon_entered`, or Segment `Coupon Entered`/`Applied`/`Denied`). Only then does a
    /// cart that reached checkout without one tell the policies "no code typed"; otherwise
    /// the coupon field counts as not observed unless a coupon event arrived.
    pub coupon_events_tracked: bool,
    /// The shop's order events name the discount code the order used (`coupon_code` on
    /// `order_completed`, Segment `Order Completed`'s `coupon`, Shopify's `discount_codes`).
    /// Only then are the user's orders of the last 365 days, with and without a code, fed to
    /// the policies as the customer history's coupon use.
    pub order_coupons_tracked: bool,
    /// The shop's events carry the session's referrer (`referrer` in NDJSON, Segment's
    /// `context.page.referrer` / `context.campaign.source`, Shopify's `referring_site` /
    /// `landing_site`'s `utm_source`). Only then does a cart without a deal-site referrer tell
    /// the policies "referrer known, not a coupon site"; otherwise a cart whose events named
    /// no referrer counts as referrer unknown.
    pub referrers_tracked: bool,
    /// Coupon, deal and cash-back sites (lower-case domains): a session whose referrer host is
    /// one of them or a subdomain, or whose campaign source is one of them or its first label
    /// (`retailmenot`), arrived from a coupon site.
    pub deal_sites: Vec<String>,
}

/// The default `[policy] deal_sites`: widely used coupon-code, deal-community and cash-back
/// sites of the US, UK, German and French markets (see `docs/server.md`).
pub const DEFAULT_DEAL_SITES: [&str; 20] = [
    "retailmenot.com",
    "coupons.com",
    "couponcabin.com",
    "couponfollow.com",
    "dealspotr.com",
    "wethrift.com",
    "knoji.com",
    "groupon.com",
    "slickdeals.net",
    "joinhoney.com",
    "capitaloneshopping.com",
    "rakuten.com",
    "befrugal.com",
    "topcashback.com",
    "topcashback.co.uk",
    "quidco.com",
    "vouchercodes.co.uk",
    "hotukdeals.com",
    "mydealz.de",
    "dealabs.com",
];

/// Guardrail settings (`[guardrails]`); the holdout is the top-level `holdout_fraction`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuardrailsConfig {
    /// At most this many messages to one user within `user_cap_window` (all carts).
    pub user_cap_messages: u32,
    #[serde(with = "duration_text")]
    pub user_cap_window: Duration,
    /// At most this many messages about one cart.
    pub max_messages_per_cart: u32,
    /// At least this long between two messages about one cart (later ones are postponed).
    #[serde(with = "duration_text")]
    pub min_gap_between_cart_messages: Duration,
    /// Quiet hours `[start, end)` in the shopper's local time; equal values turn them off.
    pub quiet_start_hour: u32,
    pub quiet_end_hour: u32,
    /// IANA zone of shoppers whose events name none.
    pub default_timezone: String,
    /// Coupons committed per UTC day, minor units.
    pub daily_discount_budget_minor: i64,
    /// Margin every item with a known cost keeps after a coupon (fraction of its price).
    pub margin_floor: f64,
    /// CSV `item_id,unit_cost_minor`; empty: costs unknown (the margin floor cannot bind).
    pub item_costs: String,
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
            policy: PolicyConfig::default(),
            guardrails: GuardrailsConfig::default(),
            auth: AuthConfig::default(),
            shopify: ShopifyConfig::default(),
            dispatch: DispatchConfig::default(),
            email: EmailConfig::default(),
            webhook: WebhookConfig::default(),
            costs: ActionCosts::default(),
            nats: NatsConfig::default(),
            privacy: PrivacyConfig::default(),
        }
    }
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            channel: "log".into(),
            recommendations: 3,
            recommendation_model: String::new(),
        }
    }
}

impl Default for PolicyConfig {
    fn default() -> Self {
        PolicyConfig {
            kind: PolicyKind::FixedFlow,
            step_delays: vec![Duration::hours(1), Duration::hours(24), Duration::hours(72)],
            fixed_flow: vec![
                "reminder_email".into(),
                "reminder_email".into(),
                "discount_10".into(),
            ],
            threshold: 0.10,
            propensity_model: String::new(),
            prior_propensity: 0.05,
            state_file: String::new(),
            reload_check: Duration::seconds(5),
            seed: 0,
            exploration: 0.0,
            coupon_ttl: Duration::days(7),
            coupon_events_tracked: false,
            order_coupons_tracked: false,
            referrers_tracked: false,
            deal_sites: DEFAULT_DEAL_SITES.iter().map(|s| (*s).to_owned()).collect(),
        }
    }
}

impl Default for GuardrailsConfig {
    fn default() -> Self {
        GuardrailsConfig {
            user_cap_messages: 3,
            user_cap_window: Duration::days(7),
            max_messages_per_cart: 3,
            min_gap_between_cart_messages: Duration::hours(12),
            quiet_start_hour: 21,
            quiet_end_hour: 8,
            default_timezone: "UTC".into(),
            daily_discount_budget_minor: 50_000,
            margin_floor: 0.2,
            item_costs: String::new(),
        }
    }
}

/// Serde for a list of durations, each as `duration_text` reads and writes it.
mod duration_list {
    use cartback_core::Duration;
    use cartback_core::tracker::duration_text;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum One {
        Millis(i64),
        Text(String),
    }

    pub fn serialize<S: Serializer>(list: &[Duration], s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(list.iter().map(|d| duration_text::format(*d)))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
        Vec::<One>::deserialize(d)?
            .into_iter()
            .map(|one| match one {
                One::Millis(ms) => Ok(Duration::millis(ms)),
                One::Text(text) => duration_text::parse(&text).map_err(D::Error::custom),
            })
            .collect()
    }
}

/// Serde for an optional duration: an empty string is `None`, anything else what
/// `duration_text` reads and writes.
mod optional_duration {
    use cartback_core::Duration;
    use cartback_core::tracker::duration_text;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Written {
        Millis(i64),
        Text(String),
    }

    pub fn serialize<S: Serializer>(value: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(duration) => s.serialize_str(&duration_text::format(*duration)),
            None => s.serialize_str(""),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        match Written::deserialize(d)? {
            Written::Millis(ms) => Ok(Some(Duration::millis(ms))),
            Written::Text(text) if text.trim().is_empty() => Ok(None),
            Written::Text(text) => duration_text::parse(&text)
                .map(Some)
                .map_err(D::Error::custom),
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
    ("CARTBACK_NATS_URL", |c, v| {
        c.nats.url = v.to_owned();
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
    ("CARTBACK_PSEUDONYMISE_KEY", |c, v| {
        c.privacy.pseudonymise_key = v.to_owned();
        Ok(())
    }),
    ("CARTBACK_WEBHOOK_SECRET", |c, v| {
        c.webhook.secret = v.to_owned();
        Ok(())
    }),
    ("CARTBACK_POLICY", |c, v| {
        c.policy.kind = PolicyKind::from_name(v).ok_or_else(|| {
            format!("unknown policy {v:?} (expected fixed_flow, threshold, uplift_greedy, linucb, thompson, q_learning or fitted_q)")
        })?;
        Ok(())
    }),
    ("CARTBACK_PROPENSITY_MODEL", |c, v| {
        c.policy.propensity_model = v.to_owned();
        Ok(())
    }),
    ("CARTBACK_POLICY_STATE_FILE", |c, v| {
        c.policy.state_file = v.to_owned();
        Ok(())
    }),
];

impl ServerConfig {
    fn validate_nats(&self) -> Result<(), ConfigError> {
        let n = &self.nats;
        if n.url.is_empty() {
            return Ok(());
        }
        let name_ok = |name: &str| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        };
        if !name_ok(&n.stream) {
            return Err(invalid(
                "nats.stream",
                "must be letters, digits, `_` or `-` (a JetStream stream name)",
            ));
        }
        if !name_ok(&n.durable) {
            return Err(invalid(
                "nats.durable",
                "must be letters, digits, `_` or `-` (a JetStream consumer name)",
            ));
        }
        if n.subjects.is_empty() || n.subjects.iter().any(|s| s.is_empty() || s.contains(' ')) {
            return Err(invalid(
                "nats.subjects",
                "needs at least one subject, without spaces",
            ));
        }
        if !matches!(n.format.as_str(), "ndjson" | "segment") {
            return Err(invalid("nats.format", "must be `ndjson` or `segment`"));
        }
        if n.batch == 0 || n.batch > 10_000 {
            return Err(invalid("nats.batch", "must be between 1 and 10000"));
        }
        if n.retry_after.as_millis() <= 0 {
            return Err(invalid("nats.retry_after", "must be positive"));
        }
        Ok(())
    }

    fn validate_policy(&self) -> Result<(), ConfigError> {
        let p = &self.policy;
        let delays = &p.step_delays;
        if delays.is_empty() || delays.len() > 6 {
            return Err(invalid("policy.step_delays", "needs 1 to 6 steps"));
        }
        if delays[0].as_millis() < 0 || delays.windows(2).any(|w| w[0] >= w[1]) {
            return Err(invalid(
                "policy.step_delays",
                "must be non-negative and strictly increasing",
            ));
        }
        if p.fixed_flow.len() != delays.len() {
            return Err(invalid(
                "policy.fixed_flow",
                format!(
                    "{} actions for {} step_delays (one action per step)",
                    p.fixed_flow.len(),
                    delays.len()
                ),
            ));
        }
        for (index, name) in p.fixed_flow.iter().enumerate() {
            if cartback_policy::actions::ActionKind::from_name(name).is_none() {
                return Err(invalid(
                    &format!("policy.fixed_flow[{index}]"),
                    format!(
                        "unknown action {name:?} (expected do_nothing, reminder_email, recommendation_email, webhook_push, discount_5, discount_10, discount_15 or discount_20)"
                    ),
                ));
            }
        }
        if !(p.threshold > 0.0 && p.threshold <= 1.0) {
            return Err(invalid("policy.threshold", "must be in (0, 1]"));
        }
        if !(0.0..=1.0).contains(&p.prior_propensity) {
            return Err(invalid("policy.prior_propensity", "must be in [0, 1]"));
        }
        if !(0.0..1.0).contains(&p.exploration) {
            return Err(invalid(
                "policy.exploration",
                format!("must be in [0, 1), got {}", p.exploration),
            ));
        }
        if p.kind == PolicyKind::Threshold && p.propensity_model.is_empty() {
            return Err(invalid(
                "policy.propensity_model",
                "required by kind = \"threshold\" (a model file from `cartback train`)",
            ));
        }
        if p.kind.is_learned() && p.state_file.is_empty() {
            return Err(invalid(
                "policy.state_file",
                format!(
                    "required by kind = {:?} (a file from `cartback policy train`)",
                    p.kind.name()
                ),
            ));
        }
        for (index, site) in p.deal_sites.iter().enumerate() {
            let domain_shaped = site.contains('.')
                && !site.starts_with('.')
                && !site.ends_with('.')
                && !site.starts_with("www.")
                && site.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-'
                });
            if !domain_shaped {
                return Err(invalid(
                    &format!("policy.deal_sites[{index}]"),
                    format!(
                        "{site:?} is not a lower-case domain such as \"retailmenot.com\" (no scheme, path or www.)"
                    ),
                ));
            }
        }
        for (field, value) in [
            ("policy.reload_check", p.reload_check),
            ("policy.coupon_ttl", p.coupon_ttl),
            (
                "guardrails.user_cap_window",
                self.guardrails.user_cap_window,
            ),
        ] {
            if value.as_millis() <= 0 {
                return Err(invalid(field, "must be positive"));
            }
        }
        let g = &self.guardrails;
        if g.min_gap_between_cart_messages.as_millis() < 0 {
            return Err(invalid(
                "guardrails.min_gap_between_cart_messages",
                "must not be negative",
            ));
        }
        if g.quiet_start_hour >= 24 || g.quiet_end_hour >= 24 {
            return Err(invalid(
                "guardrails.quiet_start_hour",
                "quiet hours must be in 0..24",
            ));
        }
        if g.default_timezone.parse::<chrono_tz::Tz>().is_err() {
            return Err(invalid(
                "guardrails.default_timezone",
                format!("{:?} is not an IANA time zone", g.default_timezone),
            ));
        }
        if g.daily_discount_budget_minor < 0 {
            return Err(invalid(
                "guardrails.daily_discount_budget_minor",
                "must not be negative",
            ));
        }
        if !(0.0..1.0).contains(&g.margin_floor) {
            return Err(invalid("guardrails.margin_floor", "must be in [0, 1)"));
        }
        Ok(())
    }

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
        self.costs
            .validate()
            .map_err(|e| invalid("costs", e.to_string()))?;
        self.validate_nats()?;
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
        self.validate_policy()?;
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
        if let Some(retention) = self.privacy.retention {
            crate::retention::check_retention(retention, self.tracker.attribution_window)
                .map_err(|message| invalid("privacy.retention", message))?;
        }
        self.privacy.pseudonymiser()?;
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
    fn policy_settings_are_checked_and_overridable() {
        let mut config = ServerConfig::default();
        config
            .apply_env(|name| match name {
                "CARTBACK_POLICY" => Some("linucb".into()),
                "CARTBACK_POLICY_STATE_FILE" => Some("/var/lib/linucb.json".into()),
                _ => None,
            })
            .unwrap();
        assert_eq!(config.policy.kind, PolicyKind::Linucb);
        assert_eq!(config.policy.state_file, "/var/lib/linucb.json");
        config.validate().unwrap();
        let err = config
            .apply_env(|name| (name == "CARTBACK_POLICY").then(|| "magic".into()))
            .unwrap_err();
        assert!(err.to_string().contains("CARTBACK_POLICY"), "{err}");

        let cases = [
            ("[policy]\nkind = \"threshold\"", "policy.propensity_model"),
            ("[policy]\nkind = \"q_learning\"", "policy.state_file"),
            (
                "[policy]\nstep_delays = [\"24h\", \"1h\", \"72h\"]",
                "policy.step_delays",
            ),
            (
                "[policy]\nfixed_flow = [\"reminder_email\"]",
                "policy.fixed_flow",
            ),
            (
                "[policy]\nfixed_flow = [\"reminder_email\", \"fax\", \"discount_10\"]",
                "policy.fixed_flow[1]",
            ),
            (
                "[guardrails]\nquiet_start_hour = 24",
                "guardrails.quiet_start_hour",
            ),
            (
                "[guardrails]\ndefault_timezone = \"Mars/Olympus\"",
                "guardrails.default_timezone",
            ),
            (
                "[guardrails]\nmargin_floor = 1.0",
                "guardrails.margin_floor",
            ),
        ];
        for (text, field) in cases {
            let err = ServerConfig::from_toml(text, "c.toml")
                .unwrap()
                .validate()
                .unwrap_err()
                .to_string();
            assert!(err.contains(&format!("`{field}`")), "{text}: {err}");
        }
        let config =
            ServerConfig::from_toml("[policy]\nstep_delays = [60000, \"2h\", \"3d\"]", "c.toml")
                .unwrap();
        assert_eq!(
            config.policy.step_delays,
            [Duration::minutes(1), Duration::hours(2), Duration::days(3)]
        );
        let err = ServerConfig::from_toml("[policy]\nkind = \"oracle\"", "c.toml").unwrap_err();
        assert!(err.to_string().contains("kind"), "{err}");
    }

    #[test]
    fn retention_is_off_when_empty_and_checked_when_set() {
        let config = ServerConfig::from_toml("[privacy]\nretention = \"400d\"", "c.toml").unwrap();
        assert_eq!(config.privacy.retention, Some(Duration::days(400)));
        config.validate().unwrap();
        let off = ServerConfig::from_toml("[privacy]\nretention = \"\"", "c.toml").unwrap();
        assert_eq!(off.privacy.retention, None);
        let printed = toml::to_string(&config).unwrap();
        assert!(printed.contains("retention = \"400d\""), "{printed}");
        assert_eq!(
            ServerConfig::from_toml(&printed, "printed").unwrap(),
            config
        );
        for text in [
            "[privacy]\nretention = \"2d\"",
            "[privacy]\nretention = -1",
            "[privacy]\nretention = \"9d\"\n[tracker]\nattribution_window = \"9d\"",
        ] {
            let err = ServerConfig::from_toml(text, "c.toml")
                .unwrap()
                .validate()
                .unwrap_err()
                .to_string();
            assert!(err.contains("`privacy.retention`"), "{text}: {err}");
        }
        let err = ServerConfig::from_toml("[privacy]\nretention = \"a year\"", "c.toml")
            .unwrap_err()
            .to_string();
        assert!(err.contains("retention"), "{err}");
    }

    #[test]
    fn unknown_and_invalid_fields_are_named() {
        let err = ServerConfig::from_toml("lisen = \"x\"", "c.toml").unwrap_err();
        assert!(err.to_string().contains("lisen"), "{err}");
        let config = ServerConfig::from_toml("holdout_fraction = 1.5", "c.toml").unwrap();
        let err = config.validate().unwrap_err();
        assert!(err.to_string().contains("holdout_fraction"), "{err}");
    }

    #[test]
    fn privacy_and_exploration_settings_are_checked_naming_the_field() {
        for (toml, field) in [
            ("[policy]\nexploration = 1.0", "policy.exploration"),
            ("[policy]\nexploration = -0.1", "policy.exploration"),
            (
                "[privacy]\npseudonymise_key = \"short\"",
                "privacy.pseudonymise_key",
            ),
        ] {
            let err = ServerConfig::from_toml(toml, "c.toml")
                .unwrap()
                .validate()
                .unwrap_err();
            assert!(err.to_string().contains(field), "{toml}: {err}");
        }
        let ok = ServerConfig::from_toml(
            "[policy]\nexploration = 0.05\n[privacy]\npseudonymise_key = \"0123456789abcdef0123456789abcdef\"",
            "c.toml",
        )
        .unwrap();
        ok.validate().unwrap();
        assert!(ok.privacy.pseudonymiser().unwrap().is_some());
        // The environment overrides the file's key.
        let mut config = ServerConfig::default();
        config
            .apply_env(|name| (name == "CARTBACK_PSEUDONYMISE_KEY").then(|| "k".repeat(40)))
            .unwrap();
        assert_eq!(config.privacy.pseudonymise_key, "k".repeat(40));
        assert!(
            ServerConfig::default()
                .privacy
                .pseudonymiser()
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn nats_settings_are_checked_only_when_a_url_is_set() {
        let off = ServerConfig::from_toml("[nats]\nformat = \"xml\"", "c.toml").unwrap();
        assert!(off.validate().is_ok());
        for (toml, field) in [
            ("stream = \"EVENTS.ALL\"", "nats.stream"),
            ("durable = \"\"", "nats.durable"),
            ("subjects = []", "nats.subjects"),
            ("format = \"xml\"", "nats.format"),
            ("batch = 0", "nats.batch"),
            ("retry_after = \"0s\"", "nats.retry_after"),
        ] {
            let text = format!("[nats]\nurl = \"nats://127.0.0.1:4222\"\n{toml}");
            let err = ServerConfig::from_toml(&text, "c.toml")
                .unwrap()
                .validate()
                .unwrap_err();
            assert!(err.to_string().contains(field), "{toml}: {err}");
        }
        let on = ServerConfig::from_toml("[nats]\nurl = \"nats://127.0.0.1:4222\"", "c.toml");
        assert!(on.unwrap().validate().is_ok());
    }
}
