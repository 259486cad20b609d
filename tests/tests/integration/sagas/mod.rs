//! Sagas run by the saga manager on every store: exactly-once effects,
//! association lookup, deadlines, compensation, operators, leases.
//!
//! Each scenario in `scenarios` runs on memory, SQLite and PostgreSQL
//! through a [`Target`]: a store and the means to build applications on
//! it. The sagas and the ledger their commands go to are in
//! `mink_tests::saga_domain`: every command that runs appends one event to
//! a ledger stream, so a command run twice shows as a duplicate entry.

mod kill;
mod scenarios;

use std::sync::Arc;
use std::time::Duration;

use mink::adapters::memory::InMemoryStore;
use mink::adapters::sqlite::SqliteStore;
use mink::saga::{ManualClock, SagaOptions};
use mink::store::{SagaQuery, SagaRecord, SagaStatus};
use mink::{EventStore, ExpectedVersion, Mink, NewEvent};
use mink_tests::saga_domain::{Audit, Checkout, ledger_stream};

use crate::postgres::support;

/// How long a scenario waits for something that must happen.
pub(crate) const PATIENCE: Duration = Duration::from_secs(30);

/// A store to run sagas on, kept alive for one scenario.
pub(crate) struct Target {
    pub store: Arc<dyn EventStore>,
    _keep: Box<dyn std::any::Any + Send + Sync>,
}

impl Target {
    pub(crate) fn memory() -> Target {
        Target {
            store: Arc::new(InMemoryStore::new()),
            _keep: Box::new(()),
        }
    }

    pub(crate) async fn sqlite() -> Target {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = SqliteStore::open(dir.path().join("sagas.db"))
            .await
            .expect("a SQLite store");
        Target {
            store: Arc::new(store),
            _keep: Box::new(dir),
        }
    }

    pub(crate) async fn postgres() -> Option<Target> {
        let test = support::test_store().await?;
        Some(Target {
            store: Arc::new(test.store.clone()),
            _keep: Box::new(test),
        })
    }

    /// An application running both sagas, going by `clock`.
    pub(crate) async fn app(&self, clock: &ManualClock) -> Mink {
        Mink::builder()
            .shared_store(Arc::clone(&self.store))
            .registered_projections(false)
            .saga::<Checkout>()
            .saga::<Audit>()
            .saga_clock(clock.clone())
            .saga_options(quick_options())
            .build()
            .await
            .expect("an application with sagas")
    }

    /// Appends one event, as JSON.
    pub(crate) async fn append<E: serde::Serialize>(
        &self,
        stream: &str,
        event_type: &str,
        event: &E,
    ) {
        self.store
            .append_to_stream(
                stream,
                ExpectedVersion::Any,
                vec![NewEvent::json(event_type, event).expect("a JSON event")],
            )
            .await
            .expect("an append");
    }

    /// The notes in the ledger of `account`, in order (undos prefixed
    /// `undone:`).
    pub(crate) async fn ledger(&self, account: &str) -> Vec<String> {
        self.store
            .read_stream_forward(&ledger_stream(account), 1, 10_000)
            .await
            .expect("a stream read")
            .iter()
            .map(|e| {
                let body: serde_json::Value =
                    serde_json::from_slice(&e.payload).expect("a JSON ledger event");
                let note = body["note"].as_str().unwrap_or_default().to_owned();
                if e.event_type == "sagas.Undone" {
                    format!("undone:{note}")
                } else {
                    note
                }
            })
            .collect()
    }
}

/// Short polls and quick retries: the scenarios wait on outcomes, never on
/// time.
pub(crate) fn quick_options() -> SagaOptions {
    SagaOptions {
        poll_interval: Duration::from_millis(20),
        lease_ttl: Duration::from_secs(2),
        backoff_initial: Duration::from_millis(5),
        backoff_max: Duration::from_millis(50),
        ..SagaOptions::default()
    }
}

/// Polls `check` until it holds, failing after [`PATIENCE`] with `what`.
pub(crate) async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let started = std::time::Instant::now();
    while !check().await {
        assert!(started.elapsed() < PATIENCE, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// The sagas of one type.
pub(crate) async fn sagas_of(app: &Mink, saga_type: &str) -> Vec<SagaRecord> {
    app.sagas()
        .list(&SagaQuery {
            saga_type: Some(saga_type.to_owned()),
            ..SagaQuery::default()
        })
        .await
        .expect("a saga list")
}

/// The one saga of `saga_type` with `status`, waiting for it.
pub(crate) async fn wait_for_status(app: &Mink, saga_type: &str, status: SagaStatus) -> SagaRecord {
    let started = std::time::Instant::now();
    loop {
        if let Some(found) = sagas_of(app, saga_type)
            .await
            .into_iter()
            .find(|s| s.status == status)
        {
            return found;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "timed out waiting for a `{saga_type}` saga to be {status}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Runs a scenario on memory, SQLite and PostgreSQL (when configured).
macro_rules! on_every_store {
    ($($scenario:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::scenarios::$scenario(super::Target::memory()).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    super::scenarios::$scenario(super::Target::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $scenario() {
                    let Some(target) = super::Target::postgres().await else { return };
                    super::scenarios::$scenario(target).await;
                }
            )*
        }
    };
}

on_every_store!(
    exactly_once_across_restarts,
    a_resend_after_a_crash_runs_nothing_twice,
    associations_are_scoped_by_saga_type,
    several_associations_find_one_saga,
    deadlines_fire_cancel_and_end,
    compensation_runs_in_reverse_and_survives_a_failure,
    operators_list_show_and_retry,
);

/// Saga types are typed with the serializer: one added before
/// `.serializer(…)` fails `build()`, naming it.
#[tokio::test]
async fn a_saga_added_before_the_serializer_fails_the_build() {
    let error = Mink::builder()
        .store(InMemoryStore::new())
        .registered_projections(false)
        .saga::<Checkout>()
        .serializer(mink::MessagePackSerializer)
        .build()
        .await
        .unwrap_err();
    assert!(
        matches!(&error, mink::Error::Configuration(m) if m.contains("sagas.checkout")),
        "{error}"
    );
}

/// An application whose bus has its own idempotency layer: the sagas use
/// it rather than a second one (two layers would wait on each other's
/// claim of one key), and their commands still run once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_layer_of_the_application_serves_its_sagas() {
    let store = InMemoryStore::new();
    let t = Target {
        store: Arc::new(store.clone()),
        _keep: Box::new(()),
    };
    let app = Mink::builder()
        .shared_store(Arc::clone(&t.store))
        .registered_projections(false)
        .layer(mink::bus::IdempotencyLayer::new(store.idempotency()))
        .saga::<Checkout>()
        .saga_options(quick_options())
        .build()
        .await
        .unwrap();
    t.append(
        "order-i1",
        "sagas.OrderPlaced",
        &mink_tests::saga_domain::OrderPlaced {
            order_id: "i1".into(),
            steps: vec!["one".into(), "two".into()],
            timeout_secs: None,
        },
    )
    .await;
    eventually("the ledger of i1", || {
        let t = &t;
        async move { t.ledger("i1").await.len() >= 2 }
    })
    .await;
    let saga = sagas_of(&app, "sagas.checkout").await.remove(0);
    eventually("the commands to be sent", || {
        let app = app.clone();
        async move {
            let details = app.sagas().show(saga.id).await.unwrap().unwrap();
            details.pending_commands().count() == 0
        }
    })
    .await;
    assert_eq!(t.ledger("i1").await, ["one", "two"]);
    app.shutdown().await;
}
