//! cartback's live engine (`cartback serve`).
//!
//! Owns the HTTP API ([`http`]), API keys and rate limiting ([`auth`]), the server's
//! configuration ([`config`]), the real-time [`engine`] (tracker driven by a [`clock`],
//! multi-step decisions through [`decide`]: `cartback-policy`'s policies and guardrails,
//! `cartback-ml`'s propensity models, signed coupons; its decisions, outbox, consent and
//! tracking records live in `cartback_store`), the [`dispatcher`] and its [`channels`], the
//! signed [`tracking`] tokens, [`metrics`], the NATS JetStream event source ([`nats`]), the
//! [`report`] of what was won back (its abandonment outcomes in [`outcomes`]), the decision
//! log as episodes to [`learning`] a policy from (and a [`simulated_log`] to try it on), data
//! [`retention`], and [`server`] start-up. See `docs/server.md`.

pub mod auth;
pub mod channels;
pub mod clock;
pub mod config;
pub mod decide;
pub mod demo;
pub mod dispatcher;
pub mod engine;
pub mod export;
pub mod http;
pub mod learning;
pub mod metrics;
pub mod nats;
pub mod outcomes;
pub mod report;
pub mod retention;
pub mod run;
pub mod server;
pub mod simulated_log;
pub mod tracking;
pub mod worker;

pub use clock::{Clock, ScaledClock, SystemClock};
pub use config::{DEFAULT_CONFIG_TOML, ServerConfig};
pub use server::{RunningServer, ServerError, start};
