//! How a [`SqliteStore`](super::SqliteStore) is opened: file or memory,
//! reader pool size, busy timeout and input [`Limits`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::error::Result;
use crate::store::Limits;

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
    pub(super) limits: Limits,
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
            limits: Limits::default(),
        }
    }

    /// How many connections may read at once (default 4). Writes always go
    /// through one separate connection. Ignored for in-memory stores.
    pub fn max_readers(mut self, readers: u32) -> Self {
        self.max_readers = readers;
        self
    }

    /// How long a statement waits for a lock another process holds before
    /// it fails (SQLite's `busy_timeout`, default 5 s). Writers of the same
    /// store never wait on each other through it: they queue in process.
    pub fn busy_timeout(mut self, timeout: Duration) -> Self {
        self.busy_timeout = timeout;
        self
    }

    /// The bounds appends are checked against before anything is written.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Opens the store, creating the file and the schema when missing.
    pub async fn open(self) -> Result<super::SqliteStore> {
        super::SqliteStore::open_with(self).await
    }
}
