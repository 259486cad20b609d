//! Opening a store from a URL: `memory:`, `sqlite://path`,
//! `sqlite::memory:`, `postgres://…`.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::memory::InMemoryStore;
use crate::error::{Error, Result};
use crate::event::{ExpectedVersion, NewEvent, Position, RecordedEvent};
use crate::store::{
    AppendResult, EventStore, IdempotencyStore, ReadAll, StreamAppend, StreamInfo, UnitOfWork,
};

/// A store of whichever adapter a URL names.
///
/// # Examples
///
/// ```
/// # use mink_runtime::{adapters::AnyStore, EventStore};
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> mink_runtime::Result<()> {
/// let store = AnyStore::open("memory:").await?;
/// assert_eq!(store.backend(), "memory");
/// assert!(AnyStore::open("mysql://localhost/db").await.is_err());
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum AnyStore {
    /// `memory:`
    Memory(InMemoryStore),
    /// `sqlite://path/to/file.db`, `sqlite:file.db` or `sqlite::memory:`
    #[cfg(feature = "sqlite")]
    Sqlite(super::sqlite::SqliteStore),
    /// `postgres://…` or `postgresql://…`, schema `mink`
    #[cfg(feature = "postgres")]
    Postgres(super::postgres::PostgresStore),
}

/// The adapter a URL names, before it is opened.
#[derive(Debug, PartialEq, Eq)]
enum Target<'a> {
    Memory,
    SqliteMemory,
    SqliteFile(&'a str),
    Postgres,
}

/// Reads the scheme of `url`, refusing unknown ones.
fn parse(url: &str) -> Result<Target<'_>> {
    let (scheme, rest) = url.split_once(':').ok_or_else(|| {
        Error::Configuration(format!(
            "store URL `{url}` has no scheme; use `memory:`, `sqlite://<file>` or `postgres://…`"
        ))
    })?;
    match scheme {
        "memory" => Ok(Target::Memory),
        "sqlite" => {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            let path = path.split_once('?').map_or(path, |(p, _)| p);
            match path {
                "" => Err(Error::Configuration(format!(
                    "store URL `{url}` names no file; use `sqlite://<file>` or `sqlite::memory:`"
                ))),
                ":memory:" => Ok(Target::SqliteMemory),
                file => Ok(Target::SqliteFile(file)),
            }
        }
        "postgres" | "postgresql" => Ok(Target::Postgres),
        other => Err(Error::Configuration(format!(
            "unknown store URL scheme `{other}` in `{url}`; use `memory:`, `sqlite://<file>` or `postgres://…`"
        ))),
    }
}

/// The error for a URL whose adapter this build does not have.
#[allow(dead_code, reason = "unused when every adapter feature is on")]
fn missing_feature(feature: &str, url: &str) -> Error {
    Error::Configuration(format!(
        "store URL `{url}` needs mink's `{feature}` feature; enable it with \
         `mink = {{ version = \"…\", features = [\"{feature}\"] }}`"
    ))
}

impl AnyStore {
    /// Opens the store `url` names, creating files and running migrations
    /// as each adapter does. Fails with [`Error::Configuration`] for an
    /// unknown scheme, or a scheme whose cargo feature is off.
    pub async fn open(url: &str) -> Result<AnyStore> {
        match parse(url)? {
            Target::Memory => Ok(AnyStore::Memory(InMemoryStore::new())),
            #[cfg(feature = "sqlite")]
            Target::SqliteMemory => Ok(AnyStore::Sqlite(
                super::sqlite::SqliteStore::in_memory().await?,
            )),
            #[cfg(feature = "sqlite")]
            Target::SqliteFile(path) => Ok(AnyStore::Sqlite(
                super::sqlite::SqliteStore::open(path).await?,
            )),
            #[cfg(not(feature = "sqlite"))]
            Target::SqliteMemory | Target::SqliteFile(_) => Err(missing_feature("sqlite", url)),
            #[cfg(feature = "postgres")]
            Target::Postgres => Ok(AnyStore::Postgres(
                super::postgres::PostgresStore::connect(url).await?,
            )),
            #[cfg(not(feature = "postgres"))]
            Target::Postgres => Err(missing_feature("postgres", url)),
        }
    }

