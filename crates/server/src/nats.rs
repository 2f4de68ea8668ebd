//! The NATS JetStream event source (`[nats]`): a durable pull consumer on the configured
//! stream feeds events into the engine beside the HTTP API.
//!
//! Each fetched batch of messages is parsed like an HTTP body (`cartback_ingest`: one JSON
//! event, an array, NDJSON lines, or Segment calls) and its valid events are stored in one
//! group commit with the HTTP requests waiting beside them. Only then are the messages
//! acknowledged: a crash in between redelivers them, and their events are stored once
//! (event ids, derived from the content when absent). Invalid records are logged with the
//! message's subject and stream sequence, their line and field, and counted in
//! `cartback_events_rejected_total`; a message that is not JSON at all is terminated (its
//! redelivery could not fix it). A batch the store could not take is negatively
//! acknowledged and redelivered after `retry_after`.

use crate::config::NatsConfig;
use crate::engine::Engine;
use crate::metrics::Metrics;
use async_nats::jetstream::consumer::{AckPolicy, PullConsumer, pull};
use async_nats::jetstream::{self, AckKind, Message, stream};
use cartback_ingest::{Format, ParseOptions, parse_json_payload};
use futures_util::StreamExt;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::watch;

/// How long one fetch waits for messages before it returns what it has.
const FETCH_WAIT: Duration = Duration::from_millis(500);

#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error("connecting to NATS at {url}: {message}")]
    Connect { url: String, message: String },
    #[error("NATS stream `{stream}`, consumer `{durable}`: {message}")]
    Setup {
        stream: String,
        durable: String,
        message: String,
    },
    #[error("fetching from NATS stream `{stream}`: {message}")]
    Fetch { stream: String, message: String },
}

/// What one batch did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    pub messages: usize,
    pub events: usize,
    pub rejected: usize,
    /// Messages that were not JSON at all (terminated).
    pub unreadable: usize,
    /// The store refused the batch: its messages were negatively acknowledged.
    pub redelivered: bool,
}

/// A connected consumer, ready to [`NatsSource::run`].
pub struct NatsSource {
    consumer: PullConsumer,
    engine: Arc<Engine>,
    metrics: Arc<Metrics>,
    format: Format,
    batch: usize,
    retry_after: Duration,
    stream: String,
}

impl NatsSource {
    /// Connects, creates the stream when it does not exist, and binds the durable consumer.
    pub async fn connect(
        config: &NatsConfig,
        engine: Arc<Engine>,
        metrics: Arc<Metrics>,
    ) -> Result<NatsSource, NatsError> {
        let client = async_nats::connect(&config.url)
            .await
            .map_err(|e| NatsError::Connect {
                url: config.url.clone(),
                message: e.to_string(),
            })?;
        let setup = |message: String| NatsError::Setup {
            stream: config.stream.clone(),
            durable: config.durable.clone(),
            message,
        };
        let context = jetstream::new(client);
        let stream = context
            .get_or_create_stream(stream::Config {
                name: config.stream.clone(),
                subjects: config.subjects.clone(),
                ..Default::default()
            })
            .await
            .map_err(|e| setup(e.to_string()))?;
        let consumer: PullConsumer = stream
            .get_or_create_consumer(
                &config.durable,
                pull::Config {
                    durable_name: Some(config.durable.clone()),
                    ack_policy: AckPolicy::Explicit,
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| setup(e.to_string()))?;
        let format = match config.format.as_str() {
            "segment" => Format::Segment,
            _ => Format::Ndjson,
        };
        Ok(NatsSource {
            consumer,
            engine,
            metrics,
            format,
            batch: config.batch,
            retry_after: Duration::from_millis(config.retry_after.as_millis().max(0) as u64),
            stream: config.stream.clone(),
        })
    }

    /// Consumes until `stop` turns true. A failed fetch (NATS down) is logged and retried
    /// after a pause; the client reconnects on its own.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        tracing::info!(stream = %self.stream, "consuming events from NATS");
        loop {
            let outcome = tokio::select! {
                outcome = self.run_once() => outcome,
                _ = stop.wait_for(|stop| *stop) => break,
            };
            if let Err(error) = outcome {
                tracing::warn!(%error, "NATS fetch failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(self.retry_after) => {}
                    _ = stop.wait_for(|stop| *stop) => break,
                }
            }
        }
    }

    /// Fetches one batch (waiting up to half a second for messages), stores its events and
    /// acknowledges it.
    pub async fn run_once(&self) -> Result<BatchOutcome, NatsError> {
        let fetch_error = |message: String| NatsError::Fetch {
            stream: self.stream.clone(),
            message,
        };
        let mut fetched = self
            .consumer
            .fetch()
            .max_messages(self.batch)
            .expires(FETCH_WAIT)
            .messages()
            .await
            .map_err(|e| fetch_error(e.to_string()))?;
        let mut messages: Vec<Message> = Vec::new();
        while let Some(message) = fetched.next().await {
            messages.push(message.map_err(|e| fetch_error(e.to_string()))?);
        }
        let mut outcome = BatchOutcome {
            messages: messages.len(),
            ..BatchOutcome::default()
        };
        if messages.is_empty() {
            return Ok(outcome);
        }
        let options = ParseOptions::at(self.engine.now());
        let mut events = Vec::new();
        let mut readable = Vec::with_capacity(messages.len());
        for message in messages {
            let sequence = message.info().map(|i| i.stream_sequence).unwrap_or(0);
            match parse_json_payload(self.format, &message.payload, &options) {
                Ok(batch) => {
                    for rejection in &batch.rejections {
                        tracing::warn!(
                            subject = %message.subject,
                            sequence,
                            %rejection,
                            "NATS message: record rejected"
                        );
                    }
                    outcome.rejected += batch.rejections.len();
                    events.extend(batch.events);
                    readable.push(message);
                }
                Err(error) => {
                    tracing::warn!(
                        subject = %message.subject,
                        sequence,
                        %error,
                        "NATS message is not readable; terminated"
                    );
                    outcome.unreadable += 1;
                    acknowledge(&message, AckKind::Term).await;
                }
            }
        }
        self.metrics.events_rejected.fetch_add(
            (outcome.rejected + outcome.unreadable) as u64,
            Ordering::Relaxed,
        );
        outcome.events = events.len();
        let stored = if events.is_empty() {
            Ok(())
        } else {
            self.engine.ingest_queued(events).await.map(|_| ())
        };
        let kind = match stored {
            Ok(()) => AckKind::Ack,
            Err(error) => {
                tracing::error!(%error, "events from NATS not stored; redelivered later");
                outcome.redelivered = true;
                AckKind::Nak(Some(self.retry_after))
            }
        };
        for message in &readable {
            acknowledge(message, kind).await;
        }
        Ok(outcome)
    }
}

/// Acknowledges (or naks, or terminates) one message; a failure only means the server
/// redelivers it after its ack wait, and the events are stored once anyway.
async fn acknowledge(message: &Message, kind: AckKind) {
    if let Err(error) = message.ack_with(kind).await {
        tracing::warn!(%error, subject = %message.subject, "NATS acknowledgement failed");
    }
}
