//! Configuring and opening a [`PostgresStore`].

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::AssertSqlSafe;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use crate::error::{Error, Result};
use crate::store::{CoalesceOptions, CoalescingStore, Limits};

use super::PostgresStore;
use super::append::{is_unavailable, map_error};
use super::notify::LogNotifications;
use super::sql::Statements;

/// The schema a store uses unless told otherwise.
pub const DEFAULT_SCHEMA: &str = "mink";

/// The embedded migrations of `mink-runtime/migrations/postgres`.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// Settings of a [`PostgresStore`]: where to connect, the connection pool,
/// the schema holding the tables, input limits and whether to migrate.
///
/// Start from [`PostgresStore::builder`] and finish with
/// [`build`](PostgresStoreBuilder::build).
///
/// # Examples
///
/// ```no_run
/// # use std::time::Duration;
/// # use mink_runtime::adapters::postgres::PostgresStore;
/// # async fn open() -> mink_runtime::Result<PostgresStore> {
/// let store = PostgresStore::builder("postgres://postgres@127.0.0.1:5432/app")
///     .schema("billing")
///     .max_connections(20)
///     .acquire_timeout(Duration::from_secs(5))
///     .build()
///     .await?;
/// # Ok(store) }
/// ```
#[derive(Debug, Clone)]
pub struct PostgresStoreBuilder {
    url: String,
    connect_options: Option<PgConnectOptions>,
    schema: String,
    max_connections: u32,
    min_connections: u32,
    acquire_timeout: Duration,
    idle_timeout: Option<Duration>,
    max_lifetime: Option<Duration>,
    limits: Limits,
    run_migrations: bool,
    repair_restored_log: bool,
    coalesce: Option<CoalesceOptions>,
}

impl PostgresStoreBuilder {
    /// The longest stream id a store accepts in its [`Limits`], in bytes.
    /// Stream ids are keys of the `(stream_id, version)` unique index,
    /// whose entries PostgreSQL keeps at most 2704 bytes long; 2000 leaves
    /// room for the version and the entry's header.
    pub const MAX_STREAM_ID_LEN: usize = 2000;

    /// How long a call waits for a connection unless told otherwise.
    const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

    /// Settings for the database at `url` (`postgres://user@host:port/db`),
    /// with the defaults listed on each setter.
    pub fn new(url: impl Into<String>) -> Self {
        PostgresStoreBuilder {
            url: url.into(),
            connect_options: None,
            schema: DEFAULT_SCHEMA.to_owned(),
            max_connections: 10,
            min_connections: 0,
            acquire_timeout: Self::DEFAULT_ACQUIRE_TIMEOUT,
            idle_timeout: Some(Duration::from_secs(600)),
            max_lifetime: Some(Duration::from_secs(1800)),
            limits: Limits::default(),
            run_migrations: true,
            repair_restored_log: false,
            coalesce: Some(CoalesceOptions::default()),
        }
    }

    /// Settings for a database described by sqlx connect options instead of
    /// a URL (TLS files, sockets, application name, …).
    pub fn from_connect_options(options: PgConnectOptions) -> Self {
        PostgresStoreBuilder {
            connect_options: Some(options),
            ..PostgresStoreBuilder::new(String::new())
        }
    }

