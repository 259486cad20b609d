//! Throwaway databases for tests: a PostgreSQL schema of its own on the
//! server `MINK_TEST_POSTGRES_URL` names, or a temporary SQLite file.
//! Both are removed when the value is dropped, also when the test panics.

#[cfg(feature = "sqlite")]
use std::path::{Path, PathBuf};

use super::skip;
use crate::adapters::AnyStore;
use crate::error::Result;

/// The environment variable naming the PostgreSQL server tests may use
/// (`postgres://user:password@host:port/database`).
pub const POSTGRES_URL_VAR: &str = "MINK_TEST_POSTGRES_URL";

/// A database made for one test and removed when dropped.
///
/// - [`TestDatabase::postgres`]: a fresh schema (`mink_test_…`) on the
///   server that [`POSTGRES_URL_VAR`] names, dropped with everything in it.
///   Without the variable it returns `None` and writes
///   `skipped: … (MINK_TEST_POSTGRES_URL not set)` to stderr, so a skipped
///   test says so instead of passing in silence.
/// - [`TestDatabase::sqlite`]: a file in a fresh temporary directory,
///   removed with it.
///
/// Dropping cleans up even while a test panics: the PostgreSQL schema is
/// dropped on a thread of its own, with a runtime of its own, so that it
/// works inside or outside an async runtime. A schema left by a process
/// that was killed is dropped by the next `postgres()` once it is an hour
/// old.
///
/// # Examples
///
/// ```no_run
/// # use mink_runtime::testing::TestDatabase;
/// # async fn test() -> mink_runtime::Result<()> {
/// let Some(db) = TestDatabase::postgres("order flow on PostgreSQL").await else {
///     return Ok(()); // skipped, and said so
/// };
/// let store = db.store().await?; // the store's tables live in db's schema
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TestDatabase {
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    #[cfg(feature = "postgres")]
    Postgres { url: String, schema: String },
    #[cfg(feature = "sqlite")]
    Sqlite { dir: PathBuf, file: PathBuf },
}

impl TestDatabase {
    /// A fresh schema on the server [`POSTGRES_URL_VAR`] names, or `None`
    /// (after writing `skipped: {test} (MINK_TEST_POSTGRES_URL not set)` to
    /// stderr) when it is not set.
    ///
    /// # Panics
    ///
    /// When the variable is set and the server cannot be reached or refuses
    /// the schema: a configured server that fails is a failure, not a skip.
    #[cfg(feature = "postgres")]
    pub async fn postgres(test: &str) -> Option<TestDatabase> {
        let url = match std::env::var(POSTGRES_URL_VAR) {
            Ok(url) if !url.trim().is_empty() => url,
            _ => {
                skip(&format!("{test} ({POSTGRES_URL_VAR} not set)"));
                return None;
            }
        };
        let schema = format!("{}{}", postgres::PREFIX, uuid::Uuid::now_v7().simple());
        if let Err(e) = postgres::create(&url, &schema).await {
            panic!("{POSTGRES_URL_VAR} is set, but creating test schema {schema} failed: {e}");
        }
        Some(TestDatabase {
            kind: Kind::Postgres { url, schema },
        })
    }

    /// A fresh SQLite file in a temporary directory of its own.
    ///
    /// # Panics
    ///
    /// When the temporary directory cannot be made.
    #[cfg(feature = "sqlite")]
    pub fn sqlite() -> TestDatabase {
        let dir = std::env::temp_dir().join(format!("mink-test-{}", uuid::Uuid::now_v7().simple()));
        if let Err(e) = std::fs::create_dir_all(&dir) {
            panic!("making the test directory {}: {e}", dir.display());
        }
        let file = dir.join("mink.db");
        TestDatabase {
            kind: Kind::Sqlite { dir, file },
        }
    }

