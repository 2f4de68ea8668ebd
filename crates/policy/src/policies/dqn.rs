//! Deep Q-network (behind the `dqn` cargo feature): an MLP over the full feature vector
//! estimating every action's value over the remaining steps, trained from a replay buffer
//! against a periodically synchronised target network, multi-step (several touches per
//! cart). Acts greedily with an ε floor. Built on candle (CPU).

use super::features::{FEATURE_DIMENSION, feature_vector};
use super::{
    ActionDistribution, N_ACTIONS, Observation, ObservedState, Policy, PolicyError, allowed_actions,
};
use crate::actions::ActionKind;
use crate::simulator::{DiscountLedger, Shopper, Simulator, run_episode};
use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Linear, Module, Optimizer, ParamsAdamW, VarBuilder, VarMap, linear};
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use rand_distr::Distribution;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DqnParams {
    pub hidden: usize,
    pub learning_rate: f64,
    pub discount: f64,
    /// Exploration while training.
    pub training_epsilon: f64,
    /// Exploration floor when acting.
    pub epsilon: f64,
    pub replay_capacity: usize,
    pub batch_size: usize,
    /// Gradient steps between target-network synchronisations.
    pub target_sync: usize,
    pub seed: u64,
}

impl Default for DqnParams {
    fn default() -> Self {
        DqnParams {
            hidden: 64,
            learning_rate: 1e-3,
            discount: 1.0,
            training_epsilon: 0.3,
            epsilon: 0.02,
            replay_capacity: 50_000,
            batch_size: 64,
            target_sync: 500,
            seed: 17,
        }
    }
}

struct Mlp {
    input: Linear,
    hidden: Linear,
    output: Linear,
}

impl Mlp {
    fn new(vb: VarBuilder, hidden: usize) -> candle_core::Result<Self> {
        Ok(Mlp {
            input: linear(FEATURE_DIMENSION, hidden, vb.pp("input"))?,
            hidden: linear(hidden, hidden, vb.pp("hidden"))?,
            output: linear(hidden, N_ACTIONS, vb.pp("output"))?,
        })
    }

    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let h = self.input.forward(x)?.relu()?;
        let h = self.hidden.forward(&h)?.relu()?;
        self.output.forward(&h)
    }
}

struct Experience {
    x: [f32; FEATURE_DIMENSION],
    action: usize,
    reward: f32,
    /// Next state's features and allowed actions; `None` at the end of the episode.
    next: Option<([f32; FEATURE_DIMENSION], [bool; N_ACTIONS])>,
}

pub struct Dqn {
    params: DqnParams,
    epsilon: f64,
    device: Device,
    varmap: VarMap,
    network: Mlp,
    target_varmap: VarMap,
    target: Mlp,
    replay: Vec<Experience>,
    updates: usize,
}

fn as_f32(state: &ObservedState) -> [f32; FEATURE_DIMENSION] {
    feature_vector(state).map(|v| v as f32)
}

fn candle_error(e: candle_core::Error) -> PolicyError {
    PolicyError::Parameter {
        name: "dqn",
        message: e.to_string(),
    }
}

/// Re-initialises every weight from a seeded generator (candle's CPU generator cannot be
/// seeded, which made training irreproducible), with candle's own schemes: weights
/// Kaiming-normal (std √2 / √fan-in), biases uniform in ±1 / √fan-in.
fn seeded_init(varmap: &VarMap, seed: u64, device: &Device) -> candle_core::Result<()> {
    let mut rng = SmallRng::seed_from_u64(seed);
    let data = varmap.data().lock().expect("varmap lock");
    let mut names: Vec<&String> = data.keys().collect();
    names.sort();
    // Fan-in of each layer, from its weight's shape (out, in).
    for name in names {
        let var = &data[name];
        let dims = var.as_tensor().dims().to_vec();
        let layer = name.rsplit_once('.').map_or(name.as_str(), |(l, _)| l);
        let fan_in = if dims.len() == 2 {
            dims[1]
        } else {
            data.get(&format!("{layer}.weight"))
                .map_or(1, |w| w.as_tensor().dims().get(1).copied().unwrap_or(1))
        }
        .max(1) as f64;
        let count: usize = dims.iter().product();
        let values: Vec<f32> = if dims.len() == 2 {
            let std = (2.0 / fan_in).sqrt();
            (0..count)
                .map(|_| {
                    let z: f64 = rand_distr::StandardNormal.sample(&mut rng);
                    (z * std) as f32
                })
                .collect()
        } else {
            let bound = 1.0 / fan_in.sqrt();
            (0..count)
                .map(|_| rng.random_range(-bound..bound) as f32)
                .collect()
        };
        var.set(&Tensor::from_vec(values, dims.as_slice(), device)?)?;
    }
    Ok(())
}

