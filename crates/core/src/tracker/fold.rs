//! Folding one event into the tracker: cart identity, line arithmetic, orders and
//! cancellations. Events arrive here in time order (from the reorder buffer, or from a
//! caller that has sorted them).

use super::{
    CartMeta, CartTracker, CartTransition, OrderTarget, PENDING_PRUNE_MIN, PendingReferrer,
    ShopCart, UserEntry,
};
use crate::cart::{Cart, CartLine, CartState};
use crate::episodes::UserActivity;
use crate::event::{Event, EventKind, Item};
use crate::referrer::{add_referrer, referrer_key};
use crate::time::Timestamp;
use crate::tracker::keep_latest;

impl CartTracker {
    /// Folds one event that is in time order (ideally [`release_key`](super::release_key)
    /// order, as [`observe`](Self::observe) releases them). First advances the clock to the event's
    /// timestamp (firing the timeouts due by then), then applies it. An event older than
    /// the clock is applied at the clock's time and counted as late.
    pub fn fold(&mut self, event: &Event, out: &mut Vec<CartTransition>) {
        self.fold_for_user(event, out);
    }

    /// [`fold`](Self::fold), returning the index of the event's user (dense, from 0, in
    /// order of first appearance) so the episode builder can keep its own per-user state in
    /// a `Vec` without a second hash lookup.
    pub(crate) fn fold_for_user(&mut self, event: &Event, out: &mut Vec<CartTransition>) -> usize {
        self.stats.events += 1;
        let at = match self.now {
            Some(now) if event.timestamp < now => {
                self.stats.late += 1;
                now
            }
            _ => event.timestamp,
        };
        self.advance_to(at, out);
        let user = self.intern_user(&event.user_id);
        // The cart an order landed in (closed, direct, or another row of it).
        let mut ordered = None;
        let touched = match event.kind {
            EventKind::ProductAdded => {
                if event.items.is_empty() {
                    self.open_cart_for_user(user, event)
                } else {
                    let index = self.open_or_create(user, event, at, out);
                    self.add_items(index, event);
                    Some(index)
                }
            }
            EventKind::ProductRemoved => match self.open_cart_for_user(user, event) {
                Some(index) => {
                    self.remove_items(index, &event.items);
                    self.carts[index].removes += 1;
                    Some(index)
                }
                None => {
                    self.stats.unmatched_removals += 1;
                    None
                }
            },
            EventKind::CartViewed | EventKind::CheckoutStarted => {
                let index = if event.items.is_empty() {
                    self.open_cart_for_user(user, event)
                } else {
                    let index = self.open_or_create(user, event, at, out);
                    self.carts[index].lines.clear();
                    self.add_items(index, event);
                    Some(index)
                };
                if let Some(index) = index {
                    let cart = &mut self.carts[index];
                    if event.kind == EventKind::CartViewed {
                        cart.views += 1;
                    } else {
                        cart.checkout_started = true;
                    }
                }
                index
            }
            // Checkout activity on the open cart (never a new cart, never an order, even
            // with an `order_id`): it keeps the cart active like `checkout_started`.
            EventKind::CouponEntered => {
                let index = self.open_cart_for_user(user, event);
                if let Some(index) = index {
                    let cart = &mut self.carts[index];
                    cart.coupons_entered = cart.coupons_entered.saturating_add(1);
                }
                index
            }
            EventKind::OrderCompleted => {
                ordered = Some(self.fold_order(user, event, at, out));
                None
            }
            EventKind::OrderCancelled => {
                let index = event.order_id.as_deref().and_then(|id| self.orders.get(id));
                match index {
                    Some(&index) => self.carts[index as usize].order_cancelled = true,
                    None => self.stats.unmatched_cancellations += 1,
                }
                None
            }
            EventKind::ProductViewed
            | EventKind::MessageOpened
            | EventKind::MessageClicked
            | EventKind::Unsubscribed => None,
        };
        if let Some(index) = touched {
            self.touch(index, user, event, at, out);
            self.schedule(index);
        }
        if let Some(raw) = event.referrer.as_deref() {
            self.fold_referrer(user, touched.or(ordered), event, at, raw);
        }
        if let Some(sessions) = &mut self.sessions {
            if user >= sessions.len() {
                sessions.resize_with(user + 1, UserActivity::default);
            }
            sessions[user].record(event, at, self.config.idle_timeout);
        }
        user
    }

