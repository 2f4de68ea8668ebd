//! The [`Recommender`] trait the e-mail channel and the "e-mail with recommendations"
//! action call, its request and answer, the exclusion rules every implementation applies
//! (cart, out of stock, already bought unless the shop sells consumables), and
//! [`PopularityRecommender`], which works from plain counts before any model is trained.

use crate::error::RecommendError;
use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::fmt;

/// Which model produced a recommendation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    Als,
    Cooccurrence,
    Popularity,
}

impl ModelKind {
    pub const ALL: [ModelKind; 3] = [
        ModelKind::Als,
        ModelKind::Cooccurrence,
        ModelKind::Popularity,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ModelKind::Als => "als",
            ModelKind::Cooccurrence => "cooccurrence",
            ModelKind::Popularity => "popularity",
        }
    }

    /// Simpler models win ties in model selection.
    pub fn simplicity(self) -> u8 {
        match self {
            ModelKind::Popularity => 2,
            ModelKind::Cooccurrence => 1,
            ModelKind::Als => 0,
        }
    }
}

impl fmt::Display for ModelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for ModelKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ModelKind::ALL
            .into_iter()
            .find(|k| k.as_str() == s)
            .ok_or_else(|| {
                format!("unknown model `{s}` (expected als, cooccurrence or popularity)")
            })
    }
}

/// The shop-wide setting that decides whether past purchases may be recommended again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExclusionPolicy {
    /// The shop sells consumables (groceries, cosmetics, pet food): repurchase is the main
    /// signal, so items the shopper already bought stay eligible.
    pub consumables: bool,
}

/// What to recommend for: a shopper (maybe anonymous), their cart and the shop's state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecommendationRequest {
    /// The shop's user id; `None` for an anonymous shopper.
    pub user_id: Option<String>,
    /// Product ids in the cart; never recommended back.
    pub cart: Vec<String>,
    /// How many items to return.
    pub k: usize,
    /// Product ids that cannot be sold now.
    pub out_of_stock: HashSet<String>,
    /// Product ids the shopper bought, as known to the caller (a trained model adds the
    /// purchases it saw in training).
    pub bought: Vec<String>,
}

impl RecommendationRequest {
    pub fn for_cart(cart: Vec<String>, k: usize) -> Self {
        RecommendationRequest {
            cart,
            k,
            ..Default::default()
        }
    }

    /// Whether an item may be recommended under `policy`.
    pub fn allows(&self, item_id: &str, policy: ExclusionPolicy) -> bool {
        !self.cart.iter().any(|c| c == item_id)
            && !self.out_of_stock.contains(item_id)
            && (policy.consumables || !self.bought.iter().any(|b| b == item_id))
    }
}

/// One recommended product.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Recommendation {
    pub item_id: String,
    pub score: f64,
    /// The model that ranked it.
    pub source: ModelKind,
}

/// Anything that can fill a recovery message with products.
pub trait Recommender: Send + Sync {
    /// Up to `request.k` items, best first, none of them excluded by the request.
    fn recommend(
        &self,
        request: &RecommendationRequest,
    ) -> Result<Vec<Recommendation>, RecommendError>;
}

/// Recommends the most popular items. Needs only per-item counts (e.g. orders per product
/// from the event store), so the live engine can use it before any model is trained.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PopularityRecommender {
    /// Items best first.
    ranked: Vec<(String, f64)>,
    policy: ExclusionPolicy,
}

impl PopularityRecommender {
    /// From `(item id, popularity)` pairs; ties are broken by item id so the order is stable.
    pub fn from_counts(
        counts: impl IntoIterator<Item = (String, f64)>,
        policy: ExclusionPolicy,
    ) -> Self {
        let mut ranked: Vec<(String, f64)> = counts
            .into_iter()
            .filter(|(_, c)| c.is_finite() && *c > 0.0)
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        PopularityRecommender { ranked, policy }
    }
}

impl Recommender for PopularityRecommender {
    fn recommend(
        &self,
        request: &RecommendationRequest,
    ) -> Result<Vec<Recommendation>, RecommendError> {
        Ok(self
            .ranked
            .iter()
            .filter(|(item, _)| request.allows(item, self.policy))
            .take(request.k)
            .map(|(item, score)| Recommendation {
                item_id: item.clone(),
                score: *score,
                source: ModelKind::Popularity,
            })
            .collect())
    }
}

/// The `k` best items by `scores` (ties: higher `tie_break`, then lower index), skipping
/// excluded ones. With `require_positive`, items scoring ≤ 0 are left out.
pub fn top_k(
    scores: &[f64],
    tie_break: &[f64],
    k: usize,
    excluded: impl Fn(u32) -> bool,
    require_positive: bool,
) -> Vec<(u32, f64)> {
    let better = |a: &(u32, f64), b: &(u32, f64)| {
        b.1.total_cmp(&a.1)
            .then_with(|| {
                let ta = tie_break.get(a.0 as usize).copied().unwrap_or(0.0);
                let tb = tie_break.get(b.0 as usize).copied().unwrap_or(0.0);
                tb.total_cmp(&ta)
            })
            .then_with(|| a.0.cmp(&b.0))
    };
    let mut candidates: Vec<(u32, f64)> = scores
        .iter()
        .enumerate()
        .map(|(i, &s)| (i as u32, s))
        .filter(|&(i, s)| !s.is_nan() && (!require_positive || s > 0.0) && !excluded(i))
        .collect();
    if k == 0 {
        return Vec::new();
    }
    if candidates.len() > k {
        candidates.select_nth_unstable_by(k - 1, better);
        candidates.truncate(k);
    }
    candidates.sort_by(better);
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn popularity_respects_every_exclusion() {
        let counts = [
            ("milk", 9.0),
            ("bread", 8.0),
            ("eggs", 7.0),
            ("soda", 6.0),
            ("beer", 5.0),
        ];
        let popular = PopularityRecommender::from_counts(
            counts.map(|(i, c)| (i.to_owned(), c)),
            ExclusionPolicy::default(),
        );
        let mut request = RecommendationRequest::for_cart(vec!["milk".into()], 2);
        request.out_of_stock.insert("bread".into());
        request.bought.push("eggs".into());
        let items: Vec<String> = popular
            .recommend(&request)
            .unwrap()
            .into_iter()
            .map(|r| r.item_id)
            .collect();
        assert_eq!(items, vec!["soda", "beer"]);
        let consumables = PopularityRecommender::from_counts(
            counts.map(|(i, c)| (i.to_owned(), c)),
            ExclusionPolicy { consumables: true },
        );
        let items: Vec<String> = consumables
            .recommend(&request)
            .unwrap()
            .into_iter()
            .map(|r| r.item_id)
            .collect();
        assert_eq!(
            items,
            vec!["eggs", "soda"],
            "repurchase allowed for consumables, cart and stock still excluded"
        );
    }

    #[test]
    fn top_k_orders_breaks_ties_and_excludes() {
        let scores = [1.0, 3.0, 3.0, 0.0, 2.0];
        let tie = [0.0, 1.0, 5.0, 0.0, 0.0];
        assert_eq!(
            top_k(&scores, &tie, 3, |i| i == 4, false),
            vec![(2, 3.0), (1, 3.0), (0, 1.0)]
        );
        assert_eq!(top_k(&scores, &tie, 10, |_| false, true).len(), 4);
        assert!(top_k(&scores, &tie, 0, |_| false, false).is_empty());
    }
}
