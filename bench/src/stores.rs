//! Opening the stores under test in fresh places, and removing them after.

use std::path::PathBuf;
use std::sync::Arc;

use mink::adapters::postgres::sqlx;
use mink::prelude::*;

use crate::OrSay;

/// Which mink store a figure was measured on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// [`InMemoryStore`].
    Memory,
    /// [`SqliteStore`], on a file in the temporary directory.
    Sqlite,
    /// [`PostgresStore`], in a schema of its own.
    Postgres,
}

impl Backend {
    /// The system name in the report.
    pub fn system(self) -> &'static str {
        match self {
            Backend::Memory => "mink/memory",
            Backend::Sqlite => "mink/sqlite",
            Backend::Postgres => "mink/postgres",
        }
    }
}

/// A store opened for one benchmark run, with an application on it.
pub struct Target {
    /// Which store.
    pub backend: Backend,
    /// The store, for the store-level workloads.
    pub store: Arc<dyn EventStore>,
    /// An application on the same store, for the aggregate workloads.
    pub app: Mink,
    cleanup: Cleanup,
}

enum Cleanup {
    Nothing,
    Files(PathBuf),
    Schema(PostgresStore),
}

/// A fresh schema name: `mink_bench_<random>` followed by `suffix`.
pub fn fresh_schema(suffix: &str) -> String {
    format!(
        "mink_bench_{}{suffix}",
        &uuid::Uuid::now_v7().simple().to_string()[20..]
    )
}

/// Opens a PostgreSQL store in a new schema, with a pool large enough for
/// the most concurrent workload.
pub async fn postgres(url: &str, schema: &str) -> Result<PostgresStore, String> {
    PostgresStore::builder(url)
        .schema(schema)
        .max_connections(crate::shape::HOT_WRITERS as u32)
        .build()
        .await
        .or_say(&format!("opening PostgreSQL at {url}"))
}

/// Drops a PostgreSQL store's schema with everything in it.
pub async fn drop_schema(store: &PostgresStore) -> Result<(), String> {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA IF EXISTS {} CASCADE",
        store.schema()
    )))
    .execute(store.pool())
    .await
    .or_say("dropping the benchmark schema")?;
    Ok(())
}

impl Target {
    /// Opens `backend` in a fresh place: a new schema, a new file, a new
    /// in-memory store.
    pub async fn open(backend: Backend, url: &str) -> Result<Target, String> {
        let (store, cleanup): (Arc<dyn EventStore>, Cleanup) = match backend {
            Backend::Memory => (Arc::new(InMemoryStore::new()), Cleanup::Nothing),
            Backend::Sqlite => {
                let path = std::env::temp_dir()
                    .join(format!("mink-bench-{}.db", uuid::Uuid::now_v7().simple()));
                let store = SqliteStore::open(&path).await.or_say("opening SQLite")?;
                (Arc::new(store), Cleanup::Files(path))
            }
            Backend::Postgres => {
                let store = postgres(url, &fresh_schema("")).await?;
                (Arc::new(store.clone()), Cleanup::Schema(store))
            }
        };
        // No aggregate cache: W4 measures replaying a stream, and W3 builds
        // its cached application itself.
        let app = Mink::builder()
            .shared_store(Arc::clone(&store))
            .no_aggregate_cache()
            .build()
            .await
            .or_say("building the application")?;
        Ok(Target {
            backend,
            store,
            app,
            cleanup,
        })
    }

    /// A second handle on the same SQL store that writes every append on
    /// its own (the stores coalesce concurrent appends by default); `None`
    /// for the in-memory store, which never coalesces.
    pub async fn uncoalesced(&self, url: &str) -> Result<Option<Arc<dyn EventStore>>, String> {
        Ok(match &self.cleanup {
            Cleanup::Nothing => None,
            Cleanup::Files(path) => Some(Arc::new(
                mink::adapters::sqlite::SqliteStoreOptions::file(path)
                    .no_coalescing()
                    .open()
                    .await
                    .or_say("opening SQLite without coalescing")?,
            )),
            Cleanup::Schema(store) => Some(Arc::new(
                PostgresStore::builder(url)
                    .schema(store.schema())
                    .max_connections(crate::shape::HOT_WRITERS as u32)
                    .no_coalescing()
                    .build()
                    .await
                    .or_say("opening PostgreSQL without coalescing")?,
            )),
        })
    }

    /// The PostgreSQL store itself, for the raw baseline.
    pub fn postgres(&self) -> Option<&PostgresStore> {
        match &self.cleanup {
            Cleanup::Schema(store) => Some(store),
            _ => None,
        }
    }

    /// Removes what [`open`](Self::open) created.
    pub async fn close(self) -> Result<(), String> {
        let Target {
            store,
            app,
            cleanup,
            ..
        } = self;
        drop((store, app));
        match cleanup {
            Cleanup::Nothing => Ok(()),
            Cleanup::Files(path) => {
                for ext in ["", "-wal", "-shm"] {
                    let mut name = path.clone().into_os_string();
                    name.push(ext);
                    // A missing -wal or -shm file is fine.
                    let _ = std::fs::remove_file(name);
                }
                Ok(())
            }
            Cleanup::Schema(store) => drop_schema(&store).await,
        }
    }
}
