//! The state file of a learned policy (uplift-greedy, LinUCB, linear Thompson sampling,
//! tabular Q-learning, the fitted-Q planner): what `cartback policy train` writes after training the policy on
//! simulated shoppers, what `cartback serve` loads (and reloads when it changes), and what
//! `cartback ope --eval-policy` evaluates on the engine's decision log. (It lives here, not
//! in the server, so the off-policy evaluation of [`crate::ope`] can read it too.)
//!
//! JSON: `format` (`cartback-policy-state`) and `format_version` are checked first, then
//! `kind`, the decision steps the policy was trained for (`step_delays_hours`, which the
//! server's `policy.step_delays` must match), how it was trained, and the policy's learned
//! `state` (the policy crate's serde form of its models).

use crate::policies::{
    FittedQ, LinUcb, LinUcbParams, LinearThompson, LinearThompsonParams, Policy, PolicyError,
    QLearning, QLearningParams, UniformRandom, UpliftGreedy, UpliftGreedyParams,
};
use crate::simulator::{
    Simulator, SimulatorConfig, log_episodes, sample_population, train_fitted_q, train_online,
};
use rand::SeedableRng;
use rand::rngs::SmallRng;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The `format` field of every policy state file.
pub const POLICY_FORMAT: &str = "cartback-policy-state";
/// The layout version this build writes and reads (2: the policies' feature vector gained
/// the customer history, so version-1 models do not fit it; 3: it gained the session
/// signals of discount seeking, and Q-learning's state key a digit for them).
pub const POLICY_FORMAT_VERSION: u32 = 3;

/// Every policy the engine can run (`[policy] kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PolicyKind {
    FixedFlow,
    Threshold,
    UpliftGreedy,
    Linucb,
    Thompson,
    QLearning,
    FittedQ,
}

impl PolicyKind {
    pub const ALL: [PolicyKind; 7] = [
        PolicyKind::FixedFlow,
        PolicyKind::Threshold,
        PolicyKind::UpliftGreedy,
        PolicyKind::Linucb,
        PolicyKind::Thompson,
        PolicyKind::QLearning,
        PolicyKind::FittedQ,
    ];

