//! The live engine's records: decisions, the outbox of messages, per-channel consent and
//! tracking events (opens, clicks, unsubscribes), behind the [`EngineRecords`] trait.
//!
//! [`EngineRecords`] is a supertrait of [`Store`](crate::Store): every store keeps the
//! engine's records in the same database as the events and carts, so one connection serves
//! the engine, one transaction can span both (erasure: [`Store::erase_user`](crate::Store::erase_user)
//! removes a user's events, carts, decisions, messages, consent and tracking together), and
//! `cartback_store::open` gives the server everything it needs in one object. The trait is
//! its own so the event-log side of the store reads on its own and the engine's methods are
//! listed together.
//!
//! This module owns the record types, the SQL both backends run (identical text: it uses
//! `$1, $2, …` placeholders, which SQLite reads as named parameters numbered in order of first
//! appearance, so every statement names them in ascending order — a unit test checks it), the
//! row decoding both backends share, and the checks that keep text storable everywhere. The
//! tables come from migration 2 `engine_records`; migration 3 `decision_steps` keys decisions
//! by (cart, abandonment, step) for multi-step flows and adds `discount_minor`; migration 5
//! `decision_state` adds the nullable JSON `state` (see `crate::migrate`). A retention purge
//! ([`Store::purge_before`](crate::Store::purge_before)) removes the records of the carts it
//! removes (`sql::PURGE`) and keeps consent.
//!
//! Lifecycle of a message: `pending` (written with its decision) → `sending` (claimed by the
//! dispatcher, attempt counted) → `sent`, back to `pending` for a retry, or `failed`; a
//! `pending` or `sending` message can be `cancelled`. A `sending` message whose process died
//! stays due, so the next dispatcher resends it with the same idempotency key.

use crate::{ErasureReport, PurgeReport, StoreError};
use cartback_core::Timestamp;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;

/// A decision for one step of one abandonment of one cart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// Assigned by the store; ignored when recording.
    pub id: i64,
    pub cart_id: String,
    pub user_id: String,
    /// Which abandonment of the cart (1 for the first) this decides about.
    pub abandonment: u32,
    /// Which decision step of the abandonment (0 for the first; decisions written before
    /// multi-step flows are step 0).
    #[serde(default)]
    pub step: u32,
    pub decided_at: Timestamp,
    /// The action taken: an action name of `cartback-policy` (`do_nothing`,
    /// `reminder_email`, `discount_10`, …); older decisions say `none` or `reminder_<channel>`.
    pub action: String,
    pub channel: Option<String>,
    pub send_at: Option<Timestamp>,
    /// Probability with which the policy chose this action (for off-policy evaluation).
    pub propensity: f64,
    pub scores: serde_json::Value,
    pub reasons: Vec<String>,
    /// `passed`, or the guardrails that changed the proposal, comma-separated in order
    /// (e.g. `holdout`, `quiet_hours`, `margin_floor,quiet_hours`).
    pub guardrail: String,
    pub holdout: bool,
    /// Coupon value committed by this decision (cart value × percent), minor units; the
    /// daily discount budget sums it.
    #[serde(default)]
    pub discount_minor: i64,
    /// What the policy was given and what each proposal would have become (the policy
    /// crate's `ope::LoggedState`), for off-policy evaluation of other policies on this log;
    /// `None` for decisions recorded before migration 5 `decision_state`.
    #[serde(default)]
    pub state: Option<serde_json::Value>,
}

/// Where an outbox message is in its lifecycle (see the module comment).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Pending,
    Sending,
    Sent,
    Cancelled,
    Failed,
}

impl MessageStatus {
    pub const ALL: [MessageStatus; 5] = [
        MessageStatus::Pending,
        MessageStatus::Sending,
        MessageStatus::Sent,
        MessageStatus::Cancelled,
        MessageStatus::Failed,
    ];

