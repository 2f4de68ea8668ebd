//! [`PostgresEngineStore`]: the engine's records (decisions, outbox, consent, tracking) in
//! PostgreSQL, next to the events of `cartback_store::PostgresStore`. Same tables and
//! semantics as the SQLite implementation in `records.rs`.

use crate::records::{
    Decision, EngineStore, MessageStatus, OutboxMessage, RecordsErasure, RecordsError,
};
use cartback_core::Timestamp;
use postgres::{Client, NoTls, Row};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS engine_decisions (
    id BIGSERIAL PRIMARY KEY,
    cart_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    abandonment BIGINT NOT NULL,
    decided_at BIGINT NOT NULL,
    action TEXT NOT NULL,
    channel TEXT,
    send_at BIGINT,
    propensity DOUBLE PRECISION NOT NULL,
    scores TEXT NOT NULL,
    reasons TEXT NOT NULL,
    guardrail TEXT NOT NULL,
    holdout BOOLEAN NOT NULL,
    UNIQUE (cart_id, abandonment)
);
CREATE INDEX IF NOT EXISTS engine_decisions_user ON engine_decisions (user_id);
CREATE TABLE IF NOT EXISTS engine_outbox (
    id BIGSERIAL PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    decision_id BIGINT NOT NULL REFERENCES engine_decisions (id),
    cart_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    due_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    last_error TEXT,
    sent_at BIGINT,
    cancel_reason TEXT,
    attributed_order TEXT
);
CREATE INDEX IF NOT EXISTS engine_outbox_due ON engine_outbox (status, due_at);
CREATE INDEX IF NOT EXISTS engine_outbox_cart ON engine_outbox (cart_id);
CREATE INDEX IF NOT EXISTS engine_outbox_user ON engine_outbox (user_id);
CREATE TABLE IF NOT EXISTS engine_consent (
    user_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    granted BOOLEAN NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, channel)
);
CREATE TABLE IF NOT EXISTS engine_tracking (
    message_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS engine_tracking_message ON engine_tracking (message_id);
";

fn pg(context: &'static str) -> impl FnOnce(postgres::Error) -> RecordsError {
    move |source| RecordsError::Postgres { context, source }
}

pub struct PostgresEngineStore {
    client: Client,
}

impl PostgresEngineStore {
    pub fn connect(url: &str) -> Result<Self, RecordsError> {
        let mut client = Client::connect(url, NoTls).map_err(pg("connecting"))?;
        client
            .batch_execute(SCHEMA)
            .map_err(pg("creating tables"))?;
        Ok(PostgresEngineStore { client })
    }
}

const DECISION_COLUMNS: &str = "id, cart_id, user_id, abandonment, decided_at, action, channel, send_at, propensity, scores, reasons, guardrail, holdout";
const MESSAGE_COLUMNS: &str = "id, idempotency_key, decision_id, cart_id, user_id, channel, payload, status, due_at, attempts, last_error, sent_at, cancel_reason, attributed_order";

fn json<T: serde::de::DeserializeOwned>(
    text: &str,
    field: &'static str,
) -> Result<T, RecordsError> {
    serde_json::from_str(text).map_err(|source| RecordsError::Json { field, source })
}

fn decision(row: &Row) -> Result<Decision, RecordsError> {
    Ok(Decision {
        id: row.get(0),
        cart_id: row.get(1),
        user_id: row.get(2),
        abandonment: row.get::<_, i64>(3) as u32,
        decided_at: Timestamp(row.get(4)),
        action: row.get(5),
        channel: row.get(6),
        send_at: row.get::<_, Option<i64>>(7).map(Timestamp),
        propensity: row.get(8),
        scores: json(row.get(9), "scores")?,
        reasons: json(row.get(10), "reasons")?,
        guardrail: row.get(11),
        holdout: row.get(12),
    })
}

fn message(row: &Row) -> Result<OutboxMessage, RecordsError> {
    Ok(OutboxMessage {
        id: row.get(0),
        idempotency_key: row.get(1),
        decision_id: row.get(2),
        cart_id: row.get(3),
        user_id: row.get(4),
        channel: row.get(5),
        payload: json(row.get(6), "payload")?,
        status: MessageStatus::parse(row.get(7)),
        due_at: Timestamp(row.get(8)),
        attempts: row.get::<_, i64>(9) as u32,
        last_error: row.get(10),
        sent_at: row.get::<_, Option<i64>>(11).map(Timestamp),
        cancel_reason: row.get(12),
        attributed_order: row.get(13),
    })
}

fn counts(rows: Vec<Row>) -> Vec<(String, u64)> {
    rows.iter()
        .map(|r| (r.get(0), r.get::<_, i64>(1) as u64))
        .collect()
}

impl PostgresEngineStore {
    fn messages(
        &mut self,
        where_clause: &str,
        args: &[&(dyn postgres::types::ToSql + Sync)],
    ) -> Result<Vec<OutboxMessage>, RecordsError> {
        let text = format!("SELECT {MESSAGE_COLUMNS} FROM engine_outbox WHERE {where_clause}");
        let rows = self
            .client
            .query(&text, args)
            .map_err(pg("reading messages"))?;
        rows.iter().map(message).collect()
    }
}

impl EngineStore for PostgresEngineStore {
    fn record_decision(
        &mut self,
        d: &Decision,
        m: Option<&OutboxMessage>,
    ) -> Result<Option<i64>, RecordsError> {
        let mut tx = self.client.transaction().map_err(pg("begin decision"))?;
        let reasons = serde_json::to_string(&d.reasons).map_err(|source| RecordsError::Json {
            field: "reasons",
            source,
        })?;
        let row = tx
            .query_opt(
                "INSERT INTO engine_decisions (cart_id, user_id, abandonment, decided_at, action, channel, send_at, propensity, scores, reasons, guardrail, holdout)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT (cart_id, abandonment) DO NOTHING RETURNING id",
                &[&d.cart_id, &d.user_id, &i64::from(d.abandonment), &d.decided_at.0, &d.action, &d.channel, &d.send_at.map(|t| t.0), &d.propensity, &d.scores.to_string(), &reasons, &d.guardrail, &d.holdout],
            )
            .map_err(pg("inserting a decision"))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let decision_id: i64 = row.get(0);
        if let Some(m) = m {
            tx.execute(
                "INSERT INTO engine_outbox (idempotency_key, decision_id, cart_id, user_id, channel, payload, status, due_at)
                 VALUES ($1, $2, $3, $4, $5, $6, 'pending', $7)",
                &[&m.idempotency_key, &decision_id, &m.cart_id, &m.user_id, &m.channel, &m.payload.to_string(), &m.due_at.0],
            )
            .map_err(pg("inserting an outbox message"))?;
        }
        tx.commit().map_err(pg("commit decision"))?;
        Ok(Some(decision_id))
    }

    fn decisions_of_cart(&mut self, cart_id: &str) -> Result<Vec<Decision>, RecordsError> {
        let text = format!(
            "SELECT {DECISION_COLUMNS} FROM engine_decisions WHERE cart_id = $1 ORDER BY id"
        );
        let rows = self
            .client
            .query(&text, &[&cart_id])
            .map_err(pg("reading decisions"))?;
        rows.iter().map(decision).collect()
    }

    fn decision_counts(&mut self) -> Result<Vec<(String, u64)>, RecordsError> {
        let rows = self
            .client
            .query(
                "SELECT action, COUNT(*) FROM engine_decisions GROUP BY action ORDER BY action",
                &[],
            )
            .map_err(pg("counting decisions"))?;
        Ok(counts(rows))
    }

    fn message(&mut self, id: i64) -> Result<Option<OutboxMessage>, RecordsError> {
        Ok(self.messages("id = $1", &[&id])?.pop())
    }

    fn messages_of_cart(&mut self, cart_id: &str) -> Result<Vec<OutboxMessage>, RecordsError> {
        self.messages("cart_id = $1 ORDER BY id", &[&cart_id])
    }

    fn due_messages(
        &mut self,
        now: Timestamp,
        limit: usize,
    ) -> Result<Vec<OutboxMessage>, RecordsError> {
        self.messages(
            "status IN ('pending', 'sending') AND due_at <= $1 ORDER BY due_at, id LIMIT $2",
            &[&now.0, &(limit as i64)],
        )
    }

    fn claim(&mut self, id: i64) -> Result<bool, RecordsError> {
        let changed = self
            .client
            .execute(
                "UPDATE engine_outbox SET status = 'sending', attempts = attempts + 1 WHERE id = $1 AND status IN ('pending', 'sending')",
                &[&id],
            )
            .map_err(pg("claiming a message"))?;
        Ok(changed == 1)
    }

    fn mark_sent(&mut self, id: i64, at: Timestamp) -> Result<(), RecordsError> {
        self.client
            .execute("UPDATE engine_outbox SET status = 'sent', sent_at = $2, last_error = NULL WHERE id = $1", &[&id, &at.0])
            .map_err(pg("marking sent"))?;
        Ok(())
    }

    fn mark_retry(&mut self, id: i64, next_at: Timestamp, error: &str) -> Result<(), RecordsError> {
        self.client
            .execute(
                "UPDATE engine_outbox SET status = 'pending', due_at = $2, last_error = $3 WHERE id = $1 AND status = 'sending'",
                &[&id, &next_at.0, &error],
            )
            .map_err(pg("scheduling a retry"))?;
        Ok(())
    }

    fn mark_failed(&mut self, id: i64, error: &str) -> Result<(), RecordsError> {
        self.client
            .execute(
                "UPDATE engine_outbox SET status = 'failed', last_error = $2 WHERE id = $1",
                &[&id, &error],
            )
            .map_err(pg("marking failed"))?;
        Ok(())
    }

    fn cancel(&mut self, id: i64, reason: &str) -> Result<bool, RecordsError> {
        let changed = self
            .client
            .execute(
                "UPDATE engine_outbox SET status = 'cancelled', cancel_reason = $2 WHERE id = $1 AND status IN ('pending', 'sending')",
                &[&id, &reason],
            )
            .map_err(pg("cancelling"))?;
        Ok(changed == 1)
    }

    fn cancel_cart(&mut self, cart_id: &str, reason: &str) -> Result<u64, RecordsError> {
        self.client
            .execute(
                "UPDATE engine_outbox SET status = 'cancelled', cancel_reason = $2 WHERE cart_id = $1 AND status = 'pending'",
                &[&cart_id, &reason],
            )
            .map_err(pg("cancelling a cart's messages"))
    }

    fn attribute(
        &mut self,
        user_id: &str,
        order_id: &str,
        since: Timestamp,
    ) -> Result<Option<i64>, RecordsError> {
        let mut tx = self.client.transaction().map_err(pg("begin attribution"))?;
        let last: Option<i64> = tx
            .query_opt(
                "SELECT id FROM engine_outbox WHERE user_id = $1 AND status = 'sent' AND sent_at >= $2 ORDER BY sent_at DESC, id DESC LIMIT 1",
                &[&user_id, &since.0],
            )
            .map_err(pg("finding the message to attribute"))?
            .map(|row| row.get(0));
        if let Some(id) = last {
            tx.execute(
                "UPDATE engine_outbox SET attributed_order = $2 WHERE id = $1",
                &[&id, &order_id],
            )
            .map_err(pg("attributing"))?;
        }
        tx.commit().map_err(pg("commit attribution"))?;
        Ok(last)
    }

    fn consent(&mut self, user_id: &str, channel: &str) -> Result<Option<bool>, RecordsError> {
        Ok(self
            .client
            .query_opt(
                "SELECT granted FROM engine_consent WHERE user_id = $1 AND channel = $2",
                &[&user_id, &channel],
            )
            .map_err(pg("reading consent"))?
            .map(|row| row.get(0)))
    }

    fn set_consent(
        &mut self,
        user_id: &str,
        channel: &str,
        granted: bool,
        at: Timestamp,
    ) -> Result<(), RecordsError> {
        self.client
            .execute(
                "INSERT INTO engine_consent (user_id, channel, granted, updated_at) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (user_id, channel) DO UPDATE SET granted = excluded.granted, updated_at = excluded.updated_at",
                &[&user_id, &channel, &granted, &at.0],
            )
            .map_err(pg("writing consent"))?;
        Ok(())
    }

    fn record_tracking(
        &mut self,
        message_id: i64,
        kind: &str,
        at: Timestamp,
    ) -> Result<(), RecordsError> {
        self.client
            .execute(
                "INSERT INTO engine_tracking (message_id, kind, at) VALUES ($1, $2, $3)",
                &[&message_id, &kind, &at.0],
            )
            .map_err(pg("recording tracking"))?;
        Ok(())
    }

    fn tracking_counts(&mut self, message_id: i64) -> Result<Vec<(String, u64)>, RecordsError> {
        let rows = self
            .client
            .query("SELECT kind, COUNT(*) FROM engine_tracking WHERE message_id = $1 GROUP BY kind ORDER BY kind", &[&message_id])
            .map_err(pg("counting tracking"))?;
        Ok(counts(rows))
    }

    fn message_counts(&mut self) -> Result<Vec<(String, u64)>, RecordsError> {
        let rows = self
            .client
            .query(
                "SELECT status, COUNT(*) FROM engine_outbox GROUP BY status ORDER BY status",
                &[],
            )
            .map_err(pg("counting messages"))?;
        Ok(counts(rows))
    }

    fn erase_user(&mut self, user_id: &str) -> Result<RecordsErasure, RecordsError> {
        let mut tx = self.client.transaction().map_err(pg("begin erasure"))?;
        let tracking_events = tx
            .execute("DELETE FROM engine_tracking WHERE message_id IN (SELECT id FROM engine_outbox WHERE user_id = $1)", &[&user_id])
            .map_err(pg("erasing tracking"))?;
        let messages = tx
            .execute("DELETE FROM engine_outbox WHERE user_id = $1", &[&user_id])
            .map_err(pg("erasing messages"))?;
        let decisions = tx
            .execute(
                "DELETE FROM engine_decisions WHERE user_id = $1",
                &[&user_id],
            )
            .map_err(pg("erasing decisions"))?;
        let consents = tx
            .execute("DELETE FROM engine_consent WHERE user_id = $1", &[&user_id])
            .map_err(pg("erasing consent"))?;
        tx.commit().map_err(pg("commit erasure"))?;
        Ok(RecordsErasure {
            decisions,
            messages,
            consents,
            tracking_events,
        })
    }
}