    /// The schema holding the tables, including sqlx's `_sqlx_migrations`.
    /// Default: `mink`. Lowercase ASCII letters, digits and `_`, not starting
    /// with a digit, at most 63 bytes.
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }

    /// How concurrent appends are coalesced: appends to different streams
    /// that arrive while an earlier one commits are written by one
    /// statement in one transaction, each caller still getting its own
    /// result or error (`docs/adr/021-coalesced-commits.md`). On by
    /// default with [`CoalesceOptions::default`]: no added wait, up to 64
    /// appends and 4,096 events per call, two calls at once. Appends with a
    /// unit of work ([`EventStore::append_with`](crate::EventStore::append_with))
    /// and [`PostgresStore::append_to_streams_in`] are never merged.
    pub fn coalesce(mut self, options: CoalesceOptions) -> Self {
        self.coalesce = Some(options);
        self
    }

    /// Writes every append in a call of its own: no coalescing.
    pub fn no_coalescing(mut self) -> Self {
        self.coalesce = None;
        self
    }

    /// Most connections the pool opens. Default: 10.
    pub fn max_connections(mut self, max: u32) -> Self {
        self.max_connections = max;
        self
    }

    /// Connections the pool keeps open even when idle. Default: 0.
    pub fn min_connections(mut self, min: u32) -> Self {
        self.min_connections = min;
        self
    }

    /// How long a call waits for a connection before it fails with
    /// [`Error::Unavailable`]: for a free one when all are busy, and for a
    /// new one while the server is down or restarting (connecting counts
    /// against this wait too). [`build`](Self::build) waits as long for
    /// its first connection. Default: 5 s.
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// How long an idle connection is kept above `min_connections`
    /// (`None`: forever). Default: 10 min.
    pub fn idle_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.idle_timeout = timeout.into();
        self
    }

    /// How long a connection lives before it is replaced (`None`: forever).
    /// Default: 30 min.
    pub fn max_lifetime(mut self, lifetime: impl Into<Option<Duration>>) -> Self {
        self.max_lifetime = lifetime.into();
        self
    }

    /// Input bounds checked before anything is written. Default:
    /// [`Limits::default`]. [`build`](Self::build) refuses a
    /// `max_stream_id_len` above [`MAX_STREAM_ID_LEN`](Self::MAX_STREAM_ID_LEN).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Whether [`build`](Self::build) creates the schema and applies the
    /// embedded migrations (a no-op when they are already applied). Turn it
    /// off when migrations are run by a deployment step. Default: on.
    pub fn run_migrations(mut self, run: bool) -> Self {
        self.run_migrations = run;
        self
    }

    /// Whether [`build`](Self::build) repairs a log restored from another
    /// cluster (see [`PostgresStore::repair_restored_log`]) instead of
    /// refusing to open it. Default: off, so the repair, which renumbers
    /// positions, is a decision someone made.
    pub fn repair_restored_log(mut self, repair: bool) -> Self {
        self.repair_restored_log = repair;
        self
    }

    /// Opens the pool, migrates when asked to, and returns the store.
    ///
    /// Fails with [`Error::Configuration`] for a malformed URL or schema
    /// name or limits beyond what the schema can index,
    /// [`Error::Configuration`] when the events table was restored from
    /// another cluster and [`repair_restored_log`](Self::repair_restored_log)
    /// is off, [`Error::Unavailable`] when no connection could be had within
    /// [`acquire_timeout`](Self::acquire_timeout), and [`Error::Backend`]
    /// when the database refuses the connection or a migration fails.
    pub async fn build(self) -> Result<PostgresStore> {
        check_schema_name(&self.schema)?;
        check_limits(&self.limits)?;
        let options = match self.connect_options {
            Some(options) => options,
            None => PgConnectOptions::from_str(&self.url)
                .map_err(|e| Error::Configuration(format!("invalid PostgreSQL URL: {e}")))?,
        };
        // Unqualified names in the migrations, and sqlx's own migrations
        // table, land in the store's schema. The store's statements qualify
        // their names (see `sql.rs`), so they do not depend on this.
        let options = options.options([("search_path", self.schema.as_str())]);
        let pool = PgPoolOptions::new()
            .max_connections(self.max_connections)
            .min_connections(self.min_connections)
            .acquire_timeout(self.acquire_timeout)
            .idle_timeout(self.idle_timeout)
            .max_lifetime(self.max_lifetime)
            // A connection that died with the server is noticed and replaced
            // here, so the pool recovers from a restart on its own.
            .test_before_acquire(true)
            .connect_with(options)
            .await
            .map_err(map_error)?;
        if self.run_migrations {
            let created = sqlx::query(AssertSqlSafe(format!(
                "CREATE SCHEMA IF NOT EXISTS {}",
                self.schema
            )))
            .execute(&pool)
            .await;
            match created {
                Ok(_) => {}
                // Two stores created the schema at the same moment: it exists.
                Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("23505") => {}
                Err(e) => return Err(map_error(e)),
            }
            MIGRATOR.run(&pool).await.map_err(migration_error)?;
        }
        let notifications = LogNotifications::new(&self.schema, pool.connect_options());
        let store = PostgresStore {
            notifications: Arc::new(notifications),
            pool,
            statements: Arc::new(Statements::new(&self.schema)),
            schema: self.schema.into(),
            limits: self.limits,
            coalescer: None,
        };
        if store.holds_foreign_transaction_ids().await? {
            if !self.repair_restored_log {
                return Err(Error::Configuration(format!(
                    "the events in schema `{}` carry transaction ids this PostgreSQL cluster has \
                     not reached: they were restored from another cluster, and readers of the log \
                     would see none of them. Repair the log once (it renumbers positions; rebuild \
                     subscriptions afterwards) with `PostgresStore::builder(url).repair_restored_log(true)` \
                     or `PostgresStore::repair_restored_log`",
                    store.schema
                )));
            }
            let repaired = store.repair_restored_log().await?;
            tracing::warn!(
                events = repaired.events,
                schema = %store.schema,
                "repaired an event log restored from another cluster; rebuild subscriptions"
            );
        }
        let mut store = store;
        if let Some(options) = self.coalesce {
            // The merged calls go to a copy without a coalescer of its own.
            store.coalescer = Some(Arc::new(CoalescingStore::new(store.clone(), options)));
        }
        Ok(store)
    }
}

