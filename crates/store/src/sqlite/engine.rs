//! [`EngineRecords`] on SQLite: binds and runs the shared statements of `crate::engine::sql`
//! on the store's one connection (statements cached by rusqlite), and the engine's part of
//! [`Store::erase_user`](crate::Store::erase_user) and of
//! [`Store::purge_before`](crate::Store::purge_before).

use super::SqliteStore;
use crate::engine::{
    self, EngineRecords, RowColumns, check_storable_decision, check_texts, decode_decision,
    decode_message, sql, storable_note,
};
use crate::error::count_from_i64;
use crate::{Decision, ErasureReport, OutboxMessage, PurgeReport, StoreError};
use cartback_core::Timestamp;
use rusqlite::{Connection, OptionalExtension, Params, Row, TransactionBehavior, params};

impl RowColumns for Row<'_> {
    fn text(&self, index: usize) -> Result<String, String> {
        self.get(index).map_err(|e| e.to_string())
    }
    fn optional_text(&self, index: usize) -> Result<Option<String>, String> {
        self.get(index).map_err(|e| e.to_string())
    }
    fn integer(&self, index: usize) -> Result<i64, String> {
        self.get(index).map_err(|e| e.to_string())
    }
    fn optional_integer(&self, index: usize) -> Result<Option<i64>, String> {
        self.get(index).map_err(|e| e.to_string())
    }
    fn real(&self, index: usize) -> Result<f64, String> {
        self.get(index).map_err(|e| e.to_string())
    }
    fn flag(&self, index: usize) -> Result<bool, String> {
        self.get(index).map_err(|e| e.to_string())
    }
    fn json<T: serde::de::DeserializeOwned>(&self, index: usize) -> Result<T, String> {
        let text = self
            .get_ref(index)
            .and_then(|value| Ok(value.as_str()?))
            .map_err(|e| e.to_string())?;
        serde_json::from_str(text).map_err(|e| e.to_string())
    }
    fn optional_json<T: serde::de::DeserializeOwned>(
        &self,
        index: usize,
    ) -> Result<Option<T>, String> {
        let text: Option<&str> = self
            .get_ref(index)
            .and_then(|value| Ok(value.as_str_or_null()?))
            .map_err(|e| e.to_string())?;
        text.map(|text| serde_json::from_str(text).map_err(|e| e.to_string()))
            .transpose()
    }
}

