//! A log dumped with `pg_dump` and restored into a fresh cluster: the store
//! refuses to open it with an error that names the fix, and once repaired,
//! the log reads complete and in its original order, and new appends sort
//! after it.

use std::process::{Command, Stdio};

use mink::adapters::postgres::sqlx;
use mink::store::{CheckpointUpdate, DeadLetter, ProjectionStore as _, RebuildStep};
use mink::{Error, EventStore, ExpectedVersion, Position, PostgresStore, ReadAll};

use super::support::{Cluster, event, one, test_store};

/// Subtransactions that write take transaction ids: this advances the
/// shared server's counter well past what a fresh cluster hands out while
/// the dump is restored.
const BURN: &str = "DO $$ BEGIN \
    CREATE TEMP TABLE IF NOT EXISTS mink_burn (n int); \
    FOR i IN 1..12000 LOOP \
        BEGIN INSERT INTO mink_burn VALUES (i); EXCEPTION WHEN others THEN NULL; END; \
    END LOOP; END $$";

fn run(program: std::path::PathBuf, args: &[&str]) {
    let status = Command::new(&program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("{}: {e}", program.display()));
    assert!(status.success(), "{} {args:?} failed", program.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_restored_into_another_cluster_is_repaired_in_order() {
    let Some(source) = test_store().await else {
        return;
    };
    let Some(cluster) = Cluster::start() else {
        return;
    };
    let next: i64 =
        sqlx::query_scalar("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint")
            .fetch_one(source.pool())
            .await
            .expect("next transaction id");
    if next < 10_000 {
        sqlx::query(BURN)
            .execute(source.pool())
            .await
            .expect("advance the transaction ids");
    }

    // A transaction that takes its id first and appends last: its event
    // has the higher position but sorts first in the log.
    let mut early = source.pool().begin().await.expect("begin");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "LOCK TABLE {}.events IN ROW EXCLUSIVE MODE",
        source.schema()
    )))
    .execute(&mut *early)
    .await
    .expect("lock the table before taking an id");
    sqlx::query("SELECT pg_current_xact_id()")
        .execute(&mut *early)
        .await
        .expect("take an id");
    source
        .append_to_stream("moved-b", ExpectedVersion::NoStream, vec![event("B", 2)])
        .await
        .expect("append b");
    source
        .append_to_streams_in(
            &mut early,
            one("moved-a", ExpectedVersion::NoStream, event("A", 1)),
        )
        .await
        .expect("append a");
    early.commit().await.expect("commit");
    source
        .append_to_stream("moved-c", ExpectedVersion::NoStream, vec![event("C", 3)])
        .await
        .expect("append c");
    let original = source
        .read_all_forward(ReadAll::after(Position::START, 100))
        .await
        .expect("read the source log");
    let positions: Vec<Position> = original.iter().map(|e| e.position).collect();
    let original: Vec<_> = original.iter().map(|e| e.event_id).collect();
    assert_eq!(original.len(), 3);

    // A projection that applied the first two events, parked the third and
    // was asked to rebuild the range between the first and the third.
    let checkpoints = source.projection_store().expect("a projection store");
    let lease = checkpoints
        .acquire(
            "moved-projection",
            "source",
            std::time::Duration::from_secs(1),
        )
        .await
        .unwrap()
        .expect("a lease");
    let tx = checkpoints.begin(&lease).await.unwrap();
    tx.commit(CheckpointUpdate {
        from: Position::START,
        to: positions[1],
        applied: 2,
        parked: vec![DeadLetter {
            projection: "moved-projection".into(),
            position: positions[2],
            event_id: original[2],
            stream_id: "moved-c".into(),
            version: 1,
            event_type: "C".into(),
            error: "parked before the move".into(),
            attempts: 1,
            parked_at: chrono::Utc::now(),
        }],
        rebuild: RebuildStep::None,
    })
    .await
    .expect("store the checkpoint");
    checkpoints
        .request_rebuild("moved-projection", positions[0], Some(positions[2]))
        .await
        .expect("ask for a rebuild");

    // Dump the store's schema; restore it into the fresh cluster.
    let dir = tempfile::tempdir().expect("temp dir");
    let dump = dir.path().join("mink.sql");
    let dump = dump.to_str().expect("a UTF-8 path");
    let url = super::support::server_url().expect("the gate saw a URL");
    run(
        cluster.program("pg_dump"),
        &[
            "--dbname",
            &url,
            "--schema",
            source.schema(),
            "--file",
            dump,
        ],
    );
    run(
        cluster.program("psql"),
        &[
            "--dbname",
            &cluster.url(),
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-f",
            dump,
        ],
    );

    // Opening it as it is: refused, naming the fix.
    match PostgresStore::builder(cluster.url())
        .schema(source.schema())
        .build()
        .await
    {
        Err(Error::Configuration(message)) => {
            assert!(message.contains("repair_restored_log"), "{message}")
        }
        other => panic!("expected the restored log to be refused, got {other:?}"),
    }

    let moved = PostgresStore::builder(cluster.url())
        .schema(source.schema())
        .repair_restored_log(true)
        .build()
        .await
        .expect("open and repair");
    assert!(!moved.holds_foreign_transaction_ids().await.unwrap());
    let read = moved
        .read_all_forward(ReadAll::after(Position::START, 100))
        .await
        .expect("read the moved log");
    let ids: Vec<_> = read.iter().map(|e| e.event_id).collect();
    assert_eq!(ids, original, "complete and in its original order");
    // The projection's positions moved with their events.
    let moved_checkpoints = moved.projection_store().expect("a projection store");
    let record = moved_checkpoints
        .record("moved-projection")
        .await
        .unwrap()
        .expect("the record came along");
    assert_eq!(record.checkpoint, read[1].position);
    let rebuild = record.rebuild.expect("the rebuild request came along");
    assert_eq!(
        (rebuild.from, rebuild.to),
        (read[0].position, Some(read[2].position))
    );
    let dead = moved_checkpoints
        .dead_letters("moved-projection")
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].position, read[2].position);
    assert_eq!(dead[0].event_id, original[2]);

    let after = moved
        .append_to_stream("moved-d", ExpectedVersion::NoStream, vec![event("D", 4)])
        .await
        .expect("append on the new cluster");
    let last = after.last_position().expect("one event");
    moved
        .wait_until_visible(last, std::time::Duration::from_secs(10))
        .await
        .expect("visible");
    let read = moved
        .read_all_forward(ReadAll::after(Position::START, 100))
        .await
        .expect("read again");
    assert_eq!(read.len(), 4);
    assert_eq!(
        read[3].stream_id, "moved-d",
        "new appends sort after the restored log"
    );
    assert!(read.windows(2).all(|w| w[0].position < w[1].position));
    // A second repair finds nothing to do.
    assert_eq!(moved.repair_restored_log().await.unwrap().events, 0);
    assert_ne!(
        moved.cluster_identity().await.unwrap(),
        source.cluster_identity().await.unwrap(),
        "another cluster, another identity"
    );
}
