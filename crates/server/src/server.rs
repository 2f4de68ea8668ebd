//! Starting and stopping the live engine: opens the store (events, carts and the engine's
//! records, one connection), rebuilds the tracker, builds the channels, binds the listener,
//! and runs the HTTP server plus the engine's ticker (timers, then dispatch, then the daily
//! retention purge when it is due) until shut down.

use crate::auth::KeyRing;
use crate::channels::email::EmailChannel;
use crate::channels::log::LogChannel;
use crate::channels::webhook::WebhookChannel;
use crate::channels::{Channel, Channels};
use crate::clock::Clock;
use crate::config::{ConfigError, ServerConfig};
use crate::decide::{CouponSigner, Decider};
use crate::dispatcher::Dispatcher;
use crate::engine::{Engine, EngineError, EngineSettings};
use crate::http::{AppContext, router};
use crate::metrics::Metrics;
use crate::tracking::TokenSigner;
use cartback_store::{UserIds, ensure_user_ids};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("auth.keys: {0}")]
    Keys(String),
    #[error("opening the store at {location}: {source}")]
    Store {
        location: String,
        source: cartback_store::StoreError,
    },
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("channel: {0}")]
    Channel(String),
    #[error("{0}")]
    Policy(String),
    #[error("binding {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("background task: {0}")]
    Task(String),
    #[error(transparent)]
    Nats(#[from] crate::nats::NatsError),
    #[error("the store at {location}: {source}")]
    UserIds {
        location: String,
        source: cartback_store::UserIdsError,
    },
}

/// A started server; drop or [`RunningServer::shutdown`] to stop it.
pub struct RunningServer {
    pub addr: SocketAddr,
    /// The admin key generated because none was configured (print it once).
    pub generated_key: Option<String>,
    pub engine: Arc<Engine>,
    shutdown: watch::Sender<bool>,
    http: JoinHandle<std::io::Result<()>>,
    ticker: JoinHandle<()>,
    /// The NATS consumer, when `[nats] url` is set.
    nats: Option<JoinHandle<()>>,
}

impl RunningServer {
    /// Stops accepting requests, finishes the ones in flight and stops the ticker.
    pub async fn shutdown(self) -> Result<(), ServerError> {
        let _ = self.shutdown.send(true);
        let _ = self.ticker.await;
        if let Some(nats) = self.nats {
            let _ = nats.await;
        }
        match self.http.await {
            Ok(result) => result.map_err(|e| ServerError::Task(e.to_string())),
            Err(e) => Err(ServerError::Task(e.to_string())),
        }
    }

    /// Runs until the HTTP server stops (e.g. on a shutdown signal sent elsewhere).
    pub async fn wait_for(
        self,
        signal: impl std::future::Future<Output = ()>,
    ) -> Result<(), ServerError> {
        signal.await;
        self.shutdown().await
    }
}