    pub fn name(self) -> &'static str {
        match self {
            PolicyKind::FixedFlow => "fixed_flow",
            PolicyKind::Threshold => "threshold",
            PolicyKind::UpliftGreedy => "uplift_greedy",
            PolicyKind::Linucb => "linucb",
            PolicyKind::Thompson => "thompson",
            PolicyKind::QLearning => "q_learning",
            PolicyKind::FittedQ => "fitted_q",
        }
    }

    pub fn from_name(name: &str) -> Option<PolicyKind> {
        PolicyKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// Whether the policy is learned and so needs a state file.
    pub fn is_learned(self) -> bool {
        !matches!(self, PolicyKind::FixedFlow | PolicyKind::Threshold)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PolicyFileError {
    #[error("reading {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
    #[error("`{0}` is not a learned policy (it needs no state file)")]
    NotLearned(&'static str),
    #[error(transparent)]
    Policy(#[from] PolicyError),
    #[error("simulator configuration: {0}")]
    Simulator(String),
    #[error("training: {0}")]
    Training(String),
}

/// How a state file's policy was trained.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingInfo {
    /// Abandoned carts trained on: simulated ones, or logged abandonments when
    /// `decision_log` is set.
    pub carts: usize,
    pub seed: u64,
    /// The simulator configuration file, or `default` (empty when learned from a log).
    pub simulator_config: String,
    /// Set when the policy learned from the engine's own decision log
    /// (`cartback policy train --from-log`) instead of the simulator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision_log: Option<DecisionLogInfo>,
}

/// What a policy learned from the engine's decision log was trained and judged on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct DecisionLogInfo {
    /// First decision of the earliest and of the latest abandonment trained on.
    pub first_decision: cartback_core::Timestamp,
    pub last_decision: cartback_core::Timestamp,
    /// Abandonments held out of training to judge the policy.
    pub held_out: usize,
    /// The held-out judgement (`log_training::LogEvaluation::verdict`).
    pub verdict: String,
}

impl TrainingInfo {
    /// What the policy was trained on, for logs: `20000 simulated carts (seed 42)` or
    /// `14000 logged abandonments`.
    pub fn describe(&self) -> String {
        match &self.decision_log {
            None => format!("{} simulated carts, seed {}", self.carts, self.seed),
            Some(_) => format!("{} logged abandonments", self.carts),
        }
    }
}

/// A learned policy with its file's header.
#[derive(Clone, Debug)]
pub struct PolicyStateFile {
    pub kind: PolicyKind,
    pub written_by: String,
    pub step_delays_hours: Vec<u32>,
    pub trained_on: TrainingInfo,
    pub policy: LearnedPolicy,
}

/// The learned state itself.
#[derive(Clone, Debug)]
pub enum LearnedPolicy {
    UpliftGreedy(UpliftGreedy),
    Linucb(LinUcb),
    Thompson(LinearThompson),
    QLearning(QLearning),
    FittedQ(FittedQ),
}

impl LearnedPolicy {
    pub fn into_policy(self) -> Box<dyn Policy + Send + Sync> {
        match self {
            LearnedPolicy::UpliftGreedy(p) => Box::new(p),
            LearnedPolicy::Linucb(p) => Box::new(p),
            LearnedPolicy::Thompson(p) => Box::new(p),
            LearnedPolicy::QLearning(p) => Box::new(p),
            LearnedPolicy::FittedQ(p) => Box::new(p),
        }
    }

    fn state(&self) -> Result<serde_json::Value, serde_json::Error> {
        match self {
            LearnedPolicy::UpliftGreedy(p) => serde_json::to_value(p),
            LearnedPolicy::Linucb(p) => serde_json::to_value(p),
            LearnedPolicy::Thompson(p) => serde_json::to_value(p),
            LearnedPolicy::QLearning(p) => serde_json::to_value(p),
            LearnedPolicy::FittedQ(p) => serde_json::to_value(p),
        }
    }
}

#[derive(Serialize, Deserialize)]
struct Stored {
    format: String,
    format_version: u32,
    written_by: String,
    kind: PolicyKind,
    step_delays_hours: Vec<u32>,
    trained_on: TrainingInfo,
    state: serde_json::Value,
}

/// Trains a learned policy of `kind` on `carts` shoppers drawn from `config`, the way
/// `cartback simulate` trains it (every simulated decision passing the simulator's
/// guardrails): uplift-greedy on a uniformly random log, the bandits online, Q-learning
/// online with ε = 0.3 for four passes, the fitted-Q planner on a budgeted random log with
/// its coupon shadow price calibrated ([`train_fitted_q`]). Unlike the simulator's
/// evaluation, the file keeps an exploration floor (the bandits' ε = 0.05, Q-learning and
/// fitted Q ε = 0.05), so the live engine keeps learning-friendly logs.
pub fn train(
    kind: PolicyKind,
    config: &SimulatorConfig,
    config_name: &str,
    carts: usize,
    seed: u64,
) -> Result<PolicyStateFile, PolicyFileError> {
    let simulator =
        Simulator::new(config.clone()).map_err(|e| PolicyFileError::Simulator(e.to_string()))?;
    let mut rng = SmallRng::seed_from_u64(seed);
    let shoppers = sample_population(&simulator, carts, &mut rng);
    let policy = match kind {
        PolicyKind::FixedFlow | PolicyKind::Threshold => {
            return Err(PolicyFileError::NotLearned(kind.name()));
        }
        PolicyKind::UpliftGreedy => {
            let log: Vec<_> = log_episodes(&simulator, &shoppers, &UniformRandom, &mut rng)
                .into_iter()
                .flatten()
                .collect();
            LearnedPolicy::UpliftGreedy(UpliftGreedyParams::default().fit(&log, config.costs)?)
        }
        PolicyKind::Linucb => {
            let mut policy = LinUcbParams::default().validate()?;
            train_online(&mut policy, &simulator, &shoppers, &mut rng);
            LearnedPolicy::Linucb(policy)
        }
        PolicyKind::Thompson => {
            let mut policy = LinearThompsonParams::default().validate()?;
            train_online(&mut policy, &simulator, &shoppers, &mut rng);
            LearnedPolicy::Thompson(policy)
        }
        PolicyKind::QLearning => {
            let mut policy = QLearningParams {
                epsilon: 0.3,
                ..Default::default()
            }
            .validate()?;
            for _ in 0..4 {
                train_online(&mut policy, &simulator, &shoppers, &mut rng);
            }
            // Keep a small exploration floor in production, so every allowed action keeps
            // a positive propensity in the decision log (off-policy evaluation).
            LearnedPolicy::QLearning(policy.with_epsilon(0.05))
        }
        PolicyKind::FittedQ => {
            let policy = train_fitted_q(&simulator, &shoppers, &mut rng)
                .map_err(|e| PolicyFileError::Training(e.to_string()))?;
            LearnedPolicy::FittedQ(policy.with_epsilon(0.05))
        }
    };
    Ok(PolicyStateFile {
        kind,
        written_by: env!("CARGO_PKG_VERSION").to_owned(),
        step_delays_hours: config.step_delays_hours.clone(),
        trained_on: TrainingInfo {
            carts,
            seed,
            simulator_config: config_name.to_owned(),
            decision_log: None,
        },
        policy,
    })
}

impl PolicyStateFile {
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(&Stored {
            format: POLICY_FORMAT.to_owned(),
            format_version: POLICY_FORMAT_VERSION,
            written_by: self.written_by.clone(),
            kind: self.kind,
            step_delays_hours: self.step_delays_hours.clone(),
            trained_on: self.trained_on.clone(),
            state: self.policy.state()?,
        })
    }

    /// Parses a state file's text (`path` only names it in errors).
    pub fn from_json(text: &str, path: &str) -> Result<PolicyStateFile, PolicyFileError> {
        let invalid = |message: String| PolicyFileError::Invalid {
            path: path.to_owned(),
            message,
        };
        let header: serde_json::Value =
            serde_json::from_str(text).map_err(|e| invalid(format!("not JSON: {e}")))?;
        let format = header.get("format").and_then(|v| v.as_str()).unwrap_or("");
        if format != POLICY_FORMAT {
            return Err(invalid(format!(
                "`format` is `{format}`, expected `{POLICY_FORMAT}`"
            )));
        }
        let version = header.get("format_version").and_then(|v| v.as_u64());
        if version != Some(u64::from(POLICY_FORMAT_VERSION)) {
            return Err(invalid(format!(
                "`format_version` is {}, this build reads version {POLICY_FORMAT_VERSION}",
                version.map_or("missing".into(), |v| v.to_string())
            )));
        }
        let stored: Stored =
            serde_json::from_value(header).map_err(|e| invalid(format!("malformed: {e}")))?;
        let state = |e: serde_json::Error| invalid(format!("`state` of a {:?}: {e}", stored.kind));
        let policy = match stored.kind {
            PolicyKind::FixedFlow | PolicyKind::Threshold => {
                return Err(invalid(format!(
                    "`kind` is `{}`, which has no learned state",
                    stored.kind.name()
                )));
            }
            PolicyKind::UpliftGreedy => {
                LearnedPolicy::UpliftGreedy(serde_json::from_value(stored.state).map_err(state)?)
            }
            PolicyKind::Linucb => {
                LearnedPolicy::Linucb(serde_json::from_value(stored.state).map_err(state)?)
            }
            PolicyKind::Thompson => {
                LearnedPolicy::Thompson(serde_json::from_value(stored.state).map_err(state)?)
            }
            PolicyKind::QLearning => {
                LearnedPolicy::QLearning(serde_json::from_value(stored.state).map_err(state)?)
            }
            PolicyKind::FittedQ => {
                LearnedPolicy::FittedQ(serde_json::from_value(stored.state).map_err(state)?)
            }
        };
        Ok(PolicyStateFile {
            kind: stored.kind,
            written_by: stored.written_by,
            step_delays_hours: stored.step_delays_hours,
            trained_on: stored.trained_on,
            policy,
        })
    }

    pub fn load(path: &Path) -> Result<PolicyStateFile, PolicyFileError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| PolicyFileError::Io {
            path: shown.clone(),
            source,
        })?;
        PolicyStateFile::from_json(&text, &shown)
    }

    /// Writes the file atomically (a temporary file renamed over the target), so a server
    /// watching it never reads half a file.
    pub fn save(&self, path: &Path) -> Result<(), PolicyFileError> {
        let shown = path.display().to_string();
        let io = |source| PolicyFileError::Io {
            path: shown.clone(),
            source,
        };
        let text = self.to_json().map_err(|e| PolicyFileError::Invalid {
            path: shown.clone(),
            message: e.to_string(),
        })?;
        let temporary = path.with_extension("tmp-write");
        std::fs::write(&temporary, text).map_err(io)?;
        std::fs::rename(&temporary, path).map_err(io)
    }
}

