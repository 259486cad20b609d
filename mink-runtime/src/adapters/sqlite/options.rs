//! How a [`SqliteStore`](super::SqliteStore) is opened: file or memory,
//! reader pool size, busy timeout and input [`Limits`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::{Error, Result};
use crate::store::{CoalesceOptions, Limits};

/// The most bytes SQLite keeps in one string, blob or row
/// (`SQLITE_MAX_LENGTH` of the bundled library).
const SQLITE_MAX_LENGTH: usize = 1_000_000_000;

/// Room in a row for what [`Limits`] does not bound: the event id,
/// versions, timestamp and the record's header.
const ROW_OVERHEAD: usize = 1024;

/// Settings for opening a [`SqliteStore`](super::SqliteStore).
///
/// # Examples
///
/// ```no_run
/// # use std::time::Duration;
/// # use mink_runtime::adapters::sqlite::{SqliteStore, SqliteStoreOptions};
/// # async fn open() -> mink_runtime::Result<SqliteStore> {
/// let store = SqliteStoreOptions::file("mink.db")
///     .max_readers(8)
///     .busy_timeout(Duration::from_secs(10))
///     .open()
///     .await?;
/// # Ok(store) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqliteStoreOptions {
    pub(super) location: Location,
    pub(super) max_readers: u32,
    pub(super) busy_timeout: Duration,
    pub(super) acquire_timeout: Duration,
    pub(super) limits: Limits,
    pub(super) coalesce: Option<CoalesceOptions>,
}

/// Where the database lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Location {
    /// A file, created when missing.
    File(PathBuf),
    /// A private in-memory database, gone when the store is dropped.
    Memory,
}

impl SqliteStoreOptions {
    /// Default readers: enough for a few concurrent projections.
    const DEFAULT_MAX_READERS: u32 = 4;

    /// Default wait for a lock held by another process.
    const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

    /// Default wait for a turn or a connection.
    const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

    /// A store in the file at `path` (created when missing).
    pub fn file(path: impl AsRef<Path>) -> Self {
        SqliteStoreOptions::at(Location::File(path.as_ref().to_path_buf()))
    }

    /// A private in-memory store: one connection serves reads and writes,
    /// and the events are gone when the store is dropped.
    pub fn memory() -> Self {
        SqliteStoreOptions::at(Location::Memory)
    }

    fn at(location: Location) -> Self {
        SqliteStoreOptions {
            location,
            max_readers: Self::DEFAULT_MAX_READERS,
            busy_timeout: Self::DEFAULT_BUSY_TIMEOUT,
            acquire_timeout: Self::DEFAULT_ACQUIRE_TIMEOUT,
            limits: Limits::default(),
            coalesce: Some(CoalesceOptions::default()),
        }
    }

    /// How many connections may read at once (default 4). Writes always go
    /// through one separate connection. Ignored for in-memory stores.
    pub fn max_readers(mut self, readers: u32) -> Self {
        self.max_readers = readers;
        self
    }

    /// How long a call waits for its turn (appends queue for the one writer
    /// connection) or for a reader connection before it fails with
    /// [`Error::Unavailable`](crate::Error::Unavailable) (default 5 s).
    pub fn acquire_timeout(mut self, timeout: Duration) -> Self {
        self.acquire_timeout = timeout;
        self
    }

    /// How long a statement waits for a lock another process holds before
    /// it fails (SQLite's `busy_timeout`, default 5 s). Writers of the same
    /// store never wait on each other through it: they queue in process.
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// The bounds appends are checked against before anything is written
    /// (default [`Limits::default`]).
    ///
    /// SQLite sets no size on index keys (long ones spill to overflow
    /// pages), so stream ids and event types are bounded only by the row:
    /// [`open`](Self::open) refuses limits under which one event's stream
    /// id, event type, payload and metadata could exceed the 1,000,000,000
    /// bytes SQLite keeps in a row.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// How concurrent appends are coalesced: appends to different streams
    /// that queue while an earlier one commits are written in one
    /// transaction, with one fsync, each caller still getting its own
    /// result or error (`docs/adr/021-coalesced-commits.md`). SQLite has
    /// one writer per file, so this is what lets many writers go faster
    /// than one commit at a time while staying durable. On by default with
    /// [`CoalesceOptions::default`]. Appends with a unit of work
    /// ([`EventStore::append_with`](crate::EventStore::append_with)) are
    /// never merged.
    pub fn coalesce(mut self, options: CoalesceOptions) -> Self {
        self.coalesce = Some(options);
        self
    }

    /// Writes every append in a transaction of its own: no coalescing.
    pub fn no_coalescing(mut self) -> Self {
        self.coalesce = None;
        self
    }

    /// Opens the store, creating the file and the schema when missing.
    ///
    /// Fails with [`Error::Configuration`] for limits an event could not
    /// fit a row under (see [`limits`](Self::limits)) or no reader.
    pub async fn open(self) -> Result<super::SqliteStore> {
        super::SqliteStore::open_with(self).await
    }
}

/// Refuses limits under which an event might not fit one SQLite row, so
/// such an event is refused by `Limits::check_appends` as
/// [`Error::InvalidInput`] instead of failing in SQLite.
pub(super) fn check_limits(limits: &Limits) -> Result<()> {
    let row = [
        limits.max_stream_id_len,
        limits.max_event_type_len,
        limits.max_event_size,
        limits.max_metadata_size,
    ]
    .into_iter()
    .fold(ROW_OVERHEAD, usize::saturating_add);
    if row > SQLITE_MAX_LENGTH {
        return Err(Error::Configuration(format!(
            "the limits allow an event of {row} bytes (stream id, event type, payload, \
             metadata and {ROW_OVERHEAD} bytes of other columns), more than the \
             {SQLITE_MAX_LENGTH} SQLite keeps in one row; lower `max_event_size` or \
             `max_metadata_size`"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_must_fit_a_row() {
        let with = |max_event_size| Limits {
            max_event_size,
            ..Limits::default()
        };
        assert!(check_limits(&Limits::default()).is_ok());
        let d = Limits::default();
        let room = SQLITE_MAX_LENGTH
            - ROW_OVERHEAD
            - d.max_stream_id_len
            - d.max_event_type_len
            - d.max_metadata_size;
        assert!(check_limits(&with(room)).is_ok());
        for too_big in [room + 1, usize::MAX] {
            match check_limits(&with(too_big)) {
                Err(Error::Configuration(message)) => {
                    assert!(message.contains("1000000000"), "{message}")
                }
                other => panic!("expected a configuration error, got {other:?}"),
            }
        }
    }
}
