//! The simulated shoppers: a hidden response type and response parameters, the
//! observable features a policy sees ([`CartFeatures`]), and the shop-side context the
//! guardrails need ([`CartContext`]: user, time zone, abandonment instant, margin, earlier
//! messages). Carts arrive in order, `shop.carts_per_day` per day from `shop.start_date`.

use super::environment::Simulator;
use cartback_core::{Duration, Timestamp};
use chrono::{Duration as ChronoDuration, TimeZone, Timelike};
use chrono_tz::Tz;
use rand::RngExt;
use rand::rngs::SmallRng;
use rand_distr::{Distribution, LogNormal, Normal, Poisson};
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

/// Most earlier messages (about other carts) a simulated user carries into the cap window.
pub const MAX_EARLIER_MESSAGES: usize = 4;

/// What the shop (and its guardrails) knows around a cart besides [`CartFeatures`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CartContext {
    /// Stable user key; the guardrails see the user id `sim-<key in hex>`.
    pub user_key: u64,
    #[serde(serialize_with = "serialize_zone")]
    pub time_zone: Tz,
    pub abandoned_at: Timestamp,
    /// Gross margin of the cart's items (1 − unit cost / price).
    pub gross_margin: f64,
    /// Messages the user received about earlier carts shortly before this abandonment.
    pub earlier_messages: [Option<Timestamp>; MAX_EARLIER_MESSAGES],
}

fn serialize_zone<S: serde::Serializer>(zone: &Tz, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(zone.name())
}

impl CartContext {
    /// The user id the guardrails see (the holdout hashes it).
    pub fn user_id(&self) -> String {
        format!("sim-{:016x}", self.user_key)
    }
}

/// One shopper with an abandoned cart: the truth the simulator (and the oracle) knows.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Shopper {
    pub segment: Segment,
    pub unaided_purchase_rate: f64,
    pub prefers_webhook: bool,
    pub discount_sensitive: bool,
    pub features: CartFeatures,
    pub context: CartContext,
}

/// Share of returning customers in each response type (sure things and sleeping dogs are
/// mostly known customers, lost causes mostly new visitors).
pub fn returning_share(segment: Segment) -> f64 {
    match segment {
        Segment::SureThing => 0.7,
        Segment::Persuadable => 0.45,
        Segment::LostCause => 0.2,
        Segment::SleepingDog => 0.85,
    }
}

/// Share of mobile shoppers among those who prefer push/SMS and those who do not.
pub fn mobile_share(prefers_webhook: bool) -> f64 {
    if prefers_webhook { 0.85 } else { 0.4 }
}

