//! The idempotency conformance suite: every case runs on the idempotency
//! records of every store (memory, SQLite, PostgreSQL), each built from its
//! event store with `idempotency()`: concurrent duplicates run once,
//! in-flight duplicates can be refused, keys expire, and a failure or a
//! panic releases the key.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use mink::DispatchError;
use mink::adapters::AnyStore;
use mink::bus::{IdempotencyLayer, InFlight, RecoveryLayer};
use mink::prelude::*;
use mink::{EventStore, IdempotencyStore};

use super::{Credit, CreditOnce, Explode, SlowStore, credit, runs};

/// An event store and the idempotency records beside it, plus a prefix that
/// keeps each store's wallets apart in the shared run counter.
struct Stores {
    events: Arc<dyn EventStore>,
    idempotency: Arc<dyn IdempotencyStore>,
    prefix: &'static str,
}

impl Stores {
    fn wallet(&self, name: &str) -> String {
        format!("{}-{name}", self.prefix)
    }
}

/// Runs `case` on the stores of `backend`; prints why and returns when the
/// backend is not available.
async fn on<F, Fut>(backend: &'static str, case: F)
where
    F: FnOnce(Stores) -> Fut,
    Fut: Future<Output = ()>,
{
    match backend {
        "memory" => {
            let store = AnyStore::open("memory:").await.unwrap();
            case(stores(store, "mem")).await;
        }
        "sqlite" => {
            let dir = tempfile::tempdir().unwrap();
            let url = format!("sqlite://{}", dir.path().join("idem.db").display());
            let store = AnyStore::open(&url).await.unwrap();
            case(stores(store, "lite")).await;
        }
        _ => {
            let Some(pg) = crate::postgres::support::test_store().await else {
                mink_tests::skip("idempotency on PostgreSQL (MINK_TEST_POSTGRES_URL not set)");
                return;
            };
            let store = AnyStore::Postgres(pg.store.clone());
            case(stores(store, "pg")).await;
        }
    }
}

fn stores(store: AnyStore, prefix: &'static str) -> Stores {
    Stores {
        idempotency: store.idempotency(),
        events: Arc::new(store),
        prefix,
    }
}

/// One test per store for each case.
macro_rules! on_every_store {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn memory() {
                super::on("memory", super::$case).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::on("sqlite", super::$case).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                super::on("postgres", super::$case).await;
            }
        }
    )*};
}

on_every_store!(
    sixteen_concurrent_duplicates_run_once,
    in_flight_duplicates_can_be_refused,
    keys_expire_after_their_ttl,
    a_failure_releases_the_key,
    a_panic_releases_the_key_whatever_the_layer_order,
    the_context_key_overrides_the_commands,
    the_result_commits_with_the_events,
);

