//! Idempotent commands: a repeat of a command returns the first result
//! instead of running the handler again.
//!
//! The [`IdempotencyLayer`] derives a key per command (the caller's, the
//! command's own `idempotency_key()`, or a hash of the serialized command),
//! claims it in an [`IdempotencyStore`], runs the command once, and stores
//! its result for a TTL. Concurrent duplicates see the claim and either wait
//! for the result or get [`DispatchError::InProgress`], as configured.
//!
//! Keys are namespaced by command: the stored key is `"{command name}:{key}"`
//! (or `"{command name}:sha256:{hex}"` for a hashed command), so two command
//! types given the same caller key never share a record.
//!
//! When the key's records live in the event store's own database (the store
//! came from `store.idempotency()`), the result of a command that appends is
//! written in the append's own transaction: the events and the result commit
//! together or not at all. A caller whose connection died after that commit
//! gets an error, and its retry with the same key finds the result instead of
//! running the handler again. Commands that append nothing, plain handlers,
//! and records kept in another database get their result stored after the
//! command, as a separate step.
//!
//! A command that fails, panics, or is cancelled (a timeout layer outside
//! this one drops it) releases its key, whatever the order of the layers, so
//! a retry runs it again. Releasing never removes a recorded result.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};
use std::time::Duration;

use futures::future::{BoxFuture, FutureExt};
use sha2::{Digest, Sha256};
use tower::{Layer, Service};

use super::envelope::CommandEnvelope;
use super::middleware::take_ready;
use crate::command::{CommandError, CommandResult, DispatchError, ResultRecord};
use crate::error::Error;
use crate::store::{Claim, IdempotencyStore};

/// Counter: commands answered with the result stored by an earlier run
/// of the same key, without running the handler (label `command`).
pub const IDEMPOTENCY_HITS_TOTAL: &str = "mink_idempotency_hits_total";

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
    /// Fail at once with [`DispatchError::InProgress`].
    Reject,
    /// Poll every `poll` until the first finishes, for at most `timeout`;
    /// then fail with [`DispatchError::InProgress`].
    Wait {
        /// The longest wait.
        timeout: Duration,
        /// How often to look.
        poll: Duration,
    },
}

/// Makes commands idempotent: a repeat of a command returns the result of
/// its first run instead of running the handler again.
///
/// The key is the caller's ([`Context::idempotency_key`](crate::Context::idempotency_key)),
/// the command's own `idempotency_key()`, or (with
/// [`KeyStrategy::ExplicitOrHash`]) a SHA-256 of the command's name and
/// JSON form, namespaced by command name. The first run claims the key in
/// the [`IdempotencyStore`]; duplicates in flight wait or fail as
/// [`InFlight`] says. When the store shares the event store's database, a
/// command's result is recorded in its append's transaction. A command
/// that fails, panics or is cancelled releases its key, so a retry runs it
/// again. Each stored result returned counts in
/// [`IDEMPOTENCY_HITS_TOTAL`].
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
    /// claims leased for 30 s. The store is usually the event store's own:
    /// `IdempotencyLayer::new(store.idempotency())`.
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

    fn key_of(&self, envelope: &CommandEnvelope) -> Result<Option<String>, CommandError> {
        let name = envelope.command_name();
        if let Some(key) = envelope.explicit_idempotency_key() {
            return Ok(Some(format!("{name}:{key}")));
        }
        match self.strategy {
            KeyStrategy::Explicit => Ok(None),
            KeyStrategy::ExplicitOrHash => {
                let json = envelope.command_json().map_err(DispatchError::Middleware)?;
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
    S: Service<CommandEnvelope, Response = CommandResult, Error = CommandError>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    type Response = CommandResult;
    type Error = CommandError;
    type Future = BoxFuture<'static, Result<CommandResult, CommandError>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), CommandError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut envelope: CommandEnvelope) -> Self::Future {
        let key = match self.config.key_of(&envelope) {
            Ok(Some(key)) => key,
            Ok(None) => return self.inner.call(envelope).boxed(),
            Err(e) => return futures::future::ready(Err(e)).boxed(),
        };
        let config = self.config.clone();
        let command = envelope.command_name();
        // The ready service is kept for this call and used only once the key
        // is claimed.
        let mut inner = take_ready(&mut self.inner);
        async move {
            let store = &config.store;
            if let Some(result) = wait_for_claim(&config, &key).await? {
                metrics::counter!(IDEMPOTENCY_HITS_TOTAL, "command" => command).increment(1);
                return Ok(result);
            }
            let record = Arc::new(ResultRecord::new(
                Arc::clone(store),
                key.clone(),
                config.ttl,
            ));
            envelope.record_result_in(Arc::clone(&record));
            let mut guard = ReleaseOnDrop {
                store: Arc::clone(store),
                key: Some(key.clone()),
            };
            // A panic below (while building or polling the handler's
            // future) must not leave the key claimed until the lease ends.
            let outcome = match std::panic::catch_unwind(AssertUnwindSafe(|| inner.call(envelope)))
            {
                Ok(fut) => AssertUnwindSafe(fut).catch_unwind().await,
                Err(panic) => Err(panic),
            };
            guard.key = None;
            match outcome {
                Ok(Ok(result)) => {
                    // Commands that appended have their result recorded in
                    // the same transaction; the rest (no events, plain
                    // handlers, records in another database) are recorded
                    // here.
                    if !record.was_recorded() {
                        let bytes = serde_json::to_vec(&result).map_err(Error::backend)?;
                        store.complete(&key, &bytes, config.ttl).await?;
                    }
                    Ok(result)
                }
                Ok(Err(e)) => {
                    release(&**store, &key).await;
                    Err(e)
                }
                Err(panic) => {
                    release(&**store, &key).await;
                    std::panic::resume_unwind(panic)
                }
            }
        }
        .boxed()
    }
}

/// Claims `key`, waiting for a duplicate in flight as configured. Returns
/// the stored result of an earlier run, or `None` once this call holds the
/// key.
async fn wait_for_claim(
    config: &IdempotencyLayer,
    key: &str,
) -> Result<Option<CommandResult>, CommandError> {
    let started_wait = tokio::time::Instant::now();
    loop {
        match config.store.claim(key, config.lease).await? {
            Claim::Completed(bytes) => {
                return Ok(Some(
                    serde_json::from_slice(&bytes).map_err(Error::backend)?,
                ));
            }
            Claim::Started => return Ok(None),
            Claim::InProgress => match config.in_flight {
                InFlight::Reject => return Err(in_progress(key)),
                InFlight::Wait { timeout, poll } => {
                    if started_wait.elapsed() >= timeout {
                        return Err(in_progress(key));
                    }
                    tokio::time::sleep(poll).await;
                }
            },
        }
    }
}

fn in_progress(key: &str) -> CommandError {
    DispatchError::InProgress {
        key: key.to_owned(),
    }
}

/// Releases a claim; a failure only delays a retry until the lease ends.
async fn release(store: &dyn IdempotencyStore, key: &str) {
    if let Err(error) = store.release(key).await {
        tracing::warn!(%key, %error, "could not release idempotency key");
    }
}

/// Releases the key when the command's future is dropped before it
/// finished (a timeout layer outside this one gave up on it).
struct ReleaseOnDrop {
    store: Arc<dyn IdempotencyStore>,
    key: Option<String>,
}

impl Drop for ReleaseOnDrop {
    fn drop(&mut self) {
        let Some(key) = self.key.take() else { return };
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let store = Arc::clone(&self.store);
            runtime.spawn(async move { release(&*store, &key).await });
        }
    }
}
