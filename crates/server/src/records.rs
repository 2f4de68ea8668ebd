//! What the live engine keeps besides events and carts: decisions, the outbox of messages,
//! per-channel consent, and tracking events (opens, clicks, unsubscribes) — behind the
//! [`EngineStore`] trait, with a SQLite implementation in the same database file as the
//! events. A decision and its outbox message are written in one transaction; a message is
//! claimed (status `sending`, attempt counted) before it is handed to a channel, so the
//! engine's own records say exactly once what was sent.

use cartback_core::Timestamp;
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, thiserror::Error)]
pub enum RecordsError {
    #[error("engine records ({context}): {source}")]
    Sqlite {
        context: &'static str,
        source: rusqlite::Error,
    },
    #[error("engine records on PostgreSQL ({context}): {source}")]
    Postgres {
        context: &'static str,
        source: postgres::Error,
    },
    #[error("engine records: stored JSON in {field}: {source}")]
    Json {
        field: &'static str,
        source: serde_json::Error,
    },
}

fn sql(context: &'static str) -> impl FnOnce(rusqlite::Error) -> RecordsError {
    move |source| RecordsError::Sqlite { context, source }
}

/// A decision for one abandonment of one cart.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub id: i64,
    pub cart_id: String,
    pub user_id: String,
    /// Which abandonment of the cart (1 for the first) this decides about.
    pub abandonment: u32,
    pub decided_at: Timestamp,
    /// `reminder_email`, `reminder_webhook`, `reminder_log` or `none`.
    pub action: String,
    pub channel: Option<String>,
    pub send_at: Option<Timestamp>,
    /// Probability with which the policy chose this action (for off-policy evaluation).
    pub propensity: f64,
    pub scores: serde_json::Value,
    pub reasons: Vec<String>,
    /// `passed`, or the guardrail that blocked the action (e.g. `holdout`, `no_consent`).
    pub guardrail: String,
    pub holdout: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    Pending,
    Sending,
    Sent,
    Cancelled,
    Failed,
}

impl MessageStatus {
    pub(crate) fn parse(text: &str) -> MessageStatus {
        match text {
            "pending" => MessageStatus::Pending,
            "sending" => MessageStatus::Sending,
            "sent" => MessageStatus::Sent,
            "cancelled" => MessageStatus::Cancelled,
            _ => MessageStatus::Failed,
        }
    }
}

/// One message in the outbox.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OutboxMessage {
    pub id: i64,
    /// Stable across retries and restarts; channels pass it to the provider.
    pub idempotency_key: String,
    pub decision_id: i64,
    pub cart_id: String,
    pub user_id: String,
    pub channel: String,
    /// Snapshot of what the message shows (cart lines, value, e-mail address).
    pub payload: serde_json::Value,
    pub status: MessageStatus,
    pub due_at: Timestamp,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub sent_at: Option<Timestamp>,
    pub cancel_reason: Option<String>,
    pub attributed_order: Option<String>,
}

/// What an erasure removed from the engine's records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct RecordsErasure {
    pub decisions: u64,
    pub messages: u64,
    pub consents: u64,
    pub tracking_events: u64,
}

