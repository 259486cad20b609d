//! The relay: claims due messages from the store's outbox, hands them to
//! their publishers, and records each message's result on its own.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::Utc;
use futures::FutureExt;
use futures::future::join_all;
use rand::Rng;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::publisher::{OutboxMessage, PublishError, Publisher};
use crate::error::{Error, Result};
use crate::store::{LogChanges, OutboxClaim, OutboxRow, OutboxStore};

/// Messages acknowledged by their destination, by `publisher` and `route`.
pub const OUTBOX_DELIVERED_TOTAL: &str = "mink_outbox_delivered_total";
/// Failed attempts, by `publisher`, `route` and `kind` (`retry` or
/// `permanent`).
pub const OUTBOX_FAILED_TOTAL: &str = "mink_outbox_failed_total";
/// Messages moved to the dead letters, by `publisher` and `route`.
pub const OUTBOX_DEAD_LETTERED_TOTAL: &str = "mink_outbox_dead_lettered_total";
/// Messages waiting to be delivered (set by the relay when it goes idle).
pub const OUTBOX_PENDING: &str = "mink_outbox_pending";
/// Seconds from a message's event to its delivery, by `publisher`.
pub const OUTBOX_RELAY_LATENCY_SECONDS: &str = "mink_outbox_relay_latency_seconds";

/// How a relay works. The defaults suit most applications.
#[derive(Debug, Clone)]
pub struct RelayOptions {
    /// Messages claimed at once (default 100). A full batch is followed by
    /// the next one at once.
    pub batch_size: usize,
    /// `publish` calls in flight at once per batch (default 4); a batch's
    /// messages are split among them.
    pub concurrency: usize,
    /// How long a claim lasts (default 30 s): a relay that dies holding
    /// messages holds them this long. Keep it above the slowest delivery.
    pub claim_ttl: Duration,
    /// The wait after the first failed attempt (default 500 ms), doubled
    /// for each later one, with jitter.
    pub backoff_min: Duration,
    /// The longest wait between attempts (default 5 min).
    pub backoff_max: Duration,
    /// Attempts before a message goes to the dead letters (default 10).
    pub max_attempts: u32,
    /// The longest sleep between looks when no wake-up comes (default 1 s).
    pub poll_interval: Duration,
    /// How long delivered messages are kept (default 7 days); `None` keeps
    /// them.
    pub retention: Option<Duration>,
    /// How often delivered messages past the retention are purged (default
    /// 1 h).
    pub purge_interval: Duration,
}

impl Default for RelayOptions {
    fn default() -> Self {
        RelayOptions {
            batch_size: 100,
            concurrency: 4,
            claim_ttl: Duration::from_secs(30),
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(300),
            max_attempts: 10,
            poll_interval: Duration::from_secs(1),
            retention: Some(Duration::from_secs(7 * 24 * 3600)),
            purge_interval: Duration::from_secs(3600),
        }
    }
}

impl RelayOptions {
    /// The wait before the attempt after `attempts` failed ones: the
    /// exponential delay, with jitter in its upper half.
    pub fn backoff(&self, attempts: u32) -> Duration {
        let exponent = attempts.saturating_sub(1).min(30);
        let full = self
            .backoff_min
            .saturating_mul(1u32 << exponent)
            .min(self.backoff_max);
        let half = full / 2;
        half + full
            .saturating_sub(half)
            .mul_f64(rand::rng().random::<f64>())
    }

    fn check(&self) -> Result<()> {
        let problem = if self.batch_size == 0 {
            "`batch_size` must be at least 1"
        } else if self.concurrency == 0 {
            "`concurrency` must be at least 1"
        } else if self.max_attempts == 0 {
            "`max_attempts` must be at least 1"
        } else if self.claim_ttl.is_zero() {
            "`claim_ttl` must be above zero"
        } else if self.poll_interval.is_zero() {
            "`poll_interval` must be above zero"
        } else {
            return Ok(());
        };
        Err(Error::Configuration(format!("outbox relay: {problem}")))
    }
}

/// What one pass of the relay did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RelayPass {
    /// Messages claimed.
    pub claimed: usize,
    /// Messages delivered.
    pub delivered: usize,
    /// Messages that failed and wait for another attempt.
    pub retried: usize,
    /// Messages moved to the dead letters.
    pub dead_lettered: usize,
}

