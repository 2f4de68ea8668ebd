//! The simulated shoppers: a hidden response type and response parameters, and the
//! observable features a policy sees ([`CartFeatures`]).

use super::config::SimulatorConfig;
use rand::RngExt;
use rand::rngs::SmallRng;
use rand_distr::{Distribution, LogNormal, Normal};
use serde::Serialize;

/// How a shopper responds to being contacted (hidden from policies).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Segment {
    SureThing,
    Persuadable,
    LostCause,
    SleepingDog,
}

/// What a policy may know about an abandoned cart.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CartFeatures {
    pub cart_value_minor: i64,
    /// A propensity model's predicted probability of unaided purchase (noisy).
    pub predicted_propensity: f64,
    pub returning_customer: bool,
    pub mobile: bool,
    pub email_consent: bool,
    pub webhook_consent: bool,
    /// Local hour (0..24) at which the cart was abandoned.
    pub abandoned_hour: u32,
}

/// One shopper with an abandoned cart: the truth the simulator (and the oracle) knows.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Shopper {
    pub segment: Segment,
    pub unaided_purchase_rate: f64,
    pub prefers_webhook: bool,
    pub discount_sensitive: bool,
    pub features: CartFeatures,
}

fn logit(p: f64) -> f64 {
    let p = p.clamp(1e-6, 1.0 - 1e-6);
    (p / (1.0 - p)).ln()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Local hours at which carts are abandoned: evenings are busiest, nights quiet.
const HOURLY_ABANDONMENT_WEIGHTS: [f64; 24] = [
    2.0, 1.0, 0.6, 0.4, 0.4, 0.6, 1.2, 2.2, 3.2, 3.8, 4.2, 4.6, 5.0, 4.8, 4.6, 4.6, 4.8, 5.2, 5.8,
    6.4, 6.8, 6.4, 5.0, 3.4,
];

/// Draws `n` shoppers from the population of `config`.
pub fn sample_population(config: &SimulatorConfig, n: usize, rng: &mut SmallRng) -> Vec<Shopper> {
    let p = &config.population;
    let value = LogNormal::new(
        p.cart_value_median_minor.max(1.0).ln(),
        p.cart_value_log_sd.max(1e-9),
    )
    .expect("validated log-normal parameters");
    let noise = Normal::new(0.0, p.propensity_score_noise.max(1e-12)).expect("validated noise");
    let total_weight: f64 = HOURLY_ABANDONMENT_WEIGHTS.iter().sum();
    (0..n)
        .map(|_| {
            let u: f64 = rng.random();
            let segment = if u < p.sure_thing_share {
                Segment::SureThing
            } else if u < p.sure_thing_share + p.persuadable_share {
                Segment::Persuadable
            } else if u < p.sure_thing_share + p.persuadable_share + p.sleeping_dog_share {
                Segment::SleepingDog
            } else {
                Segment::LostCause
            };
            let unaided_purchase_rate = match segment {
                Segment::SureThing => p.sure_thing_purchase_rate,
                Segment::Persuadable => p.persuadable_purchase_rate,
                Segment::LostCause => p.lost_cause_purchase_rate,
                Segment::SleepingDog => p.sleeping_dog_purchase_rate,
            };
            let discount_sensitive = match segment {
                Segment::Persuadable => rng.random_bool(p.persuadable_discount_sensitive_share),
                Segment::LostCause => rng.random_bool(p.lost_cause_discount_sensitive_share),
                _ => false,
            };
            let returning_share = match segment {
                Segment::SureThing => 0.7,
                Segment::Persuadable => 0.45,
                Segment::LostCause => 0.2,
                Segment::SleepingDog => 0.85,
            };
            let prefers_webhook = rng.random_bool(p.webhook_preference_share);
            let mobile = rng.random_bool(if prefers_webhook { 0.85 } else { 0.4 });
            let mut pick = rng.random::<f64>() * total_weight;
            let mut abandoned_hour = 23;
            for (hour, weight) in HOURLY_ABANDONMENT_WEIGHTS.iter().enumerate() {
                if pick < *weight {
                    abandoned_hour = hour as u32;
                    break;
                }
                pick -= weight;
            }
            let features = CartFeatures {
                cart_value_minor: value.sample(rng).round().max(100.0) as i64,
                predicted_propensity: sigmoid(logit(unaided_purchase_rate) + noise.sample(rng)),
                returning_customer: rng.random_bool(returning_share),
                mobile,
                email_consent: rng.random_bool(p.email_consent_share),
                webhook_consent: rng.random_bool(p.webhook_consent_share),
                abandoned_hour,
            };
            Shopper {
                segment,
                unaided_purchase_rate,
                prefers_webhook,
                discount_sensitive,
                features,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn population_matches_the_configured_shares() {
        let config = SimulatorConfig::default();
        let mut rng = SmallRng::seed_from_u64(3);
        let shoppers = sample_population(&config, 20_000, &mut rng);
        let share = |s: Segment| {
            shoppers.iter().filter(|x| x.segment == s).count() as f64 / shoppers.len() as f64
        };
        assert!((share(Segment::Persuadable) - 0.30).abs() < 0.015);
        assert!((share(Segment::SureThing) - 0.08).abs() < 0.01);
        let unaided: f64 = shoppers
            .iter()
            .map(|s| s.unaided_purchase_rate)
            .sum::<f64>()
            / shoppers.len() as f64;
        // "A few % of abandoned carts recover unaided."
        assert!((0.02..0.07).contains(&unaided), "{unaided}");
        let median = {
            let mut v: Vec<i64> = shoppers
                .iter()
                .map(|s| s.features.cart_value_minor)
                .collect();
            v.sort();
            v[v.len() / 2]
        };
        assert!((5_500..6_500).contains(&median), "{median}");
        // The propensity score ranks sure things above lost causes.
        let mean_score = |s: Segment| {
            let v: Vec<f64> = shoppers
                .iter()
                .filter(|x| x.segment == s)
                .map(|x| x.features.predicted_propensity)
                .collect();
            v.iter().sum::<f64>() / v.len() as f64
        };
        assert!(mean_score(Segment::SureThing) > 3.0 * mean_score(Segment::LostCause));
    }
}