    /// Keeps the key of a shopper event's referrer: on the cart the event touched or ordered,
    /// else on the user's open cart, else for the user's next cart (a session that arrived
    /// from somewhere and has not put anything in a cart yet). Message events (opens,
    /// clicks, unsubscribes) and cancellations are not shop sessions: their referrer is not
    /// kept.
    fn fold_referrer(
        &mut self,
        user: usize,
        cart: Option<usize>,
        event: &Event,
        at: Timestamp,
        raw: &str,
    ) {
        let shopper_event = matches!(
            event.kind,
            EventKind::ProductViewed
                | EventKind::ProductAdded
                | EventKind::ProductRemoved
                | EventKind::CartViewed
                | EventKind::CheckoutStarted
                | EventKind::CouponEntered
                | EventKind::OrderCompleted
        );
        if !shopper_event {
            return;
        }
        let Some(key) = referrer_key(raw) else {
            return;
        };
        match cart.or_else(|| self.open_cart_for_user(user, event)) {
            Some(index) => add_referrer(&mut self.carts[index].referrers, key),
            None => {
                if self.pending_referrers.len() >= self.pending_prune_at {
                    self.prune_pending_referrers(at);
                }
                self.pending_referrers.insert(
                    user as u32,
                    PendingReferrer {
                        key,
                        session_id: event.session_id.as_deref().map(Into::into),
                        at,
                    },
                );
            }
        }
    }

    /// Drops the pending referrers no new cart can take any more (older than the
    /// attribution window), so users who browse and never fill a cart do not each hold one
    /// for ever. Runs when the map has doubled since the last pass: amortised O(1) an event.
    fn prune_pending_referrers(&mut self, now: Timestamp) {
        let window = self.config.attribution_window;
        self.pending_referrers
            .retain(|_, pending| pending.at.saturating_add(window) >= now);
        self.pending_prune_at = (2 * self.pending_referrers.len()).max(PENDING_PRUNE_MIN);
    }

    /// The referrer the user's session arrived with before this new cart, if the cart is
    /// created in that session and inside the attribution window (so pruning never changes
    /// what a cart gets).
    fn take_pending_referrer(&mut self, user: usize, event: &Event, at: Timestamp) -> Vec<String> {
        if self.pending_referrers.is_empty() {
            return Vec::new();
        }
        let Some(pending) = self.pending_referrers.remove(&(user as u32)) else {
            return Vec::new();
        };
        let fresh = at <= pending.at.saturating_add(self.config.attribution_window);
        let same_session = fresh
            && match (pending.session_id.as_deref(), event.session_id.as_deref()) {
                (Some(theirs), Some(ours)) => theirs == ours,
                _ => at <= pending.at.saturating_add(self.config.idle_timeout),
            };
        if same_session {
            vec![pending.key]
        } else {
            Vec::new()
        }
    }

    pub(super) fn intern_user(&mut self, user_id: &str) -> usize {
        if let Some(&index) = self.users.get(user_id) {
            return index as usize;
        }
        let index = self.user_entries.len();
        self.user_entries.push(UserEntry::default());
        self.users.insert(user_id.into(), index as u32);
        index
    }

    /// Cart activity: the idle timer restarts and an idle or abandoned cart is active again
    /// (an abandoned one keeps `abandoned_at`).
    fn touch(
        &mut self,
        index: usize,
        user: usize,
        event: &Event,
        at: Timestamp,
        out: &mut Vec<CartTransition>,
    ) {
        let cart = &mut self.carts[index];
        cart.last_activity = cart.last_activity.max(at);
        keep_latest(&mut cart.email, &event.email);
        keep_latest(&mut cart.timezone, &event.timezone);
        if matches!(cart.state, CartState::Idle | CartState::Abandoned) {
            self.set_state(index, CartState::Active, at, out);
        }
        self.user_entries[user].open_cart = Some(index as u32);
    }