    /// The adapter's name: `memory`, `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self {
            AnyStore::Memory(_) => "memory",
            #[cfg(feature = "sqlite")]
            AnyStore::Sqlite(_) => "sqlite",
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(_) => "postgres",
        }
    }

    /// The idempotency records kept beside this store's events.
    pub fn idempotency(&self) -> Arc<dyn IdempotencyStore> {
        match self {
            AnyStore::Memory(s) => Arc::new(s.idempotency()),
            #[cfg(feature = "sqlite")]
            AnyStore::Sqlite(s) => Arc::new(s.idempotency()),
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(s) => Arc::new(s.idempotency()),
        }
    }

    /// The read models kept in this store's database.
    pub fn read_models(&self) -> Arc<dyn crate::read_model::ReadModelStore> {
        match self {
            AnyStore::Memory(s) => Arc::new(s.read_models()),
            #[cfg(feature = "sqlite")]
            AnyStore::Sqlite(s) => Arc::new(s.read_models()),
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(s) => Arc::new(s.read_models()),
        }
    }

    /// The streams `query` selects, in the order they were first written
    /// (see [`StreamQuery`](super::memory::inspect::StreamQuery)).
    pub async fn list_streams(
        &self,
        query: &super::memory::inspect::StreamQuery,
    ) -> Result<Vec<StreamInfo>> {
        match self {
            AnyStore::Memory(s) => s.list_streams(query).await,
            #[cfg(feature = "sqlite")]
            AnyStore::Sqlite(s) => s.list_streams(query).await,
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(s) => s.list_streams(query).await,
        }
    }

    /// Counts and sizes of the whole log, with the `top` longest streams.
    pub async fn log_stats(&self, top: usize) -> Result<super::memory::inspect::LogStats> {
        match self {
            AnyStore::Memory(s) => s.log_stats(top).await,
            #[cfg(feature = "sqlite")]
            AnyStore::Sqlite(s) => s.log_stats(top).await,
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(s) => s.log_stats(top).await,
        }
    }

    fn inner(&self) -> &dyn EventStore {
        match self {
            AnyStore::Memory(s) => s,
            #[cfg(feature = "sqlite")]
            AnyStore::Sqlite(s) => s,
            #[cfg(feature = "postgres")]
            AnyStore::Postgres(s) => s,
        }
    }
}

#[async_trait]
impl EventStore for AnyStore {
    async fn append_to_streams(&self, appends: Vec<StreamAppend>) -> Result<AppendResult> {
        self.inner().append_to_streams(appends).await
    }
    async fn append_with(
        &self,
        appends: Vec<StreamAppend>,
        work: &dyn UnitOfWork,
    ) -> Result<AppendResult> {
        self.inner().append_with(appends, work).await
    }
    async fn append_to_stream(
        &self,
        stream_id: &str,
        expected: ExpectedVersion,
        events: Vec<NewEvent>,
    ) -> Result<AppendResult> {
        self.inner()
            .append_to_stream(stream_id, expected, events)
            .await
    }
    async fn read_stream_forward(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> Result<Vec<RecordedEvent>> {
        self.inner()
            .read_stream_forward(stream_id, from_version, limit)
            .await
    }
    async fn read_all_forward(&self, request: ReadAll) -> Result<Vec<RecordedEvent>> {
        self.inner().read_all_forward(request).await
    }
    async fn stream_info(&self, stream_id: &str) -> Result<Option<StreamInfo>> {
        self.inner().stream_info(stream_id).await
    }
    async fn head_position(&self) -> Result<Position> {
        self.inner().head_position().await
    }
    async fn wait_until_visible(&self, position: Position, timeout: Duration) -> Result<()> {
        self.inner().wait_until_visible(position, timeout).await
    }
    fn log_changes(&self) -> crate::store::LogChanges {
        self.inner().log_changes()
    }
    fn projection_store(&self) -> Option<std::sync::Arc<dyn crate::store::ProjectionStore>> {
        self.inner().projection_store()
    }
    fn outbox_store(&self) -> Option<std::sync::Arc<dyn crate::store::OutboxStore>> {
        self.inner().outbox_store()
    }
    fn saga_store(&self) -> Option<std::sync::Arc<dyn crate::store::SagaStore>> {
        self.inner().saga_store()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        let cases = [
            ("memory:", Some(Target::Memory)),
            ("sqlite::memory:", Some(Target::SqliteMemory)),
            ("sqlite://mink.db", Some(Target::SqliteFile("mink.db"))),
            (
                "sqlite:///tmp/a.db?mode=rwc",
                Some(Target::SqliteFile("/tmp/a.db")),
            ),
            ("sqlite:data/a.db", Some(Target::SqliteFile("data/a.db"))),
            ("postgres://u@h/db", Some(Target::Postgres)),
            ("postgresql://u@h/db", Some(Target::Postgres)),
            ("sqlite://", None),
            ("mysql://h/db", None),
            ("mink.db", None),
        ];
        for (url, want) in cases {
            match (parse(url), want) {
                (Ok(got), Some(want)) => assert_eq!(got, want, "{url}"),
                (Err(Error::Configuration(message)), None) => {
                    assert!(message.contains(url), "{message}")
                }
                (other, want) => panic!("{url}: got {other:?}, wanted {want:?}"),
            }
        }
    }
}