impl SqliteStore {
    /// Runs a cached query and decodes every row.
    fn engine_rows<T>(
        &mut self,
        statement: &str,
        params: impl Params,
        mut decode: impl FnMut(&Row<'_>) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let mut prepared = self
            .conn
            .prepare_cached(statement)
            .map_err(StoreError::sqlite("preparing an engine query"))?;
        let mut rows = prepared
            .query(params)
            .map_err(StoreError::sqlite("querying engine records"))?;
        let mut found = Vec::new();
        while let Some(row) = rows
            .next()
            .map_err(StoreError::sqlite("reading engine records"))?
        {
            found.push(decode(row)?);
        }
        Ok(found)
    }

    /// Runs a cached statement; returns the number of rows it changed.
    fn engine_execute(
        &mut self,
        statement: &str,
        params: impl Params,
        action: &'static str,
    ) -> Result<u64, StoreError> {
        self.conn
            .prepare_cached(statement)
            .and_then(|mut prepared| prepared.execute(params))
            .map(|changed| changed as u64)
            .map_err(StoreError::sqlite(action))
    }
}

/// A `(name, count)` row of a `GROUP BY` count.
fn named_count(row: &Row<'_>) -> Result<(String, u64), StoreError> {
    named_count_at(row, 0)
}

/// A (name, count) pair from columns `at` and `at + 1`.
fn named_count_at(row: &Row<'_>, at: usize) -> Result<(String, u64), StoreError> {
    let name: String = row.get(at).map_err(StoreError::sqlite("reading a count"))?;
    let count: i64 = row
        .get(at + 1)
        .map_err(StoreError::sqlite("reading a count"))?;
    Ok((name, count_from_i64("engine records", count)?))
}

/// Deletes a user's engine records inside the caller's erasure transaction.
pub(super) fn erase_user_records(
    conn: &Connection,
    user_id: &str,
) -> Result<ErasureReport, StoreError> {
    engine::erase_user_records(|statement| {
        conn.prepare_cached(statement)
            .and_then(|mut prepared| prepared.execute([user_id]))
            .map(|erased| erased as u64)
            .map_err(StoreError::sqlite("erasing a user's engine records"))
    })
}

/// Deletes the carts closed before `cutoff` and their engine records inside the caller's
/// purge transaction.
pub(super) fn purge_cart_records(
    conn: &Connection,
    cutoff: i64,
) -> Result<PurgeReport, StoreError> {
    engine::purge_cart_records(|statement| {
        conn.prepare_cached(statement)
            .and_then(|mut prepared| prepared.execute([cutoff]))
            .map(|purged| purged as u64)
            .map_err(StoreError::sqlite("purging closed carts and their records"))
    })
}

impl EngineRecords for SqliteStore {
    fn record_decision(
        &mut self,
        d: &Decision,
        message: Option<&OutboxMessage>,
    ) -> Result<Option<i64>, StoreError> {
        check_storable_decision(d, message)?;
        let reasons = serde_json::Value::from(d.reasons.as_slice()).to_string();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(StoreError::sqlite("starting a decision transaction"))?;
        let decision_id: Option<i64> = tx
            .prepare_cached(sql::INSERT_DECISION)
            .and_then(|mut insert| {
                insert
                    .query_row(
                        params![
                            d.cart_id,
                            d.user_id,
                            d.abandonment,
                            d.decided_at.0,
                            d.action,
                            d.channel,
                            d.send_at.map(|t| t.0),
                            d.propensity,
                            d.scores.to_string(),
                            reasons,
                            d.guardrail,
                            d.holdout,
                            d.step,
                            d.discount_minor,
                            d.state.as_ref().map(|s| s.to_string()),
                        ],
                        |row| row.get(0),
                    )
                    .optional()
            })
            .map_err(StoreError::sqlite("inserting a decision"))?;
        let Some(decision_id) = decision_id else {
            return Ok(None);
        };
        if let Some(m) = message {
            tx.prepare_cached(sql::INSERT_MESSAGE)
                .and_then(|mut insert| {
                    insert.execute(params![
                        m.idempotency_key,
                        decision_id,
                        m.cart_id,
                        m.user_id,
                        m.channel,
                        m.payload.to_string(),
                        m.due_at.0,
                    ])
                })
                .map_err(StoreError::sqlite("inserting an outbox message"))?;
        }
        tx.commit()
            .map_err(StoreError::sqlite("committing a decision"))?;
        Ok(Some(decision_id))
    }

    fn decisions_of_cart(&mut self, cart_id: &str) -> Result<Vec<Decision>, StoreError> {
        self.engine_rows(sql::DECISIONS_OF_CART, [cart_id], |row| {
            decode_decision(row)
        })
    }

    fn decision_log(&mut self, after_id: i64, limit: usize) -> Result<Vec<Decision>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.engine_rows(sql::DECISION_LOG, [after_id, limit], |row| {
            decode_decision(row)
        })
    }

    fn decision_counts(&mut self) -> Result<Vec<(String, u64)>, StoreError> {
        self.engine_rows(sql::DECISION_COUNTS, [], named_count)
    }

    fn message(&mut self, id: i64) -> Result<Option<OutboxMessage>, StoreError> {
        Ok(self
            .engine_rows(sql::MESSAGE, [id], |row| decode_message(row))?
            .pop())
    }

    fn messages_of_cart(&mut self, cart_id: &str) -> Result<Vec<OutboxMessage>, StoreError> {
        self.engine_rows(sql::MESSAGES_OF_CART, [cart_id], |row| decode_message(row))
    }

    fn message_log(
        &mut self,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.engine_rows(sql::MESSAGE_LOG, params![after_id, limit], |row| {
            decode_message(row)
        })
    }

    fn due_messages(
        &mut self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.engine_rows(sql::DUE_MESSAGES, [now.0, limit], |row| decode_message(row))
    }

    fn claim(&mut self, id: i64) -> Result<bool, StoreError> {
        Ok(self.engine_execute(sql::CLAIM, [id], "claiming a message")? == 1)
    }

    fn mark_sent(&mut self, id: i64, at: Timestamp) -> Result<(), StoreError> {
        self.engine_execute(sql::MARK_SENT, [at.0, id], "marking a message sent")?;
        Ok(())
    }