/// The engine's records. Every method is one transaction.
pub trait EngineStore: Send {
    /// Writes a decision and, when `message` is given, its outbox message, atomically.
    /// Returns `None` when this abandonment already has a decision (replay after restart).
    fn record_decision(
        &mut self,
        decision: &Decision,
        message: Option<&OutboxMessage>,
    ) -> Result<Option<i64>, RecordsError>;
    fn decisions_of_cart(&mut self, cart_id: &str) -> Result<Vec<Decision>, RecordsError>;
    fn decision_counts(&mut self) -> Result<Vec<(String, u64)>, RecordsError>;
    fn message(&mut self, id: i64) -> Result<Option<OutboxMessage>, RecordsError>;
    fn messages_of_cart(&mut self, cart_id: &str) -> Result<Vec<OutboxMessage>, RecordsError>;
    /// Messages due by `now`: pending ones, and `sending` ones left by a crash.
    fn due_messages(
        &mut self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, RecordsError>;
    /// Marks the message `sending` and counts the attempt; `false` if it is no longer
    /// pending/sending (cancelled or sent meanwhile).
    fn claim(&mut self, id: i64) -> Result<bool, RecordsError>;
    fn mark_sent(&mut self, id: i64, at: Timestamp) -> Result<(), RecordsError>;
    fn mark_retry(&mut self, id: i64, next_at: Timestamp, error: &str) -> Result<(), RecordsError>;
    fn mark_failed(&mut self, id: i64, error: &str) -> Result<(), RecordsError>;
    /// Cancels a message unless it was already sent; `true` when it was cancelled now.
    fn cancel(&mut self, id: i64, reason: &str) -> Result<bool, RecordsError>;
    /// Cancels every unsent message of a cart; returns how many.
    fn cancel_cart(&mut self, cart_id: &str, reason: &str) -> Result<u64, RecordsError>;
    /// Attributes an order to the user's last sent message sent at or after `since`.
    fn attribute(
        &mut self,
        user_id: &str,
        order_id: &str,
        since: Timestamp,
    ) -> Result<Option<i64>, RecordsError>;
    /// `None` when never set.
    fn consent(&mut self, user_id: &str, channel: &str) -> Result<Option<bool>, RecordsError>;
    fn set_consent(
        &mut self,
        user_id: &str,
        channel: &str,
        granted: bool,
        at: Timestamp,
    ) -> Result<(), RecordsError>;
    fn record_tracking(
        &mut self,
        message_id: i64,
        kind: &str,
        at: Timestamp,
    ) -> Result<(), RecordsError>;
    fn tracking_counts(&mut self, message_id: i64) -> Result<Vec<(String, u64)>, RecordsError>;
    fn message_counts(&mut self) -> Result<Vec<(String, u64)>, RecordsError>;
    fn erase_user(&mut self, user_id: &str) -> Result<RecordsErasure, RecordsError>;
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS engine_decisions (
    id INTEGER PRIMARY KEY,
    cart_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    abandonment INTEGER NOT NULL,
    decided_at INTEGER NOT NULL,
    action TEXT NOT NULL,
    channel TEXT,
    send_at INTEGER,
    propensity REAL NOT NULL,
    scores TEXT NOT NULL,
    reasons TEXT NOT NULL,
    guardrail TEXT NOT NULL,
    holdout INTEGER NOT NULL,
    UNIQUE (cart_id, abandonment)
);
CREATE INDEX IF NOT EXISTS engine_decisions_user ON engine_decisions (user_id);
CREATE TABLE IF NOT EXISTS engine_outbox (
    id INTEGER PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    decision_id INTEGER NOT NULL REFERENCES engine_decisions (id),
    cart_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    due_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    sent_at INTEGER,
    cancel_reason TEXT,
    attributed_order TEXT
);
CREATE INDEX IF NOT EXISTS engine_outbox_due ON engine_outbox (status, due_at);
CREATE INDEX IF NOT EXISTS engine_outbox_cart ON engine_outbox (cart_id);
CREATE INDEX IF NOT EXISTS engine_outbox_user ON engine_outbox (user_id);
CREATE TABLE IF NOT EXISTS engine_consent (
    user_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    granted INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, channel)
);
CREATE TABLE IF NOT EXISTS engine_tracking (
    message_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS engine_tracking_message ON engine_tracking (message_id);
";

pub struct SqliteEngineStore {
    conn: Connection,
}

impl SqliteEngineStore {
    pub fn open(path: impl AsRef<Path>) -> Result<Self, RecordsError> {
        let conn = Connection::open(path).map_err(sql("opening"))?;
        Self::configure(conn)
    }

    pub fn in_memory() -> Result<Self, RecordsError> {
        Self::configure(Connection::open_in_memory().map_err(sql("opening"))?)
    }

    fn configure(conn: Connection) -> Result<Self, RecordsError> {
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(sql("busy timeout"))?;
        let _: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(sql("WAL journal"))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql("synchronous"))?;
        conn.execute_batch(SCHEMA).map_err(sql("creating tables"))?;
        Ok(SqliteEngineStore { conn })
    }
}

const DECISION_COLUMNS: &str = "id, cart_id, user_id, abandonment, decided_at, action, channel, send_at, propensity, scores, reasons, guardrail, holdout";
const MESSAGE_COLUMNS: &str = "id, idempotency_key, decision_id, cart_id, user_id, channel, payload, status, due_at, attempts, last_error, sent_at, cancel_reason, attributed_order";

fn decision_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(Decision, String, String)> {
    Ok((
        Decision {
            id: row.get(0)?,
            cart_id: row.get(1)?,
            user_id: row.get(2)?,
            abandonment: row.get(3)?,
            decided_at: Timestamp(row.get(4)?),
            action: row.get(5)?,
            channel: row.get(6)?,
            send_at: row.get::<_, Option<i64>>(7)?.map(Timestamp),
            propensity: row.get(8)?,
            scores: serde_json::Value::Null,
            reasons: Vec::new(),
            guardrail: row.get(11)?,
            holdout: row.get(12)?,
        },
        row.get(9)?,
        row.get(10)?,
    ))
}

fn finish_decision(
    (mut d, scores, reasons): (Decision, String, String),
) -> Result<Decision, RecordsError> {
    d.scores = serde_json::from_str(&scores).map_err(|source| RecordsError::Json {
        field: "scores",
        source,
    })?;
    d.reasons = serde_json::from_str(&reasons).map_err(|source| RecordsError::Json {
        field: "reasons",
        source,
    })?;
    Ok(d)
}

fn message_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<(OutboxMessage, String)> {
    Ok((
        OutboxMessage {
            id: row.get(0)?,
            idempotency_key: row.get(1)?,
            decision_id: row.get(2)?,
            cart_id: row.get(3)?,
            user_id: row.get(4)?,
            channel: row.get(5)?,
            payload: serde_json::Value::Null,
            status: MessageStatus::parse(&row.get::<_, String>(7)?),
            due_at: Timestamp(row.get(8)?),
            attempts: row.get(9)?,
            last_error: row.get(10)?,
            sent_at: row.get::<_, Option<i64>>(11)?.map(Timestamp),
            cancel_reason: row.get(12)?,
            attributed_order: row.get(13)?,
        },
        row.get(6)?,
    ))
}

fn finish_message(
    (mut m, payload): (OutboxMessage, String),
) -> Result<OutboxMessage, RecordsError> {
    m.payload = serde_json::from_str(&payload).map_err(|source| RecordsError::Json {
        field: "payload",
        source,
    })?;
    Ok(m)
}

impl SqliteEngineStore {
    fn query_messages(
        &mut self,
        where_clause: &str,
        args: &[&dyn rusqlite::ToSql],
    ) -> Result<Vec<OutboxMessage>, RecordsError> {
        let text = format!("SELECT {MESSAGE_COLUMNS} FROM engine_outbox WHERE {where_clause}");
        let mut stmt = self
            .conn
            .prepare_cached(&text)
            .map_err(sql("reading messages"))?;
        let rows = stmt
            .query_map(args, message_row)
            .map_err(sql("reading messages"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sql("reading messages"))?;
        rows.into_iter().map(finish_message).collect()
    }

    fn counts(&mut self, text: &str) -> Result<Vec<(String, u64)>, RecordsError> {
        let mut stmt = self.conn.prepare_cached(text).map_err(sql("counting"))?;
        let rows = stmt
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64))
            })
            .map_err(sql("counting"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sql("counting"))?;
        Ok(rows)
    }
}

