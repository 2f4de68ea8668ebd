//! The simulated shoppers: a hidden response type and response parameters, the
//! observable features a policy sees ([`CartFeatures`]), and the shop-side context the
//! guardrails need ([`CartContext`]: user, time zone, abandonment instant, margin, earlier
//! messages). Carts arrive in order, `shop.carts_per_day` per day from `shop.start_date`.
//! Returning customers carry an observable [`CustomerHistory`] (coupon use on past orders,
//! marketing e-mail opens and clicks) drawn from their hidden traits; [`history_likelihood`]
//! is its exact probability under given traits, for the Bayes-optimal policy. Every cart,
//! new customer's or returning one's, carries the [`SessionSignals`] of discount seeking the
//! shop sees in the abandoned session (a code typed into the coupon field, arrival from a
//! coupon site), drawn from the hidden discount sensitivity; [`session_likelihood`] is their
//! exact probability.

use super::config::{HistoryConfig, SessionConfig};
use super::environment::Simulator;
use cartback_core::{Duration, Timestamp};
use chrono::{Duration as ChronoDuration, TimeZone, Timelike};
use chrono_tz::Tz;
use rand::RngExt;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use rand_distr::{Beta, Binomial, Distribution, LogNormal, Normal, Poisson};
use serde::{Deserialize, Serialize};

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
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
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
    /// The customer's observed past behaviour (all zero for new customers).
    pub history: CustomerHistory,
    /// What the abandoned session showed of discount seeking (all false: nothing observed).
    pub session: SessionSignals,
}

/// Signals of discount seeking the shop observes in the abandoned session itself, for new
/// and returning customers alike. All false when the shop observes nothing (no checkout
/// reached, no coupon-field or referrer tracking): that carries no evidence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SessionSignals {
    /// The session reached checkout and the shop tracks its coupon field, so a code typed
    /// there would have been seen.
    pub coupon_field_seen: bool,
    /// A code was typed into the coupon field (Coupon Entered; applied or denied). Only
    /// with `coupon_field_seen`.
    pub coupon_entered: bool,
    /// The shop knows where the session came from (referrer or UTM source).
    pub referrer_known: bool,
    /// The session arrived from a coupon, deal or cashback site. Only with
    /// `referrer_known`.
    pub deal_site_referral: bool,
}

impl SessionSignals {
    /// The signals as the learned policies' inputs, 1 or 0: a code typed at checkout, the
    /// coupon field seen and left empty, arrival from a coupon / deal / cashback site. Each
    /// multiplies the odds of discount sensitivity by a fixed factor, so flags suffice; "not
    /// observed" is all zero, like "observed nothing" (only weak evidence against).
    pub fn indicators(&self) -> [f64; 3] {
        let flag = |b: bool| if b { 1.0 } else { 0.0 };
        [
            flag(self.coupon_field_seen && self.coupon_entered),
            flag(self.coupon_field_seen && !self.coupon_entered),
            flag(self.referrer_known && self.deal_site_referral),
        ]
    }

    /// A code typed at checkout or arrival from a coupon / deal / cashback site.
    pub fn any_discount_seeking(&self) -> bool {
        (self.coupon_field_seen && self.coupon_entered)
            || (self.referrer_known && self.deal_site_referral)
    }
}

/// What a shop keeps about a customer's past behaviour: coupon use on past orders and
/// engagement with its marketing e-mails. All zero when the shop knows nothing (a new
/// customer, or a signal the shop does not record): zero counts carry no evidence.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CustomerHistory {
    /// Past orders (last 365 days) whose use of a coupon or discount code is known.
    pub orders: u32,
    /// Of those, orders placed with a coupon or discount code.
    pub coupon_orders: u32,
    /// Marketing e-mails delivered in the last 90 days whose opens and clicks are tracked.
    pub emails: u32,
    /// Of those, e-mails that counted as opened (tracking pixel loaded; mail clients that
    /// preload images open every message).
    pub email_opens: u32,
    /// Of those, e-mails with a tracked click.
    pub email_clicks: u32,
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
                history: CustomerHistory::default(),
                session: SessionSignals::default(),
            };
            let user_key: u64 = rng.random();
            let context = CartContext {
                user_key,
                time_zone,
                abandoned_at,
                gross_margin: rng.random_range(shop.gross_margin_min..=shop.gross_margin_max),
                earlier_messages,
            };
            let mut shopper = Shopper {
                segment,
                unaided_purchase_rate,
                prefers_webhook,
                discount_sensitive,
                features,
                context,
            };
            // The history has its own random stream (seeded by the user), so adding it
            // left every other draw of the population unchanged.
            let mut history_rng = SmallRng::seed_from_u64(user_key ^ HISTORY_STREAM);
            shopper.features.history = sample_history(&config.history, &shopper, &mut history_rng);
            // So have the session signals.
            let mut session_rng = SmallRng::seed_from_u64(user_key ^ SESSION_STREAM);
            shopper.features.session = sample_session(&config.session, &shopper, &mut session_rng);
            shopper
        })
        .collect()
}