/// Reads a simulator configuration file, or the defaults when `path` is `None`.
pub fn simulator_config(path: Option<&Path>) -> Result<SimulatorConfig, PolicyFileError> {
    match path {
        None => Ok(SimulatorConfig::default()),
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|source| PolicyFileError::Io {
                path: path.display().to_string(),
                source,
            })?;
            SimulatorConfig::from_toml(&text)
                .map_err(|e| PolicyFileError::Simulator(format!("{}: {e}", path.display())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::{Observation, ObservedState, example_state};
    use crate::simulator::CartFeatures;

    fn state(step: usize, propensity: f64) -> ObservedState {
        let example = example_state(true, true);
        ObservedState {
            step,
            features: CartFeatures {
                predicted_propensity: propensity,
                ..example.features
            },
            ..example
        }
    }

    #[test]
    fn every_learned_policy_round_trips_through_its_file() {
        let config = SimulatorConfig::default();
        let dir = tempfile::tempdir().unwrap();
        for kind in PolicyKind::ALL.into_iter().filter(|k| k.is_learned()) {
            // The planner refuses logs with too few purchases per action to learn from.
            let carts = if kind == PolicyKind::FittedQ {
                8_000
            } else {
                300
            };
            let trained = train(kind, &config, "default", carts, 7).unwrap();
            let path = dir.path().join(format!("{}.json", kind.name()));
            trained.save(&path).unwrap();
            let loaded = PolicyStateFile::load(&path).unwrap();
            assert_eq!(loaded.kind, kind);
            assert_eq!(loaded.step_delays_hours, vec![1, 24, 72]);
            assert_eq!(loaded.trained_on.carts, carts);
            let (before, after) = (trained.policy.into_policy(), loaded.policy.into_policy());
            for s in [state(0, 0.02), state(1, 0.3), state(2, 0.08)] {
                let observation = Observation {
                    state: s,
                    truth: None,
                };
                assert_eq!(
                    before.distribution(&observation),
                    after.distribution(&observation),
                    "{kind:?}"
                );
            }
        }
    }

    #[test]
    fn bad_files_are_refused_with_the_reason() {
        let err = PolicyStateFile::from_json("{", "p.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("p.json") && err.contains("not JSON"), "{err}");
        let err = PolicyStateFile::from_json(r#"{"format": "other"}"#, "p.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`format`"), "{err}");
        let text = train(
            PolicyKind::Linucb,
            &SimulatorConfig::default(),
            "default",
            10,
            1,
        )
        .unwrap()
        .to_json()
        .unwrap();
        let wrong_kind = text.replacen("\"kind\":\"linucb\"", "\"kind\":\"q_learning\"", 1);
        let err = PolicyStateFile::from_json(&wrong_kind, "p.json")
            .unwrap_err()
            .to_string();
        assert!(err.contains("`state`"), "{err}");
        // Too small a log for the planner: refused with the reason, not a useless policy.
        let err = train(
            PolicyKind::FittedQ,
            &SimulatorConfig::default(),
            "default",
            300,
            1,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("too few to learn from"), "{err}");
        assert!(matches!(
            train(
                PolicyKind::FixedFlow,
                &SimulatorConfig::default(),
                "default",
                10,
                1
            ),
            Err(PolicyFileError::NotLearned("fixed_flow"))
        ));
    }
}
