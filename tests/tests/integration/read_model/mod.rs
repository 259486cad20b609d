//! Read models on every store: one conformance suite instantiated for
//! memory, SQLite and PostgreSQL (`cases`, `transactions`), what the SQL
//! stores do with schema changes (`schema`) and hostile values
//! (`injection`), and a property test of the SQL stores against the
//! in-memory one (`properties`).
//!
//! PostgreSQL cases run when `MINK_TEST_POSTGRES_URL` is set, each on a
//! fresh schema; otherwise they print `skipped: …`.

mod cases;
mod injection;
mod models;
mod projections;
mod properties;
mod schema;
mod transactions;

use std::any::Any;
use std::sync::Arc;

use mink::adapters::memory::InMemoryReadModels;
use mink::adapters::sqlite::SqliteStore;
use mink::read_model::ReadModelStore;
use mink::{EventStore, InMemoryStore};

/// An event store and the read models beside it, with whatever must live
/// as long as they do (a temp dir, the PostgreSQL gate).
pub struct Backend {
    pub events: Arc<dyn EventStore>,
    pub read_models: Arc<dyn ReadModelStore>,
    pub name: &'static str,
    _keep: Box<dyn Any + Send>,
}

pub async fn memory() -> Option<Backend> {
    Some(Backend {
        events: Arc::new(InMemoryStore::new()),
        read_models: Arc::new(InMemoryReadModels::new()),
        name: "memory",
        _keep: Box::new(()),
    })
}

pub async fn sqlite() -> Option<Backend> {
    let dir = tempfile::tempdir().expect("a temp dir");
    let store = SqliteStore::open(dir.path().join("mink.db"))
        .await
        .expect("open a SQLite store");
    Some(Backend {
        read_models: Arc::new(store.read_models()),
        events: Arc::new(store),
        name: "sqlite",
        _keep: Box::new(dir),
    })
}

pub async fn postgres() -> Option<Backend> {
    let store = crate::postgres::support::test_store().await?;
    let events = store.store.clone();
    Some(Backend {
        read_models: Arc::new(events.read_models()),
        events: Arc::new(events),
        name: "postgres",
        _keep: Box::new(store),
    })
}

/// Expands to one test per case and backend: `<case>::<backend>`.
macro_rules! on_every_store {
    ($($case:ident),* $(,)?) => {
        $(
            mod $case {
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn memory() {
                    let b = super::super::memory().await.expect("memory");
                    super::$case(&b).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn sqlite() {
                    let b = super::super::sqlite().await.expect("sqlite");
                    super::$case(&b).await;
                }

                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    let Some(b) = super::super::postgres().await else {
                        return;
                    };
                    super::$case(&b).await;
                }
            }
        )*
    };
}
pub(crate) use on_every_store;
