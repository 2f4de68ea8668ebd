//! The adapter between what the live engine knows about a real cart and what the decision
//! layer reads: the propensity model's input columns (named like the episode columns of
//! `docs/episodes.md`, computed at the abandonment instant as in training) and the policy
//! crate's [`ObservedState`] for one decision step. Pure: every input is handed in.
//!
//! The model's session columns, `channel` and `device` come from the session the engine's
//! tracker recorded on the cart at its abandonment (`Cart::session_at_abandonment`, measured
//! as the episodes measure it). What the engine does not know is left out rather than
//! guessed: a missing number encodes as the training mean, a missing category as none
//! (`channel` and `device` when the user's events named none; all of them for a cart folded
//! without sessions). The policies' `mobile` is whether that `device` is a phone or a tablet
//! ([`is_mobile_device`]); false when unknown.
//!
//! The policies' customer history ([`CustomerHistory`]) comes from the engine's own
//! records: the user's e-mails sent in the 90 days before the abandonment and whether each
//! was opened or clicked (tracking events), and — when the shop's order events name their
//! discount code (`[policy] order_coupons_tracked`) — the user's orders of the last 365 days
//! with and without a code (`Cart::order_coupon`). Without that setting coupon use is fed as
//! "no history" (0 orders known), which carries no evidence either way.
//!
//! The session signals of discount seeking ([`SessionSignals`]) come from the cart's own
//! events, as the tracker folded them ([`session_signals`]): a code counts as entered once
//! the cart has a `coupon_entered` event (applied, denied or of unreported fate). An empty
//! coupon field is evidence only when the shop says it sends coupon events
//! (`[policy] coupon_events_tracked`): then a cart that reached checkout (a `checkout_started`
//! event — the field is on the checkout page) without one counts as "field seen, no code".
//! Otherwise, and for a cart that never reached checkout, the field is unobserved, which
//! carries no evidence either way.
//!
//! Arrival from a coupon, deal or cash-back site comes from the referrers the tracker kept on
//! the cart (`Cart::referrers`: the hosts of the events' `referrer`, or a campaign source):
//! one that is a `[policy] deal_sites` domain (or a subdomain, or its first label as a
//! campaign source) is a deal-site referral. The referrer counts as known when the cart has
//! one, or when the shop says its events carry the referrer (`[policy] referrers_tracked`):
//! then a cart without one came directly, which is evidence too ("not from a coupon site").
//! Otherwise a cart whose events named no referrer has an unknown referrer (no evidence
//! either way).

use cartback_core::referrer::matches_site;
use cartback_core::{Cart, CartState, Timestamp};
use cartback_policy::policies::ObservedState;
use cartback_policy::simulator::{CartFeatures, CustomerHistory, SessionSignals};
use chrono::{DateTime, Timelike};
use chrono_tz::Tz;

/// The user's earlier carts, summarised (from the store's carts of the user).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct UserHistory {
    /// Carts the user created before this one.
    pub past_carts: u32,
    /// Carts of the user ordered (purchased or recovered) before the decision point.
    pub past_orders: u32,
    /// Abandonments of the user's other carts before the decision point.
    pub past_abandonments: u32,
    /// The user's recovered carts before the decision point.
    pub past_recoveries: u32,
    pub last_order_at: Option<Timestamp>,
    /// Orders of the user's other carts in the [`ORDER_HISTORY_WINDOW`] before the decision
    /// point, and how many of them were placed with a discount code (`Cart::order_coupon`).
    pub recent_orders: u32,
    pub recent_coupon_orders: u32,
    /// The engine's e-mails to the user sent in the [`ENGAGEMENT_WINDOW`] before the
    /// decision point, how many of them were opened and how many clicked.
    pub emails: u32,
    pub email_opens: u32,
    pub email_clicks: u32,
}

/// How far back orders count for the customer history's coupon use (the simulator's
/// `history` orders are the last 365 days' too).
pub const ORDER_HISTORY_WINDOW: cartback_core::Duration = cartback_core::Duration::days(365);

/// How far back e-mail engagement is counted (the simulator's `history.marketing_emails`
/// are the last 90 days' too).
pub const ENGAGEMENT_WINDOW: cartback_core::Duration = cartback_core::Duration::days(90);

/// Whether a message sent at `sent_at` counts in the e-mail engagement seen at `at`: sent
/// before it, within the [`ENGAGEMENT_WINDOW`].
pub fn in_engagement_window(sent_at: Timestamp, at: Timestamp) -> bool {
    sent_at < at && sent_at >= at - ENGAGEMENT_WINDOW
}