    /// The adapter: `postgres` or `sqlite`.
    pub fn backend(&self) -> &'static str {
        match &self.kind {
            #[cfg(feature = "postgres")]
            Kind::Postgres { .. } => "postgres",
            #[cfg(feature = "sqlite")]
            Kind::Sqlite { .. } => "sqlite",
        }
    }

    /// The database's URL: the server's for PostgreSQL (the tables live in
    /// [`schema`](Self::schema)), `sqlite://<file>` for SQLite.
    pub fn url(&self) -> String {
        match &self.kind {
            #[cfg(feature = "postgres")]
            Kind::Postgres { url, .. } => url.clone(),
            #[cfg(feature = "sqlite")]
            Kind::Sqlite { file, .. } => format!("sqlite://{}", file.display()),
        }
    }

    /// The PostgreSQL schema made for this test; `None` for SQLite.
    pub fn schema(&self) -> Option<&str> {
        match &self.kind {
            #[cfg(feature = "postgres")]
            Kind::Postgres { schema, .. } => Some(schema),
            #[cfg(feature = "sqlite")]
            Kind::Sqlite { .. } => None,
        }
    }

    /// The SQLite file; `None` for PostgreSQL.
    #[cfg(feature = "sqlite")]
    pub fn path(&self) -> Option<&Path> {
        match &self.kind {
            #[cfg(feature = "postgres")]
            Kind::Postgres { .. } => None,
            Kind::Sqlite { file, .. } => Some(file),
        }
    }

    /// An event store on this database, migrated: a
    /// [`PostgresStore`](crate::adapters::postgres::PostgresStore) in the
    /// test's schema, or a
    /// [`SqliteStore`](crate::adapters::sqlite::SqliteStore) on the file.
    /// Open as many as the test needs; they share the database.
    pub async fn store(&self) -> Result<AnyStore> {
        match &self.kind {
            #[cfg(feature = "postgres")]
            Kind::Postgres { url, schema } => Ok(AnyStore::Postgres(
                crate::adapters::postgres::PostgresStore::builder(url.clone())
                    .schema(schema.clone())
                    .build()
                    .await?,
            )),
            #[cfg(feature = "sqlite")]
            Kind::Sqlite { file, .. } => Ok(AnyStore::Sqlite(
                crate::adapters::sqlite::SqliteStore::open(file).await?,
            )),
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match &self.kind {
            #[cfg(feature = "postgres")]
            Kind::Postgres { url, schema } => postgres::drop_on_own_thread(url, schema),
            #[cfg(feature = "sqlite")]
            Kind::Sqlite { dir, .. } => {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use std::time::Duration;

    use sqlx::postgres::PgConnection;
    use sqlx::{AssertSqlSafe, Connection};

    /// Prefix of the schemas test databases make.
    pub(super) const PREFIX: &str = "mink_test_";

    /// How old a schema left behind by a killed test process must be
    /// before another test drops it.
    const STALE_AFTER: Duration = Duration::from_secs(3600);

    pub(super) async fn create(url: &str, schema: &str) -> Result<(), sqlx::Error> {
        let mut conn = PgConnection::connect(url).await?;
        drop_stale(&mut conn).await;
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA \"{schema}\"")))
            .execute(&mut conn)
            .await?;
        conn.close().await
    }

    /// Drops test schemas whose name (a UUIDv7) says they were made more
    /// than [`STALE_AFTER`] ago; best effort.
    async fn drop_stale(conn: &mut PgConnection) {
        let pattern = format!("{}%", PREFIX.replace('_', "\\_"));
        let Ok(names) = sqlx::query_scalar::<_, String>(
            "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE $1",
        )
        .bind(pattern)
        .fetch_all(&mut *conn)
        .await
        else {
            return;
        };
        let now = std::time::SystemTime::now();
        for name in names {
            let made = uuid::Uuid::try_parse(&name[PREFIX.len()..])
                .ok()
                .and_then(|id| id.get_timestamp())
                .map(|ts| {
                    let (secs, nanos) = ts.to_unix();
                    std::time::UNIX_EPOCH + Duration::new(secs, nanos)
                });
            let stale = made
                .and_then(|made| now.duration_since(made).ok())
                .is_some_and(|age| age > STALE_AFTER);
            if stale {
                let _ = sqlx::query(AssertSqlSafe(format!(
                    "DROP SCHEMA IF EXISTS \"{name}\" CASCADE"
                )))
                .execute(&mut *conn)
                .await;
            }
        }
    }

    /// Drops the schema from a thread with a runtime of its own, so that
    /// it works while the test's runtime is blocked in this drop or gone.
    pub(super) fn drop_on_own_thread(url: &str, schema: &str) {
        let url = url.to_owned();
        let schema = schema.to_owned();
        let done = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(drop_schema(&url, &schema))
        })
        .join();
        match done {
            Ok(Ok(())) => {}
            Ok(Err(e)) => super::skip(&format!("could not drop test schema (left for later): {e}")),
            Err(_) => super::skip("dropping a test schema panicked (left for later)"),
        }
    }

    async fn drop_schema(
        url: &str,
        schema: &str,
    ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
        let mut conn = PgConnection::connect(url).await?;
        let drop = format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE");
        sqlx::query("SET lock_timeout = '3s'")
            .execute(&mut conn)
            .await?;
        if sqlx::query(AssertSqlSafe(drop.clone()))
            .execute(&mut conn)
            .await
            .is_ok()
        {
            return Ok(conn.close().await?);
        }
        // A session of the test still holds a lock in the schema (a
        // transaction left open by a panic, whose rollback waits for the
        // test's runtime): end those sessions, then drop.
        sqlx::query(
            "SELECT pg_terminate_backend(l.pid) FROM pg_locks l \
             JOIN pg_class c ON c.oid = l.relation \
             JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = $1 AND l.pid <> pg_backend_pid()",
        )
        .bind(schema)
        .execute(&mut conn)
        .await?;
        sqlx::query(AssertSqlSafe(drop)).execute(&mut conn).await?;
        Ok(conn.close().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "sqlite")]
    #[tokio::test]
    async fn a_sqlite_database_is_a_file_removed_on_drop() {
        let db = TestDatabase::sqlite();
        let path = db.path().expect("a file").to_owned();
        let store = db.store().await.expect("a store on the file");
        drop(store);
        assert!(path.exists());
        drop(db);
        assert!(!path.exists() && !path.parent().expect("its directory").exists());
    }

    /// A test that panics while its schema holds tables and an open
    /// transaction still leaves no schema behind.
    #[cfg(feature = "postgres")]
    #[test]
    fn a_postgres_schema_is_dropped_after_a_panic() {
        use sqlx::Connection;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("a runtime");
        let (tx, rx) = std::sync::mpsc::channel();
        let crashed = std::thread::spawn(move || {
            runtime.block_on(async move {
                let Some(db) = TestDatabase::postgres("dropping a schema after a panic").await
                else {
                    let _ = tx.send(None);
                    return;
                };
                let Ok(crate::adapters::AnyStore::Postgres(store)) = db.store().await else {
                    panic!("a PostgreSQL store");
                };
                let _ = tx.send(Some((db.url(), db.schema().map(str::to_owned))));
                let mut open = store.pool().begin().await.expect("a transaction");
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "LOCK TABLE \"{}\".events IN ACCESS EXCLUSIVE MODE",
                    store.schema()
                )))
                .execute(&mut *open)
                .await
                .expect("a lock held by the test");
                panic!("the test fails while holding a lock");
            })
        })
        .join();
        let Some((url, Some(schema))) = rx.recv().expect("the test's database") else {
            return;
        };
        assert!(crashed.is_err(), "the test panicked");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime");
        let left: i64 = runtime.block_on(async {
            let mut conn = sqlx::postgres::PgConnection::connect(&url)
                .await
                .expect("connect");
            sqlx::query_scalar("SELECT count(*) FROM pg_namespace WHERE nspname = $1")
                .bind(&schema)
                .fetch_one(&mut conn)
                .await
                .expect("look for the schema")
        });
        assert_eq!(left, 0, "schema {schema} was left behind");
    }
}