    /// The name stored in the `status` column (and used in JSON).
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Pending => "pending",
            MessageStatus::Sending => "sending",
            MessageStatus::Sent => "sent",
            MessageStatus::Cancelled => "cancelled",
            MessageStatus::Failed => "failed",
        }
    }

    /// The status with this stored name.
    pub fn parse(text: &str) -> Option<MessageStatus> {
        MessageStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// One message in the outbox.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboxMessage {
    /// Assigned by the store; ignored when recording.
    pub id: i64,
    /// Stable across retries and restarts; channels pass it to the provider.
    pub idempotency_key: String,
    /// The decision's id; assigned by the store when recording.
    pub decision_id: i64,
    pub cart_id: String,
    pub user_id: String,
    pub channel: String,
    /// Snapshot of what the message shows (cart lines, value, e-mail address).
    pub payload: serde_json::Value,
    /// Always `pending` when recorded.
    pub status: MessageStatus,
    pub due_at: Timestamp,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub sent_at: Option<Timestamp>,
    pub cancel_reason: Option<String>,
    pub attributed_order: Option<String>,
}

/// The live engine's records. Every method is one transaction (most are one statement).
pub trait EngineRecords {
    /// Writes a decision and, when `message` is given, its outbox message (as `pending`)
    /// atomically, and returns the decision's id. Returns `None`, writing nothing, when this
    /// (cart, abandonment, step) already has a decision (a replay after restart).
    fn record_decision(
        &mut self,
        decision: &Decision,
        message: Option<&OutboxMessage>,
    ) -> Result<Option<i64>, StoreError>;

    /// The decisions of a cart, oldest first.
    fn decisions_of_cart(&mut self, cart_id: &str) -> Result<Vec<Decision>, StoreError>;

    /// The decision log for export (e.g. off-policy evaluation): up to `limit` decisions with
    /// an id above `after_id`, in the order they were taken. Page with the last id returned.
    fn decision_log(&mut self, after_id: i64, limit: usize) -> Result<Vec<Decision>, StoreError>;

    /// Number of decisions per action, by action name.
    fn decision_counts(&mut self) -> Result<Vec<(String, u64)>, StoreError>;

    fn message(&mut self, id: i64) -> Result<Option<OutboxMessage>, StoreError>;

    /// The messages of a cart, oldest first.
    fn messages_of_cart(&mut self, cart_id: &str) -> Result<Vec<OutboxMessage>, StoreError>;