impl DqnParams {
    pub fn validate(self) -> Result<Dqn, PolicyError> {
        if self.hidden == 0
            || self.batch_size == 0
            || self.target_sync == 0
            || self.replay_capacity < self.batch_size
        {
            return Err(PolicyError::Parameter {
                name: "hidden/batch_size/target_sync/replay_capacity",
                message:
                    "need hidden, batch_size and target_sync ≥ 1 and replay_capacity ≥ batch_size"
                        .into(),
            });
        }
        for (name, value) in [
            ("discount", self.discount),
            ("training_epsilon", self.training_epsilon),
            ("epsilon", self.epsilon),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(PolicyError::Parameter {
                    name,
                    message: format!("must be in [0, 1], got {value}"),
                });
            }
        }
        let device = Device::Cpu;
        let varmap = VarMap::new();
        let network = Mlp::new(
            VarBuilder::from_varmap(&varmap, DType::F32, &device),
            self.hidden,
        )
        .map_err(candle_error)?;
        let target_varmap = VarMap::new();
        let target = Mlp::new(
            VarBuilder::from_varmap(&target_varmap, DType::F32, &device),
            self.hidden,
        )
        .map_err(candle_error)?;
        let mut dqn = Dqn {
            params: self,
            epsilon: self.epsilon,
            device,
            varmap,
            network,
            target_varmap,
            target,
            replay: Vec::new(),
            updates: 0,
        };
        seeded_init(&dqn.varmap, self.seed, &dqn.device).map_err(candle_error)?;
        dqn.sync_target().map_err(candle_error)?;
        Ok(dqn)
    }
}

impl Dqn {
    fn sync_target(&mut self) -> candle_core::Result<()> {
        let source = self.varmap.data().lock().expect("varmap lock");
        let target = self.target_varmap.data().lock().expect("varmap lock");
        for (name, var) in source.iter() {
            if let Some(t) = target.get(name) {
                t.set(var.as_tensor())?;
            }
        }
        Ok(())
    }

    fn q_values(
        &self,
        states: &[[f32; FEATURE_DIMENSION]],
        target: bool,
    ) -> candle_core::Result<Vec<Vec<f32>>> {
        let flat: Vec<f32> = states.iter().flatten().copied().collect();
        let x = Tensor::from_slice(&flat, (states.len(), FEATURE_DIMENSION), &self.device)?;
        let net = if target { &self.target } else { &self.network };
        net.forward(&x)?.to_vec2::<f32>()
    }

    fn gradient_step(
        &mut self,
        optimizer: &mut AdamW,
        rng: &mut SmallRng,
    ) -> candle_core::Result<()> {
        let batch: Vec<usize> = (0..self.params.batch_size)
            .map(|_| rng.random_range(0..self.replay.len()))
            .collect();
        let next_states: Vec<[f32; FEATURE_DIMENSION]> = batch
            .iter()
            .map(|&i| {
                self.replay[i]
                    .next
                    .map_or([0.0; FEATURE_DIMENSION], |(x, _)| x)
            })
            .collect();
        let next_q = self.q_values(&next_states, true)?;
        let mut targets = Vec::with_capacity(batch.len());
        for (row, &i) in batch.iter().enumerate() {
            let e = &self.replay[i];
            let future = match &e.next {
                None => 0.0,
                Some((_, allowed)) => next_q[row]
                    .iter()
                    .zip(allowed)
                    .filter(|(_, a)| **a)
                    .map(|(q, _)| *q)
                    .fold(f32::NEG_INFINITY, f32::max)
                    .max(f32::MIN),
            };
            targets.push(e.reward + self.params.discount as f32 * future);
        }
        let states: Vec<f32> = batch.iter().flat_map(|&i| self.replay[i].x).collect();
        let actions: Vec<u32> = batch
            .iter()
            .map(|&i| self.replay[i].action as u32)
            .collect();
        let x = Tensor::from_slice(&states, (batch.len(), FEATURE_DIMENSION), &self.device)?;
        let a = Tensor::from_slice(&actions, (batch.len(), 1), &self.device)?;
        let y = Tensor::from_slice(&targets, batch.len(), &self.device)?;
        let predicted = self.network.forward(&x)?.gather(&a, 1)?.squeeze(1)?;
        let loss = candle_nn::loss::mse(&predicted, &y)?;
        optimizer.backward_step(&loss)?;
        self.updates += 1;
        if self.updates.is_multiple_of(self.params.target_sync) {
            self.sync_target()?;
        }
        Ok(())
    }

