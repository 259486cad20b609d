//! The outbox on every store: routes in the unit of work, the relay,
//! per-key order, retries, dead letters.
//!
//! Each scenario in `scenarios.rs` runs on the in-memory store, on SQLite
//! and on PostgreSQL (skipped plainly without `MINK_TEST_POSTGRES_URL`).
//! The publisher here is a real implementation of the `Publisher` trait
//! that records what it is given and fails on request; the brokers' own
//! publishers are tested in `publishers`.

mod configuration;
mod kill;
mod scenarios;
mod wake;

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use mink::outbox::{
    Outbox, OutboxMessage, PublishError, Publisher, Relay, RelayOptions, Route, message_id,
};
use mink::store::OutboxStore;
use mink::{EventStore, ExpectedVersion, NewEvent};
use serde_json::json;
use uuid::Uuid;

use crate::postgres::support::{TestStore, test_store};

/// How long a test waits for something that must happen before it fails
/// instead of hanging.
pub(crate) const PATIENCE: Duration = Duration::from_secs(90);

/// The name of the recording publisher.
pub(crate) const RECORDER: &str = "recorder";

/// A store under test, with what keeps it alive.
pub(crate) struct Backend {
    pub(crate) store: Arc<dyn EventStore>,
    _postgres: Option<TestStore>,
    _dir: Option<tempfile::TempDir>,
}

impl Backend {
    pub(crate) async fn memory() -> Backend {
        Backend {
            store: Arc::new(mink::InMemoryStore::new()),
            _postgres: None,
            _dir: None,
        }
    }

    pub(crate) async fn sqlite() -> Backend {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = mink::SqliteStore::open(dir.path().join("outbox.db"))
            .await
            .expect("a SQLite store");
        Backend {
            store: Arc::new(store),
            _postgres: None,
            _dir: Some(dir),
        }
    }

    pub(crate) async fn postgres() -> Option<Backend> {
        let test = test_store().await?;
        Some(Backend {
            store: Arc::new(test.store.clone()),
            _postgres: Some(test),
            _dir: None,
        })
    }

    /// The SQLite file, for a SQLite backend.
    pub(crate) fn sqlite_path(&self) -> Option<std::path::PathBuf> {
        self._dir.as_ref().map(|d| d.path().join("outbox.db"))
    }

    /// The PostgreSQL schema, for a PostgreSQL backend.
    pub(crate) fn postgres_schema(&self) -> Option<String> {
        self._postgres.as_ref().map(|t| t.store.schema().to_owned())
    }

    /// The outbox table of the store.
    pub(crate) fn outbox(&self) -> Arc<dyn OutboxStore> {
        self.store
            .outbox_store()
            .expect("the store keeps an outbox")
    }

    /// The store wrapped so that its appends write `routes`' messages.
    pub(crate) fn with_routes(&self, routes: Vec<Route>) -> Arc<dyn EventStore> {
        let mut outbox = Outbox::new().run_relay(false);
        for route in routes {
            outbox = outbox.route(route);
        }
        outbox
            .attach(Arc::clone(&self.store))
            .expect("attach the outbox")
            .store
    }

    /// The store wrapped with one route taking every event to the recorder.
    pub(crate) fn with_all_routed(&self) -> Arc<dyn EventStore> {
        self.with_routes(vec![all_route()])
    }
}

/// A route named `all`: every event, to the recorder, keyed by stream.
pub(crate) fn all_route() -> Route {
    Route::filter("all", |_| true).to(RECORDER, "everything")
}

/// The id of the message route `all` writes for `event_id`.
pub(crate) fn all_id(event_id: Uuid) -> Uuid {
    message_id(event_id, "all")
}

/// Options for tests: small waits, so that retries come quickly.
pub(crate) fn quick_options() -> RelayOptions {
    RelayOptions {
        batch_size: 10,
        concurrency: 2,
        claim_ttl: Duration::from_secs(60),
        backoff_min: Duration::from_millis(1),
        backoff_max: Duration::from_millis(20),
        max_attempts: 5,
        poll_interval: Duration::from_millis(20),
        retention: None,
        purge_interval: Duration::from_secs(3600),
    }
}

/// Appends one event numbered `n` to `stream`; returns its event id.
pub(crate) async fn append(store: &Arc<dyn EventStore>, stream: &str, n: u64) -> Uuid {
    let event = NewEvent::json("Numbered", &json!({ "stream": stream, "n": n })).expect("json");
    let id = event.event_id;
    store
        .append_to_stream(stream, ExpectedVersion::Any, vec![event])
        .await
        .expect("append");
    id
}

/// How the recorder answers a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fail {
    Retry,
    Permanent,
}

/// What the recorder saw.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    /// Every message acknowledged, in the order acknowledged.
    pub(crate) delivered: Vec<OutboxMessage>,
    /// Every attempt, delivered or not: message id and its `attempts`.
    pub(crate) attempts: Vec<(Uuid, u32)>,
    /// Keys being published right now.
    in_flight: HashSet<String>,
    /// Keys found published twice at once (must stay empty).
    pub(crate) overlaps: Vec<String>,
}

/// A publisher that records what it is given and fails when told to.
#[derive(Default)]
pub(crate) struct Recorder {
    pub(crate) seen: Mutex<Seen>,
    /// Answers to give, per message id, before acknowledging it.
    script: Mutex<HashMap<Uuid, VecDeque<Fail>>>,
    /// Messages that fail every time.
    always: Mutex<HashMap<Uuid, Fail>>,
    /// A pause inside each publish, so that relays overlap.
    pause: Option<Duration>,
}

