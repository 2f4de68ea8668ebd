//! The interaction log every model is trained from: users and items as dense indices with
//! their original ids (a [`Vocabulary`]), and one [`Interaction`] per observed event with
//! its kind, weight, time and basket.

use crate::matrix::SparseMatrix;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::str::FromStr;

/// A two-way mapping between external ids (the shop's user or product ids) and dense indices.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(from = "Vec<String>", into = "Vec<String>")]
pub struct Vocabulary {
    names: Vec<String>,
    index: HashMap<String, u32>,
}

impl From<Vec<String>> for Vocabulary {
    fn from(names: Vec<String>) -> Self {
        let index = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i as u32))
            .collect();
        Vocabulary { names, index }
    }
}

impl From<Vocabulary> for Vec<String> {
    fn from(v: Vocabulary) -> Self {
        v.names
    }
}

impl Vocabulary {
    /// The index of `name`, adding it when new.
    pub fn intern(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.names.push(name.to_owned());
        self.index.insert(name.to_owned(), i);
        i
    }

    pub fn get(&self, name: &str) -> Option<u32> {
        self.index.get(name).copied()
    }

    pub fn name(&self, index: u32) -> &str {
        &self.names[index as usize]
    }

    pub fn len(&self) -> usize {
        self.names.len()
    }

    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }
}

/// What kind of signal an interaction is; it sets the default weight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InteractionKind {
    View,
    Cart,
    Purchase,
}

impl FromStr for InteractionKind {
    type Err = String;
    /// Accepts REES46 (`view`, `cart`, `purchase`), OTTO (`clicks`, `carts`, `orders`),
    /// cartback (`product_viewed`, `product_added`, `order_completed`) and Segment names.
    fn from_str(s: &str) -> Result<Self, String> {
        let key = s.trim().to_ascii_lowercase().replace([' ', '-'], "_");
        match key.as_str() {
            "view" | "views" | "click" | "clicks" | "product_viewed" | "pageview" | "detail" => {
                Ok(InteractionKind::View)
            }
            "cart" | "carts" | "add_to_cart" | "addtocart" | "product_added" => {
                Ok(InteractionKind::Cart)
            }
            "purchase" | "purchases" | "order" | "orders" | "order_completed" | "transaction"
            | "buy" => Ok(InteractionKind::Purchase),
            _ => Err(format!(
                "unknown event type `{s}` (expected view/cart/purchase, clicks/carts/orders or product_viewed/product_added/order_completed)"
            )),
        }
    }
}

/// Weight of each interaction kind when the input gives a type but no explicit weight.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct EventWeights {
    pub view: f64,
    pub cart: f64,
    pub purchase: f64,
}

impl Default for EventWeights {
    /// A cart add says more than a view and an order more than a cart add.
    fn default() -> Self {
        EventWeights {
            view: 1.0,
            cart: 4.0,
            purchase: 8.0,
        }
    }
}

impl EventWeights {
    pub fn weight(&self, kind: InteractionKind) -> f64 {
        match kind {
            InteractionKind::View => self.view,
            InteractionKind::Cart => self.cart,
            InteractionKind::Purchase => self.purchase,
        }
    }

    /// Parses `view=1,cart=4,purchase=8` (any subset; the rest keep their defaults).
    pub fn parse(text: &str) -> Result<Self, crate::RecommendError> {
        let mut weights = EventWeights::default();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').ok_or_else(|| {
                crate::RecommendError::invalid(
                    "event-weights",
                    format!("`{part}` is not NAME=WEIGHT"),
                )
            })?;
            let value: f64 = value
                .trim()
                .parse()
                .ok()
                .filter(|v: &f64| v.is_finite() && *v >= 0.0)
                .ok_or_else(|| {
                    crate::RecommendError::invalid(
                        "event-weights",
                        format!("`{value}` is not a weight ≥ 0"),
                    )
                })?;
            let kind: InteractionKind = name
                .parse()
                .map_err(|e| crate::RecommendError::invalid("event-weights", e))?;
            match kind {
                InteractionKind::View => weights.view = value,
                InteractionKind::Cart => weights.cart = value,
                InteractionKind::Purchase => weights.purchase = value,
            }
        }
        Ok(weights)
    }
}

/// One observed user–item event.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Interaction {
    pub user: u32,
    pub item: u32,
    /// Strength of the signal (> 0).
    pub weight: f64,
    pub kind: InteractionKind,
    /// When it happened, in any monotone unit (milliseconds for parsed dates).
    pub time: Option<i64>,
    /// The basket / order / session it belongs to, as an index into [`InteractionLog::basket_order`].
    pub basket: Option<u32>,
}

/// Users, items, baskets and interactions, as loaded from a file or an event store.
#[derive(Clone, Debug, Default)]
pub struct InteractionLog {
    pub users: Vocabulary,
    pub items: Vocabulary,
    baskets: Vocabulary,
    /// Sort key of every basket when no timestamps exist: the basket number when it is
    /// numeric, else the order in which baskets first appear.
    basket_order: Vec<i64>,
    pub records: Vec<Interaction>,
}

impl InteractionLog {
    pub fn new() -> Self {
        InteractionLog::default()
    }

    /// Adds one interaction by external ids. `basket` is an order / basket / session id.
    pub fn push(
        &mut self,
        user: &str,
        item: &str,
        weight: f64,
        kind: InteractionKind,
        time: Option<i64>,
        basket: Option<&str>,
    ) {
        let user = self.users.intern(user);
        let item = self.items.intern(item);
        let basket = basket.map(|b| {
            let before = self.baskets.len();
            let index = self.baskets.intern(b);
            if self.baskets.len() > before {
                let order = b.trim().parse::<i64>().unwrap_or(before as i64);
                self.basket_order.push(order);
            }
            index
        });
        self.records.push(Interaction {
            user,
            item,
            weight,
            kind,
            time,
            basket,
        });
    }

    /// Whether every record carries a time.
    pub fn has_times(&self) -> bool {
        !self.records.is_empty() && self.records.iter().all(|r| r.time.is_some())
    }

    /// Whether every record belongs to a basket.
    pub fn has_baskets(&self) -> bool {
        !self.records.is_empty() && self.records.iter().all(|r| r.basket.is_some())
    }

    /// The ordering key of a basket when no timestamps are known.
    pub fn basket_order(&self, basket: u32) -> i64 {
        self.basket_order[basket as usize]
    }

    /// A log with the same vocabularies and the given records.
    pub fn with_records(&self, records: Vec<Interaction>) -> InteractionLog {
        InteractionLog {
            users: self.users.clone(),
            items: self.items.clone(),
            baskets: self.baskets.clone(),
            basket_order: self.basket_order.clone(),
            records,
        }
    }

    /// The users × items matrix of summed weights.
    pub fn user_item_matrix(&self) -> SparseMatrix {
        SparseMatrix::from_triples(
            self.users.len(),
            self.items.len(),
            self.records.iter().map(|r| (r.user, r.item, r.weight)),
        )
    }

    /// The users × items matrix of purchases only (weight = number of purchase records).
    pub fn purchase_matrix(&self) -> SparseMatrix {
        SparseMatrix::from_triples(
            self.users.len(),
            self.items.len(),
            self.records
                .iter()
                .filter(|r| r.kind == InteractionKind::Purchase)
                .map(|r| (r.user, r.item, 1.0)),
        )
    }
}