    /// Plays one ε-greedy episode per training shopper (in arrival order, through the
    /// guardrails), storing every step in the replay buffer and taking one gradient step per
    /// stored step once the buffer holds ten batches.
    pub fn train(
        &mut self,
        simulator: &Simulator,
        shoppers: &[Shopper],
        rng: &mut SmallRng,
    ) -> Result<(), PolicyError> {
        let mut optimizer = AdamW::new(
            self.varmap.all_vars(),
            ParamsAdamW {
                lr: self.params.learning_rate,
                ..ParamsAdamW::default()
            },
        )
        .map_err(candle_error)?;
        let mut batch_rng = SmallRng::seed_from_u64(self.params.seed);
        let mut ledger = DiscountLedger::default();
        self.epsilon = self.params.training_epsilon;
        for shopper in shoppers {
            for transition in run_episode(simulator, shopper, &mut ledger, &*self, rng) {
                let experience = Experience {
                    x: as_f32(&transition.state),
                    action: transition.action.index(),
                    reward: (transition.reward_minor / 100.0) as f32,
                    next: transition
                        .next_state
                        .map(|s| (as_f32(&s), allowed_actions(&s))),
                };
                if self.replay.len() < self.params.replay_capacity {
                    self.replay.push(experience);
                } else {
                    let slot = batch_rng.random_range(0..self.replay.len());
                    self.replay[slot] = experience;
                }
                if self.replay.len() >= 10 * self.params.batch_size {
                    self.gradient_step(&mut optimizer, &mut batch_rng)
                        .map_err(candle_error)?;
                }
            }
        }
        self.epsilon = self.params.epsilon;
        Ok(())
    }

    /// The same network acting with another exploration floor (0 = greedy).
    pub fn with_epsilon(mut self, epsilon: f64) -> Self {
        self.epsilon = epsilon.clamp(0.0, 1.0);
        self
    }

    pub fn gradient_steps(&self) -> usize {
        self.updates
    }
}

impl Policy for Dqn {
    fn name(&self) -> &str {
        "dqn"
    }

    fn distribution(&self, observation: &Observation<'_>) -> ActionDistribution {
        let allowed = allowed_actions(&observation.state);
        let q = match self.q_values(&[as_f32(&observation.state)], false) {
            Ok(mut rows) => rows.remove(0),
            Err(e) => {
                return ActionDistribution::certain(
                    ActionKind::DoNothing,
                    [0.0; N_ACTIONS],
                    format!("DQN failed to evaluate ({e}); doing nothing"),
                );
            }
        };
        let scores: [f64; N_ACTIONS] = std::array::from_fn(|i| f64::from(q[i]));
        let mut best = ActionKind::DoNothing;
        for kind in ActionKind::ALL {
            if allowed[kind.index()] && scores[kind.index()] > scores[best.index()] {
                best = kind;
            }
        }
        ActionDistribution::epsilon_greedy(
            best,
            self.epsilon,
            &allowed,
            scores,
            format!(
                "DQN: {best} has the highest estimated value ({:.2}) over the remaining steps",
                scores[best.index()]
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policies::DoNothing;
    use crate::simulator::{SimulatorConfig, expected_outcome, sample_population};

    #[test]
    fn trained_dqn_beats_doing_nothing_on_fresh_shoppers() {
        let simulator = Simulator::new(SimulatorConfig::default()).unwrap();
        let mut rng = SmallRng::seed_from_u64(4);
        let train = sample_population(&simulator, 1_200, &mut rng);
        let fresh = sample_population(&simulator, 200, &mut rng);
        let mut dqn = DqnParams::default().validate().unwrap();
        dqn.train(&simulator, &train, &mut rng).unwrap();
        assert!(dqn.gradient_steps() > 500);
        let ledger = DiscountLedger::default();
        let value = |p: &dyn Policy| {
            fresh
                .iter()
                .map(|s| expected_outcome(&simulator, s, &ledger, p).net_revenue_minor)
                .sum::<f64>()
        };
        assert!(
            value(&dqn) > value(&DoNothing),
            "DQN did not learn to win carts back"
        );
        let bad = DqnParams {
            batch_size: 0,
            ..Default::default()
        };
        assert!(bad.validate().is_err());
    }
}
