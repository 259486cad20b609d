//! The conformance suite against the SQLite store, each case on a fresh
//! file in its own temp dir.

use std::sync::Arc;

use mink::adapters::sqlite::SqliteStore;
use mink::{EventStore, Limits};

async fn sqlite_store(limits: Limits) -> Option<Arc<dyn EventStore>> {
    let dir = tempfile::tempdir().expect("a temp dir for the database");
    let store = SqliteStore::options(dir.path().join("mink.db"))
        .limits(limits)
        .open()
        .await
        .expect("open a fresh SQLite store");
    // The dir (and the file) goes when the store does.
    Some(mink_tests::conformance::keep_alive(store, dir))
}

mink_tests::conformance_suite!(sqlite_store);
