//! Idempotent commands: a repeat of a command returns the first result
//! instead of running the handler again.
//!
//! The [`IdempotencyLayer`] derives a key per command (the caller's, the
//! command's own `idempotency_key()`, or a hash of the serialized command),
//! claims it in an [`IdempotencyStore`], runs the command once, and stores
//! its result for a TTL. Concurrent duplicates see the claim and either wait
//! for the result or get [`BusError::InProgress`], as configured.

use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use async_trait::async_trait;
use futures::future::{BoxFuture, FutureExt};
use sha2::{Digest, Sha256};
use tower::{Layer, Service};

use crate::bus::{BusError, CommandEnvelope};
use crate::command::CommandResult;
use crate::error::{BoxError, Error, Result};

pub mod memory;
#[cfg(feature = "postgres")]
pub mod postgres;
#[cfg(feature = "sqlite")]
pub mod sqlite;

pub use memory::InMemoryIdempotencyStore;
#[cfg(feature = "postgres")]
pub use postgres::PostgresIdempotencyStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteIdempotencyStore;

/// The state of a key after [`IdempotencyStore::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The caller now holds the key and must run the command, then call
    /// [`IdempotencyStore::complete`] or [`IdempotencyStore::release`].
    Started,
    /// The command ran before; here is its result.
    Completed(CommandResult),
    /// Someone else holds the key right now.
    InProgress,
}

/// Where idempotency records live. Claims must be atomic: of many
/// concurrent claims of one key, exactly one gets [`Claim::Started`].
#[async_trait]
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Claims `key` for `lease` (after which an unfinished claim may be
    /// taken over), or reports what is there.
    async fn claim(&self, key: &str, lease: Duration) -> Result<Claim>;

    /// Stores the result of a claimed key, kept for `ttl`.
    async fn complete(&self, key: &str, result: &CommandResult, ttl: Duration) -> Result<()>;

    /// Gives up a claim (the command failed), so a retry may run it.
    async fn release(&self, key: &str) -> Result<()>;
}

/// How the key of a command is found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KeyStrategy {
    /// Only keys given explicitly (in the context or by the command's
    /// `idempotency_key()`); other commands pass through.
    Explicit,
    /// The explicit key, else a SHA-256 of the command's name and JSON form:
    /// two equal commands are the same command.
    #[default]
    ExplicitOrHash,
}

/// What a duplicate does while the first is still running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InFlight {
    /// Fail at once with [`BusError::InProgress`].
    Reject,
    /// Poll every `poll` until the first finishes, for at most `timeout`;
    /// then fail with [`BusError::InProgress`].
    Wait {
        /// The longest wait.
        timeout: Duration,
        /// How often to look.
        poll: Duration,
    },
}

/// Makes commands idempotent; see the [module docs](self).
#[derive(Clone)]
pub struct IdempotencyLayer {
    store: Arc<dyn IdempotencyStore>,
    strategy: KeyStrategy,
    in_flight: InFlight,
    ttl: Duration,
    lease: Duration,
}

impl std::fmt::Debug for IdempotencyLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdempotencyLayer")
            .field("strategy", &self.strategy)
            .field("in_flight", &self.in_flight)
            .field("ttl", &self.ttl)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}

impl IdempotencyLayer {
    /// Hash-or-explicit keys, duplicates wait up to 10 s, results kept 24 h,
    /// claims leased for 30 s.
    pub fn new(store: impl IdempotencyStore) -> Self {
        IdempotencyLayer::shared(Arc::new(store))
    }

    /// Like [`IdempotencyLayer::new`] with a shared store.
    pub fn shared(store: Arc<dyn IdempotencyStore>) -> Self {
        IdempotencyLayer {
            store,
            strategy: KeyStrategy::default(),
            in_flight: InFlight::Wait {
                timeout: Duration::from_secs(10),
                poll: Duration::from_millis(5),
            },
            ttl: Duration::from_secs(24 * 3600),
            lease: Duration::from_secs(30),
        }
    }

    /// How keys are found.
    pub fn strategy(mut self, strategy: KeyStrategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// What in-flight duplicates do.
    pub fn in_flight(mut self, in_flight: InFlight) -> Self {
        self.in_flight = in_flight;
        self
    }

    /// How long results are kept.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How long an unfinished claim blocks others (covers a crash between
    /// claim and completion).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    fn key_of(&self, envelope: &CommandEnvelope) -> Result<Option<String>, BoxError> {
        let name = envelope.command_name();
        if let Some(key) = envelope.explicit_idempotency_key() {
            return Ok(Some(format!("{name}:{key}")));
        }
        match self.strategy {
            KeyStrategy::Explicit => Ok(None),
            KeyStrategy::ExplicitOrHash => {
                let json = envelope.command_json()?;
                let digest = Sha256::new()
                    .chain_update(name.as_bytes())
                    .chain_update([0u8])
                    .chain_update(&json)
                    .finalize();
                let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
                Ok(Some(format!("{name}:sha256:{hex}")))
            }
        }
    }
}

impl<S> Layer<S> for IdempotencyLayer {
    type Service = IdempotencyService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        IdempotencyService {
            inner,
            config: self.clone(),
        }
    }
}

/// The service of [`IdempotencyLayer`].
#[derive(Clone)]
pub struct IdempotencyService<S> {
    inner: S,
    config: IdempotencyLayer,
}

impl<S> std::fmt::Debug for IdempotencyService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdempotencyService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S> Service<CommandEnvelope> for IdempotencyService<S>
where
    S: Service<CommandEnvelope, Response = CommandResult, Error = BoxError>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = CommandResult;
    type Error = BoxError;
    type Future = BoxFuture<'static, Result<CommandResult, BoxError>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, envelope: CommandEnvelope) -> Self::Future {
        let key = match self.config.key_of(&envelope) {
            Ok(Some(key)) => key,
            Ok(None) => return self.inner.call(envelope).boxed(),
            Err(e) => return futures::future::ready(Err(e)).boxed(),
        };
        let config = self.config.clone();
        // The ready service is kept for this call and used only once the key
        // is claimed; `self` keeps a fresh clone.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        async move {
            let store = &config.store;
            let started_wait = tokio::time::Instant::now();
            loop {
                match store.claim(&key, config.lease).await.map_err(bus)? {
                    Claim::Completed(result) => return Ok(result),
                    Claim::Started => break,
                    Claim::InProgress => match config.in_flight {
                        InFlight::Reject => return Err(BusError::InProgress { key }.into()),
                        InFlight::Wait { timeout, poll } => {
                            if started_wait.elapsed() >= timeout {
                                return Err(BusError::InProgress { key }.into());
                            }
                            tokio::time::sleep(poll).await;
                        }
                    },
                }
            }
            match inner.call(envelope).await {
                Ok(result) => {
                    store
                        .complete(&key, &result, config.ttl)
                        .await
                        .map_err(bus)?;
                    Ok(result)
                }
                Err(e) => {
                    if let Err(release) = store.release(&key).await {
                        tracing::warn!(%key, error = %release, "could not release idempotency key");
                    }
                    Err(e)
                }
            }
        }
        .boxed()
    }
}

/// What a key that could not be claimed holds: a stored result (JSON) or,
/// without one, a claim in progress. Shared by the SQL stores.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn claim_outcome(stored_result: Option<String>) -> Result<Claim> {
    match stored_result {
        Some(json) => Ok(Claim::Completed(
            serde_json::from_str(&json).map_err(Error::backend)?,
        )),
        None => Ok(Claim::InProgress),
    }
}

fn bus(e: Error) -> BoxError {
    BusError::Store(e).into()
}