    /// The open cart the event refers to, or a new one: under the event's shop cart id when
    /// it has one, else `{user_id}#{n}`.
    fn open_or_create(
        &mut self,
        user: usize,
        event: &Event,
        at: Timestamp,
        out: &mut Vec<CartTransition>,
    ) -> usize {
        match event.cart_id.as_deref() {
            Some(shop_id) => {
                let existing = self.shop_carts.get(shop_id).copied();
                if let Some(latest) = existing.and_then(|shop| shop.latest)
                    && !self.carts[latest as usize].state.is_terminal()
                {
                    return latest as usize;
                }
                let uses = existing.map_or(0, |s| s.uses) + 1;
                let id = if uses == 1 {
                    shop_id.to_string()
                } else {
                    format!("{shop_id}#{uses}")
                };
                let index = self.create_cart(user, id, event, at, CartState::Active, out);
                self.shop_carts.insert(
                    shop_id.into(),
                    ShopCart {
                        latest: Some(index as u32),
                        uses,
                    },
                );
                index
            }
            None => match self.user_open_cart(user) {
                Some(index) => index,
                None => {
                    let n = self.user_entries[user].carts_created + 1;
                    let id = format!("{}#{n}", event.user_id);
                    self.create_cart(user, id, event, at, CartState::Active, out)
                }
            },
        }
    }

    fn create_cart(
        &mut self,
        user: usize,
        id: String,
        event: &Event,
        at: Timestamp,
        state: CartState,
        out: &mut Vec<CartTransition>,
    ) -> usize {
        let index = self.carts.len();
        let referrers = self.take_pending_referrer(user, event, at);
        self.cart_ids.insert(id.as_str().into(), index as u32);
        out.push(CartTransition {
            cart_id: id.clone(),
            user_id: event.user_id.clone(),
            from: None,
            to: state,
            at,
        });
        self.carts.push(Cart {
            id,
            user_id: event.user_id.clone(),
            state,
            lines: Vec::new(),
            currency: event.currency,
            value: 0,
            adds: 0,
            removes: 0,
            views: 0,
            checkout_started: false,
            coupons_entered: 0,
            created_at: at,
            last_activity: at,
            abandoned_at: None,
            abandonments: 0,
            closed_at: state.is_terminal().then_some(at),
            order_id: None,
            order_value: None,
            order_coupon: None,
            email: event.email.clone(),
            timezone: event.timezone.clone(),
            direct_purchase: false,
            order_cancelled: false,
            referrers,
            session_at_abandonment: None,
        });
        self.meta.push(CartMeta {
            owner: user as u32,
            scheduled: None,
        });
        self.state_counts[state as usize] += 1;
        let entry = &mut self.user_entries[user];
        entry.carts_created += 1;
        if !state.is_terminal() {
            entry.open_cart = Some(index as u32);
        }
        index
    }

    /// Adds the event's items to the cart's lines (one add per event).
    fn add_items(&mut self, index: usize, event: &Event) {
        let price_usable = self.price_usable(index, event);
        let cart = &mut self.carts[index];
        cart.adds += u32::from(event.kind == EventKind::ProductAdded);
        merge_items(&mut cart.lines, &event.items, price_usable);
        cart.value = lines_value(&cart.lines);
    }

    /// Whether the event's prices are in the cart's currency (the cart adopts the first
    /// currency it sees). A conflicting event's prices are dropped and counted.
    fn price_usable(&mut self, index: usize, event: &Event) -> bool {
        let cart = &mut self.carts[index];
        match (cart.currency, event.currency) {
            (_, None) => true,
            (None, Some(currency)) => {
                cart.currency = Some(currency);
                true
            }
            (Some(ours), Some(theirs)) if ours == theirs => true,
            _ => {
                let priced = event.items.iter().filter(|i| i.price.is_some()).count();
                self.stats.currency_conflicts += priced as u64;
                false
            }
        }
    }

    fn remove_items(&mut self, index: usize, items: &[Item]) {
        let cart = &mut self.carts[index];
        let mut unmatched = 0;
        for item in items {
            match cart.lines.iter().position(|l| l.item_id == item.id) {
                Some(pos) => {
                    let line = &mut cart.lines[pos];
                    line.quantity = line.quantity.saturating_sub(item.quantity);
                    if line.quantity == 0 {
                        cart.lines.remove(pos);
                    }
                }
                None => unmatched += 1,
            }
        }
        if items.is_empty() {
            unmatched += 1;
        }
        cart.value = lines_value(&cart.lines);
        self.stats.unmatched_removals += unmatched;
    }

