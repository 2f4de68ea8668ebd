//! The policy bundle: everything the decision layer reads from files — the policy (built
//! from `[policy] kind`, a learned one from its state file), the propensity model and the
//! item costs — loaded together and swapped as one `Arc`, so a decision never mixes two
//! versions. [`Reloader`] watches those files by modification time, size and inode, polled
//! from the engine's tick at most every `policy.reload_check`: a changed file set is loaded
//! off the engine lock and swapped in; one that fails to load is logged and the previous
//! bundle kept (the failed version is not retried until the files change again).

use super::model::CartScorer;
use super::policy_file::{PolicyFileError, PolicyKind, PolicyStateFile};
use crate::config::ServerConfig;
use cartback_core::Duration;
use cartback_policy::actions::ActionKind;
use cartback_policy::policies::{Exploring, FixedFlow, Policy, PropensityThreshold};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime};

#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    #[error("policy.propensity_model {path}: {message}")]
    Model { path: String, message: String },
    #[error("policy.state_file: {0}")]
    StateFile(#[from] PolicyFileError),
    #[error("policy.state_file {path}: {message}")]
    Mismatch { path: String, message: String },
    #[error("guardrails.item_costs {path}: {message}")]
    Costs { path: String, message: String },
    #[error("policy: {0}")]
    Policy(#[from] cartback_policy::policies::PolicyError),
}

/// Everything loaded from files, used by one decision at a time.
pub struct PolicyBundle {
    pub kind: PolicyKind,
    pub policy: Box<dyn Policy + Send + Sync>,
    pub scorer: Option<CartScorer>,
    pub prior_propensity: f64,
    /// Unit cost per item id, minor units.
    pub item_costs: HashMap<String, i64>,
    /// The policy and the files behind it, for the decisions' reasons.
    pub description: String,
}

/// What to load (from `[policy]` and `[guardrails]`).
#[derive(Clone, Debug, PartialEq)]
pub struct BundleSpec {
    pub kind: PolicyKind,
    pub fixed_flow: Vec<ActionKind>,
    pub threshold: f64,
    pub step_delays: Vec<Duration>,
    pub prior_propensity: f64,
    pub propensity_model: Option<PathBuf>,
    pub state_file: Option<PathBuf>,
    pub item_costs: Option<PathBuf>,
    /// `[policy] exploration`: the share of decisions drawn uniformly among the allowed
    /// actions.
    pub exploration: f64,
}

fn path_of(text: &str) -> Option<PathBuf> {
    (!text.is_empty()).then(|| PathBuf::from(text))
}

impl BundleSpec {
    /// From a validated configuration.
    pub fn from_config(config: &ServerConfig) -> BundleSpec {
        let p = &config.policy;
        BundleSpec {
            kind: p.kind,
            fixed_flow: p
                .fixed_flow
                .iter()
                .map(|name| ActionKind::from_name(name).unwrap_or(ActionKind::DoNothing))
                .collect(),
            threshold: p.threshold,
            step_delays: p.step_delays.clone(),
            prior_propensity: p.prior_propensity,
            propensity_model: path_of(&p.propensity_model),
            state_file: if p.kind.is_learned() {
                path_of(&p.state_file)
            } else {
                None
            },
            item_costs: path_of(&config.guardrails.item_costs),
            exploration: p.exploration,
        }
    }

    /// The files the bundle is built from.
    pub fn files(&self) -> Vec<PathBuf> {
        [&self.propensity_model, &self.state_file, &self.item_costs]
            .into_iter()
            .flatten()
            .cloned()
            .collect()
    }

    pub fn load(&self) -> Result<PolicyBundle, BundleError> {
        let scorer = match &self.propensity_model {
            None => None,
            Some(path) => {
                let scorer = CartScorer::load(path).map_err(|e| BundleError::Model {
                    path: path.display().to_string(),
                    message: e.to_string(),
                })?;
                if !scorer.unknown_columns().is_empty() {
                    tracing::warn!(
                        model = %path.display(),
                        columns = ?scorer.unknown_columns(),
                        "the propensity model reads columns the engine does not know; they are passed as missing"
                    );
                }
                Some(scorer)
            }
        };
        let flow = FixedFlow::new(self.fixed_flow.clone());
        let mut description;
        let policy: Box<dyn Policy + Send + Sync> = match self.kind {
            PolicyKind::FixedFlow => {
                let steps: Vec<&str> = self.fixed_flow.iter().map(|k| k.name()).collect();
                description = format!("fixed_flow [{}]", steps.join(", "));
                Box::new(flow)
            }
            PolicyKind::Threshold => {
                description = format!("threshold {}", self.threshold);
                Box::new(PropensityThreshold::new(self.threshold, flow)?)
            }
            _ => {
                let path = self.state_file.clone().unwrap_or_default();
                let shown = path.display().to_string();
                let file = PolicyStateFile::load(&path)?;
                if file.kind != self.kind {
                    return Err(BundleError::Mismatch {
                        path: shown,
                        message: format!(
                            "holds a {} policy, but policy.kind is {}",
                            file.kind.name(),
                            self.kind.name()
                        ),
                    });
                }
                let trained: Vec<Duration> = file
                    .step_delays_hours
                    .iter()
                    .map(|h| Duration::hours(i64::from(*h)))
                    .collect();
                if trained != self.step_delays {
                    return Err(BundleError::Mismatch {
                        path: shown,
                        message: format!(
                            "trained for steps at {:?} hours, but policy.step_delays differs",
                            file.step_delays_hours
                        ),
                    });
                }
                description = format!(
                    "{} (state {shown}, trained on {})",
                    self.kind.name(),
                    file.trained_on.describe()
                );
                file.policy.into_policy()
            }
        };
        let policy: Box<dyn Policy + Send + Sync> = if self.exploration > 0.0 {
            description.push_str(&format!(
                "; exploring {} % of decisions",
                self.exploration * 100.0
            ));
            Box::new(Exploring::new(policy, self.exploration)?)
        } else {
            policy
        };
        if let (Some(scorer), Some(path)) = (&scorer, &self.propensity_model) {
            description.push_str(&format!(
                "; model {} ({})",
                path.display(),
                scorer.model_name()
            ));
        }
        let item_costs = match &self.item_costs {
            None => HashMap::new(),
            Some(path) => read_item_costs(path)?,
        };
        Ok(PolicyBundle {
            kind: self.kind,
            policy,
            scorer,
            prior_propensity: self.prior_propensity,
            item_costs,
            description,
        })
    }
}

/// Reads `item_id,unit_cost_minor` rows (a header first; other columns ignored).
pub fn read_item_costs(path: &Path) -> Result<HashMap<String, i64>, BundleError> {
    let shown = path.display().to_string();
    let error = |message: String| BundleError::Costs {
        path: shown.clone(),
        message,
    };
    let mut reader = csv::Reader::from_path(path).map_err(|e| error(e.to_string()))?;
    let headers = reader.headers().map_err(|e| error(e.to_string()))?.clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h.trim() == name)
            .ok_or_else(|| error(format!("no `{name}` column in the header")))
    };
    let (id_column, cost_column) = (column("item_id")?, column("unit_cost_minor")?);
    let mut costs = HashMap::new();
    for (index, record) in reader.records().enumerate() {
        let line = index + 2;
        let record = record.map_err(|e| error(format!("line {line}: {e}")))?;
        let id = record.get(id_column).unwrap_or("").trim();
        let cost = record.get(cost_column).unwrap_or("").trim();
        let cost: i64 = cost.parse().map_err(|_| {
            error(format!(
                "line {line}: unit_cost_minor {cost:?} is not a whole number of minor units"
            ))
        })?;
        if id.is_empty() || cost < 0 {
            return Err(error(format!(
                "line {line}: needs an item_id and a non-negative cost"
            )));
        }
        costs.insert(id.to_owned(), cost);
    }
    Ok(costs)
}