/// One message the engine sent to the user earlier, with its tracking.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrackedMessage {
    /// An e-mail action (reminder, recommendation, coupon); pushes are not counted.
    pub email: bool,
    pub sent_at: Timestamp,
    /// At least one open / click tracking event.
    pub opened: bool,
    pub clicked: bool,
}

impl UserHistory {
    /// Summarises `carts` (every cart of the user) as seen at `at`, leaving out `current`.
    pub fn from_carts(carts: &[Cart], current: &str, at: Timestamp) -> UserHistory {
        let mut history = UserHistory::default();
        for cart in carts.iter().filter(|c| c.id != current) {
            if cart.created_at < at {
                history.past_carts += 1;
            }
            if cart.abandoned_at.is_some_and(|t| t < at) {
                history.past_abandonments += cart.abandonments.max(1);
            }
            let ordered = matches!(cart.state, CartState::Purchased | CartState::Recovered);
            if let (true, Some(closed)) = (ordered, cart.closed_at)
                && closed < at
            {
                history.past_orders += 1;
                if cart.state == CartState::Recovered {
                    history.past_recoveries += 1;
                }
                history.last_order_at = history.last_order_at.max(Some(closed));
                if closed >= at - ORDER_HISTORY_WINDOW {
                    history.recent_orders += 1;
                    history.recent_coupon_orders += u32::from(cart.order_coupon.is_some());
                }
            }
        }
        history
    }

    /// Counts the e-mails among `messages` sent in the [`ENGAGEMENT_WINDOW`] before `at`,
    /// and how many of them were opened and clicked (a click counts as an open: the
    /// tracking pixel may be blocked).
    pub fn with_engagement(mut self, messages: &[TrackedMessage], at: Timestamp) -> UserHistory {
        for m in messages
            .iter()
            .filter(|m| m.email && in_engagement_window(m.sent_at, at))
        {
            self.emails += 1;
            self.email_opens += u32::from(m.opened || m.clicked);
            self.email_clicks += u32::from(m.clicked);
        }
        self
    }

    /// One line for a decision's reasons: what the engine knew about the user's past.
    pub fn summary(&self, order_coupons_tracked: bool) -> String {
        let coupons = if order_coupons_tracked {
            format!(
                "{} of {} orders in 365 days with a discount code",
                self.recent_coupon_orders, self.recent_orders
            )
        } else {
            "discount codes of orders not tracked".to_string()
        };
        format!(
            "customer history: {} earlier carts, {} orders, {} abandonments; \
             {} e-mails in 90 days, {} opened, {} clicked; {coupons}",
            self.past_carts,
            self.past_orders,
            self.past_abandonments,
            self.emails,
            self.email_opens,
            self.email_clicks
        )
    }

    /// The policies' view of the history: e-mail engagement as counted, and coupon use on
    /// the orders of the last 365 days when the shop says its order events name the discount
    /// code (`order_coupons_tracked`). Otherwise no orders are given: an order without a code
    /// from a shop that never sends codes is no evidence that coupons do not move the user.
    pub fn customer_history(&self, order_coupons_tracked: bool) -> CustomerHistory {
        let (orders, coupon_orders) = if order_coupons_tracked {
            (self.recent_orders, self.recent_coupon_orders)
        } else {
            (0, 0)
        };
        CustomerHistory {
            orders,
            coupon_orders,
            emails: self.emails,
            email_opens: self.email_opens,
            email_clicks: self.email_clicks,
        }
    }
}

/// What the shop's events carry and which sites are coupon sites: the `[policy]` settings
/// the session signals depend on.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionTracking {
    /// `[policy] coupon_events_tracked`: the shop sends coupon events.
    pub coupon_events_tracked: bool,
    /// `[policy] referrers_tracked`: the shop's events carry the session's referrer.
    pub referrers_tracked: bool,
    /// `[policy] deal_sites`: coupon, deal and cash-back domains, lower-case.
    pub deal_sites: Vec<String>,
}

impl SessionTracking {
    /// The first of the cart's referrers that is a deal site.
    pub fn deal_site_referrer<'a>(&self, cart: &'a Cart) -> Option<&'a str> {
        cart.referrers
            .iter()
            .find(|key| self.deal_sites.iter().any(|site| matches_site(key, site)))
            .map(String::as_str)
    }
}