/// Relays the messages of one outbox store to their publishers.
///
/// Run it in the background with [`start`](Self::start) (the application
/// does when given an outbox), or pass by pass with
/// [`run_once`](Self::run_once). Several relays, in one process or many, may
/// work one outbox: claims keep them apart, and per-key order holds.
#[derive(Clone)]
pub struct Relay {
    store: Arc<dyn OutboxStore>,
    publishers: Arc<HashMap<String, Arc<dyn Publisher>>>,
    options: RelayOptions,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.publishers.keys().collect();
        names.sort();
        f.debug_struct("Relay")
            .field("publishers", &names)
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

impl Relay {
    /// A relay of `store`'s messages to `publishers` (by their names).
    /// Fails with [`Error::Configuration`] for options out of range or two
    /// publishers of one name.
    pub fn new(
        store: Arc<dyn OutboxStore>,
        publishers: Vec<Arc<dyn Publisher>>,
        options: RelayOptions,
    ) -> Result<Self> {
        options.check()?;
        let mut by_name = HashMap::new();
        for publisher in publishers {
            let name = publisher.name().to_owned();
            if by_name.insert(name.clone(), publisher).is_some() {
                return Err(Error::Configuration(format!(
                    "two outbox publishers are named `{name}`"
                )));
            }
        }
        Ok(Relay {
            store,
            publishers: Arc::new(by_name),
            options,
        })
    }

    /// The store it relays from.
    pub fn store(&self) -> &Arc<dyn OutboxStore> {
        &self.store
    }

    /// Its options.
    pub fn options(&self) -> &RelayOptions {
        &self.options
    }

    /// Whether it has a publisher named `name`.
    pub fn has_publisher(&self, name: &str) -> bool {
        self.publishers.contains_key(name)
    }

    /// Claims one batch and delivers it: each message is marked delivered,
    /// retried later or dead-lettered on its own result.
    pub async fn run_once(&self) -> Result<RelayPass> {
        let claim = self
            .store
            .claim(self.options.batch_size, self.options.claim_ttl)
            .await?;
        let mut pass = RelayPass {
            claimed: claim.rows.len(),
            ..RelayPass::default()
        };
        if claim.rows.is_empty() {
            return Ok(pass);
        }
        let OutboxClaim { token, rows, .. } = claim;
        // A claim holds at most one message per key, so they may all go at
        // once: order within a key is kept by the claims themselves.
        let mut groups: HashMap<String, Vec<OutboxRow>> = HashMap::new();
        for row in rows {
            groups.entry(row.publisher.clone()).or_default().push(row);
        }
        let mut chunks = Vec::new();
        for (name, rows) in groups {
            let size = rows.len().div_ceil(self.options.concurrency).max(1);
            let mut rows = rows.into_iter().peekable();
            while rows.peek().is_some() {
                let chunk: Vec<OutboxRow> = rows.by_ref().take(size).collect();
                chunks.push((name.clone(), chunk));
            }
        }
        let outcomes = join_all(
            chunks
                .into_iter()
                .map(|(name, rows)| self.deliver_chunk(token, name, rows)),
        )
        .await;
        for outcome in outcomes {
            let chunk = outcome?;
            pass.delivered += chunk.delivered;
            pass.retried += chunk.retried;
            pass.dead_lettered += chunk.dead_lettered;
        }
        Ok(pass)
    }

    /// Publishes one chunk with its publisher and records every result.
    async fn deliver_chunk(
        &self,
        token: uuid::Uuid,
        publisher_name: String,
        rows: Vec<OutboxRow>,
    ) -> Result<RelayPass> {
        let mut pass = RelayPass::default();
        let results: Vec<std::result::Result<(), PublishError>> =
            match self.publishers.get(&publisher_name) {
                None => rows
                    .iter()
                    .map(|_| {
                        Err(PublishError::retry(format!(
                            "this relay has no publisher named `{publisher_name}`"
                        )))
                    })
                    .collect(),
                Some(publisher) => {
                    let messages: Vec<OutboxMessage> = rows.iter().map(to_message).collect();
                    let sent = AssertUnwindSafe(publisher.publish(&messages))
                        .catch_unwind()
                        .await;
                    match sent {
                        Ok(mut results) => {
                            results.truncate(rows.len());
                            while results.len() < rows.len() {
                                results.push(Err(PublishError::retry(format!(
                                "publisher `{publisher_name}` returned no result for this message"
                            ))));
                            }
                            results
                        }
                        Err(_) => rows
                            .iter()
                            .map(|_| {
                                Err(PublishError::retry(format!(
                                    "publisher `{publisher_name}` panicked"
                                )))
                            })
                            .collect(),
                    }
                }
            };
        let mut delivered = Vec::new();
        let now = Utc::now();
        for (row, result) in rows.iter().zip(results) {
            let labels = [
                ("publisher", row.publisher.clone()),
                ("route", row.route.clone()),
            ];
            match result {
                Ok(()) => {
                    delivered.push(row.id);
                    metrics::counter!(OUTBOX_DELIVERED_TOTAL, &labels).increment(1);
                    let latency = (now - row.created_at).to_std().unwrap_or_default();
                    metrics::histogram!(OUTBOX_RELAY_LATENCY_SECONDS, "publisher" => row.publisher.clone())
                        .record(latency.as_secs_f64());
                }
                Err(PublishError::Retry(error)) => {
                    metrics::counter!(OUTBOX_FAILED_TOTAL, "publisher" => row.publisher.clone(), "route" => row.route.clone(), "kind" => "retry").increment(1);
                    let attempts = row.attempts + 1;
                    let error = error.to_string();
                    if attempts >= self.options.max_attempts {
                        let reason =
                            format!("gave up after {attempts} attempts; last error: {error}");
                        if self.store.dead_letter(token, row.id, &reason).await? {
                            pass.dead_lettered += 1;
                            metrics::counter!(OUTBOX_DEAD_LETTERED_TOTAL, &labels).increment(1);
                            tracing::warn!(message = %row.id, route = %row.route, %reason, "outbox message dead-lettered");
                        }
                    } else {
                        let delay = self.options.backoff(attempts);
                        if self.store.retry_later(token, row.id, &error, delay).await? {
                            pass.retried += 1;
                            tracing::debug!(message = %row.id, route = %row.route, attempts, ?delay, %error, "outbox message failed; will retry");
                        }
                    }
                }
                Err(PublishError::Permanent(error)) => {
                    metrics::counter!(OUTBOX_FAILED_TOTAL, "publisher" => row.publisher.clone(), "route" => row.route.clone(), "kind" => "permanent").increment(1);
                    let reason = error.to_string();
                    if self.store.dead_letter(token, row.id, &reason).await? {
                        pass.dead_lettered += 1;
                        metrics::counter!(OUTBOX_DEAD_LETTERED_TOTAL, &labels).increment(1);
                        tracing::warn!(message = %row.id, route = %row.route, %reason, "outbox message refused; dead-lettered");
                    }
                }
            }
        }
        if !delivered.is_empty() {
            pass.delivered = self.store.mark_delivered(token, &delivered).await? as usize;
        }
        Ok(pass)
    }