/// What identifies one version of a file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct FileStamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(path: &Path) -> Option<FileStamp> {
    let meta = std::fs::metadata(path).ok()?;
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(&meta);
    #[cfg(not(unix))]
    let inode = 0;
    Some(FileStamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        inode,
    })
}

struct Watch {
    stamps: Vec<Option<FileStamp>>,
    last_check: Instant,
}

/// Holds the current bundle and reloads it when its files change.
pub struct Reloader {
    spec: BundleSpec,
    files: Vec<PathBuf>,
    interval: std::time::Duration,
    watch: Mutex<Watch>,
    current: RwLock<Arc<PolicyBundle>>,
}

/// What a check found.
#[derive(Debug)]
pub enum ReloadOutcome {
    Unchanged,
    Reloaded,
    /// The files changed but did not load; the previous bundle stays.
    Failed(BundleError),
}

impl Reloader {
    /// Loads the bundle (an error here stops the start-up).
    pub fn new(spec: BundleSpec, interval: Duration) -> Result<Reloader, BundleError> {
        let files = spec.files();
        let stamps = files.iter().map(|f| stamp(f)).collect();
        let bundle = spec.load()?;
        Ok(Reloader {
            spec,
            files,
            interval: std::time::Duration::from_millis(interval.as_millis().max(0) as u64),
            watch: Mutex::new(Watch {
                stamps,
                last_check: Instant::now(),
            }),
            current: RwLock::new(Arc::new(bundle)),
        })
    }

    pub fn current(&self) -> Arc<PolicyBundle> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// [`check`](Self::check), at most once per `reload_check`.
    pub fn poll(&self) -> ReloadOutcome {
        {
            let watch = self.watch.lock().unwrap_or_else(|p| p.into_inner());
            if watch.last_check.elapsed() < self.interval {
                return ReloadOutcome::Unchanged;
            }
        }
        self.check()
    }

