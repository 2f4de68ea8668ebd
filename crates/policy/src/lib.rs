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
//!   confidence intervals, equal to Open Bandit Pipeline 0.4.1, and the evaluation of
//!   cartback's own policies on the live engine's exported decision log.
//! - [`log_training`]: learning a policy from the engine's own decision log (the fitted-Q
//!   planner and uplift-greedy) and judging it on held-out abandonments before it goes live.
//! - [`state_file`]: a learned policy's state file (`cartback policy train` writes it,
//!   `cartback serve` and `cartback ope` read it).
//!
//! Like `cartback-core`, this crate reads no clock: every time is passed in.

pub mod actions;
pub mod guardrails;
pub mod log_training;
pub mod ope;
pub mod policies;
pub mod simulator;
pub mod state_file;
