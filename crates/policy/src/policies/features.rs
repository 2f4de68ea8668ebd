//! The feature vector learned policies use for a cart state: cart value, predicted
//! propensity and their interaction, customer and device flags, consent, night-time, step,
//! messages and coupon so far.

use super::ObservedState;

pub const FEATURE_DIMENSION: usize = 14;

pub fn feature_vector(state: &ObservedState) -> [f64; FEATURE_DIMENSION] {
    let f = &state.features;
    let value = f.cart_value_minor as f64 / 6_000.0;
    let p = f.predicted_propensity.clamp(1e-4, 1.0 - 1e-4);
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    let night = !(7..22).contains(&state.send_hour_local);
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
    ]
}