    /// Folds an order; returns the index of the cart it landed in.
    fn fold_order(
        &mut self,
        user: usize,
        event: &Event,
        at: Timestamp,
        out: &mut Vec<CartTransition>,
    ) -> usize {
        match self.order_target(event) {
            OrderTarget::Repeat(index) => {
                self.stats.order_rows_merged += 1;
                let price_usable = self.price_usable(index, event);
                let cart = &mut self.carts[index];
                let row_value = if event.items.is_empty() {
                    event.total.unwrap_or(0)
                } else {
                    event.items_value()
                };
                cart.order_value = Some(cart.order_value.unwrap_or(0).saturating_add(row_value));
                if cart.order_coupon.is_none() {
                    cart.order_coupon = event.coupon_code.clone();
                }
                if cart.direct_purchase {
                    merge_items(&mut cart.lines, &event.items, price_usable);
                    cart.value = lines_value(&cart.lines);
                }
                index
            }
            OrderTarget::Close(index) => {
                let window = self.config.attribution_window;
                let cart = &mut self.carts[index];
                cart.last_activity = cart.last_activity.max(at);
                cart.order_id = event.order_id.clone();
                cart.order_coupon = event.coupon_code.clone();
                cart.order_value = Some(if event.total.is_some() || !event.items.is_empty() {
                    event.total.unwrap_or_else(|| event.items_value())
                } else {
                    cart.value
                });
                let recovered = cart
                    .abandoned_at
                    .is_some_and(|a| at <= a.saturating_add(window));
                let to = if recovered {
                    CartState::Recovered
                } else {
                    CartState::Purchased
                };
                self.register_order(event, index);
                self.set_state(index, to, at, out);
                index
            }
            OrderTarget::Direct => {
                let n = self.user_entries[user].carts_created + 1;
                let id = match event.cart_id.as_deref() {
                    Some(shop_id) if !self.shop_carts.contains_key(shop_id) => shop_id.to_string(),
                    _ => format!("{}#{n}", event.user_id),
                };
                let index = self.create_cart(user, id, event, at, CartState::Purchased, out);
                if let Some(shop_id) = event.cart_id.as_deref()
                    && !self.shop_carts.contains_key(shop_id)
                {
                    let shop = ShopCart {
                        latest: Some(index as u32),
                        uses: 1,
                    };
                    self.shop_carts.insert(shop_id.into(), shop);
                }
                self.stats.direct_purchases += 1;
                let cart = &mut self.carts[index];
                cart.direct_purchase = true;
                cart.order_id = event.order_id.clone();
                cart.order_coupon = event.coupon_code.clone();
                merge_items(&mut cart.lines, &event.items, true);
                cart.value = lines_value(&cart.lines);
                cart.order_value = Some(event.total.unwrap_or(cart.value));
                self.register_order(event, index);
                index
            }
        }
    }

    fn register_order(&mut self, event: &Event, index: usize) {
        self.stats.orders += 1;
        if let Some(order_id) = event.order_id.as_deref() {
            self.orders.insert(order_id.into(), index as u32);
        }
    }
}

/// Adds items to lines: quantity to an existing line (taking the latest known price,
/// name and category), or a new line.
fn merge_items(lines: &mut Vec<CartLine>, items: &[Item], price_usable: bool) {
    for item in items {
        let price = if price_usable { item.price } else { None };
        match lines.iter_mut().find(|l| l.item_id == item.id) {
            Some(line) => {
                line.quantity = line.quantity.saturating_add(item.quantity);
                if price.is_some() {
                    line.unit_price = price;
                }
                if line.category.is_none() && item.category.is_some() {
                    line.category = item.category.clone();
                }
                if line.name.is_none() && item.name.is_some() {
                    line.name = item.name.clone();
                }
            }
            None => lines.push(CartLine {
                item_id: item.id.clone(),
                name: item.name.clone(),
                category: item.category.clone(),
                unit_price: price,
                quantity: item.quantity,
            }),
        }
    }
}

/// Σ unit price × quantity over the lines with a known price, in minor units.
fn lines_value(lines: &[CartLine]) -> i64 {
    lines
        .iter()
        .map(|l| {
            l.unit_price
                .unwrap_or(0)
                .saturating_mul(i64::from(l.quantity))
        })
        .fold(0, i64::saturating_add)
}