    fn mark_retry(&mut self, id: i64, next_at: Timestamp, error: &str) -> Result<(), StoreError> {
        let error = storable_note(error);
        let params = params![next_at.0, error, id];
        self.engine_execute(sql::MARK_RETRY, params, "scheduling a retry")?;
        Ok(())
    }

    fn mark_failed(&mut self, id: i64, error: &str) -> Result<(), StoreError> {
        let params = params![storable_note(error), id];
        self.engine_execute(sql::MARK_FAILED, params, "marking a message failed")?;
        Ok(())
    }

    fn cancel(&mut self, id: i64, reason: &str) -> Result<bool, StoreError> {
        let params = params![storable_note(reason), id];
        Ok(self.engine_execute(sql::CANCEL, params, "cancelling a message")? == 1)
    }

    fn cancel_cart(&mut self, cart_id: &str, reason: &str) -> Result<u64, StoreError> {
        let params = params![storable_note(reason), cart_id];
        self.engine_execute(sql::CANCEL_CART, params, "cancelling a cart's messages")
    }

    fn attribute(
        &mut self,
        user_id: &str,
        order_id: &str,
        since: Timestamp,
        ordered_at: Timestamp,
    ) -> Result<Option<i64>, StoreError> {
        check_texts("order", order_id, &[("order_id", Some(order_id))])?;
        let params = params![order_id, user_id, since.0, ordered_at.0];
        let attributed = self.engine_rows(sql::ATTRIBUTE, params, |row| {
            row.get(0).map_err(StoreError::sqlite("reading an id"))
        })?;
        Ok(attributed.first().copied())
    }

    fn consent(&mut self, user_id: &str, channel: &str) -> Result<Option<bool>, StoreError> {
        let found = self.engine_rows(sql::CONSENT, [user_id, channel], |row| {
            row.get(0).map_err(StoreError::sqlite("reading consent"))
        })?;
        Ok(found.first().copied())
    }

    fn set_consent(
        &mut self,
        user_id: &str,
        channel: &str,
        granted: bool,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        let texts = [("user_id", Some(user_id)), ("channel", Some(channel))];
        check_texts("consent", user_id, &texts)?;
        let params = params![user_id, channel, granted, at.0];
        self.engine_execute(sql::SET_CONSENT, params, "writing consent")?;
        Ok(())
    }

    fn record_tracking(
        &mut self,
        message_id: i64,
        kind: &str,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        check_texts("tracking event", kind, &[("kind", Some(kind))])?;
        let params = params![message_id, kind, at.0];
        self.engine_execute(sql::RECORD_TRACKING, params, "recording tracking")?;
        Ok(())
    }

    fn tracking_counts(&mut self, message_id: i64) -> Result<Vec<(String, u64)>, StoreError> {
        self.engine_rows(sql::TRACKING_COUNTS, [message_id], named_count)
    }

    fn tracking_totals(&mut self) -> Result<Vec<(i64, String, u64)>, StoreError> {
        self.engine_rows(sql::TRACKING_TOTALS, [], |row| {
            let read = StoreError::sqlite("reading tracking totals");
            let message_id: i64 = row.get(0).map_err(read)?;
            let (kind, count) = named_count_at(row, 1)?;
            Ok((message_id, kind, count))
        })
    }

    fn message_counts(&mut self) -> Result<Vec<(String, u64)>, StoreError> {
        self.engine_rows(sql::MESSAGE_COUNTS, [], named_count)
    }

    fn message_times_of_user(
        &mut self,
        user_id: &str,
        since: Timestamp,
    ) -> Result<Vec<Timestamp>, StoreError> {
        self.engine_rows(
            sql::MESSAGE_TIMES_OF_USER,
            params![user_id, since.0],
            |row| {
                row.get(0)
                    .map(Timestamp)
                    .map_err(StoreError::sqlite("reading a message time"))
            },
        )
    }

    fn discount_committed_since(&mut self, since: Timestamp) -> Result<i64, StoreError> {
        let total = self.engine_rows(sql::DISCOUNT_SINCE, [since.0], |row| {
            row.get(0)
                .map_err(StoreError::sqlite("reading the discount committed"))
        })?;
        Ok(total.first().copied().unwrap_or(0))
    }
}
