//! Which database a command talks to, and the two ways it talks to it: as
//! the application's store ([`AnyStore`]) for reading and control, or with
//! a plain connection that migrates nothing, for `migrate` and `diagnose`.

use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use mink_runtime::EventStore;
use mink_runtime::adapters::AnyStore;
use mink_runtime::adapters::postgres::PostgresStore;
use mink_runtime::adapters::sqlite::SqliteStore;
use mink_runtime::store::ProjectionStore;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions};

use crate::error::{CliError, CliResult};

/// How long a command waits for a connection before saying the database
/// cannot be reached.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The adapter a URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// `memory:` (a store that lives only as long as the command).
    Memory,
    /// `sqlite::memory:`
    SqliteMemory,
    /// `sqlite://path`
    SqliteFile(PathBuf),
    /// `postgres://…`
    Postgres,
}

/// The database a command talks to.
#[derive(Debug, Clone)]
pub struct Target {
    /// The URL as given.
    pub url: String,
    /// The PostgreSQL schema holding the store's tables.
    pub schema: String,
    /// The adapter it names.
    pub backend: Backend,
}

/// A plain connection to the store's database, opened without running
/// migrations.
#[derive(Debug, Clone)]
pub enum Raw {
    /// A SQLite file (or private in-memory database).
    Sqlite(SqlitePool),
    /// A PostgreSQL database; `search_path` is the store's schema.
    Postgres(PgPool),
}

/// The store a command reads or controls, as an application would open it.
#[derive(Clone)]
pub struct Store {
    /// The store.
    pub store: Arc<dyn EventStore>,
    /// The same store by adapter, when the CLI opened it from a URL.
    pub any: Option<AnyStore>,
}

impl Store {
    /// The store's projection records.
    pub fn projections(&self) -> CliResult<Arc<dyn ProjectionStore>> {
        self.store.projection_store().ok_or_else(|| {
            CliError::new("this store keeps no projection records")
                .hint("use a SQLite or PostgreSQL database URL")
        })
    }

    /// The store by adapter, for listings the event store trait has not.
    pub fn any(&self) -> CliResult<&AnyStore> {
        self.any.as_ref().ok_or_else(|| {
            CliError::new("this command needs the database URL of the store")
                .hint("pass -D/--database-url or set DATABASE_URL")
        })
    }
}

impl Target {
    /// Reads the URL's scheme.
    pub fn new(url: &str, schema: &str) -> CliResult<Self> {
        let bad = || {
            CliError::new(format!("`{url}` is not a database URL mink knows")).hint(
                "use `sqlite://<file>`, `sqlite::memory:`, `postgres://user@host/db` or `memory:`",
            )
        };
        let (scheme, rest) = url.split_once(':').ok_or_else(bad)?;
        let backend = match scheme {
            "memory" => Backend::Memory,
            "sqlite" => {
                let path = rest.strip_prefix("//").unwrap_or(rest);
                let path = path.split_once('?').map_or(path, |(p, _)| p);
                match path {
                    "" => return Err(bad()),
                    ":memory:" => Backend::SqliteMemory,
                    file => Backend::SqliteFile(PathBuf::from(file)),
                }
            }
            "postgres" | "postgresql" => Backend::Postgres,
            _ => return Err(bad()),
        };
        Ok(Target {
            url: url.to_owned(),
            schema: schema.to_owned(),
            backend,
        })
    }