/// Mixed into the user key to seed the history's random stream.
const HISTORY_STREAM: u64 = 0x6869_7374_6f72_7921;

/// Mixed into the user key to seed the session signals' random stream.
const SESSION_STREAM: u64 = 0x7365_7373_696f_6e21;

/// Probability that a shopper looks for a discount code for this purchase.
fn code_seeking_rate(config: &SessionConfig, discount_sensitive: bool) -> f64 {
    if discount_sensitive {
        config.code_seeking_rate_sensitive
    } else {
        config.code_seeking_rate_insensitive
    }
}

/// Draws the session signals of `shopper` from its hidden discount sensitivity: whether the
/// shopper looks for a code for this purchase (rate by sensitivity); whether the session
/// reached checkout (`checkout_reached_share`, the same for everyone), where a code seeker
/// typed a code with probability `code_entered_rate`; whether a code seeker arrived from a
/// coupon / deal / cashback site (`deal_site_referral_rate`). The referrer is always known
/// in the simulator.
pub fn sample_session(
    config: &SessionConfig,
    shopper: &Shopper,
    rng: &mut SmallRng,
) -> SessionSignals {
    let seeks = rng.random_bool(code_seeking_rate(config, shopper.discount_sensitive));
    let coupon_field_seen = rng.random_bool(config.checkout_reached_share);
    let typed = rng.random_bool(config.code_entered_rate);
    let referred = rng.random_bool(config.deal_site_referral_rate);
    SessionSignals {
        coupon_field_seen,
        coupon_entered: coupon_field_seen && seeks && typed,
        referrer_known: true,
        deal_site_referral: seeks && referred,
    }
}

/// The probability of the observed `session` signals for a shopper with this discount
/// sensitivity, up to factors that do not depend on it (whether checkout was reached and
/// the referrer known): what the Bayes-optimal policy multiplies its prior by. 1 when
/// nothing is observed.
pub fn session_likelihood(
    config: &SessionConfig,
    discount_sensitive: bool,
    session: &SessionSignals,
) -> f64 {
    let entered = session.coupon_field_seen && session.coupon_entered;
    let referred = session.referrer_known && session.deal_site_referral;
    // P(the observed signals | looks for a code) ...
    let mut given_seeking = 1.0;
    if session.coupon_field_seen {
        given_seeking *= if entered {
            config.code_entered_rate
        } else {
            1.0 - config.code_entered_rate
        };
    }
    if session.referrer_known {
        given_seeking *= if referred {
            config.deal_site_referral_rate
        } else {
            1.0 - config.deal_site_referral_rate
        };
    }
    // ... and given not looking: no code typed, no coupon-site arrival.
    let given_not_seeking = if entered || referred { 0.0 } else { 1.0 };
    let seeking = code_seeking_rate(config, discount_sensitive);
    seeking * given_seeking + (1.0 - seeking) * given_not_seeking
}

/// Mean and Beta parameters of the share of marketing e-mails a shopper of `segment` opens.
fn open_rate_beta(config: &HistoryConfig, segment: Segment, prefers_webhook: bool) -> (f64, f64) {
    let mean = match segment {
        Segment::SureThing => config.open_rate_sure_thing,
        Segment::Persuadable => config.open_rate_persuadable,
        Segment::LostCause => config.open_rate_lost_cause,
        Segment::SleepingDog => config.open_rate_sleeping_dog,
    } * if prefers_webhook {
        config.open_rate_webhook_preferring_factor
    } else {
        1.0
    };
    let mean = mean.clamp(1e-6, 1.0 - 1e-6);
    let k = config.open_rate_concentration;
    (k * mean, k * (1.0 - mean))
}

/// Probability that an e-mail a shopper of `segment` really opened is clicked.
fn click_rate(config: &HistoryConfig, segment: Segment) -> f64 {
    match segment {
        Segment::SureThing => config.click_rate_sure_thing,
        Segment::Persuadable => config.click_rate_persuadable,
        Segment::LostCause => config.click_rate_lost_cause,
        Segment::SleepingDog => config.click_rate_sleeping_dog,
    }
}

