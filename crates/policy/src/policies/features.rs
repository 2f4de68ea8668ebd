//! The feature vector learned policies use for a cart state: cart value, predicted
//! propensity and their interaction, customer and device flags, consent, night-time, step,
//! messages and coupon so far, and the customer's history (coupon and non-coupon orders,
//! marketing e-mail clicks and open share; all zero without history), and the session's
//! signals of discount seeking (a code typed at checkout, the coupon field left empty,
//! arrival from a coupon / deal / cashback site; all zero when not observed).

use super::ObservedState;

pub const FEATURE_DIMENSION: usize = 22;

pub fn feature_vector(state: &ObservedState) -> [f64; FEATURE_DIMENSION] {
    let f = &state.features;
    let h = &f.history;
    // The session's signals of discount seeking (`SessionSignals::indicators`).
    let [code_typed, field_left_empty, deal_site] = f.session.indicators();
    let value = f.cart_value_minor as f64 / 6_000.0;
    let p = f.predicted_propensity.clamp(1e-4, 1.0 - 1e-4);
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    let night = !(7..22).contains(&state.send_hour_local);
    // The log-odds that coupons move the shopper are linear in the counts of orders with
    // and without a coupon (one binomial per order), so the counts go in as they are.
    let coupon_orders = f64::from(h.coupon_orders.min(h.orders));
    let plain_orders = f64::from(h.orders - h.coupon_orders.min(h.orders));
    let open_share = if h.emails > 0 {
        f64::from(h.email_opens.min(h.emails)) / f64::from(h.emails)
    } else {
        0.0
    };
    [
        1.0,
        value,
        p,
        value * p,
        (p / (1.0 - p)).ln() / 5.0,
        flag(f.returning_customer),
        value * flag(f.returning_customer),
        flag(f.mobile),
        flag(f.webhook_consent),
        flag(night),
        flag(state.step == 1),
        flag(state.step >= 2),
        f64::from(state.messages_sent) / 3.0,
        f64::from(state.coupon_sent_percent) / 20.0,
        coupon_orders.min(6.0) / 2.0,
        plain_orders.min(6.0) / 2.0,
        f64::from(h.email_clicks.min(6)) / 2.0,
        open_share,
        flag(h.emails > 0),
        code_typed,
        field_left_empty,
        deal_site,
    ]
}
