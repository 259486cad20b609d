//! How SQLite's errors reach the callers of a
//! [`SqliteStore`](super::SqliteStore).

use crate::error::Error;

/// Maps a sqlx error to the runtime's. No connection within the pool's
/// wait, or a file another process kept locked past the busy timeout (and
/// the append's retries), is [`Error::Unavailable`]: nothing was written,
/// and a retry with the same event ids may succeed. The rest is a backend
/// failure.
pub(super) fn map_error(err: sqlx::Error) -> Error {
    if matches!(err, sqlx::Error::PoolTimedOut) || super::is_busy(&err) {
        return Error::Unavailable(Box::new(err));
    }
    Error::backend(err)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use sqlx::Connection;
    use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};

    use crate::adapters::sqlite::SqliteStore;
    use crate::error::Error;
    use crate::event::{ExpectedVersion, NewEvent};
    use crate::store::{EventStore, IdempotencyStore};

    /// Another process holding the file's write lock past the busy timeout
    /// makes appends and idempotency claims fail as unavailable; once the
    /// lock is gone, the append retried with the same event id is stored.
    #[tokio::test]
    async fn a_file_locked_elsewhere_is_unavailable_until_released() {
        let path = std::env::temp_dir().join(format!("mink-busy-{}.db", uuid::Uuid::now_v7()));
        let store = SqliteStore::options(&path)
            .busy_timeout(Duration::from_millis(10))
            .open()
            .await
            .expect("open the store");
        let mut other =
            SqliteConnection::connect_with(&SqliteConnectOptions::new().filename(&path))
                .await
                .expect("a second connection");
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut other)
            .await
            .expect("take the write lock");

        let event = NewEvent::new("Tick", b"{}".to_vec());
        let append = || store.append_to_stream("s", ExpectedVersion::Any, vec![event.clone()]);
        match append().await {
            Err(Error::Unavailable(_)) => {}
            other => panic!("expected the append to be unavailable, got {other:?}"),
        }
        match store
            .idempotency()
            .claim("key", Duration::from_secs(60))
            .await
        {
            Err(Error::Unavailable(_)) => {}
            other => panic!("expected the claim to be unavailable, got {other:?}"),
        }

        sqlx::query("ROLLBACK")
            .execute(&mut other)
            .await
            .expect("release the write lock");
        let written = append().await.expect("the retry is stored");
        assert_eq!(written.streams[0].last_version, 1);
        match append().await {
            Err(Error::DuplicateEventId { event_id }) => assert_eq!(event_id, event.event_id),
            other => panic!("expected a second retry to be refused, got {other:?}"),
        }

        store.close().await;
        drop(other);
        for suffix in ["", "-wal", "-shm"] {
            let mut file = path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}