/// Sixteen identical dispatches at once: the handler runs once, every caller
/// gets the same result.
async fn sixteen_concurrent_duplicates_run_once(s: Stores) {
    let wallet = s.wallet("dup");
    let app = Mink::builder()
        .shared_store(Arc::clone(&s.events))
        .layer(IdempotencyLayer::shared(Arc::clone(&s.idempotency)))
        .build()
        .await
        .unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(16));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let app = app.clone();
            let barrier = barrier.clone();
            let wallet = wallet.clone();
            tokio::spawn(async move {
                barrier.wait().await;
                app.dispatch(credit(&wallet, 7)).await
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap().expect("every duplicate succeeds"));
    }
    assert_eq!(runs(&wallet), 1, "the handler ran once");
    assert!(results.windows(2).all(|w| w[0] == w[1]), "{results:?}");
    assert_eq!(results[0].version, Some(1));
    let info = app
        .store()
        .stream_info(&format!("wallet-{wallet}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.version, 1);

    // A different command is not a duplicate.
    app.dispatch(credit(&wallet, 8)).await.unwrap();
    assert_eq!(runs(&wallet), 2);
}

/// With `InFlight::Reject`, a duplicate of a running command fails at once;
/// once the first finished, a repeat returns its stored result.
async fn in_flight_duplicates_can_be_refused(s: Stores) {
    let wallet = s.wallet("rej");
    let app = Mink::builder()
        .store(SlowStore {
            inner: Arc::clone(&s.events),
            delay: Duration::from_millis(200),
        })
        .layer(IdempotencyLayer::shared(Arc::clone(&s.idempotency)).in_flight(InFlight::Reject))
        .build()
        .await
        .unwrap();
    let first = {
        let app = app.clone();
        let wallet = wallet.clone();
        tokio::spawn(async move { app.dispatch(credit(&wallet, 1)).await })
    };
    // Wait until the first holds the key (its handler has run).
    while runs(&wallet) == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let err = app.dispatch(credit(&wallet, 1)).await.unwrap_err();
    assert!(matches!(err, DispatchError::InProgress { .. }), "{err:?}");
    let done = first.await.unwrap().unwrap();
    let again = app.dispatch(credit(&wallet, 1)).await.unwrap();
    assert_eq!(again, done);
    assert_eq!(runs(&wallet), 1);
}

/// A repeat within the TTL returns the stored result, even with another
/// payload under the same explicit key; after the TTL, the command runs
/// again. The TTL runs on the store's own clock.
async fn keys_expire_after_their_ttl(s: Stores) {
    let wallet = s.wallet("ttl");
    let app = Mink::builder()
        .shared_store(Arc::clone(&s.events))
        .layer(IdempotencyLayer::shared(Arc::clone(&s.idempotency)).ttl(Duration::from_millis(300)))
        .build()
        .await
        .unwrap();
    let cmd = |amount| CreditOnce {
        wallet: wallet.clone(),
        amount,
        request: "req-1".into(),
    };
    let first = app.dispatch(cmd(1)).await.unwrap();
    let repeat = app.dispatch(cmd(99)).await.unwrap();
    assert_eq!(repeat, first);
    assert_eq!(runs(&wallet), 1);
    tokio::time::sleep(Duration::from_millis(600)).await;
    let after_ttl = app.dispatch(cmd(1)).await.unwrap();
    assert_eq!(after_ttl.version, Some(2));
    assert_eq!(runs(&wallet), 2);
}

/// A rejected command does not keep its key: fixing and retrying runs it.
async fn a_failure_releases_the_key(s: Stores) {
    let wallet = s.wallet("fail");
    let app = Mink::builder()
        .shared_store(Arc::clone(&s.events))
        .layer(IdempotencyLayer::shared(Arc::clone(&s.idempotency)).in_flight(InFlight::Reject))
        .build()
        .await
        .unwrap();
    let refused = Credit {
        wallet: wallet.clone(),
        amount: 1,
        note: "refuse".into(),
    };
    assert!(matches!(
        app.dispatch(refused.clone()).await,
        Err(DispatchError::Rejected(_))
    ));
    assert!(matches!(
        app.dispatch(refused).await,
        Err(DispatchError::Rejected(_))
    ));
    assert_eq!(runs(&wallet), 2, "a failed command may be retried");
}

/// A handler that panics releases its key, with the recovery layer outside
/// the idempotency layer (the order the example uses): a retry runs the
/// handler again instead of waiting out the lease with `InProgress`.
async fn a_panic_releases_the_key_whatever_the_layer_order(s: Stores) {
    let wallet = s.wallet("panic");
    let app = Mink::builder()
        .shared_store(Arc::clone(&s.events))
        .layer(RecoveryLayer)
        .layer(IdempotencyLayer::shared(Arc::clone(&s.idempotency)).in_flight(InFlight::Reject))
        .build()
        .await
        .unwrap();
    for attempt in 1..=2 {
        let err = app
            .dispatch_with(
                Explode {
                    wallet: wallet.clone(),
                },
                Context::new().with_idempotency_key("same-key"),
            )
            .await
            .unwrap_err();
        assert!(
            matches!(err, DispatchError::Panicked { .. }),
            "attempt {attempt}: {err:?}"
        );
    }
}

/// The context's key overrides the command's own.
async fn the_context_key_overrides_the_commands(s: Stores) {
    let wallet = s.wallet("ctx");
    let app = Mink::builder()
        .shared_store(Arc::clone(&s.events))
        .layer(IdempotencyLayer::shared(Arc::clone(&s.idempotency)))
        .build()
        .await
        .unwrap();
    let cmd = |amount, request: &str| CreditOnce {
        wallet: wallet.clone(),
        amount,
        request: request.into(),
    };
    let a = app
        .dispatch_with(cmd(5, "r1"), Context::new().with_idempotency_key("ctx-key"))
        .await
        .unwrap();
    let b = app
        .dispatch_with(cmd(6, "r2"), Context::new().with_idempotency_key("ctx-key"))
        .await
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(runs(&wallet), 1);
}

/// Idempotency records whose separate "store the result" step always
/// fails, as when the connection dies right after the append committed.
struct ResultStepFails(Arc<dyn IdempotencyStore>);

#[async_trait::async_trait]
impl IdempotencyStore for ResultStepFails {
    async fn claim(&self, key: &str, lease: Duration) -> mink::Result<mink::store::Claim> {
        self.0.claim(key, lease).await
    }
    async fn complete(&self, _key: &str, _result: &[u8], _ttl: Duration) -> mink::Result<()> {
        Err(mink::Error::backend(
            "connection lost while storing the result",
        ))
    }
    async fn complete_in(
        &self,
        tx: &mut dyn mink::StoreTransaction,
        key: &str,
        result: &[u8],
        ttl: Duration,
    ) -> mink::Result<bool> {
        self.0.complete_in(tx, key, result, ttl).await
    }
    async fn release(&self, key: &str) -> mink::Result<()> {
        self.0.release(key).await
    }
}

/// The result of a command that appends is recorded in the append's own
/// transaction: a failure of the separate "store the result" step cannot
/// make a retry run the handler again, even once the claim's lease is over.
async fn the_result_commits_with_the_events(s: Stores) {
    let wallet = s.wallet("atomic");
    let app = Mink::builder()
        .shared_store(Arc::clone(&s.events))
        .layer(
            IdempotencyLayer::new(ResultStepFails(Arc::clone(&s.idempotency)))
                .lease(Duration::from_millis(50)),
        )
        .build()
        .await
        .unwrap();
    let cmd = || CreditOnce {
        wallet: wallet.clone(),
        amount: 3,
        request: "pay-1".into(),
    };
    let first = app.dispatch(cmd()).await.expect("recorded with the events");
    tokio::time::sleep(Duration::from_millis(150)).await;
    let again = app.dispatch(cmd()).await.expect("the stored result");
    assert_eq!(again, first);
    assert_eq!(runs(&wallet), 1, "the handler ran once");
    let info = s
        .events
        .stream_info(&format!("wallet-{wallet}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.version, 1, "the events were written once");
}