/// The session signals of discount seeking the engine observes on `cart` (its events up to
/// the decision point: an event after the abandonment would have made the cart active
/// again). A coupon event means the field was seen and a code typed; without one, the field
/// counts as seen (and left empty) only if the cart reached checkout and the shop sends
/// coupon events (`coupon_events_tracked`). A referrer on the cart makes it known, and a
/// deal-site one a deal-site referral; without one the referrer is known (a direct visit)
/// only when the shop says its events carry it (`referrers_tracked`).
pub fn session_signals(cart: &Cart, tracking: &SessionTracking) -> SessionSignals {
    let coupon_entered = cart.coupons_entered > 0;
    SessionSignals {
        coupon_field_seen: coupon_entered
            || (tracking.coupon_events_tracked && cart.reached_checkout()),
        coupon_entered,
        referrer_known: tracking.referrers_tracked || !cart.referrers.is_empty(),
        deal_site_referral: tracking.deal_site_referrer(cart).is_some(),
    }
}

/// One line for a decision's reasons: the session signals the policy saw, and what they
/// came from.
pub fn session_summary(cart: &Cart, tracking: &SessionTracking) -> String {
    let signals = session_signals(cart, tracking);
    let coupon = if !cart.reached_checkout() {
        "checkout not reached, coupon field not observed".to_string()
    } else if !signals.coupon_field_seen {
        "checkout reached, coupon field not observed (policy.coupon_events_tracked is off)"
            .to_string()
    } else if signals.coupon_entered {
        format!(
            "checkout reached, coupon code entered ({} coupon events)",
            cart.coupons_entered
        )
    } else {
        "checkout reached, no coupon code entered".to_string()
    };
    let referrer = match tracking.deal_site_referrer(cart) {
        Some(key) => format!("arrived from {key} (a coupon site)"),
        None if !cart.referrers.is_empty() => {
            format!("referrer not a coupon site ({})", cart.referrers.join(", "))
        }
        None if signals.referrer_known => "no referrer (a direct visit), not a coupon site".into(),
        None => "referrer not observed (policy.referrers_tracked is off)".into(),
    };
    format!("session signals: {coupon}; {referrer}")
}

/// One input value for the propensity model.
#[derive(Clone, Debug, PartialEq)]
pub enum FeatureValue {
    Number(f64),
    Text(String),
    /// Unknown to the engine: the model encodes it as missing.
    Missing,
}

fn major(minor: i64, cart: &Cart) -> f64 {
    let exponent = cart.currency.map_or(2, |c| c.exponent());
    minor as f64 / 10f64.powi(exponent as i32)
}

/// The cart's model inputs at `at` (its abandonment), by episode column name.
pub fn model_features(
    cart: &Cart,
    history: &UserHistory,
    at: Timestamp,
) -> Vec<(&'static str, FeatureValue)> {
    use FeatureValue::{Missing, Number, Text};
    // The user's session at the abandonment, as the episodes measure it (kept by the
    // engine's tracker); missing for a cart folded without it.
    let session = cart.session_at_abandonment.as_ref();
    let lines: Vec<_> = cart.lines.iter().filter(|l| l.quantity > 0).collect();
    let units: u32 = lines.iter().map(|l| l.quantity).sum();
    let priced_units: i64 = lines
        .iter()
        .filter(|l| l.unit_price.is_some())
        .map(|l| i64::from(l.quantity))
        .sum();
    let mut categories: Vec<&str> = lines.iter().filter_map(|l| l.category.as_deref()).collect();
    categories.sort_unstable();
    categories.dedup();
    let max_price = lines.iter().filter_map(|l| l.unit_price).max().unwrap_or(0);
    let mean_price = if priced_units > 0 {
        cart.value.saturating_add(priced_units / 2) / priced_units
    } else {
        0
    };
    let flag = |b: bool| Number(if b { 1.0 } else { 0.0 });
    let count = |n: u32| Number(f64::from(n));
    vec![
        ("cart_value", Number(major(cart.value, cart))),
        ("cart_units", count(units)),
        ("cart_lines", count(lines.len() as u32)),
        ("cart_categories", count(categories.len() as u32)),
        ("max_item_price", Number(major(max_price, cart))),
        ("mean_item_price", Number(major(mean_price, cart))),
        ("adds", count(cart.adds)),
        ("removes", count(cart.removes)),
        ("cart_views", count(cart.views)),
        ("checkout_started", flag(cart.checkout_started)),
        (
            "seconds_since_cart_created",
            Number((at - cart.created_at).as_secs_f64().max(0.0)),
        ),
        (
            "session_events",
            session.map_or(Missing, |s| count(s.events)),
        ),
        ("session_views", session.map_or(Missing, |s| count(s.views))),
        (
            "session_products_viewed",
            session.map_or(Missing, |s| count(s.products_viewed)),
        ),
        (
            "session_length_seconds",
            session.map_or(Missing, |s| Number(s.length_millis as f64 / 1000.0)),
        ),
        (
            "session_dwell_seconds",
            session.map_or(Missing, |s| Number(s.dwell_millis as f64 / 1000.0)),
        ),
        ("hour_utc", count(at.hour_utc())),
        ("weekday_utc", count(at.weekday_utc())),
        (
            "returning_user",
            flag(session.map_or(history.past_carts > 0, |s| s.past_sessions > 0)),
        ),
        (
            "past_sessions",
            session.map_or(Missing, |s| count(s.past_sessions)),
        ),
        ("past_orders", count(history.past_orders)),
        ("past_abandonments", count(history.past_abandonments)),
        ("past_recoveries", count(history.past_recoveries)),
        (
            "days_since_last_order",
            Number(
                history
                    .last_order_at
                    .map_or(-1.0, |t| (at - t).as_millis() as f64 / 86_400_000.0),
            ),
        ),
        ("has_email", flag(cart.email.is_some())),
        (
            "channel",
            session
                .and_then(|s| s.channel.clone())
                .map_or(Missing, Text),
        ),
        (
            "device",
            session.and_then(|s| s.device.clone()).map_or(Missing, Text),
        ),
        ("timezone", cart.timezone.clone().map_or(Missing, Text)),
    ]
}