impl Recorder {
    pub(crate) fn new() -> Arc<Recorder> {
        Arc::new(Recorder::default())
    }

    pub(crate) fn pausing(pause: Duration) -> Arc<Recorder> {
        Arc::new(Recorder {
            pause: Some(pause),
            ..Recorder::default()
        })
    }

    /// Fails message `id` with `fail` the next `times` times it is sent.
    pub(crate) fn fail_next(&self, id: Uuid, fail: Fail, times: usize) {
        let mut script = self.script.lock().unwrap();
        let queue = script.entry(id).or_default();
        for _ in 0..times {
            queue.push_back(fail);
        }
    }

    /// Fails message `id` every time.
    pub(crate) fn fail_always(&self, id: Uuid, fail: Fail) {
        self.always.lock().unwrap().insert(id, fail);
    }

    /// Stops failing message `id`.
    pub(crate) fn heal(&self, id: Uuid) {
        self.always.lock().unwrap().remove(&id);
    }

    pub(crate) fn delivered_ids(&self) -> Vec<Uuid> {
        self.seen
            .lock()
            .unwrap()
            .delivered
            .iter()
            .map(|m| m.id)
            .collect()
    }

    pub(crate) fn attempts_of(&self, id: Uuid) -> Vec<u32> {
        self.seen
            .lock()
            .unwrap()
            .attempts
            .iter()
            .filter(|(m, _)| *m == id)
            .map(|(_, a)| *a)
            .collect()
    }

    /// The delivered `n`s of each stream, in delivery order.
    pub(crate) fn delivered_per_stream(&self) -> HashMap<String, Vec<u64>> {
        let mut per = HashMap::<String, Vec<u64>>::new();
        for message in &self.seen.lock().unwrap().delivered {
            let body: serde_json::Value =
                serde_json::from_slice(&message.payload).expect("a JSON body");
            per.entry(message.key.clone())
                .or_default()
                .push(body["n"].as_u64().expect("n"));
        }
        per
    }

    fn answer(&self, id: Uuid) -> Option<Fail> {
        if let Some(fail) = self.always.lock().unwrap().get(&id) {
            return Some(*fail);
        }
        self.script
            .lock()
            .unwrap()
            .get_mut(&id)
            .and_then(VecDeque::pop_front)
    }
}

#[async_trait]
impl Publisher for Recorder {
    fn name(&self) -> &str {
        RECORDER
    }

    async fn publish(&self, messages: &[OutboxMessage]) -> Vec<Result<(), PublishError>> {
        {
            let mut seen = self.seen.lock().unwrap();
            for m in messages {
                if !seen.in_flight.insert(m.key.clone()) {
                    seen.overlaps.push(m.key.clone());
                }
            }
        }
        if let Some(pause) = self.pause {
            tokio::time::sleep(pause).await;
        }
        let mut results = Vec::new();
        let mut seen = self.seen.lock().unwrap();
        for m in messages {
            seen.in_flight.remove(&m.key);
            seen.attempts.push((m.id, m.attempts));
            match self.answer(m.id) {
                None => {
                    seen.delivered.push(m.clone());
                    results.push(Ok(()));
                }
                Some(Fail::Retry) => results.push(Err(PublishError::retry("told to fail"))),
                Some(Fail::Permanent) => {
                    results.push(Err(PublishError::permanent("told to refuse")))
                }
            }
        }
        results
    }
}

/// A relay of `backend`'s outbox to `recorder`.
pub(crate) fn relay(backend: &Backend, recorder: &Arc<Recorder>, options: RelayOptions) -> Relay {
    let publisher: Arc<dyn Publisher> = Arc::clone(recorder) as Arc<dyn Publisher>;
    Relay::new(backend.outbox(), vec![publisher], options).expect("a relay")
}

/// Runs passes of `relay` until `done` holds, failing after [`PATIENCE`].
pub(crate) async fn run_until(relay: &Relay, what: &str, done: impl AsyncFn() -> bool) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if done().await {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited too long for {what}"
        );
        let pass = relay.run_once().await.expect("a relay pass");
        if pass.claimed == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Runs passes of `relay` until no message waits, failing after
/// [`PATIENCE`].
pub(crate) async fn drain(relay: &Relay, outbox: &Arc<dyn OutboxStore>) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !nothing_pending(outbox).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited too long for every message"
        );
        let pass = relay.run_once().await.expect("a relay pass");
        if pass.claimed == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Whether no message waits.
pub(crate) async fn nothing_pending(outbox: &Arc<dyn OutboxStore>) -> bool {
    outbox.counts().await.expect("counts").pending == 0
}

/// Declares each scenario as a test on every store.
macro_rules! on_every_store {
    ($($name:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::scenarios::$name(super::Backend::memory().await).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::scenarios::$name(super::Backend::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let Some(backend) = super::Backend::postgres().await else {
                        return;
                    };
                    super::scenarios::$name(backend).await;
                }
            )*
        }
    };
}

on_every_store!(
    rows_commit_with_their_events_and_not_on_a_conflict,
    a_failing_transform_fails_the_append_with_a_typed_error,
    per_key_order_holds_across_an_injected_failure,
    two_relays_racing_keep_per_key_order,
    a_failed_message_waits_then_succeeds,
    a_permanent_failure_is_dead_lettered_and_requeue_delivers_it,
    running_out_of_attempts_dead_letters,
    an_expired_claim_is_reclaimed,
    delivered_messages_are_purged,
    a_failure_in_a_batch_does_not_resend_its_neighbours,
    per_key_order_matches_a_model_under_random_failures,
    the_application_relay_wakes_on_commit,
);
