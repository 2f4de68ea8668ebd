//! cartback's decision layer: what to do about an abandoned cart, and how good a way of
//! deciding is.
//!
//! - [`actions`]: the interventions (reminder, recommendations, webhook push, coupons) and
//!   what each one costs.
//! - [`guardrails`]: pure checks that dispose of a policy's proposal (consent, caps, quiet
//!   hours, budgets, holdout, …) and record which one changed it.
//! - [`policies`]: the [`Policy`](policies::Policy) trait and its implementations.
//! - [`simulator`]: a configurable population of shoppers with known responses, for ground
//!   truth and for training learned policies.
//! - [`ope`]: off-policy estimators (IPW, SNIPW, DM, DR, SNDR, Switch-DR) with bootstrap
//!   confidence intervals, equal to Open Bandit Pipeline 0.4.1.
//!
//! Like `cartback-core`, this crate reads no clock: every time is passed in.

pub mod actions;
pub mod guardrails;
pub mod ope;
pub mod policies;
pub mod simulator;
