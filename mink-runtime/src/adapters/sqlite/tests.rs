//! What only the SQLite store promises: the file, its schema and its
//! behaviour with other connections. Everything every store promises is in
//! the conformance suite (`tests/src/conformance.rs`).

use std::path::PathBuf;

use super::*;
use crate::event::NewEvent;

/// A database file in the temp dir, removed (with its WAL files) on drop.
struct TempDb(PathBuf);

impl TempDb {
    fn new() -> Self {
        TempDb(std::env::temp_dir().join(format!("mink-sqlite-{}.db", uuid::Uuid::now_v7())))
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

fn json_event(event_type: &str, json: &str) -> NewEvent {
    NewEvent::new(event_type, json.as_bytes().to_vec())
}

#[tokio::test]
async fn reopening_keeps_events_and_migrations_are_a_no_op() {
    let db = TempDb::new();
    let store = SqliteStore::open(&db.0).await.unwrap();
    store
        .append_to_stream(
            "order-1",
            ExpectedVersion::NoStream,
            vec![json_event("Created", "{}")],
        )
        .await
        .unwrap();
    store.close().await;

    let reopened = SqliteStore::open(&db.0).await.unwrap();
    MIGRATOR.run(&reopened.writer).await.unwrap();
    let events = reopened
        .read_stream_forward("order-1", 1, 10)
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
        .fetch_one(&reopened.readers)
        .await
        .unwrap();
    assert_eq!(applied, MIGRATOR.iter().count() as i64);
}

#[tokio::test]
async fn the_file_is_in_wal_mode_and_readable_as_plain_columns() {
    let db = TempDb::new();
    let store = SqliteStore::open(&db.0).await.unwrap();
    store
        .append_to_stream(
            "order-7",
            ExpectedVersion::Any,
            vec![
                json_event("Created", r#"{"total":3}"#),
                NewEvent::new("Blob", vec![0xff, 0x00]),
            ],
        )
        .await
        .unwrap();

    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&store.readers)
        .await
        .unwrap();
    assert_eq!(mode, "wal");

    let rows: Vec<(i64, String, i64, String, String, String, String)> = sqlx::query_as(
        "SELECT position, stream_id, version, event_type, typeof(payload), metadata, category \
         FROM events ORDER BY position",
    )
    .fetch_all(&store.readers)
    .await
    .unwrap();
    assert_eq!(
        rows,
        vec![
            (
                1,
                "order-7".into(),
                1,
                "Created".into(),
                "text".into(),
                "{}".into(),
                "order".into()
            ),
            (
                2,
                "order-7".into(),
                2,
                "Blob".into(),
                "blob".into(),
                "{}".into(),
                "order".into()
            ),
        ]
    );
    let payload: String = sqlx::query_scalar("SELECT payload FROM events WHERE position = 1")
        .fetch_one(&store.readers)
        .await
        .unwrap();
    assert_eq!(payload, r#"{"total":3}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_on_one_file_never_report_busy() {
    let db = TempDb::new();
    let options = SqliteStore::options(&db.0).busy_timeout(Duration::from_millis(50));
    let first = options.clone().open().await.unwrap();
    let second = options.open().await.unwrap();
    let mut tasks = Vec::new();
    for (n, store) in [first.clone(), second.clone()]
        .into_iter()
        .cycle()
        .take(8)
        .enumerate()
    {
        tasks.push(tokio::spawn(async move {
            for i in 0..25 {
                store
                    .append_to_stream(
                        &format!("task-{n}"),
                        ExpectedVersion::Exact(i),
                        vec![json_event("Tick", "{}")],
                    )
                    .await
                    .unwrap();
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(
        first.head_position().await.unwrap(),
        Position::sequential(200)
    );
    for n in 0..8 {
        let info = second
            .stream_info(&format!("task-{n}"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(info.version, 25);
    }
}

#[tokio::test]
async fn in_memory_stores_are_private() {
    let a = SqliteStore::in_memory().await.unwrap();
    let b = SqliteStore::in_memory().await.unwrap();
    a.append_to_stream("s", ExpectedVersion::NoStream, vec![json_event("E", "{}")])
        .await
        .unwrap();
    assert_eq!(a.head_position().await.unwrap(), Position::sequential(1));
    assert_eq!(b.head_position().await.unwrap(), Position::START);
}

#[tokio::test]
async fn zero_readers_is_a_configuration_error() {
    let db = TempDb::new();
    let err = SqliteStore::options(&db.0)
        .max_readers(0)
        .open()
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Configuration(_)), "{err:?}");
}

/// Holds the writer for a while inside the append transaction.
struct SlowWork(Duration);

impl UnitOfWork for SlowWork {
    fn run<'a>(
        &'a self,
        _tx: &'a mut dyn crate::store::StoreTransaction,
        _written: &'a AppendResult,
    ) -> crate::store::WorkFuture<'a> {
        Box::pin(async move {
            tokio::time::sleep(self.0).await;
            Ok(())
        })
    }
}

/// An append that cannot get its turn within the wait fails as
/// unavailable, writing nothing; the one holding the turn lands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_for_the_writer_is_bounded() {
    let db = TempDb::new();
    let store = SqliteStore::options(&db.0)
        .acquire_timeout(Duration::from_millis(50))
        .open()
        .await
        .unwrap();
    let holder = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .append_with(
                    vec![StreamAppend::new(
                        "held",
                        ExpectedVersion::NoStream,
                        vec![json_event("E", "{}")],
                    )],
                    &SlowWork(Duration::from_millis(500)),
                )
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused = store
        .append_to_stream(
            "queued",
            ExpectedVersion::NoStream,
            vec![json_event("E", "{}")],
        )
        .await;
    assert!(matches!(refused, Err(Error::Unavailable(_))), "{refused:?}");
    holder.await.unwrap().expect("the holder lands");
    assert!(store.stream_info("queued").await.unwrap().is_none());
    assert!(store.stream_info("held").await.unwrap().is_some());
}