    /// Compares the files with the versions last seen; loads and swaps in a new bundle
    /// when any changed. Logs what happened.
    pub fn check(&self) -> ReloadOutcome {
        let mut watch = self.watch.lock().unwrap_or_else(|p| p.into_inner());
        watch.last_check = Instant::now();
        let stamps: Vec<Option<FileStamp>> = self.files.iter().map(|f| stamp(f)).collect();
        if stamps == watch.stamps {
            return ReloadOutcome::Unchanged;
        }
        watch.stamps = stamps;
        match self.spec.load() {
            Ok(bundle) => {
                tracing::info!(policy = %bundle.description, "policy files changed: reloaded");
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(bundle);
                ReloadOutcome::Reloaded
            }
            Err(error) => {
                tracing::error!(%error, "policy files changed but do not load: keeping the previous version");
                ReloadOutcome::Failed(error)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(dir: &Path) -> BundleSpec {
        BundleSpec {
            kind: PolicyKind::FixedFlow,
            fixed_flow: vec![ActionKind::ReminderEmail, ActionKind::Discount10],
            threshold: 0.1,
            step_delays: vec![Duration::hours(1), Duration::hours(24)],
            prior_propensity: 0.05,
            propensity_model: None,
            state_file: None,
            item_costs: Some(dir.join("costs.csv")),
            exploration: 0.0,
        }
    }

    #[test]
    fn item_costs_load_and_bad_rows_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("costs.csv");
        std::fs::write(
            &path,
            "item_id,name,unit_cost_minor\nmug,Mug,450\npot,Pot,1200\n",
        )
        .unwrap();
        let costs = read_item_costs(&path).unwrap();
        assert_eq!(costs["mug"], 450);
        assert_eq!(costs.len(), 2);
        std::fs::write(&path, "item_id,unit_cost_minor\nmug,4.50\n").unwrap();
        let err = read_item_costs(&path).unwrap_err().to_string();
        assert!(err.contains("line 2") && err.contains("4.50"), "{err}");
        std::fs::write(&path, "sku,cost\n").unwrap();
        let err = read_item_costs(&path).unwrap_err().to_string();
        assert!(err.contains("item_id"), "{err}");
    }

    #[test]
    fn a_changed_file_is_swapped_in_and_a_broken_one_keeps_the_previous() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("costs.csv");
        std::fs::write(&path, "item_id,unit_cost_minor\nmug,450\n").unwrap();
        let reloader = Reloader::new(spec(dir.path()), Duration::ZERO).unwrap();
        assert!(reloader.current().description.starts_with("fixed_flow"));
        assert!(matches!(reloader.check(), ReloadOutcome::Unchanged));
        let first = reloader.current();
        // Replace the file (a new inode even when the clock is coarse).
        let next = dir.path().join("costs.new");
        std::fs::write(&next, "item_id,unit_cost_minor\nmug,500\npot,9\n").unwrap();
        std::fs::rename(&next, &path).unwrap();
        assert!(matches!(reloader.poll(), ReloadOutcome::Reloaded));
        assert_eq!(reloader.current().item_costs["mug"], 500);
        assert_eq!(first.item_costs["mug"], 450, "holders keep their version");
        std::fs::write(&next, "item_id,unit_cost_minor\nmug,lots\n").unwrap();
        std::fs::rename(&next, &path).unwrap();
        assert!(matches!(reloader.check(), ReloadOutcome::Failed(_)));
        assert_eq!(
            reloader.current().item_costs["mug"],
            500,
            "the old one is kept"
        );
        assert!(
            matches!(reloader.check(), ReloadOutcome::Unchanged),
            "a failed version is not retried until it changes"
        );
        std::fs::remove_file(&path).unwrap();
        assert!(matches!(reloader.check(), ReloadOutcome::Failed(_)));
        assert_eq!(reloader.current().item_costs["mug"], 500);
    }

    #[test]
    fn a_learned_policy_must_match_the_configured_kind_and_steps() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("linucb.json");
        super::super::policy_file::train(
            PolicyKind::Linucb,
            &cartback_policy::simulator::SimulatorConfig::default(),
            "default",
            50,
            3,
        )
        .unwrap()
        .save(&state)
        .unwrap();
        let mut spec = spec(dir.path());
        spec.item_costs = None;
        spec.kind = PolicyKind::Linucb;
        spec.state_file = Some(state.clone());
        spec.step_delays = vec![Duration::hours(1), Duration::hours(24), Duration::hours(72)];
        let bundle = spec.load().unwrap();
        assert!(
            bundle.description.starts_with("linucb (state"),
            "{}",
            bundle.description
        );
        spec.kind = PolicyKind::Thompson;
        let err = spec.load().err().unwrap().to_string();
        assert!(err.contains("holds a linucb policy"), "{err}");
        spec.kind = PolicyKind::Linucb;
        spec.step_delays = vec![Duration::hours(2), Duration::hours(24), Duration::hours(72)];
        let err = spec.load().err().unwrap().to_string();
        assert!(err.contains("step_delays"), "{err}");
    }
}