/// Share of a returning customer's orders placed with a coupon.
fn coupon_order_share(config: &HistoryConfig, discount_sensitive: bool) -> f64 {
    if discount_sensitive {
        config.coupon_order_share_sensitive
    } else {
        config.coupon_order_share_insensitive
    }
}

fn binomial_draw(n: u32, p: f64, rng: &mut SmallRng) -> u32 {
    if n == 0 || p <= 0.0 {
        return 0;
    }
    Binomial::new(u64::from(n), p.min(1.0))
        .expect("a probability")
        .sample(rng) as u32
}

/// Draws the observable history of `shopper` from its hidden traits: nothing for a new
/// customer; for a returning one, 1 + Poisson(`extra_orders_mean`) orders of which a
/// binomial share used a coupon (rate by discount sensitivity), and, with e-mail consent,
/// `marketing_emails` campaigns: a machine-opening mail client (share
/// `machine_open_share`) counts all of them opened, otherwise the opens are binomial with
/// the shopper's own open rate (Beta around the type's mean); clicks are binomial over the
/// e-mails really opened.
pub fn sample_history(
    config: &HistoryConfig,
    shopper: &Shopper,
    rng: &mut SmallRng,
) -> CustomerHistory {
    if !shopper.features.returning_customer {
        return CustomerHistory::default();
    }
    let extra = if config.extra_orders_mean > 0.0 {
        Poisson::new(config.extra_orders_mean)
            .expect("validated Poisson mean")
            .sample(rng) as u32
    } else {
        0
    };
    let orders = 1 + extra;
    let coupon_orders = binomial_draw(
        orders,
        coupon_order_share(config, shopper.discount_sensitive),
        rng,
    );
    let emails = if shopper.features.email_consent {
        config.marketing_emails
    } else {
        0
    };
    let (mut email_opens, mut email_clicks) = (0, 0);
    if emails > 0 {
        let machine = rng.random_bool(config.machine_open_share);
        let (alpha, beta) = open_rate_beta(config, shopper.segment, shopper.prefers_webhook);
        let own_rate = Beta::new(alpha, beta)
            .expect("positive Beta parameters")
            .sample(rng);
        let opened = binomial_draw(emails, own_rate, rng);
        email_clicks = binomial_draw(opened, click_rate(config, shopper.segment), rng);
        email_opens = if machine { emails } else { opened };
    }
    CustomerHistory {
        orders,
        coupon_orders,
        emails,
        email_opens,
        email_clicks,
    }
}

/// P(k successes of n) under a binomial with rate `p`.
fn binomial_pmf(k: u32, n: u32, p: f64) -> f64 {
    if k > n {
        return 0.0;
    }
    let mut choose = 1.0;
    for i in 0..k {
        choose *= f64::from(n - i) / f64::from(i + 1);
    }
    choose * p.powi(k as i32) * (1.0 - p).powi((n - k) as i32)
}

/// P(k of n) under a beta-binomial with parameters `alpha`, `beta`.
fn beta_binomial_pmf(k: u32, n: u32, alpha: f64, beta: f64) -> f64 {
    if k > n {
        return 0.0;
    }
    let mut p = 1.0;
    for i in 0..k {
        p *= f64::from(n - i) / f64::from(i + 1);
        p *= alpha + f64::from(i);
    }
    for j in 0..n - k {
        p *= beta + f64::from(j);
    }
    for t in 0..n {
        p /= alpha + beta + f64::from(t);
    }
    p
}

