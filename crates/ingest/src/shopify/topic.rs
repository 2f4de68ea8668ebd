//! The Shopify webhook topics cartback reads and what each means for a cart.

use cartback_core::EventKind;

/// A webhook topic cartback turns into an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShopifyTopic {
    /// `checkouts/create`: a shopper reached checkout.
    CheckoutCreate,
    /// `checkouts/update`: the checkout changed (items, e-mail, …).
    CheckoutUpdate,
    /// `orders/create`: an order was placed.
    OrderCreate,
    /// `orders/paid`: an order was paid (the same purchase as `orders/create`).
    OrderPaid,
    /// `orders/cancelled`: an order was cancelled.
    OrderCancelled,
}

impl ShopifyTopic {
    /// The topic for a `X-Shopify-Topic` header value, or `None` for topics cartback has
    /// no use for.
    pub fn from_header(topic: &str) -> Option<Self> {
        match topic.trim() {
            "checkouts/create" => Some(ShopifyTopic::CheckoutCreate),
            "checkouts/update" => Some(ShopifyTopic::CheckoutUpdate),
            "orders/create" => Some(ShopifyTopic::OrderCreate),
            "orders/paid" => Some(ShopifyTopic::OrderPaid),
            "orders/cancelled" => Some(ShopifyTopic::OrderCancelled),
            _ => None,
        }
    }

    pub fn kind(self) -> EventKind {
        match self {
            ShopifyTopic::CheckoutCreate | ShopifyTopic::CheckoutUpdate => {
                EventKind::CheckoutStarted
            }
            ShopifyTopic::OrderCreate | ShopifyTopic::OrderPaid => EventKind::OrderCompleted,
            ShopifyTopic::OrderCancelled => EventKind::OrderCancelled,
        }
    }

    pub(super) fn is_checkout(self) -> bool {
        matches!(
            self,
            ShopifyTopic::CheckoutCreate | ShopifyTopic::CheckoutUpdate
        )
    }

    /// Fields holding the event time, most specific first.
    pub(super) fn time_fields(self) -> &'static [&'static str] {
        match self {
            ShopifyTopic::CheckoutCreate => &["created_at", "updated_at"],
            ShopifyTopic::CheckoutUpdate => &["updated_at", "created_at"],
            ShopifyTopic::OrderCreate | ShopifyTopic::OrderPaid => {
                &["processed_at", "created_at", "updated_at"]
            }
            ShopifyTopic::OrderCancelled => &["cancelled_at", "updated_at", "created_at"],
        }
    }
}