    /// `sqlite`, `postgres` or `memory`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend {
            Backend::Memory => "memory",
            Backend::SqliteMemory | Backend::SqliteFile(_) => "sqlite",
            Backend::Postgres => "postgres",
        }
    }

    /// The URL without its password, for messages.
    pub fn display_url(&self) -> String {
        redact(&self.url)
    }

    /// Fails when a SQLite file is missing, instead of creating an empty
    /// database by accident.
    fn require_file(&self) -> CliResult {
        if let Backend::SqliteFile(path) = &self.backend
            && !path.exists()
        {
            return Err(CliError::new(format!(
                "there is no SQLite database at `{}`",
                path.display()
            ))
            .hint(
                "check the path in the database URL, or create the database with `mink migrate up`",
            ));
        }
        Ok(())
    }

    /// Opens the store as the application does. SQLite brings its schema up
    /// to date when it opens (as it does in the application); on
    /// PostgreSQL the CLI leaves the schema alone, so reading never
    /// migrates: `mink migrate up` does that.
    pub async fn open_store(&self) -> CliResult<Store> {
        self.require_file()?;
        let context = format!("could not open the store at {}", self.display_url());
        let any = match &self.backend {
            Backend::Postgres => PostgresStore::builder(self.url.clone())
                .schema(self.schema.clone())
                .max_connections(4)
                .acquire_timeout(CONNECT_TIMEOUT)
                .run_migrations(false)
                .build()
                .await
                .map(AnyStore::Postgres)
                .map_err(|e| missing_schema_hint(CliError::store(&context, e)))?,
            Backend::SqliteFile(path) => SqliteStore::options(path)
                .acquire_timeout(CONNECT_TIMEOUT)
                .open()
                .await
                .map(AnyStore::Sqlite)
                .map_err(|e| CliError::store(&context, e))?,
            _ => AnyStore::open(&self.url)
                .await
                .map_err(|e| CliError::store(&context, e))?,
        };
        Ok(Store {
            store: Arc::new(any.clone()),
            any: Some(any),
        })
    }

    /// A plain connection that runs no migrations. `create` lets a missing
    /// SQLite file (or PostgreSQL schema) be created.
    pub async fn raw(&self, create: bool) -> CliResult<Raw> {
        if !create {
            self.require_file()?;
        }
        let context = format!("could not connect to {}", self.display_url());
        match &self.backend {
            Backend::Memory => Err(CliError::new(
                "`memory:` is a store inside one process; there is no database to look at",
            )
            .hint("use a SQLite or PostgreSQL URL")),
            Backend::SqliteMemory | Backend::SqliteFile(_) => {
                let options = match &self.backend {
                    Backend::SqliteFile(path) => SqliteConnectOptions::new()
                        .filename(path)
                        .create_if_missing(create),
                    _ => SqliteConnectOptions::new().in_memory(true),
                }
                .busy_timeout(CONNECT_TIMEOUT);
                let pool = SqlitePoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(CONNECT_TIMEOUT)
                    .connect_with(options)
                    .await
                    .map_err(|e| CliError::sql(&context, e))?;
                Ok(Raw::Sqlite(pool))
            }
            Backend::Postgres => {
                let options = PgConnectOptions::from_str(&self.url)
                    .map_err(|e| CliError::sql(&context, e))?
                    .options([("search_path", self.schema.as_str())]);
                let pool = PgPoolOptions::new()
                    .max_connections(2)
                    .acquire_timeout(CONNECT_TIMEOUT)
                    .connect_with(options)
                    .await
                    .map_err(|e| CliError::sql(&context, e))?;
                Ok(Raw::Postgres(pool))
            }
        }
    }
}

/// Adds the fix for a schema that was never migrated.
fn missing_schema_hint(error: CliError) -> CliError {
    if error.hint.is_none() && error.message.contains("does not exist") {
        error.hint("the store's tables are missing; create them with `mink migrate up`")
    } else {
        error
    }
}

/// `url` with any password replaced by `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((user, host)) if user.contains(':') => {
            let name = user.split(':').next().unwrap_or_default();
            format!("{scheme}://{name}:***@{host}{tail}")
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden() {
        assert_eq!(
            redact("postgres://mink:secret@db:5432/app"),
            "postgres://mink:***@db:5432/app"
        );
        assert_eq!(redact("postgres://db/app"), "postgres://db/app");
        assert_eq!(redact("sqlite://a.db"), "sqlite://a.db");
    }

    #[test]
    fn schemes() {
        assert_eq!(
            Target::new("sqlite://x.db", "mink").map(|t| t.backend),
            Ok(Backend::SqliteFile("x.db".into()))
        );
        assert!(Target::new("mysql://h/db", "mink").is_err());
    }
}