impl EngineStore for SqliteEngineStore {
    fn record_decision(
        &mut self,
        d: &Decision,
        message: Option<&OutboxMessage>,
    ) -> Result<Option<i64>, RecordsError> {
        let tx = self.conn.transaction().map_err(sql("begin decision"))?;
        let scores = d.scores.to_string();
        let reasons = serde_json::to_string(&d.reasons).map_err(|source| RecordsError::Json {
            field: "reasons",
            source,
        })?;
        let inserted = tx
            .execute(
                "INSERT INTO engine_decisions (cart_id, user_id, abandonment, decided_at, action, channel, send_at, propensity, scores, reasons, guardrail, holdout)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT (cart_id, abandonment) DO NOTHING",
                params![d.cart_id, d.user_id, d.abandonment, d.decided_at.0, d.action, d.channel, d.send_at.map(|t| t.0), d.propensity, scores, reasons, d.guardrail, d.holdout],
            )
            .map_err(sql("inserting a decision"))?;
        if inserted == 0 {
            return Ok(None);
        }
        let decision_id = tx.last_insert_rowid();
        if let Some(m) = message {
            tx.execute(
                "INSERT INTO engine_outbox (idempotency_key, decision_id, cart_id, user_id, channel, payload, status, due_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'pending', ?7)",
                params![m.idempotency_key, decision_id, m.cart_id, m.user_id, m.channel, m.payload.to_string(), m.due_at.0],
            )
            .map_err(sql("inserting an outbox message"))?;
        }
        tx.commit().map_err(sql("commit decision"))?;
        Ok(Some(decision_id))
    }