/// The local hour of `at` in `zone`.
pub fn local_hour(at: Timestamp, zone: Tz) -> u32 {
    chrono::DateTime::from_timestamp_millis(at.as_millis())
        .map_or(0, |utc| utc.with_timezone(&zone).hour())
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

/// Draws `n` shoppers in arrival order: the `i`-th abandons its cart on day
/// `i / shop.carts_per_day` after `shop.start_date`, at a local hour drawn from the
/// evening-heavy profile, in its own time zone.
pub fn sample_population(simulator: &Simulator, n: usize, rng: &mut SmallRng) -> Vec<Shopper> {
    let config = simulator.config();
    let p = &config.population;
    let shop = &config.shop;
    let value = LogNormal::new(
        p.cart_value_median_minor.max(1.0).ln(),
        p.cart_value_log_sd.max(1e-9),
    )
    .expect("validated log-normal parameters");
    let noise = Normal::new(0.0, p.propensity_score_noise.max(1e-12)).expect("validated noise");
    let earlier = Poisson::new(shop.returning_recent_messages_mean.max(1e-12))
        .expect("validated Poisson mean");
    let total_weight: f64 = HOURLY_ABANDONMENT_WEIGHTS.iter().sum();
    (0..n)
        .map(|i| {
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
            let prefers_webhook = rng.random_bool(p.webhook_preference_share);
            let mobile = rng.random_bool(mobile_share(prefers_webhook));
            let mut pick = rng.random::<f64>() * total_weight;
            let mut abandoned_hour = 23;
            for (hour, weight) in HOURLY_ABANDONMENT_WEIGHTS.iter().enumerate() {
                if pick < *weight {
                    abandoned_hour = hour as u32;
                    break;
                }
                pick -= weight;
            }
            let returning_customer = rng.random_bool(returning_share(segment));
            let time_zone = simulator.draw_time_zone(rng);
            let day = simulator.start_date()
                + ChronoDuration::days((i / shop.carts_per_day as usize) as i64);
            let minute = rng.random_range(0..60);
            let abandoned_at = local_instant(time_zone, day, abandoned_hour, minute);
            // A skipped local hour (spring forward) lands on the next valid one.
            let abandoned_hour = local_hour(abandoned_at, time_zone);
            let mut earlier_messages = [None; MAX_EARLIER_MESSAGES];
            if returning_customer && shop.returning_recent_messages_mean > 0.0 {
                let count = (earlier.sample(rng) as usize).min(MAX_EARLIER_MESSAGES);
                for slot in earlier_messages.iter_mut().take(count) {
                    let age = rng.random_range(1..7 * 24 * 60);
                    *slot = Some(abandoned_at - Duration::minutes(age));
                }
            }
            let features = CartFeatures {
                cart_value_minor: value.sample(rng).round().max(100.0) as i64,
                predicted_propensity: sigmoid(logit(unaided_purchase_rate) + noise.sample(rng)),
                returning_customer,
                mobile,
                email_consent: rng.random_bool(p.email_consent_share),
                webhook_consent: rng.random_bool(p.webhook_consent_share),
                abandoned_hour,
            };
            let context = CartContext {
                user_key: rng.random(),
                time_zone,
                abandoned_at,
                gross_margin: rng.random_range(shop.gross_margin_min..=shop.gross_margin_max),
                earlier_messages,
            };
            Shopper {
                segment,
                unaided_purchase_rate,
                prefers_webhook,
                discount_sensitive,
                features,
                context,
            }
        })
        .collect()
}

/// The instant of local `hour:minute` on `day` in `zone`; a time skipped by a
/// daylight-saving jump moves one hour later, a repeated one takes its first occurrence.
fn local_instant(zone: Tz, day: chrono::NaiveDate, hour: u32, minute: u32) -> Timestamp {
    let naive = day.and_hms_opt(hour, minute, 0).expect("valid local time");
    let resolved = zone
        .from_local_datetime(&naive)
        .earliest()
        .or_else(|| {
            zone.from_local_datetime(&(naive + ChronoDuration::hours(1)))
                .earliest()
        })
        .expect("a local time one hour after a gap exists");
    Timestamp(resolved.timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::simulator::SimulatorConfig;
    use rand::SeedableRng;

    #[test]
    fn population_matches_the_configured_shares() {
        let simulator = Simulator::new(SimulatorConfig::default()).unwrap();
        let mut rng = SmallRng::seed_from_u64(3);
        let shoppers = sample_population(&simulator, 20_000, &mut rng);
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

    #[test]
    fn carts_arrive_day_after_day_in_their_own_time_zones() {
        let simulator = Simulator::new(SimulatorConfig::default()).unwrap();
        let per_day = simulator.config().shop.carts_per_day as usize;
        let mut rng = SmallRng::seed_from_u64(4);
        let shoppers = sample_population(&simulator, 30 * per_day, &mut rng);
        for (i, s) in shoppers.iter().enumerate() {
            // The abandonment's local date is the cart's day; its local hour the feature's.
            let local = chrono::DateTime::from_timestamp_millis(s.context.abandoned_at.as_millis())
                .unwrap()
                .with_timezone(&s.context.time_zone);
            let day = simulator.start_date() + ChronoDuration::days((i / per_day) as i64);
            assert_eq!(local.date_naive(), day, "cart {i}");
            assert_eq!(local.hour(), s.features.abandoned_hour);
            assert!(
                s.context
                    .earlier_messages
                    .iter()
                    .flatten()
                    .all(|t| *t < s.context.abandoned_at)
            );
            assert!((0.25..=0.60).contains(&s.context.gross_margin));
        }
        let berlin = shoppers
            .iter()
            .filter(|s| s.context.time_zone == chrono_tz::Europe::Berlin)
            .count() as f64
            / shoppers.len() as f64;
        assert!((berlin - 0.5).abs() < 0.03, "{berlin}");
        // Only returning customers carry earlier messages.
        assert!(
            shoppers
                .iter()
                .filter(|s| !s.features.returning_customer)
                .all(|s| s.context.earlier_messages.iter().all(Option::is_none))
        );
        assert!(
            shoppers
                .iter()
                .any(|s| s.context.earlier_messages[0].is_some())
        );
    }
}