/// Whether an event's `device` is a phone or a tablet (the simulator's "mobile" shoppers,
/// who read push and SMS more): `mobile`, `tablet`, `phone`, `smartphone`, and the operating
/// systems and devices Segment's mobile libraries put in `context.device.type` (`ios`,
/// `android`, `iphone`, `ipad`), in any case. Anything else (`desktop`, `tv`, …) is not.
pub fn is_mobile_device(device: &str) -> bool {
    const MOBILE: [&str; 8] = [
        "mobile",
        "tablet",
        "phone",
        "smartphone",
        "ios",
        "android",
        "iphone",
        "ipad",
    ];
    let device = device.trim();
    MOBILE.iter().any(|m| device.eq_ignore_ascii_case(m))
}

/// The cart's IANA time zone, else `default` (also when the cart's zone is unknown to the
/// time-zone database).
pub fn time_zone(cart: &Cart, default: Tz) -> Tz {
    cart.timezone
        .as_deref()
        .and_then(|name| name.parse::<Tz>().ok())
        .unwrap_or(default)
}

/// Local hour (0..24) of `at` in `zone`.
pub fn local_hour(at: Timestamp, zone: Tz) -> u32 {
    DateTime::from_timestamp_millis(at.as_millis())
        .map_or(at.hour_utc(), |utc| utc.with_timezone(&zone).hour())
}

/// What the engine knows about one decision step besides the cart.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepFacts {
    pub step: usize,
    pub n_steps: usize,
    /// The instant of this abandonment.
    pub abandoned_at: Timestamp,
    /// When a message of this step would go out.
    pub send_at: Timestamp,
    pub zone: Tz,
    /// Messages about this cart not cancelled or failed so far.
    pub messages_sent: u32,
    /// Largest coupon among them, percent.
    pub coupon_sent_percent: u32,
    /// The shopper can be reached on each channel (consent not withdrawn, address known).
    pub email_reachable: bool,
    pub webhook_reachable: bool,
    pub predicted_propensity: f64,
    /// The session signals of the cart ([`session_signals`]).
    pub session: SessionSignals,
    /// `[policy] order_coupons_tracked`: order events name their discount code
    /// ([`UserHistory::customer_history`]).
    pub order_coupons_tracked: bool,
}