    fn decisions_of_cart(&mut self, cart_id: &str) -> Result<Vec<Decision>, RecordsError> {
        let text = format!(
            "SELECT {DECISION_COLUMNS} FROM engine_decisions WHERE cart_id = ?1 ORDER BY id"
        );
        let mut stmt = self
            .conn
            .prepare_cached(&text)
            .map_err(sql("reading decisions"))?;
        let rows = stmt
            .query_map([cart_id], decision_row)
            .map_err(sql("reading decisions"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sql("reading decisions"))?;
        rows.into_iter().map(finish_decision).collect()
    }

    fn decision_counts(&mut self) -> Result<Vec<(String, u64)>, RecordsError> {
        self.counts("SELECT action, COUNT(*) FROM engine_decisions GROUP BY action ORDER BY action")
    }

    fn message(&mut self, id: i64) -> Result<Option<OutboxMessage>, RecordsError> {
        Ok(self.query_messages("id = ?1", &[&id])?.pop())
    }

    fn messages_of_cart(&mut self, cart_id: &str) -> Result<Vec<OutboxMessage>, RecordsError> {
        self.query_messages("cart_id = ?1 ORDER BY id", &[&cart_id])
    }

    fn due_messages(
        &mut self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, RecordsError> {
        let limit = limit as i64;
        self.query_messages(
            "status IN ('pending', 'sending') AND due_at <= ?1 ORDER BY due_at, id LIMIT ?2",
            &[&now.0, &limit],
        )
    }

    fn claim(&mut self, id: i64) -> Result<bool, RecordsError> {
        let changed = self
            .conn
            .execute(
                "UPDATE engine_outbox SET status = 'sending', attempts = attempts + 1 WHERE id = ?1 AND status IN ('pending', 'sending')",
                [id],
            )
            .map_err(sql("claiming a message"))?;
        Ok(changed == 1)
    }

    fn mark_sent(&mut self, id: i64, at: Timestamp) -> Result<(), RecordsError> {
        self.conn
            .execute("UPDATE engine_outbox SET status = 'sent', sent_at = ?2, last_error = NULL WHERE id = ?1", params![id, at.0])
            .map_err(sql("marking sent"))?;
        Ok(())
    }

    fn mark_retry(&mut self, id: i64, next_at: Timestamp, error: &str) -> Result<(), RecordsError> {
        self.conn
            .execute(
                "UPDATE engine_outbox SET status = 'pending', due_at = ?2, last_error = ?3 WHERE id = ?1 AND status = 'sending'",
                params![id, next_at.0, error],
            )
            .map_err(sql("scheduling a retry"))?;
        Ok(())
    }

    fn mark_failed(&mut self, id: i64, error: &str) -> Result<(), RecordsError> {
        self.conn
            .execute(
                "UPDATE engine_outbox SET status = 'failed', last_error = ?2 WHERE id = ?1",
                params![id, error],
            )
            .map_err(sql("marking failed"))?;
        Ok(())
    }

    fn cancel(&mut self, id: i64, reason: &str) -> Result<bool, RecordsError> {
        let changed = self
            .conn
            .execute(
                "UPDATE engine_outbox SET status = 'cancelled', cancel_reason = ?2 WHERE id = ?1 AND status IN ('pending', 'sending')",
                params![id, reason],
            )
            .map_err(sql("cancelling"))?;
        Ok(changed == 1)
    }

    fn cancel_cart(&mut self, cart_id: &str, reason: &str) -> Result<u64, RecordsError> {
        let changed = self
            .conn
            .execute(
                "UPDATE engine_outbox SET status = 'cancelled', cancel_reason = ?2 WHERE cart_id = ?1 AND status = 'pending'",
                params![cart_id, reason],
            )
            .map_err(sql("cancelling a cart's messages"))?;
        Ok(changed as u64)
    }

    fn attribute(
        &mut self,
        user_id: &str,
        order_id: &str,
        since: Timestamp,
    ) -> Result<Option<i64>, RecordsError> {
        let tx = self.conn.transaction().map_err(sql("begin attribution"))?;
        let last: Option<i64> = tx
            .query_row(
                "SELECT id FROM engine_outbox WHERE user_id = ?1 AND status = 'sent' AND sent_at >= ?2 ORDER BY sent_at DESC, id DESC LIMIT 1",
                params![user_id, since.0],
                |row| row.get(0),
            )
            .optional()
            .map_err(sql("finding the message to attribute"))?;
        if let Some(id) = last {
            tx.execute(
                "UPDATE engine_outbox SET attributed_order = ?2 WHERE id = ?1",
                params![id, order_id],
            )
            .map_err(sql("attributing"))?;
        }
        tx.commit().map_err(sql("commit attribution"))?;
        Ok(last)
    }

    fn consent(&mut self, user_id: &str, channel: &str) -> Result<Option<bool>, RecordsError> {
        self.conn
            .query_row(
                "SELECT granted FROM engine_consent WHERE user_id = ?1 AND channel = ?2",
                params![user_id, channel],
                |row| row.get(0),
            )
            .optional()
            .map_err(sql("reading consent"))
    }

    fn set_consent(
        &mut self,
        user_id: &str,
        channel: &str,
        granted: bool,
        at: Timestamp,
    ) -> Result<(), RecordsError> {
        self.conn
            .execute(
                "INSERT INTO engine_consent (user_id, channel, granted, updated_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (user_id, channel) DO UPDATE SET granted = excluded.granted, updated_at = excluded.updated_at",
                params![user_id, channel, granted, at.0],
            )
            .map_err(sql("writing consent"))?;
        Ok(())
    }

    fn record_tracking(
        &mut self,
        message_id: i64,
        kind: &str,
        at: Timestamp,
    ) -> Result<(), RecordsError> {
        self.conn
            .execute(
                "INSERT INTO engine_tracking (message_id, kind, at) VALUES (?1, ?2, ?3)",
                params![message_id, kind, at.0],
            )
            .map_err(sql("recording tracking"))?;
        Ok(())
    }

    fn tracking_counts(&mut self, message_id: i64) -> Result<Vec<(String, u64)>, RecordsError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT kind, COUNT(*) FROM engine_tracking WHERE message_id = ?1 GROUP BY kind ORDER BY kind")
            .map_err(sql("counting tracking"))?;
        let rows = stmt
            .query_map([message_id], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, i64>(1)? as u64))
            })
            .map_err(sql("counting tracking"))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(sql("counting tracking"))?;
        Ok(rows)
    }

    fn message_counts(&mut self) -> Result<Vec<(String, u64)>, RecordsError> {
        self.counts("SELECT status, COUNT(*) FROM engine_outbox GROUP BY status ORDER BY status")
    }

    fn erase_user(&mut self, user_id: &str) -> Result<RecordsErasure, RecordsError> {
        let tx = self.conn.transaction().map_err(sql("begin erasure"))?;
        let tracking_events = tx
            .execute(
                "DELETE FROM engine_tracking WHERE message_id IN (SELECT id FROM engine_outbox WHERE user_id = ?1)",
                [user_id],
            )
            .map_err(sql("erasing tracking"))? as u64;
        let messages = tx
            .execute("DELETE FROM engine_outbox WHERE user_id = ?1", [user_id])
            .map_err(sql("erasing messages"))? as u64;
        let decisions = tx
            .execute("DELETE FROM engine_decisions WHERE user_id = ?1", [user_id])
            .map_err(sql("erasing decisions"))? as u64;
        let consents = tx
            .execute("DELETE FROM engine_consent WHERE user_id = ?1", [user_id])
            .map_err(sql("erasing consent"))? as u64;
        tx.commit().map_err(sql("commit erasure"))?;
        Ok(RecordsErasure {
            decisions,
            messages,
            consents,
            tracking_events,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(cart: &str) -> Decision {
        Decision {
            id: 0,
            cart_id: cart.into(),
            user_id: "u1".into(),
            abandonment: 1,
            decided_at: Timestamp(1_000),
            action: "reminder_log".into(),
            channel: Some("log".into()),
            send_at: Some(Timestamp(2_000)),
            propensity: 1.0,
            scores: serde_json::json!({"reminder_log": 1.0}),
            reasons: vec!["fixed flow".into()],
            guardrail: "passed".into(),
            holdout: false,
        }
    }

    fn message(cart: &str) -> OutboxMessage {
        OutboxMessage {
            id: 0,
            idempotency_key: format!("{cart}/1"),
            decision_id: 0,
            cart_id: cart.into(),
            user_id: "u1".into(),
            channel: "log".into(),
            payload: serde_json::json!({"email": "a@example.com"}),
            status: MessageStatus::Pending,
            due_at: Timestamp(2_000),
            attempts: 0,
            last_error: None,
            sent_at: None,
            cancel_reason: None,
            attributed_order: None,
        }
    }

    #[test]
    fn a_decision_is_recorded_once_with_its_message() {
        let mut store = SqliteEngineStore::in_memory().unwrap();
        assert!(
            store
                .record_decision(&decision("c1"), Some(&message("c1")))
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .record_decision(&decision("c1"), Some(&message("c1")))
                .unwrap()
                .is_none()
        );
        let stored = store.decisions_of_cart("c1").unwrap();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].reasons, ["fixed flow"]);
        assert_eq!(store.messages_of_cart("c1").unwrap().len(), 1);
        assert!(store.due_messages(Timestamp(1_999), 10).unwrap().is_empty());
        assert_eq!(store.due_messages(Timestamp(2_000), 10).unwrap().len(), 1);
    }

    #[test]
    fn claimed_sent_and_cancelled_messages_follow_their_lifecycle() {
        let mut store = SqliteEngineStore::in_memory().unwrap();
        store
            .record_decision(&decision("c1"), Some(&message("c1")))
            .unwrap();
        let id = store.due_messages(Timestamp(5_000), 10).unwrap()[0].id;
        assert!(store.claim(id).unwrap());
        store.mark_sent(id, Timestamp(5_000)).unwrap();
        assert!(
            !store.claim(id).unwrap(),
            "a sent message cannot be claimed again"
        );
        assert!(!store.cancel(id, "purchased").unwrap());
        assert_eq!(
            store.attribute("u1", "o1", Timestamp(4_000)).unwrap(),
            Some(id)
        );
        assert_eq!(store.attribute("u1", "o2", Timestamp(6_000)).unwrap(), None);
        store
            .record_decision(&decision("c2"), Some(&message("c2")))
            .unwrap();
        assert_eq!(store.cancel_cart("c2", "purchased").unwrap(), 1);
        assert!(store.due_messages(Timestamp(9_000), 10).unwrap().is_empty());
    }

    #[test]
    fn erasure_removes_every_trace_of_the_user() {
        let mut store = SqliteEngineStore::in_memory().unwrap();
        store
            .record_decision(&decision("c1"), Some(&message("c1")))
            .unwrap();
        let id = store.messages_of_cart("c1").unwrap()[0].id;
        store.record_tracking(id, "open", Timestamp(1)).unwrap();
        store
            .set_consent("u1", "email", false, Timestamp(1))
            .unwrap();
        let erased = store.erase_user("u1").unwrap();
        assert_eq!(
            erased,
            RecordsErasure {
                decisions: 1,
                messages: 1,
                consents: 1,
                tracking_events: 1
            }
        );
        assert!(store.decisions_of_cart("c1").unwrap().is_empty());
        assert_eq!(store.consent("u1", "email").unwrap(), None);
    }
}