    /// The outbox for reports: up to `limit` messages with an id above `after_id`, in the
    /// order they were planned. Page with the last id returned.
    fn message_log(
        &mut self,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError>;

    /// Up to `limit` messages due by `now`, earliest first: pending ones, and `sending` ones
    /// left by a crash between claim and bookkeeping.
    fn due_messages(
        &mut self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError>;

    /// Marks the message `sending` and counts the attempt; `false` when it is no longer
    /// pending or sending (cancelled, sent or failed meanwhile) or does not exist.
    fn claim(&mut self, id: i64) -> Result<bool, StoreError>;

    /// Records that the message was handed to its provider at `at`.
    fn mark_sent(&mut self, id: i64, at: Timestamp) -> Result<(), StoreError>;

    /// Puts a `sending` message back to `pending`, due at `next_at`, keeping the error.
    fn mark_retry(&mut self, id: i64, next_at: Timestamp, error: &str) -> Result<(), StoreError>;

    /// Gives up on the message, keeping the error.
    fn mark_failed(&mut self, id: i64, error: &str) -> Result<(), StoreError>;

    /// Cancels a pending or sending message; `true` when it was cancelled now.
    fn cancel(&mut self, id: i64, reason: &str) -> Result<bool, StoreError>;

    /// Cancels every pending message of a cart; returns how many.
    fn cancel_cart(&mut self, cart_id: &str, reason: &str) -> Result<u64, StoreError>;

    /// Attributes an order placed at `ordered_at` to the user's last message sent inside the
    /// attribution window — at or after `since`, and not after the order (a replay of the log
    /// meets orders older than messages already sent) — and returns that message's id, or
    /// `None` when there is none.
    fn attribute(
        &mut self,
        user_id: &str,
        order_id: &str,
        since: Timestamp,
        ordered_at: Timestamp,
    ) -> Result<Option<i64>, StoreError>;

    /// The user's consent for a channel; `None` when never set.
    fn consent(&mut self, user_id: &str, channel: &str) -> Result<Option<bool>, StoreError>;

    fn set_consent(
        &mut self,
        user_id: &str,
        channel: &str,
        granted: bool,
        at: Timestamp,
    ) -> Result<(), StoreError>;

    /// Records an open, click or unsubscribe (`kind`) of a message.
    fn record_tracking(
        &mut self,
        message_id: i64,
        kind: &str,
        at: Timestamp,
    ) -> Result<(), StoreError>;

    /// Number of tracking events of a message per kind, by kind.
    fn tracking_counts(&mut self, message_id: i64) -> Result<Vec<(String, u64)>, StoreError>;

    /// Every message's tracking: (message id, kind, number of events), by message id and
    /// kind (one query instead of one per message).
    fn tracking_totals(&mut self) -> Result<Vec<(i64, String, u64)>, StoreError>;

    /// Number of messages per status, by status name.
    fn message_counts(&mut self) -> Result<Vec<(String, u64)>, StoreError>;

    /// When the user's messages (any cart) not cancelled or failed were sent, or are due,
    /// at or after `since`, earliest first (the user frequency cap).
    fn message_times_of_user(
        &mut self,
        user_id: &str,
        since: Timestamp,
    ) -> Result<Vec<Timestamp>, StoreError>;

    /// Total `discount_minor` of the decisions taken at or after `since` (the daily
    /// discount budget).
    fn discount_committed_since(&mut self, since: Timestamp) -> Result<i64, StoreError>;
}

/// The SQL of every engine-record statement, the same text on both backends. Placeholders
/// are numbered in ascending order of first appearance (SQLite numbers `$n` that way).
pub(crate) mod sql {
    macro_rules! decision_columns {
        () => {
            "id, cart_id, user_id, abandonment, decided_at, action, channel, send_at, \
             propensity, scores, reasons, guardrail, holdout, step, discount_minor, state"
        };
    }
    macro_rules! message_columns {
        () => {
            "id, idempotency_key, decision_id, cart_id, user_id, channel, payload, status, \
             due_at, attempts, last_error, sent_at, cancel_reason, attributed_order"
        };
    }

    pub(crate) const INSERT_DECISION: &str = "INSERT INTO engine_decisions \
        (cart_id, user_id, abandonment, decided_at, action, channel, send_at, propensity, \
         scores, reasons, guardrail, holdout, step, discount_minor, state) \
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) \
        ON CONFLICT (cart_id, abandonment, step) DO NOTHING RETURNING id";
    pub(crate) const INSERT_MESSAGE: &str = "INSERT INTO engine_outbox \
        (idempotency_key, decision_id, cart_id, user_id, channel, payload, status, due_at) \
        VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7)";
    pub(crate) const DECISIONS_OF_CART: &str = concat!(
        "SELECT ",
        decision_columns!(),
        " FROM engine_decisions WHERE cart_id = $1 ORDER BY id"
    );
    pub(crate) const DECISION_LOG: &str = concat!(
        "SELECT ",
        decision_columns!(),
        " FROM engine_decisions WHERE id > $1 ORDER BY id LIMIT $2"
    );
    pub(crate) const DECISION_COUNTS: &str =
        "SELECT action, count(*) FROM engine_decisions GROUP BY action ORDER BY action";
    pub(crate) const MESSAGE: &str = concat!(
        "SELECT ",
        message_columns!(),
        " FROM engine_outbox WHERE id = $1"
    );
    pub(crate) const MESSAGES_OF_CART: &str = concat!(
        "SELECT ",
        message_columns!(),
        " FROM engine_outbox WHERE cart_id = $1 ORDER BY id"
    );
    pub(crate) const MESSAGE_LOG: &str = concat!(
        "SELECT ",
        message_columns!(),
        " FROM engine_outbox WHERE id > $1 ORDER BY id LIMIT $2"
    );
    pub(crate) const DUE_MESSAGES: &str = concat!(
        "SELECT ",
        message_columns!(),
        " FROM engine_outbox WHERE status IN ('pending', 'sending') AND due_at <= $1 \
         ORDER BY due_at, id LIMIT $2"
    );
    pub(crate) const CLAIM: &str = "UPDATE engine_outbox \
        SET status = 'sending', attempts = attempts + 1 \
        WHERE id = $1 AND status IN ('pending', 'sending')";
    pub(crate) const MARK_SENT: &str = "UPDATE engine_outbox \
        SET status = 'sent', sent_at = $1, last_error = NULL WHERE id = $2";
    pub(crate) const MARK_RETRY: &str = "UPDATE engine_outbox \
        SET status = 'pending', due_at = $1, last_error = $2 WHERE id = $3 AND status = 'sending'";
    pub(crate) const MARK_FAILED: &str =
        "UPDATE engine_outbox SET status = 'failed', last_error = $1 WHERE id = $2";
    pub(crate) const CANCEL: &str = "UPDATE engine_outbox \
        SET status = 'cancelled', cancel_reason = $1 \
        WHERE id = $2 AND status IN ('pending', 'sending')";
    pub(crate) const CANCEL_CART: &str = "UPDATE engine_outbox \
        SET status = 'cancelled', cancel_reason = $1 WHERE cart_id = $2 AND status = 'pending'";
    /// One statement, so finding the last message and marking it is atomic without a
    /// transaction on both backends.
    pub(crate) const ATTRIBUTE: &str = "UPDATE engine_outbox SET attributed_order = $1 \
        WHERE id = (SELECT id FROM engine_outbox \
                    WHERE user_id = $2 AND status = 'sent' AND sent_at >= $3 AND sent_at <= $4 \
                    ORDER BY sent_at DESC, id DESC LIMIT 1) \
        RETURNING id";
    pub(crate) const CONSENT: &str =
        "SELECT granted FROM engine_consent WHERE user_id = $1 AND channel = $2";
    pub(crate) const SET_CONSENT: &str = "INSERT INTO engine_consent \
        (user_id, channel, granted, updated_at) VALUES ($1, $2, $3, $4) \
        ON CONFLICT (user_id, channel) \
        DO UPDATE SET granted = excluded.granted, updated_at = excluded.updated_at";
    pub(crate) const RECORD_TRACKING: &str =
        "INSERT INTO engine_tracking (message_id, kind, at) VALUES ($1, $2, $3)";
    pub(crate) const TRACKING_COUNTS: &str = "SELECT kind, count(*) FROM engine_tracking \
        WHERE message_id = $1 GROUP BY kind ORDER BY kind";
    pub(crate) const TRACKING_TOTALS: &str = "SELECT message_id, kind, count(*) \
        FROM engine_tracking GROUP BY message_id, kind ORDER BY message_id, kind";
    pub(crate) const MESSAGE_COUNTS: &str =
        "SELECT status, count(*) FROM engine_outbox GROUP BY status ORDER BY status";
    pub(crate) const MESSAGE_TIMES_OF_USER: &str = "SELECT COALESCE(sent_at, due_at) \
        FROM engine_outbox WHERE user_id = $1 AND status IN ('pending', 'sending', 'sent') \
        AND COALESCE(sent_at, due_at) >= $2 ORDER BY 1";
    /// `CAST`: PostgreSQL sums `bigint` into `numeric`.
    pub(crate) const DISCOUNT_SINCE: &str = "SELECT CAST(COALESCE(SUM(discount_minor), 0) \
        AS BIGINT) FROM engine_decisions WHERE discount_minor > 0 AND decided_at >= $1";
    /// Erasure, in this order (messages before their decisions, tracking before messages).
    pub(crate) const ERASE: [&str; 4] = [
        "DELETE FROM engine_tracking \
         WHERE message_id IN (SELECT id FROM engine_outbox WHERE user_id = $1)",
        "DELETE FROM engine_outbox WHERE user_id = $1",
        "DELETE FROM engine_decisions WHERE user_id = $1",
        "DELETE FROM engine_consent WHERE user_id = $1",
    ];
    /// The carts a retention purge removes: closed (the terminal states, in the order of
    /// `CartState::ALL`) before the cutoff `$1`. `closed_at` is set whenever a cart closes;
    /// `last_activity` stands in for a row that lacks it.
    macro_rules! purged_carts {
        () => {
            "SELECT id FROM carts WHERE state IN ('recovered', 'purchased', 'expired') \
             AND COALESCE(closed_at, last_activity) < $1"
        };
    }
    /// The terminal state names in [`purged_carts!`] (a unit test compares them with
    /// `CartState::is_terminal`).
    #[cfg(test)]
    pub(crate) const PURGED_STATES: &str = purged_carts!();
    /// Retention, in this order (the erasure's: tracking before messages, messages before
    /// their decisions), then the carts themselves; all before the carts' rows go, since the
    /// first three find the carts through them. Consent is never purged.
    pub(crate) const PURGE: [&str; 4] = [
        concat!(
            "DELETE FROM engine_tracking WHERE message_id IN \
             (SELECT id FROM engine_outbox WHERE cart_id IN (",
            purged_carts!(),
            "))"
        ),
        concat!(
            "DELETE FROM engine_outbox WHERE cart_id IN (",
            purged_carts!(),
            ")"
        ),
        concat!(
            "DELETE FROM engine_decisions WHERE cart_id IN (",
            purged_carts!(),
            ")"
        ),
        concat!("DELETE FROM carts WHERE id IN (", purged_carts!(), ")"),
    ];

    #[cfg(test)]
    pub(crate) const ALL: &[&str] = &[
        INSERT_DECISION,
        INSERT_MESSAGE,
        DECISIONS_OF_CART,
        DECISION_LOG,
        DECISION_COUNTS,
        MESSAGE,
        MESSAGES_OF_CART,
        MESSAGE_LOG,
        DUE_MESSAGES,
        CLAIM,
        MARK_SENT,
        MARK_RETRY,
        MARK_FAILED,
        CANCEL,
        CANCEL_CART,
        ATTRIBUTE,
        CONSENT,
        SET_CONSENT,
        RECORD_TRACKING,
        TRACKING_COUNTS,
        TRACKING_TOTALS,
        MESSAGE_COUNTS,
        MESSAGE_TIMES_OF_USER,
        DISCOUNT_SINCE,
        ERASE[0],
        ERASE[1],
        ERASE[2],
        ERASE[3],
        PURGE[0],
        PURGE[1],
        PURGE[2],
        PURGE[3],
    ];
}

/// Reads the columns of a result row, on either backend. Errors are the reason as text.
pub(crate) trait RowColumns {
    fn text(&self, index: usize) -> Result<String, String>;
    fn optional_text(&self, index: usize) -> Result<Option<String>, String>;
    fn integer(&self, index: usize) -> Result<i64, String>;
    fn optional_integer(&self, index: usize) -> Result<Option<i64>, String>;
    fn real(&self, index: usize) -> Result<f64, String>;
    fn flag(&self, index: usize) -> Result<bool, String>;
    /// A JSON column (SQLite `TEXT`, PostgreSQL `jsonb`).
    fn json<T: serde::de::DeserializeOwned>(&self, index: usize) -> Result<T, String>;
    /// A nullable JSON column.
    fn optional_json<T: serde::de::DeserializeOwned>(
        &self,
        index: usize,
    ) -> Result<Option<T>, String>;
}

/// Reads a row of `table` column by column, naming the row and column in errors.
struct RowReader<'r, R> {
    row: &'r R,
    table: &'static str,
    key: String,
}

impl<'r, R: RowColumns> RowReader<'r, R> {
    /// Starts with the `id` in column 0.
    fn new(row: &'r R, table: &'static str) -> Result<(RowReader<'r, R>, i64), StoreError> {
        let id = row.integer(0).map_err(|reason| StoreError::CorruptRow {
            table,
            key: "<unreadable id>".into(),
            reason: format!("id: {reason}"),
        })?;
        let reader = RowReader {
            row,
            table,
            key: id.to_string(),
        };
        Ok((reader, id))
    }

