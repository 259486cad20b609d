//! The SQLite event store: one file, WAL mode. (Being written.)

/// The SQLite event store.
#[derive(Debug)]
pub struct SqliteStore;