/// The policy crate's view of the cart at this step.
pub fn observed_state(cart: &Cart, history: &UserHistory, facts: &StepFacts) -> ObservedState {
    ObservedState {
        features: CartFeatures {
            cart_value_minor: cart.value,
            predicted_propensity: facts.predicted_propensity,
            returning_customer: history.past_orders > 0,
            mobile: cart
                .session_at_abandonment
                .as_ref()
                .and_then(|s| s.device.as_deref())
                .is_some_and(is_mobile_device),
            email_consent: facts.email_reachable,
            webhook_consent: facts.webhook_reachable,
            abandoned_hour: local_hour(facts.abandoned_at, facts.zone),
            history: history.customer_history(facts.order_coupons_tracked),
            session: facts.session,
        },
        step: facts.step,
        n_steps: facts.n_steps,
        abandoned_at: facts.abandoned_at,
        send_at: facts.send_at,
        send_hour_local: local_hour(facts.send_at, facts.zone),
        messages_sent: facts.messages_sent,
        coupon_sent_percent: facts.coupon_sent_percent,
        subscribed: facts.email_reachable || facts.webhook_reachable,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cartback_core::{CartLine, Currency, Duration};

    const T0: Timestamp = Timestamp(1_780_000_000_000); // 2026-05-28T20:26:40Z, a Thursday

    fn cart(id: &str) -> Cart {
        Cart {
            id: id.into(),
            user_id: "u1".into(),
            state: CartState::Abandoned,
            lines: vec![
                CartLine {
                    item_id: "mug".into(),
                    name: Some("Mug".into()),
                    category: Some("kitchen".into()),
                    unit_price: Some(1_250),
                    quantity: 2,
                },
                CartLine {
                    item_id: "pot".into(),
                    name: None,
                    category: Some("kitchen".into()),
                    unit_price: Some(3_000),
                    quantity: 1,
                },
                CartLine {
                    item_id: "gone".into(),
                    name: None,
                    category: Some("garden".into()),
                    unit_price: Some(99),
                    quantity: 0,
                },
            ],
            currency: Some(Currency::parse("EUR").unwrap()),
            value: 5_500,
            adds: 4,
            removes: 1,
            views: 2,
            checkout_started: true,
            coupons_entered: 0,
            created_at: T0 - Duration::minutes(40),
            last_activity: T0 - Duration::minutes(30),
            abandoned_at: Some(T0),
            abandonments: 1,
            email: Some("ann@example.com".into()),
            timezone: Some("America/New_York".into()),
            closed_at: None,
            order_id: None,
            order_value: None,
            order_coupon: None,
            direct_purchase: false,
            order_cancelled: false,
            referrers: Vec::new(),
            session_at_abandonment: None,
        }
    }

    fn value<'a>(features: &'a [(&str, FeatureValue)], name: &str) -> &'a FeatureValue {
        &features.iter().find(|(n, _)| *n == name).unwrap().1
    }

    #[test]
    fn model_features_follow_the_episode_columns() {
        let history = UserHistory {
            past_carts: 2,
            past_orders: 1,
            past_abandonments: 1,
            past_recoveries: 0,
            last_order_at: Some(T0 - Duration::days(3)),
            ..UserHistory::default()
        };
        let f = model_features(&cart("c1"), &history, T0);
        assert_eq!(value(&f, "cart_value"), &FeatureValue::Number(55.0));
        assert_eq!(value(&f, "cart_units"), &FeatureValue::Number(3.0));
        assert_eq!(value(&f, "cart_lines"), &FeatureValue::Number(2.0));
        assert_eq!(value(&f, "cart_categories"), &FeatureValue::Number(1.0));
        assert_eq!(value(&f, "max_item_price"), &FeatureValue::Number(30.0));
        // 55.00 / 3 units = 18.333… → 18.33
        assert_eq!(value(&f, "mean_item_price"), &FeatureValue::Number(18.33));
        assert_eq!(value(&f, "checkout_started"), &FeatureValue::Number(1.0));
        assert_eq!(
            value(&f, "seconds_since_cart_created"),
            &FeatureValue::Number(2_400.0)
        );
        assert_eq!(value(&f, "hour_utc"), &FeatureValue::Number(20.0));
        assert_eq!(value(&f, "weekday_utc"), &FeatureValue::Number(3.0));
        assert_eq!(value(&f, "returning_user"), &FeatureValue::Number(1.0));
        assert_eq!(
            value(&f, "days_since_last_order"),
            &FeatureValue::Number(3.0)
        );
        assert_eq!(value(&f, "session_events"), &FeatureValue::Missing);
        assert_eq!(
            value(&f, "timezone"),
            &FeatureValue::Text("America/New_York".into())
        );
        // Without the session at the abandonment the session columns, channel and device
        // are missing.
        assert_eq!(value(&f, "channel"), &FeatureValue::Missing);
        assert_eq!(value(&f, "device"), &FeatureValue::Missing);
        // The session at the abandonment, when the engine's tracker kept it; with it
        // "returning" means an earlier session, and channel and device are the user's
        // latest, as in the episodes.
        let with_session = Cart {
            session_at_abandonment: Some(cartback_core::SessionSnapshot {
                events: 7,
                views: 3,
                products_viewed: 2,
                length_millis: 754_000,
                dwell_millis: 600_500,
                past_sessions: 0,
                channel: Some("web".into()),
                device: Some("mobile".into()),
            }),
            ..cart("c1")
        };
        let f = model_features(&with_session, &history, T0);
        assert_eq!(value(&f, "channel"), &FeatureValue::Text("web".into()));
        assert_eq!(value(&f, "device"), &FeatureValue::Text("mobile".into()));
        for (column, expected) in [
            ("session_events", 7.0),
            ("session_views", 3.0),
            ("session_products_viewed", 2.0),
            ("session_length_seconds", 754.0),
            ("session_dwell_seconds", 600.5),
            ("past_sessions", 0.0),
            ("returning_user", 0.0),
        ] {
            assert_eq!(
                value(&f, column),
                &FeatureValue::Number(expected),
                "{column}"
            );
        }
        let none = model_features(&cart("c1"), &UserHistory::default(), T0);
        assert_eq!(
            value(&none, "days_since_last_order"),
            &FeatureValue::Number(-1.0)
        );
    }

    #[test]
    fn history_counts_only_other_carts_before_the_decision_point() {
        let mut old = cart("c0");
        old.state = CartState::Recovered;
        old.created_at = T0 - Duration::days(10);
        old.abandoned_at = Some(T0 - Duration::days(10));
        old.closed_at = Some(T0 - Duration::days(9));
        let mut later = cart("c2");
        later.state = CartState::Purchased;
        later.created_at = T0 + Duration::hours(1);
        later.abandoned_at = None;
        later.closed_at = Some(T0 + Duration::hours(2));
        let history = UserHistory::from_carts(&[old, cart("c1"), later], "c1", T0);
        assert_eq!(
            history,
            UserHistory {
                past_carts: 1,
                past_orders: 1,
                past_abandonments: 1,
                past_recoveries: 1,
                last_order_at: Some(T0 - Duration::days(9)),
                recent_orders: 1,
                ..UserHistory::default()
            }
        );
    }

    #[test]
    fn coupon_use_on_orders_of_the_last_year_is_history_when_the_shop_sends_codes() {
        let ordered = |id: &str, days_before: i64, code: Option<&str>| {
            let mut c = cart(id);
            c.state = CartState::Purchased;
            c.created_at = T0 - Duration::days(days_before + 1);
            c.closed_at = Some(T0 - Duration::days(days_before));
            c.order_coupon = code.map(str::to_owned);
            c
        };
        let carts = [
            ordered("a", 10, Some("SAVE10")),
            ordered("b", 100, None),
            ordered("c", 200, Some("WELCOME")),
            // More than a year ago: out of the window, though still an earlier order.
            ordered("d", 400, Some("OLD")),
            cart("c1"),
        ];
        let history = UserHistory::from_carts(&carts, "c1", T0);
        assert_eq!(history.past_orders, 4);
        assert_eq!(
            (history.recent_orders, history.recent_coupon_orders),
            (3, 2)
        );
        let tracked = history.customer_history(true);
        assert_eq!((tracked.orders, tracked.coupon_orders), (3, 2));
        // A shop that does not say it sends codes: orders carry no evidence.
        let untracked = history.customer_history(false);
        assert_eq!((untracked.orders, untracked.coupon_orders), (0, 0));
        let facts = StepFacts {
            order_coupons_tracked: true,
            ..first_step()
        };
        assert_eq!(
            observed_state(&cart("c1"), &history, &facts)
                .features
                .history,
            tracked
        );
        assert!(
            history
                .summary(true)
                .ends_with("; 2 of 3 orders in 365 days with a discount code"),
            "{}",
            history.summary(true)
        );
        assert!(
            history
                .summary(false)
                .ends_with("; discount codes of orders not tracked")
        );
    }

    /// The first step of a flow decided at the abandonment (UTC), reachable by e-mail only.
    fn first_step() -> StepFacts {
        StepFacts {
            step: 0,
            n_steps: 3,
            abandoned_at: T0,
            send_at: T0,
            zone: Tz::UTC,
            messages_sent: 0,
            coupon_sent_percent: 0,
            email_reachable: true,
            webhook_reachable: false,
            predicted_propensity: 0.05,
            session: SessionSignals::default(),
            order_coupons_tracked: false,
        }
    }

    #[test]
    fn engagement_counts_the_users_emails_of_the_last_90_days() {
        let message = |days_before: i64, email: bool, opened: bool, clicked: bool| TrackedMessage {
            email,
            sent_at: T0 - Duration::days(days_before),
            opened,
            clicked,
        };
        let messages = [
            message(2, true, true, true),
            message(10, true, true, false),
            // A click without a recorded open (images blocked) is an open too.
            message(20, true, false, true),
            message(30, true, false, false),
            // A push is not an e-mail; a message older than 90 days is out of the window.
            message(5, false, true, true),
            message(91, true, true, true),
            // Sent after the decision point: not history yet.
            message(-1, true, true, true),
        ];
        let history = UserHistory {
            past_orders: 2,
            ..UserHistory::default()
        }
        .with_engagement(&messages, T0);
        assert_eq!(
            (history.emails, history.email_opens, history.email_clicks),
            (4, 3, 2)
        );
        // The policies see the engagement; coupon use on orders is unknown (no orders
        // with a known discount code) unless the shop's orders name their codes.
        let seen = history.customer_history(false);
        assert_eq!(
            seen,
            CustomerHistory {
                orders: 0,
                coupon_orders: 0,
                emails: 4,
                email_opens: 3,
                email_clicks: 2,
            }
        );
        let facts = StepFacts {
            send_at: T0 + Duration::hours(1),
            zone: chrono_tz::Europe::Berlin,
            ..first_step()
        };
        assert_eq!(
            observed_state(&cart("c1"), &history, &facts)
                .features
                .history,
            seen
        );
        assert_eq!(
            observed_state(&cart("c1"), &UserHistory::default(), &facts)
                .features
                .history,
            CustomerHistory::default()
        );
        // The test cart reached checkout without a coupon event: the field counts as seen
        // empty only from a shop that sends coupon events.
        let session = observed_state(&cart("c1"), &history, &facts)
            .features
            .session;
        assert_eq!(session, SessionSignals::default());
        let tracking = SessionTracking {
            coupon_events_tracked: true,
            ..SessionTracking::default()
        };
        let tracked = StepFacts {
            session: session_signals(&cart("c1"), &tracking),
            ..facts
        };
        let session = observed_state(&cart("c1"), &history, &tracked)
            .features
            .session;
        assert!(session.coupon_field_seen && !session.coupon_entered);
        assert!(!session.referrer_known && !session.any_discount_seeking());
    }

    #[test]
    fn session_signals_come_from_the_carts_checkout_and_coupon_events() {
        let signals = |checkout_started: bool, coupons_entered: u32, tracked: bool| {
            let c = Cart {
                checkout_started,
                coupons_entered,
                ..cart("c1")
            };
            let tracking = SessionTracking {
                coupon_events_tracked: tracked,
                ..SessionTracking::default()
            };
            (
                session_signals(&c, &tracking),
                session_summary(&c, &tracking),
            )
        };
        for tracked in [false, true] {
            // No checkout: nothing observed, which is no evidence (the default signals).
            let (none, line) = signals(false, 0, tracked);
            assert_eq!(none, SessionSignals::default());
            assert_eq!(
                line,
                "session signals: checkout not reached, coupon field not observed; \
                 referrer not observed (policy.referrers_tracked is off)"
            );
            // A coupon event is a code typed, whether or not the shop says it sends them,
            // and checkout activity by itself (some shops send no Checkout Started).
            for checkout_started in [true, false] {
                let (typed, line) = signals(checkout_started, 2, tracked);
                assert_eq!(
                    typed,
                    SessionSignals {
                        coupon_field_seen: true,
                        coupon_entered: true,
                        referrer_known: false,
                        deal_site_referral: false,
                    }
                );
                assert!(typed.any_discount_seeking());
                assert_eq!(
                    line,
                    "session signals: checkout reached, coupon code entered (2 coupon events); \
                     referrer not observed (policy.referrers_tracked is off)"
                );
            }
        }
        // Checkout reached without a coupon event: "no code typed" only from a shop that
        // sends coupon events; from any other shop it says nothing.
        let (empty, line) = signals(true, 0, true);
        assert_eq!(
            empty,
            SessionSignals {
                coupon_field_seen: true,
                ..SessionSignals::default()
            }
        );
        assert!(
            line.contains("checkout reached, no coupon code entered"),
            "{line}"
        );
        let (unknown, line) = signals(true, 0, false);
        assert_eq!(unknown, SessionSignals::default());
        assert!(
            line.contains("coupon field not observed (policy.coupon_events_tracked is off)"),
            "{line}"
        );
        let typed = Cart {
            coupons_entered: 1,
            ..cart("c1")
        };
        let facts = StepFacts {
            session: session_signals(&typed, &SessionTracking::default()),
            ..first_step()
        };
        assert!(
            observed_state(&typed, &UserHistory::default(), &facts)
                .features
                .session
                .coupon_entered
        );
    }

    #[test]
    fn the_observed_state_uses_local_hours_in_the_shoppers_zone() {
        let zone = time_zone(&cart("c1"), Tz::UTC);
        assert_eq!(zone, chrono_tz::America::New_York);
        let mut unknown = cart("c1");
        unknown.timezone = Some("Mars/Olympus".into());
        assert_eq!(
            time_zone(&unknown, chrono_tz::Europe::Berlin),
            chrono_tz::Europe::Berlin
        );
        let facts = StepFacts {
            step: 1,
            send_at: T0 + Duration::hours(24),
            zone,
            messages_sent: 1,
            predicted_propensity: 0.07,
            ..first_step()
        };
        let state = observed_state(&cart("c1"), &UserHistory::default(), &facts);
        // 20:26 UTC in May is 16:26 in New York (EDT, UTC−4).
        assert_eq!(state.features.abandoned_hour, 16);
        assert_eq!(state.send_hour_local, 16);
        assert_eq!(state.features.cart_value_minor, 5_500);
        assert!(!state.features.returning_customer);
        assert!(state.features.email_consent && !state.features.webhook_consent);
        assert!(state.subscribed);
        assert_eq!((state.step, state.n_steps, state.messages_sent), (1, 3, 1));
        let unreachable = StepFacts {
            email_reachable: false,
            ..facts
        };
        assert!(!observed_state(&cart("c1"), &UserHistory::default(), &unreachable).subscribed);
        // The user's latest device says whether the shopper is on a phone or tablet.
        assert!(!state.features.mobile, "no session recorded: not known");
        for (device, mobile) in [
            (Some("mobile"), true),
            (Some("desktop"), false),
            (None, false),
            (Some("iOS"), true),
            (Some(" tablet "), true),
            (Some("tv"), false),
        ] {
            let c = Cart {
                session_at_abandonment: Some(cartback_core::SessionSnapshot {
                    device: device.map(Into::into),
                    ..Default::default()
                }),
                ..cart("c1")
            };
            let state = observed_state(&c, &UserHistory::default(), &facts);
            assert_eq!(state.features.mobile, mobile, "{device:?}");
        }
        // Winter: Berlin is UTC+1.
        let january = Timestamp(1_767_225_600_000); // 2026-01-01T00:00:00Z
        assert_eq!(local_hour(january, chrono_tz::Europe::Berlin), 1);
    }

    fn deal_sites() -> Vec<String> {
        crate::config::DEFAULT_DEAL_SITES
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    }

    #[test]
    fn session_signals_name_a_coupon_site_the_session_came_from() {
        let with = |referrers: &[&str], referrers_tracked: bool| {
            let c = Cart {
                referrers: referrers.iter().map(|r| (*r).to_owned()).collect(),
                ..cart("c1")
            };
            let tracking = SessionTracking {
                coupon_events_tracked: true,
                referrers_tracked,
                deal_sites: deal_sites(),
            };
            (
                session_signals(&c, &tracking),
                session_summary(&c, &tracking),
            )
        };
        let deal = SessionSignals {
            coupon_field_seen: true,
            coupon_entered: false,
            referrer_known: true,
            deal_site_referral: true,
        };
        for tracked in [false, true] {
            // A coupon site, a subdomain of one, or a campaign source naming one: a deal-site
            // referral, whether or not the shop says it sends referrers.
            for (referrers, named) in [
                (&["google.com", "retailmenot.com"][..], "retailmenot.com"),
                (&["uk.hotukdeals.com"][..], "uk.hotukdeals.com"),
                (&["newsletter", "topcashback"][..], "topcashback"),
            ] {
                let (signals, line) = with(referrers, tracked);
                assert_eq!(signals, deal, "{referrers:?}");
                assert!(signals.any_discount_seeking());
                assert!(
                    line.ends_with(&format!("; arrived from {named} (a coupon site)")),
                    "{line}"
                );
            }
            // Referrers seen, none a coupon site: known, and evidence against.
            let (signals, line) = with(&["google.com", "newsletter"], tracked);
            assert_eq!(
                signals,
                SessionSignals {
                    deal_site_referral: false,
                    ..deal
                }
            );
            assert!(
                line.ends_with("; referrer not a coupon site (google.com, newsletter)"),
                "{line}"
            );
        }
        // No referrer: a direct visit from a shop that sends referrers, else unobserved.
        let (signals, line) = with(&[], true);
        assert!(signals.referrer_known && !signals.deal_site_referral);
        assert!(
            line.ends_with("; no referrer (a direct visit), not a coupon site"),
            "{line}"
        );
        let (signals, line) = with(&[], false);
        assert!(!signals.referrer_known && !signals.deal_site_referral);
        assert!(
            line.ends_with("; referrer not observed (policy.referrers_tracked is off)"),
            "{line}"
        );
        // Look-alikes are not coupon sites; an empty deal-site list matches nothing.
        let (signals, _) = with(
            &["notretailmenot.com", "retailmenot.com.evil.example"],
            false,
        );
        assert!(signals.referrer_known && !signals.deal_site_referral);
        let c = Cart {
            referrers: vec!["retailmenot.com".into()],
            ..cart("c1")
        };
        assert!(!session_signals(&c, &SessionTracking::default()).deal_site_referral);
        // The observed state carries the signals given.
        let facts = StepFacts {
            session: deal,
            ..first_step()
        };
        assert_eq!(
            observed_state(&c, &UserHistory::default(), &facts)
                .features
                .session,
            deal
        );
    }
}
