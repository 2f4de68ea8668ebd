//! Decision logs of whole abandonments drawn from the shopper simulator, shaped as the
//! engine logs them ([`LoggedEpisode`]: every step's recorded state with what each proposal
//! would have become, the logged propensity, the guardrails, the message's fate): the
//! ground truth for learning a policy from a shop's own log (`crate::log_training`).

use super::dynamics::{CartProgress, observe};
use super::environment::{DecisionPoint, DiscountLedger, Simulator};
use super::episode::sample_step;
use super::shopper::Shopper;
use crate::log_training::{LoggedEpisode, LoggedStep};
use crate::ope::LoggedState;
use crate::policies::{Observation, Policy};
use rand::rngs::SmallRng;

/// Logs one episode per shopper under `logging` (in arrival order, sharing one discount
/// ledger, as `log_episodes` does), cart ids `{prefix}{i}`. Each step records what every
/// proposal would have become at that point, and the propensity the engine would record:
/// the logging policy's mass over every proposal that ends at the action taken.
pub fn simulated_logged_episodes(
    simulator: &Simulator,
    shoppers: &[Shopper],
    logging: &dyn Policy,
    prefix: &str,
    rng: &mut SmallRng,
) -> Vec<LoggedEpisode> {
    let mut ledger = DiscountLedger::default();
    shoppers
        .iter()
        .enumerate()
        .map(|(i, shopper)| {
            let cart_id = format!("{prefix}{i}");
            logged_episode(simulator, shopper, &mut ledger, logging, cart_id, rng)
        })
        .collect()
}

fn logged_episode(
    simulator: &Simulator,
    shopper: &Shopper,
    ledger: &mut DiscountLedger,
    logging: &dyn Policy,
    cart_id: String,
    rng: &mut SmallRng,
) -> LoggedEpisode {
    let mut episode = LoggedEpisode {
        id: format!("{cart_id}#1"),
        cart_id,
        decided_at: shopper.context.abandoned_at,
        steps: Vec::new(),
        bought: false,
        order_value_minor: 0,
        discount_minor: 0,
        unsubscribe_loss_minor: 0.0,
    };
    let mut progress = Some(CartProgress::START);
    while let Some(current) = progress {
        let state = observe(simulator, shopper, &current);
        let point = DecisionPoint::new(simulator, shopper, &current, ledger);
        let executions = point.execute_all(simulator);
        let outcomes = executions.map(|e| e.kind);
        let observation = Observation { state, truth: None };
        let distribution = logging.distribution(&observation).probabilities;
        let proposal = logging.decide(&observation, rng).action;
        let (executed, outcome) = sample_step(simulator, shopper, &current, ledger, proposal, rng);
        let accounting = outcome.accounting;
        if accounting.message_sent {
            ledger.add(executed.decision_day, executed.coupon_minor as f64);
        }
        episode.steps.push(LoggedStep {
            state: LoggedState::from_outcomes(state, outcomes).with_proposal(proposal),
            action: executed.kind,
            propensity: LoggedState::push_forward(&outcomes, &distribution)[executed.kind.index()],
            changed_by: executed.changed_by,
            message_sent: accounting.message_sent,
            message_cost_minor: accounting.message_cost_minor,
            unsubscribed: accounting.unsubscribed,
        });
        if accounting.unsubscribed {
            episode.unsubscribe_loss_minor += accounting.unsubscribe_loss_minor;
        }
        if accounting.bought {
            episode.bought = true;
            episode.order_value_minor = state.features.cart_value_minor;
            episode.discount_minor = accounting.discount_minor.round() as i64;
        }
        progress = outcome.next;
    }
    episode
}