async fn blocking<T: Send + 'static, E: Send + 'static>(
    f: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<Result<T, E>, ServerError> {
    Ok(crate::worker::off_runtime(f).await)
}

/// Starts everything described by `config`, reading time from `clock`.
pub async fn start(
    config: ServerConfig,
    clock: Arc<dyn Clock>,
) -> Result<RunningServer, ServerError> {
    start_with_channels(config, clock, Vec::new()).await
}

/// [`start`], with `extra` channels added after the configured ones (a channel with the
/// name of a configured one replaces it; the demo uses this).
pub async fn start_with_channels(
    config: ServerConfig,
    clock: Arc<dyn Clock>,
    extra: Vec<Arc<dyn Channel>>,
) -> Result<RunningServer, ServerError> {
    config.validate()?;
    // One TLS stack: rustls with ring (reqwest and lettre are built without a provider).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (keys, generated_key) =
        KeyRing::new(&config.auth.keys, config.rate_limit_per_key).map_err(ServerError::Keys)?;
    let location = config.db.clone();
    let store = blocking(move || cartback_store::open_for_small_transactions(&location))
        .await?
        .map_err(|source| ServerError::Store {
            location: config.db.clone(),
            source,
        })?;
    let pseudonymiser = config.privacy.pseudonymiser()?;
    let fingerprint = pseudonymiser.as_ref().map(|p| p.fingerprint().to_owned());
    let store = blocking(move || {
        let mut store = store;
        let wanted = match &fingerprint {
            Some(fingerprint) => UserIds::Pseudonymised { fingerprint },
            None => UserIds::AsIssued,
        };
        ensure_user_ids(&mut *store, wanted).map(|()| store)
    })
    .await?
    .map_err(|source| ServerError::UserIds {
        location: config.db.clone(),
        source,
    })?;
    if let Some(pseudonymiser) = &pseudonymiser {
        tracing::info!(
            key_fingerprint = pseudonymiser.fingerprint(),
            "shopper ids are pseudonymised"
        );
    }

    let metrics = Arc::new(Metrics::default());
    let settings = EngineSettings {
        tracker: config.tracker,
        max_decision_lag: config.max_decision_lag,
        retention: config.privacy.retention,
        pseudonymiser,
    };
    let decider_config = config.clone();
    let decider = blocking(move || Decider::from_config(&decider_config))
        .await?
        .map_err(|e| ServerError::Policy(e.to_string()))?;
    tracing::info!(policy = %decider.bundle().description, "decision policy loaded");
    let engine_metrics = metrics.clone();
    let engine_clock = clock.clone();
    let recommendation_model: Option<Arc<dyn cartback_recommend::Recommender>> =
        match config.flow.recommendation_model.as_str() {
            "" => None,
            path => Some(Arc::new(
                cartback_recommend::TrainedRecommender::load(std::path::Path::new(path)).map_err(
                    |e| ConfigError::Invalid {
                        field: "flow.recommendation_model".into(),
                        message: e.to_string(),
                    },
                )?,
            )),
        };
    let recommendations = config.flow.recommendations;
    let engine = Arc::new(
        blocking(move || {
            let mut engine = Engine::start(store, decider, engine_clock, settings, engine_metrics)?;
            engine.set_recommendations(recommendations, recommendation_model);
            Ok::<_, crate::engine::EngineError>(engine)
        })
        .await??,
    );

    let send_timeout =
        std::time::Duration::from_millis(config.dispatch.send_timeout.as_millis() as u64);
    let mut channels = Channels::default().with(Arc::new(LogChannel));
    let email = EmailChannel::new(&config.email, send_timeout)
        .map_err(|e| ServerError::Channel(e.to_string()))?;
    channels = channels.with(Arc::new(email));
    if !config.webhook.url.is_empty() {
        let webhook =
            WebhookChannel::new(&config.webhook.url, &config.webhook.secret, send_timeout)
                .map_err(|e| ServerError::Channel(e.to_string()))?;
        channels = channels.with(Arc::new(webhook));
    }
    for channel in extra {
        channels = channels.with(channel);
    }
    let secret = if config.signing_secret.is_empty() {
        rand::random::<[u8; 32]>().to_vec()
    } else {
        config.signing_secret.as_bytes().to_vec()
    };
    let signer = Arc::new(TokenSigner::new(&secret));
    let coupons = Arc::new(CouponSigner::new(&secret));
    let dispatcher = Dispatcher {
        engine: engine.clone(),
        channels,
        signer: signer.clone(),
        coupons: coupons.clone(),
        settings: config.dispatch.clone(),
        public_url: config.public_url.clone(),
        token_ttl: config.token_ttl,
        metrics: metrics.clone(),
    };

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: config.listen,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| ServerError::Bind {
        addr: config.listen,
        source,
    })?;
    let (shutdown, mut http_stop) = watch::channel(false);
    let nats = if config.nats.url.is_empty() {
        None
    } else {
        let source =
            crate::nats::NatsSource::connect(&config.nats, engine.clone(), metrics.clone()).await?;
        Some(tokio::spawn(source.run(shutdown.subscribe())))
    };
    let mut ticker_stop = shutdown.subscribe();
    let tick = std::time::Duration::from_millis(config.tick.as_millis() as u64);
    // SQLite: WAL checkpoints on their own thread, never inside the engine's commits.
    let checkpointer = crate::worker::WalCheckpointer::for_location(&config.db);
    let context = Arc::new(AppContext {
        engine: engine.clone(),
        keys,
        signer,
        coupons,
        config,
        metrics,
    });
    let app = router(context);
    let http = tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                let _ = http_stop.wait_for(|stop| *stop).await;
            })
            .await
    });
    let ticker_engine = engine.clone();
    let ticker = tokio::spawn(async move {
        let _checkpointer = checkpointer;
        let mut interval = tokio::time::interval(tick);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = interval.tick() => {}
                _ = ticker_stop.wait_for(|stop| *stop) => break,
            }
            let engine = ticker_engine.clone();
            if let Err(e) = crate::worker::off_runtime(move || engine.tick()).await {
                tracing::error!(error = %e, "engine tick failed");
            }
            if let Err(e) = dispatcher.run_once().await {
                tracing::error!(error = %e, "dispatch failed");
            }
            let engine = ticker_engine.clone();
            if let Err(e) = crate::worker::off_runtime(move || engine.purge_if_due()).await {
                tracing::error!(error = %e, "retention purge failed; retried in an hour");
            }
        }
    });
    Ok(RunningServer {
        addr,
        generated_key,
        engine,
        shutdown,
        http,
        ticker,
        nats,
    })
}
