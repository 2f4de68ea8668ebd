//! The randomised holdout group: a configurable share of users, chosen by a deterministic
//! hash of the user id (xxh3 with a salt), is never contacted, so that incremental revenue
//! can be measured against it. The same user is always in or out for a given salt.

use super::Verdict;
use super::context::ShopperContext;
use xxhash_rust::xxh3::xxh3_64_with_seed;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct HoldoutGroup {
    share: f64,
    salt: u64,
}

impl HoldoutGroup {
    /// `share` in `[0, 1]`.
    pub fn new(share: f64, salt: u64) -> Result<Self, String> {
        if !(0.0..=1.0).contains(&share) {
            return Err(format!("must be in [0, 1], got {share}"));
        }
        Ok(HoldoutGroup { share, salt })
    }

    pub fn share(&self) -> f64 {
        self.share
    }

    /// Whether `user_id` belongs to the holdout group.
    pub fn contains(&self, user_id: &str) -> bool {
        let hash = xxh3_64_with_seed(user_id.as_bytes(), self.salt);
        // Top 53 bits as a uniform number in [0, 1).
        let unit = (hash >> 11) as f64 / (1u64 << 53) as f64;
        unit < self.share
    }
}

pub fn check_holdout(context: &ShopperContext, holdout: &HoldoutGroup) -> Verdict {
    if holdout.contains(&context.user_id) {
        Verdict::Suppress {
            reason: format!(
                "user is in the {:.0} % holdout group",
                holdout.share() * 100.0
            ),
        }
    } else {
        Verdict::Allow
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn membership_is_deterministic_and_close_to_the_share() {
        let holdout = HoldoutGroup::new(0.1, 7).unwrap();
        let members = (0..20_000)
            .filter(|i| holdout.contains(&format!("user-{i}")))
            .count();
        // Binomial(20000, 0.1): sd = 42; allow 5 sd.
        assert!((1_790..=2_210).contains(&members), "{members}");
        for i in 0..100 {
            let id = format!("user-{i}");
            assert_eq!(holdout.contains(&id), holdout.contains(&id));
        }
        // Another salt draws another group.
        let other = HoldoutGroup::new(0.1, 8).unwrap();
        let differ = (0..2_000)
            .filter(|i| {
                let id = format!("user-{i}");
                holdout.contains(&id) != other.contains(&id)
            })
            .count();
        assert!(differ > 100, "{differ}");
    }

    #[test]
    fn zero_and_full_shares() {
        let none = HoldoutGroup::new(0.0, 1).unwrap();
        let all = HoldoutGroup::new(1.0, 1).unwrap();
        assert!((0..1000).all(|i| !none.contains(&i.to_string())));
        assert!((0..1000).all(|i| all.contains(&i.to_string())));
        assert!(HoldoutGroup::new(1.01, 1).is_err());
    }
}