    /// Runs the relay in the background until [`RelayHandle::stop`]:
    /// a batch after each full one, otherwise at the next wake-up from
    /// `changes` (commits of the store) or after the poll interval.
    pub fn start(self, changes: LogChanges) -> RelayHandle {
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(self.run(changes, stopped));
        RelayHandle {
            inner: Arc::new(HandleInner {
                stop,
                task: Mutex::new(Some(task)),
            }),
        }
    }

    async fn run(self, mut changes: LogChanges, mut stopped: watch::Receiver<bool>) {
        let mut failures = 0u32;
        let mut next_purge = Instant::now();
        loop {
            if *stopped.borrow() {
                return;
            }
            changes.mark_seen();
            // A pass under way finishes: stopping never leaves a delivered
            // message unrecorded.
            let pass = self.run_once().await;
            let pause = match pass {
                Ok(pass) if pass.claimed >= self.options.batch_size => {
                    failures = 0;
                    continue;
                }
                Ok(_) => {
                    failures = 0;
                    self.idle_chores(&mut next_purge).await;
                    self.options.poll_interval
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let pause = self
                        .options
                        .backoff(failures)
                        .min(self.options.poll_interval * 10);
                    tracing::warn!(%error, ?pause, "outbox relay pass failed");
                    pause
                }
            };
            tokio::select! {
                _ = changes.wait(pause) => {}
                _ = stopped.changed() => return,
            }
        }
    }

    /// When idle: updates the pending gauge and purges when due.
    async fn idle_chores(&self, next_purge: &mut Instant) {
        if let Ok(counts) = self.store.counts().await {
            metrics::gauge!(OUTBOX_PENDING).set(counts.pending as f64);
        }
        let Some(retention) = self.options.retention else {
            return;
        };
        if Instant::now() < *next_purge {
            return;
        }
        *next_purge = Instant::now() + self.options.purge_interval;
        match self.store.purge_delivered(retention).await {
            Ok(0) => {}
            Ok(purged) => tracing::debug!(purged, "outbox: delivered messages purged"),
            Err(error) => tracing::warn!(%error, "outbox: purging delivered messages failed"),
        }
    }
}

/// The message a publisher sees for `row`.
fn to_message(row: &OutboxRow) -> OutboxMessage {
    OutboxMessage {
        id: row.id,
        route: row.route.clone(),
        destination: row.destination.clone(),
        key: row.key.clone(),
        event_id: row.event_id,
        event_type: row.event_type.clone(),
        stream_id: row.stream_id.clone(),
        position: row.position,
        payload: row.payload.clone(),
        content_type: row.content_type.clone(),
        headers: row.headers.clone(),
        attempts: row.attempts,
        created_at: row.created_at,
    }
}

/// A relay running in the background. Clones share it.
#[derive(Debug, Clone)]
pub struct RelayHandle {
    inner: Arc<HandleInner>,
}

#[derive(Debug)]
struct HandleInner {
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl RelayHandle {
    /// Stops the relay and waits for it: a pass under way finishes and
    /// records its results first. (A relay that dies instead leaves its
    /// claimed messages to be claimed again once their claim expires.)
    pub async fn stop(&self) {
        self.inner.stop.send_replace(true);
        let task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }

    /// Whether it is still running.
    pub fn is_running(&self) -> bool {
        self.inner
            .task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .as_ref()
            .is_some_and(|t| !t.is_finished())
    }
}
