//! [`EngineRecords`] on PostgreSQL: binds and runs the shared statements of
//! `crate::engine::sql` on the store's connection, each prepared once per connection on first
//! use ([`EngineStatements`]), and the engine's part of
//! [`Store::erase_user`](crate::Store::erase_user) and of
//! [`Store::purge_before`](crate::Store::purge_before). JSON columns are `jsonb`.

use super::PostgresStore;
use crate::engine::{
    self, EngineRecords, RowColumns, check_storable_decision, check_texts, decode_decision,
    decode_message, sql, storable_note,
};
use crate::error::count_from_i64;
use crate::{Decision, ErasureReport, OutboxMessage, PurgeReport, StoreError};
use cartback_core::Timestamp;
use postgres::types::{FromSql, Json, ToSql};
use postgres::{Client, GenericClient, Row, Statement};
use std::collections::HashMap;
use std::error::Error as _;

type Param<'a> = &'a (dyn ToSql + Sync);

/// The engine's statements, prepared on first use and kept for the connection's life.
#[derive(Default)]
pub(crate) struct EngineStatements(HashMap<&'static str, Statement>);

impl EngineStatements {
    fn get(&mut self, client: &mut Client, sql: &'static str) -> Result<Statement, StoreError> {
        if let Some(statement) = self.0.get(sql) {
            return Ok(statement.clone());
        }
        let statement = client
            .prepare(sql)
            .map_err(StoreError::postgres("preparing an engine statement"))?;
        self.0.insert(sql, statement.clone());
        Ok(statement)
    }
}

fn column<'a, T: FromSql<'a>>(row: &'a Row, index: usize) -> Result<T, String> {
    row.try_get(index).map_err(|error| match error.source() {
        Some(cause) => format!("{error}: {cause}"),
        None => error.to_string(),
    })
}

impl RowColumns for Row {
    fn text(&self, index: usize) -> Result<String, String> {
        column(self, index)
    }
    fn optional_text(&self, index: usize) -> Result<Option<String>, String> {
        column(self, index)
    }
    fn integer(&self, index: usize) -> Result<i64, String> {
        column(self, index)
    }
    fn optional_integer(&self, index: usize) -> Result<Option<i64>, String> {
        column(self, index)
    }
    fn real(&self, index: usize) -> Result<f64, String> {
        column(self, index)
    }
    fn flag(&self, index: usize) -> Result<bool, String> {
        column(self, index)
    }
    fn json<T: serde::de::DeserializeOwned>(&self, index: usize) -> Result<T, String> {
        column::<Json<T>>(self, index).map(|Json(value)| value)
    }
    fn optional_json<T: serde::de::DeserializeOwned>(
        &self,
        index: usize,
    ) -> Result<Option<T>, String> {
        column::<Option<Json<T>>>(self, index).map(|value| value.map(|Json(value)| value))
    }
}

impl PostgresStore {
    /// Runs a prepared query and decodes every row.
    fn engine_rows<T>(
        &mut self,
        statement: &'static str,
        params: &[Param<'_>],
        decode: impl Fn(&Row) -> Result<T, StoreError>,
    ) -> Result<Vec<T>, StoreError> {
        let prepared = self.engine_statements.get(&mut self.client, statement)?;
        self.client
            .query(&prepared, params)
            .map_err(StoreError::postgres("querying engine records"))?
            .iter()
            .map(decode)
            .collect()
    }

    /// Runs a prepared statement; returns the number of rows it changed.
    fn engine_execute(
        &mut self,
        statement: &'static str,
        params: &[Param<'_>],
        action: &'static str,
    ) -> Result<u64, StoreError> {
        let prepared = self.engine_statements.get(&mut self.client, statement)?;
        self.client
            .execute(&prepared, params)
            .map_err(StoreError::postgres(action))
    }
}

/// A `(name, count)` row of a `GROUP BY` count.
fn named_count(row: &Row) -> Result<(String, u64), StoreError> {
    named_count_at(row, 0)
}

/// A (name, count) pair from columns `at` and `at + 1`.
fn named_count_at(row: &Row, at: usize) -> Result<(String, u64), StoreError> {
    let name: String = row
        .try_get(at)
        .map_err(StoreError::postgres("reading a count"))?;
    let count: i64 = row
        .try_get(at + 1)
        .map_err(StoreError::postgres("reading a count"))?;
    Ok((name, count_from_i64("engine records", count)?))
}

/// Deletes a user's engine records inside the caller's erasure transaction.
pub(super) fn erase_user_records(
    tx: &mut impl GenericClient,
    user_id: &str,
) -> Result<ErasureReport, StoreError> {
    engine::erase_user_records(|statement| {
        tx.execute(statement, &[&user_id])
            .map_err(StoreError::postgres("erasing a user's engine records"))
    })
}

/// Deletes the carts closed before `cutoff` and their engine records inside the caller's
/// purge transaction.
pub(super) fn purge_cart_records(
    tx: &mut impl GenericClient,
    cutoff: i64,
) -> Result<PurgeReport, StoreError> {
    engine::purge_cart_records(|statement| {
        tx.execute(statement, &[&cutoff])
            .map_err(StoreError::postgres(
                "purging closed carts and their records",
            ))
    })
}

impl EngineRecords for PostgresStore {
    fn record_decision(
        &mut self,
        d: &Decision,
        message: Option<&OutboxMessage>,
    ) -> Result<Option<i64>, StoreError> {
        check_storable_decision(d, message)?;
        // Prepared before the transaction, so a failed transaction never holds a half-made
        // cache entry.
        let insert_decision = self
            .engine_statements
            .get(&mut self.client, sql::INSERT_DECISION)?;
        let insert_message = self
            .engine_statements
            .get(&mut self.client, sql::INSERT_MESSAGE)?;
        let mut tx = self
            .client
            .transaction()
            .map_err(StoreError::postgres("starting a decision transaction"))?;
        let row = tx
            .query_opt(
                &insert_decision,
                &[
                    &d.cart_id,
                    &d.user_id,
                    &i64::from(d.abandonment),
                    &d.decided_at.0,
                    &d.action,
                    &d.channel,
                    &d.send_at.map(|t| t.0),
                    &d.propensity,
                    &Json(&d.scores),
                    &Json(&d.reasons),
                    &d.guardrail,
                    &d.holdout,
                    &i64::from(d.step),
                    &d.discount_minor,
                    &d.state.as_ref().map(Json),
                ],
            )
            .map_err(StoreError::postgres("inserting a decision"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let decision_id: i64 = row
            .try_get(0)
            .map_err(StoreError::postgres("reading a decision id"))?;
        if let Some(m) = message {
            tx.execute(
                &insert_message,
                &[
                    &m.idempotency_key,
                    &decision_id,
                    &m.cart_id,
                    &m.user_id,
                    &m.channel,
                    &Json(&m.payload),
                    &m.due_at.0,
                ],
            )
            .map_err(StoreError::postgres("inserting an outbox message"))?;
        }
        tx.commit()
            .map_err(StoreError::postgres("committing a decision"))?;
        Ok(Some(decision_id))
    }

    fn decisions_of_cart(&mut self, cart_id: &str) -> Result<Vec<Decision>, StoreError> {
        self.engine_rows(sql::DECISIONS_OF_CART, &[&cart_id], decode_decision)
    }

    fn decision_log(&mut self, after_id: i64, limit: usize) -> Result<Vec<Decision>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.engine_rows(sql::DECISION_LOG, &[&after_id, &limit], decode_decision)
    }

    fn decision_counts(&mut self) -> Result<Vec<(String, u64)>, StoreError> {
        self.engine_rows(sql::DECISION_COUNTS, &[], named_count)
    }

    fn message(&mut self, id: i64) -> Result<Option<OutboxMessage>, StoreError> {
        Ok(self
            .engine_rows(sql::MESSAGE, &[&id], decode_message)?
            .pop())
    }

    fn messages_of_cart(&mut self, cart_id: &str) -> Result<Vec<OutboxMessage>, StoreError> {
        self.engine_rows(sql::MESSAGES_OF_CART, &[&cart_id], decode_message)
    }

    fn message_log(
        &mut self,
        after_id: i64,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.engine_rows(sql::MESSAGE_LOG, &[&after_id, &limit], decode_message)
    }

    fn due_messages(
        &mut self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, StoreError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.engine_rows(sql::DUE_MESSAGES, &[&now.0, &limit], decode_message)
    }

    fn claim(&mut self, id: i64) -> Result<bool, StoreError> {
        Ok(self.engine_execute(sql::CLAIM, &[&id], "claiming a message")? == 1)
    }

    fn mark_sent(&mut self, id: i64, at: Timestamp) -> Result<(), StoreError> {
        self.engine_execute(sql::MARK_SENT, &[&at.0, &id], "marking a message sent")?;
        Ok(())
    }

    fn mark_retry(&mut self, id: i64, next_at: Timestamp, error: &str) -> Result<(), StoreError> {
        let error = storable_note(error);
        let params: [Param<'_>; 3] = [&next_at.0, &error.as_ref(), &id];
        self.engine_execute(sql::MARK_RETRY, &params, "scheduling a retry")?;
        Ok(())
    }

    fn mark_failed(&mut self, id: i64, error: &str) -> Result<(), StoreError> {
        let error = storable_note(error);
        let params: [Param<'_>; 2] = [&error.as_ref(), &id];
        self.engine_execute(sql::MARK_FAILED, &params, "marking a message failed")?;
        Ok(())
    }

    fn cancel(&mut self, id: i64, reason: &str) -> Result<bool, StoreError> {
        let reason = storable_note(reason);
        let params: [Param<'_>; 2] = [&reason.as_ref(), &id];
        Ok(self.engine_execute(sql::CANCEL, &params, "cancelling a message")? == 1)
    }

    fn cancel_cart(&mut self, cart_id: &str, reason: &str) -> Result<u64, StoreError> {
        let reason = storable_note(reason);
        let params: [Param<'_>; 2] = [&reason.as_ref(), &cart_id];
        self.engine_execute(sql::CANCEL_CART, &params, "cancelling a cart's messages")
    }

    fn attribute(
        &mut self,
        user_id: &str,
        order_id: &str,
        since: Timestamp,
        ordered_at: Timestamp,
    ) -> Result<Option<i64>, StoreError> {
        check_texts("order", order_id, &[("order_id", Some(order_id))])?;
        let params: [Param<'_>; 4] = [&order_id, &user_id, &since.0, &ordered_at.0];
        let attributed = self.engine_rows(sql::ATTRIBUTE, &params, |row| {
            row.try_get(0)
                .map_err(StoreError::postgres("reading an id"))
        })?;
        Ok(attributed.first().copied())
    }

    fn consent(&mut self, user_id: &str, channel: &str) -> Result<Option<bool>, StoreError> {
        let found = self.engine_rows(sql::CONSENT, &[&user_id, &channel], |row| {
            row.try_get(0)
                .map_err(StoreError::postgres("reading consent"))
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
        let params: [Param<'_>; 4] = [&user_id, &channel, &granted, &at.0];
        self.engine_execute(sql::SET_CONSENT, &params, "writing consent")?;
        Ok(())
    }

    fn record_tracking(
        &mut self,
        message_id: i64,
        kind: &str,
        at: Timestamp,
    ) -> Result<(), StoreError> {
        check_texts("tracking event", kind, &[("kind", Some(kind))])?;
        let params: [Param<'_>; 3] = [&message_id, &kind, &at.0];
        self.engine_execute(sql::RECORD_TRACKING, &params, "recording tracking")?;
        Ok(())
    }

    fn tracking_counts(&mut self, message_id: i64) -> Result<Vec<(String, u64)>, StoreError> {
        self.engine_rows(sql::TRACKING_COUNTS, &[&message_id], named_count)
    }

    fn tracking_totals(&mut self) -> Result<Vec<(i64, String, u64)>, StoreError> {
        self.engine_rows(sql::TRACKING_TOTALS, &[], |row| {
            let read = StoreError::postgres("reading tracking totals");
            let message_id: i64 = row.try_get(0).map_err(read)?;
            let (kind, count) = named_count_at(row, 1)?;
            Ok((message_id, kind, count))
        })
    }

    fn message_counts(&mut self) -> Result<Vec<(String, u64)>, StoreError> {
        self.engine_rows(sql::MESSAGE_COUNTS, &[], named_count)
    }

    fn message_times_of_user(
        &mut self,
        user_id: &str,
        since: Timestamp,
    ) -> Result<Vec<Timestamp>, StoreError> {
        self.engine_rows(sql::MESSAGE_TIMES_OF_USER, &[&user_id, &since.0], |row| {
            row.try_get(0)
                .map(Timestamp)
                .map_err(StoreError::postgres("reading a message time"))
        })
    }

    fn discount_committed_since(&mut self, since: Timestamp) -> Result<i64, StoreError> {
        let total = self.engine_rows(sql::DISCOUNT_SINCE, &[&since.0], |row| {
            row.try_get(0)
                .map_err(StoreError::postgres("reading the discount committed"))
        })?;
        Ok(total.first().copied().unwrap_or(0))
    }
}
