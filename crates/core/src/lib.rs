//! cartback's pure domain model.
//!
//! This crate owns the canonical [`Event`], [`Money`], [`Timestamp`] and [`StockLevel`]
//! types, the cart tracker state machine and the episode /
//! feature extraction that turns carts into training rows. It performs no I/O and never
//! reads a clock: time is always passed in, so every computation is replayable.

pub mod cart;
pub mod episodes;
pub mod event;
pub mod money;
pub mod referrer;
pub mod stock;
pub mod time;
pub mod tracker;

pub use cart::{Cart, CartLine, CartState, SessionSnapshot};
pub use episodes::{Episode, EpisodeBuilder, EpisodeSet, EpisodeSummary};
pub use event::{CouponOutcome, Event, EventId, EventKind, Item};
pub use money::{Currency, Money, MoneyError};
pub use stock::StockLevel;
pub use time::{Duration, Timestamp};
pub use tracker::{CartTracker, CartTransition, TrackerConfig, TrackerConfigError, TrackerStats};