/// Refuses limits that would let input reach PostgreSQL which its indexes
/// cannot hold, so such input is refused by `Limits::check_appends` as
/// [`Error::InvalidInput`] instead of failing in the database.
fn check_limits(limits: &Limits) -> Result<()> {
    let max = PostgresStoreBuilder::MAX_STREAM_ID_LEN;
    if limits.max_stream_id_len > max {
        return Err(Error::Configuration(format!(
            "`max_stream_id_len` is {} bytes, more than PostgreSQL can index: \
             stream ids are keys of the (stream_id, version) unique index; \
             use at most {max}",
            limits.max_stream_id_len
        )));
    }
    Ok(())
}

/// A failed migration is a backend error, unless the server could not be
/// reached while running it.
fn migration_error(err: sqlx::migrate::MigrateError) -> Error {
    use sqlx::migrate::MigrateError;
    let unavailable = matches!(
        &err,
        MigrateError::Execute(e) | MigrateError::ExecuteMigration(e, _) if is_unavailable(e)
    );
    if unavailable {
        Error::Unavailable(Box::new(err))
    } else {
        Error::backend(err)
    }
}

/// Refuses schema names that would need quoting, so they can be spliced
/// into SQL text and connection options as they are.
pub(crate) fn check_schema_name(name: &str) -> Result<()> {
    let mut chars = name.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if first_ok && rest_ok && name.len() <= 63 {
        Ok(())
    } else {
        Err(Error::Configuration(format!(
            "schema name `{name}` must be 1 to 63 lowercase ASCII letters, digits or `_`, \
             not starting with a digit"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names() {
        for ok in ["mink", "_x", "mink_test_0af3", "a1"] {
            assert!(check_schema_name(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1abc",
            "Mink",
            "a-b",
            "a b",
            "x\"; drop",
            &"a".repeat(64),
        ] {
            assert!(check_schema_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn stream_ids_must_fit_the_index() {
        let with = |max_stream_id_len| Limits {
            max_stream_id_len,
            ..Limits::default()
        };
        let max = PostgresStoreBuilder::MAX_STREAM_ID_LEN;
        assert!(check_limits(&Limits::default()).is_ok());
        assert!(check_limits(&with(max)).is_ok());
        match check_limits(&with(max + 1)) {
            Err(Error::Configuration(message)) => {
                assert!(message.contains(&max.to_string()), "{message}")
            }
            other => panic!("expected a configuration error, got {other:?}"),
        }
    }
}