/// The probability of `history` for a returning customer with these hidden traits, up to
/// factors that do not depend on them (the number of orders and of e-mails): what the
/// Bayes-optimal policy multiplies its prior by. 1 for an empty history.
pub fn history_likelihood(
    config: &HistoryConfig,
    segment: Segment,
    discount_sensitive: bool,
    prefers_webhook: bool,
    history: &CustomerHistory,
) -> f64 {
    let coupons = binomial_pmf(
        history.coupon_orders,
        history.orders,
        coupon_order_share(config, discount_sensitive),
    );
    let n = history.emails;
    if n == 0 {
        return coupons;
    }
    let (alpha, beta) = open_rate_beta(config, segment, prefers_webhook);
    let click = click_rate(config, segment);
    let (opens, clicks) = (history.email_opens, history.email_clicks);
    // Read by the shopper: the opens are the real ones.
    let mut engagement = (1.0 - config.machine_open_share)
        * beta_binomial_pmf(opens, n, alpha, beta)
        * binomial_pmf(clicks, opens, click);
    // Machine-opened: every e-mail counts as opened, the real opens are hidden.
    if opens == n {
        engagement += config.machine_open_share
            * (clicks..=n)
                .map(|r| beta_binomial_pmf(r, n, alpha, beta) * binomial_pmf(clicks, r, click))
                .sum::<f64>();
    }
    coupons * engagement
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
    fn the_history_follows_the_configured_rates() {
        let mut config = SimulatorConfig::default();
        let simulator = Simulator::new(config.clone()).unwrap();
        let mut rng = SmallRng::seed_from_u64(5);
        let shoppers = sample_population(&simulator, 40_000, &mut rng);
        // New customers have no history at all.
        assert!(
            shoppers
                .iter()
                .filter(|s| !s.features.returning_customer)
                .all(|s| s.features.history == CustomerHistory::default())
        );
        let returning: Vec<&Shopper> = shoppers
            .iter()
            .filter(|s| s.features.returning_customer)
            .collect();
        let h = &config.history;
        let mean_orders = returning
            .iter()
            .map(|s| f64::from(s.features.history.orders))
            .sum::<f64>()
            / returning.len() as f64;
        assert!(
            (mean_orders - (1.0 + h.extra_orders_mean)).abs() < 0.05,
            "{mean_orders}"
        );
        // The share of orders with a coupon is the configured one per discount sensitivity.
        let coupon_share = |sensitive: bool| {
            let (coupons, orders) = returning
                .iter()
                .filter(|s| s.discount_sensitive == sensitive)
                .fold((0u32, 0u32), |(c, o), s| {
                    (
                        c + s.features.history.coupon_orders,
                        o + s.features.history.orders,
                    )
                });
            f64::from(coupons) / f64::from(orders)
        };
        assert!((coupon_share(true) - h.coupon_order_share_sensitive).abs() < 0.02);
        assert!((coupon_share(false) - h.coupon_order_share_insensitive).abs() < 0.01);
        // E-mails only with consent; measured opens = machine opens + the type's own rate.
        for s in &returning {
            let history = s.features.history;
            let expected = if s.features.email_consent {
                h.marketing_emails
            } else {
                0
            };
            assert_eq!(history.emails, expected);
            assert!(history.email_clicks <= history.email_opens);
            assert!(history.email_opens <= history.emails);
            assert!(history.coupon_orders <= history.orders);
        }
        let per_email = |segment: Segment, count: &dyn Fn(&CustomerHistory) -> u32| {
            let (events, emails) = returning
                .iter()
                .filter(|s| s.segment == segment && !s.prefers_webhook)
                .fold((0u32, 0u32), |(e, n), s| {
                    (
                        e + count(&s.features.history),
                        n + s.features.history.emails,
                    )
                });
            f64::from(events) / f64::from(emails)
        };
        let opens = |x: &CustomerHistory| x.email_opens;
        let clicks = |x: &CustomerHistory| x.email_clicks;
        let machine = h.machine_open_share;
        let persuadable_opens = per_email(Segment::Persuadable, &opens);
        let expected = machine + (1.0 - machine) * h.open_rate_persuadable;
        assert!(
            (persuadable_opens - expected).abs() < 0.02,
            "{persuadable_opens} vs {expected}"
        );
        let expected = h.open_rate_persuadable * h.click_rate_persuadable;
        let persuadable_clicks = per_email(Segment::Persuadable, &clicks);
        assert!(
            (persuadable_clicks - expected).abs() < 0.006,
            "{persuadable_clicks}"
        );
        // Sleeping dogs engage least, persuadables most.
        assert!(per_email(Segment::SleepingDog, &clicks) < per_email(Segment::LostCause, &clicks));
        assert!(per_email(Segment::LostCause, &opens) < per_email(Segment::SureThing, &opens));
        // The rates come from the configuration.
        config.history.coupon_order_share_sensitive = 0.95;
        config.history.marketing_emails = 0;
        let changed = Simulator::new(config).unwrap();
        let mut rng = SmallRng::seed_from_u64(5);
        let shoppers = sample_population(&changed, 10_000, &mut rng);
        let (coupons, orders) = shoppers
            .iter()
            .filter(|s| s.discount_sensitive && s.features.returning_customer)
            .fold((0u32, 0u32), |(c, o), s| {
                (
                    c + s.features.history.coupon_orders,
                    o + s.features.history.orders,
                )
            });
        assert!(f64::from(coupons) / f64::from(orders) > 0.9);
        assert!(shoppers.iter().all(|s| s.features.history.emails == 0));
    }

    #[test]
    fn the_history_likelihood_is_the_distribution_it_is_drawn_from() {
        let mut config = SimulatorConfig::default();
        config.history.extra_orders_mean = 0.0;
        config.history.marketing_emails = 4;
        let simulator = Simulator::new(config.clone()).unwrap();
        let mut rng = SmallRng::seed_from_u64(9);
        let mut shopper = sample_population(&simulator, 1, &mut rng)[0];
        shopper.features.returning_customer = true;
        shopper.features.email_consent = true;
        let h = &config.history;
        for (segment, sensitive, webhook) in [
            (Segment::Persuadable, true, false),
            (Segment::SleepingDog, false, true),
            (Segment::LostCause, false, false),
        ] {
            shopper.segment = segment;
            shopper.discount_sensitive = sensitive;
            shopper.prefers_webhook = webhook;
            // Every history of one order and four e-mails, with its likelihood.
            let mut histories = Vec::new();
            for coupon_orders in 0..=1 {
                for email_opens in 0..=4 {
                    for email_clicks in 0..=email_opens {
                        let history = CustomerHistory {
                            orders: 1,
                            coupon_orders,
                            emails: 4,
                            email_opens,
                            email_clicks,
                        };
                        let p = history_likelihood(h, segment, sensitive, webhook, &history);
                        histories.push((history, p));
                    }
                }
            }
            let total: f64 = histories.iter().map(|(_, p)| p).sum();
            assert!((total - 1.0).abs() < 1e-12, "{segment:?}: {total}");
            // Drawn histories come with the frequencies of the likelihood.
            let draws = 40_000;
            let mut counts = std::collections::HashMap::new();
            for _ in 0..draws {
                *counts
                    .entry(sample_history(h, &shopper, &mut rng))
                    .or_insert(0u32) += 1;
            }
            for (history, p) in &histories {
                let observed = f64::from(counts.get(history).copied().unwrap_or(0)) / draws as f64;
                let sd = (p * (1.0 - p) / draws as f64).sqrt();
                assert!(
                    (observed - p).abs() < 5.0 * sd + 1e-4,
                    "{segment:?} {history:?}: drawn {observed}, likelihood {p}"
                );
            }
        }
        // An empty history carries no evidence.
        let empty = CustomerHistory::default();
        assert_eq!(
            history_likelihood(h, Segment::Persuadable, true, false, &empty),
            1.0
        );
    }

    #[test]
    fn the_session_signals_follow_the_configured_rates() {
        let mut config = SimulatorConfig::default();
        let simulator = Simulator::new(config.clone()).unwrap();
        let mut rng = SmallRng::seed_from_u64(5);
        let shoppers = sample_population(&simulator, 60_000, &mut rng);
        let c = &config.session.clone();
        for s in &shoppers {
            let x = s.features.session;
            assert!(x.referrer_known);
            assert!(!x.coupon_entered || x.coupon_field_seen);
        }
        let share = |filter: &dyn Fn(&Shopper) -> bool, count: &dyn Fn(&SessionSignals) -> bool| {
            let group: Vec<&Shopper> = shoppers.iter().filter(|s| filter(s)).collect();
            group.iter().filter(|s| count(&s.features.session)).count() as f64 / group.len() as f64
        };
        let field = share(&|_| true, &|x| x.coupon_field_seen);
        assert!((field - c.checkout_reached_share).abs() < 0.01, "{field}");
        for sensitive in [true, false] {
            let seeking = code_seeking_rate(c, sensitive);
            // New and returning customers alike.
            for returning in [true, false] {
                let group = |s: &Shopper| {
                    s.discount_sensitive == sensitive && s.features.returning_customer == returning
                };
                let referred = share(&group, &|x| x.deal_site_referral);
                let expected = seeking * c.deal_site_referral_rate;
                assert!(
                    (referred - expected).abs() < 0.012,
                    "{referred} vs {expected}"
                );
                let entered = share(
                    &|s| group(s) && s.features.session.coupon_field_seen,
                    &|x| x.coupon_entered,
                );
                let expected = seeking * c.code_entered_rate;
                assert!((entered - expected).abs() < 0.03, "{entered} vs {expected}");
            }
        }
        // Discount-sensitive shoppers show the signals about twice as often.
        let any = |sensitive: bool| {
            share(&|s| s.discount_sensitive == sensitive, &|x| {
                x.any_discount_seeking()
            })
        };
        assert!(
            any(true) > 1.7 * any(false),
            "{} vs {}",
            any(true),
            any(false)
        );
        // The rates come from the configuration, and the session's own random stream leaves
        // every other draw of the population as it was.
        config.session.code_seeking_rate_insensitive = 0.0;
        config.session.checkout_reached_share = 1.0;
        config.session.code_entered_rate = 1.0;
        let changed = Simulator::new(config).unwrap();
        let mut rng = SmallRng::seed_from_u64(5);
        let again = sample_population(&changed, 60_000, &mut rng);
        for (a, b) in shoppers.iter().zip(&again) {
            let (mut a, mut b) = (*a, *b);
            assert!(b.features.session.coupon_field_seen);
            if !b.discount_sensitive {
                assert!(!b.features.session.any_discount_seeking());
            }
            a.features.session = SessionSignals::default();
            b.features.session = SessionSignals::default();
            assert_eq!(a, b);
        }
        let entered = again
            .iter()
            .filter(|s| s.discount_sensitive && s.features.session.coupon_entered)
            .count() as f64
            / again.iter().filter(|s| s.discount_sensitive).count() as f64;
        assert!(
            (entered - c.code_seeking_rate_sensitive).abs() < 0.01,
            "{entered}"
        );
    }

    #[test]
    fn the_session_likelihood_is_the_distribution_it_is_drawn_from() {
        let config = SimulatorConfig::default();
        let simulator = Simulator::new(config.clone()).unwrap();
        let mut rng = SmallRng::seed_from_u64(9);
        let mut shopper = sample_population(&simulator, 1, &mut rng)[0];
        let c = &config.session;
        for sensitive in [true, false] {
            shopper.discount_sensitive = sensitive;
            // Every observable combination, given checkout reached or not.
            let draws = 200_000;
            let mut counts = std::collections::HashMap::new();
            for _ in 0..draws {
                *counts
                    .entry(sample_session(c, &shopper, &mut rng))
                    .or_insert(0u32) += 1;
            }
            for field_seen in [true, false] {
                let seen_share = if field_seen {
                    c.checkout_reached_share
                } else {
                    1.0 - c.checkout_reached_share
                };
                let mut total = 0.0;
                for entered in [true, false] {
                    for referred in [true, false] {
                        let signals = SessionSignals {
                            coupon_field_seen: field_seen,
                            coupon_entered: entered,
                            referrer_known: true,
                            deal_site_referral: referred,
                        };
                        let p = session_likelihood(c, sensitive, &signals);
                        if entered && !field_seen {
                            // Not observable: the likelihood treats it as the entry not
                            // seen; it is never drawn.
                            assert!(!counts.contains_key(&signals));
                            continue;
                        }
                        total += p;
                        let p = p * seen_share;
                        let observed =
                            f64::from(counts.get(&signals).copied().unwrap_or(0)) / draws as f64;
                        let sd = (p * (1.0 - p) / draws as f64).sqrt();
                        assert!(
                            (observed - p).abs() < 5.0 * sd + 1e-4,
                            "{sensitive} {signals:?}: drawn {observed}, likelihood {p}"
                        );
                    }
                }
                assert!(
                    (total - 1.0).abs() < 1e-12,
                    "{sensitive} {field_seen}: {total}"
                );
            }
        }
        // Nothing observed carries no evidence; a typed code or a coupon-site arrival is
        // evidence of discount sensitivity, a coupon field left empty evidence against.
        let none = SessionSignals::default();
        assert_eq!(session_likelihood(c, true, &none), 1.0);
        assert_eq!(session_likelihood(c, false, &none), 1.0);
        let ratio = |signals: SessionSignals| {
            session_likelihood(c, true, &signals) / session_likelihood(c, false, &signals)
        };
        let typed = SessionSignals {
            coupon_field_seen: true,
            coupon_entered: true,
            ..none
        };
        let empty_field = SessionSignals {
            coupon_field_seen: true,
            ..none
        };
        let referred = SessionSignals {
            referrer_known: true,
            deal_site_referral: true,
            ..none
        };
        assert!(ratio(typed) > 1.5, "{}", ratio(typed));
        assert!(ratio(referred) > 1.5, "{}", ratio(referred));
        assert!(ratio(empty_field) < 1.0, "{}", ratio(empty_field));
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