    fn get<T>(
        &self,
        column: &str,
        read: impl FnOnce(&R) -> Result<T, String>,
    ) -> Result<T, StoreError> {
        read(self.row).map_err(|reason| self.corrupt(column, reason))
    }

    fn count(&self, column: &str, index: usize) -> Result<u32, StoreError> {
        let value = self.get(column, |c| c.integer(index))?;
        u32::try_from(value).map_err(|_| self.corrupt(column, format!("{value} is out of range")))
    }

    fn corrupt(&self, column: &str, reason: String) -> StoreError {
        StoreError::CorruptRow {
            table: self.table,
            key: self.key.clone(),
            reason: format!("{column}: {reason}"),
        }
    }
}

/// A row of the `DECISION_COLUMNS` select list.
pub(crate) fn decode_decision(row: &impl RowColumns) -> Result<Decision, StoreError> {
    let (r, id) = RowReader::new(row, "engine_decisions")?;
    Ok(Decision {
        id,
        cart_id: r.get("cart_id", |c| c.text(1))?,
        user_id: r.get("user_id", |c| c.text(2))?,
        abandonment: r.count("abandonment", 3)?,
        decided_at: Timestamp(r.get("decided_at", |c| c.integer(4))?),
        action: r.get("action", |c| c.text(5))?,
        channel: r.get("channel", |c| c.optional_text(6))?,
        send_at: r.get("send_at", |c| c.optional_integer(7))?.map(Timestamp),
        propensity: r.get("propensity", |c| c.real(8))?,
        scores: r.get("scores", |c| c.json(9))?,
        reasons: r.get("reasons", |c| c.json(10))?,
        guardrail: r.get("guardrail", |c| c.text(11))?,
        holdout: r.get("holdout", |c| c.flag(12))?,
        step: r.count("step", 13)?,
        discount_minor: r.get("discount_minor", |c| c.integer(14))?,
        state: r.get("state", |c| c.optional_json(15))?,
    })
}

/// A row of the `MESSAGE_COLUMNS` select list.
pub(crate) fn decode_message(row: &impl RowColumns) -> Result<OutboxMessage, StoreError> {
    let (r, id) = RowReader::new(row, "engine_outbox")?;
    let status = r.get("status", |c| c.text(7))?;
    Ok(OutboxMessage {
        id,
        idempotency_key: r.get("idempotency_key", |c| c.text(1))?,
        decision_id: r.get("decision_id", |c| c.integer(2))?,
        cart_id: r.get("cart_id", |c| c.text(3))?,
        user_id: r.get("user_id", |c| c.text(4))?,
        channel: r.get("channel", |c| c.text(5))?,
        payload: r.get("payload", |c| c.json(6))?,
        status: MessageStatus::parse(&status)
            .ok_or_else(|| r.corrupt("status", format!("unknown status `{status}`")))?,
        due_at: Timestamp(r.get("due_at", |c| c.integer(8))?),
        attempts: r.count("attempts", 9)?,
        last_error: r.get("last_error", |c| c.optional_text(10))?,
        sent_at: r.get("sent_at", |c| c.optional_integer(11))?.map(Timestamp),
        cancel_reason: r.get("cancel_reason", |c| c.optional_text(12))?,
        attributed_order: r.get("attributed_order", |c| c.optional_text(13))?,
    })
}

/// Erases a user's engine records by running each statement of `sql::ERASE` (bound to the
/// user id) with `run`, inside the caller's erasure transaction; says how many rows went.
pub(crate) fn erase_user_records(
    mut run: impl FnMut(&'static str) -> Result<u64, StoreError>,
) -> Result<ErasureReport, StoreError> {
    let [tracking, outbox, decisions, consent] = sql::ERASE;
    Ok(ErasureReport {
        tracking_events: run(tracking)?,
        messages: run(outbox)?,
        decisions: run(decisions)?,
        consents: run(consent)?,
        ..ErasureReport::default()
    })
}

/// Purges the carts closed before the cutoff and their engine records by running each
/// statement of `sql::PURGE` (bound to the cutoff) with `run`, inside the caller's purge
/// transaction; says how many rows went (events are the caller's).
pub(crate) fn purge_cart_records(
    mut run: impl FnMut(&'static str) -> Result<u64, StoreError>,
) -> Result<PurgeReport, StoreError> {
    let [tracking, outbox, decisions, carts] = sql::PURGE;
    Ok(PurgeReport {
        tracking_events: run(tracking)?,
        messages: run(outbox)?,
        decisions: run(decisions)?,
        carts: run(carts)?,
        ..PurgeReport::default()
    })
}

/// Refuses a decision or message holding text PostgreSQL cannot store (U+0000), naming the
/// field. Both backends check, so the records can always move to PostgreSQL.
pub(crate) fn check_storable_decision(
    decision: &Decision,
    message: Option<&OutboxMessage>,
) -> Result<(), StoreError> {
    let key = format!("{}/{}", decision.cart_id, decision.abandonment);
    let texts = [
        ("cart_id", Some(decision.cart_id.as_str())),
        ("user_id", Some(&decision.user_id)),
        ("action", Some(&decision.action)),
        ("channel", decision.channel.as_deref()),
        ("guardrail", Some(&decision.guardrail)),
    ];
    check_texts("decision", &key, &texts)?;
    if decision.reasons.iter().any(|r| has_nul(r)) {
        return Err(unstorable("decision", &key, "reasons"));
    }
    if json_has_nul(&decision.scores) {
        return Err(unstorable("decision", &key, "scores"));
    }
    if decision.state.as_ref().is_some_and(json_has_nul) {
        return Err(unstorable("decision", &key, "state"));
    }
    let Some(message) = message else {
        return Ok(());
    };
    let texts = [
        ("idempotency_key", Some(message.idempotency_key.as_str())),
        ("cart_id", Some(&message.cart_id)),
        ("user_id", Some(&message.user_id)),
        ("channel", Some(&message.channel)),
    ];
    check_texts("message", &message.idempotency_key, &texts)?;
    if json_has_nul(&message.payload) {
        return Err(unstorable("message", &message.idempotency_key, "payload"));
    }
    Ok(())
}

/// Refuses text PostgreSQL cannot store, naming the field of `what` `key`.
pub(crate) fn check_texts(
    what: &'static str,
    key: &str,
    texts: &[(&str, Option<&str>)],
) -> Result<(), StoreError> {
    match texts.iter().find(|(_, text)| text.is_some_and(has_nul)) {
        Some((field, _)) => Err(unstorable(what, key, field)),
        None => Ok(()),
    }
}

/// Diagnostic text (a provider's error, a cancel reason) made storable: U+0000 becomes
/// U+FFFD rather than failing the bookkeeping of a send.
pub(crate) fn storable_note(text: &str) -> Cow<'_, str> {
    if has_nul(text) {
        Cow::Owned(text.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(text)
    }
}

fn unstorable(what: &'static str, key: &str, field: &str) -> StoreError {
    StoreError::Unstorable {
        what,
        key: key.to_string(),
        field: field.to_string(),
    }
}

fn has_nul(text: &str) -> bool {
    text.as_bytes().contains(&0)
}

fn json_has_nul(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(text) => has_nul(text),
        serde_json::Value::Array(items) => items.iter().any(json_has_nul),
        serde_json::Value::Object(fields) => fields
            .iter()
            .any(|(name, value)| has_nul(name) || json_has_nul(value)),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_in_order_of_first_appearance() {
        for statement in sql::ALL {
            let mut seen: Vec<u32> = Vec::new();
            let mut rest = *statement;
            while let Some(at) = rest.find('$') {
                rest = &rest[at + 1..];
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                let n: u32 = digits.parse().expect(statement);
                if !seen.contains(&n) {
                    seen.push(n);
                }
            }
            let expected: Vec<u32> = (1..=seen.len() as u32).collect();
            assert_eq!(seen, expected, "{statement}");
        }
    }

    #[test]
    fn a_purge_removes_exactly_the_carts_in_terminal_states() {
        let listed: Vec<&str> = sql::PURGED_STATES
            .split(['(', ')'])
            .nth(1)
            .expect("a list of states")
            .split(',')
            .map(|name| name.trim().trim_matches('\''))
            .collect();
        let terminal: Vec<&str> = cartback_core::CartState::ALL
            .into_iter()
            .filter(|state| state.is_terminal())
            .map(|state| state.as_str())
            .collect();
        assert_eq!(listed, terminal);
    }

    #[test]
    fn statuses_round_trip_through_their_names() {
        for status in MessageStatus::ALL {
            assert_eq!(MessageStatus::parse(status.as_str()), Some(status));
            assert_eq!(
                serde_json::to_value(status).unwrap(),
                serde_json::json!(status.as_str())
            );
        }
        assert_eq!(MessageStatus::parse("lost"), None);
    }

    #[test]
    fn nul_characters_are_found_anywhere_in_json() {
        assert!(!json_has_nul(&serde_json::json!({"a": ["b", 1, null]})));
        assert!(json_has_nul(&serde_json::json!({"a": ["b\0"]})));
        assert!(json_has_nul(&serde_json::json!({"a\0": 1})));
        assert_eq!(storable_note("x\0y"), "x\u{FFFD}y");
        assert!(matches!(storable_note("fine"), Cow::Borrowed("fine")));
    }
}
