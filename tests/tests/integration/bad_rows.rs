//! Rows written by hand (`psql`, `sqlite3`) never stop or crash readers
//! (docs/adr/011-undecodable-rows.md).
//!
//! - A row that cannot be decoded is [`Error::Undecodable`], naming its
//!   stream, version and position. A page of the global log stops just
//!   before it; when it is the first row of the page, the read fails naming
//!   it, and reading after its position skips it.
//! - A stream read fails on a bad row, and on a version that does not follow
//!   the one before it (a gap).
//! - Every edge value of every column reads as an event or as
//!   [`Error::Undecodable`]; no read panics or fails any other way.
//!
//! Each case runs on SQLite (a temp file, written through a second
//! connection) and on PostgreSQL (a fresh schema, skipped with `skipped: …`
//! when `MINK_TEST_POSTGRES_URL` is unset).

use std::panic::AssertUnwindSafe;
use std::time::Duration;

use futures::FutureExt;
use mink::adapters::postgres::sqlx as pg;
use mink::adapters::sqlite::SqliteStore;
use mink::adapters::sqlite::sqlx as lite;
use mink::{
    Error, EventStore, ExpectedVersion, NewEvent, Position, ReadAll, ReadFilter, RecordedEvent,
};
use uuid::Uuid;

use crate::postgres::support::{TestStore, test_store};

/// How long a PostgreSQL test waits for its rows to become readable in the
/// global log (another session's open transaction holds readers back).
const PATIENCE: Duration = Duration::from_secs(90);

// ---------------------------------------------------------------------------
// Writing rows by hand

/// An events table written behind the store's back, and the store reading it.
enum Table {
    Sqlite {
        store: SqliteStore,
        by_hand: lite::SqlitePool,
        _dir: tempfile::TempDir,
    },
    Postgres(TestStore),
}

/// Where a hand-written row landed.
#[derive(Debug, Clone, Copy)]
struct Inserted {
    /// The position a read names for it (a position below 0, which
    /// [`Position`] cannot hold, is named as 0 in its transaction).
    named: Position,
    /// A position just before it: a read after it starts with this row
    /// (when the row is in the readable log at all).
    before: Position,
}

impl Table {
    async fn sqlite() -> Table {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("mink.db");
        let store = SqliteStore::open(&path).await.expect("open the store");
        let by_hand = lite::SqlitePool::connect_with(
            lite::sqlite::SqliteConnectOptions::new()
                .filename(&path)
                .busy_timeout(Duration::from_secs(10)),
        )
        .await
        .expect("a second connection to the file");
        Table::Sqlite {
            store,
            by_hand,
            _dir: dir,
        }
    }

    async fn postgres() -> Option<Table> {
        test_store().await.map(Table::Postgres)
    }

    fn store(&self) -> &dyn EventStore {
        match self {
            Table::Sqlite { store, .. } => store,
            Table::Postgres(store) => &**store,
        }
    }

    /// Inserts one row. `columns` are (column, SQL expression) pairs that
    /// override a valid default row of stream `edge` at version 1.
    async fn insert(&self, columns: &[(&str, String)]) -> Inserted {
        let id = format!("'{}'", Uuid::now_v7());
        let created_at = match self {
            Table::Sqlite { .. } => "'2025-01-02T03:04:05.000000Z'",
            Table::Postgres(_) => "'2025-01-02 03:04:05+00'",
        };
        let mut row: Vec<(&str, String)> = vec![
            ("event_id", id),
            ("stream_id", "'edge'".into()),
            ("version", "1".into()),
            ("event_type", "'Edge'".into()),
            ("schema_version", "1".into()),
            ("payload", r#"'{"n":1}'"#.into()),
            ("metadata", "'{}'".into()),
            ("created_at", created_at.into()),
        ];
        for (column, value) in columns {
            match row.iter_mut().find(|(c, _)| c == column) {
                Some(slot) => slot.1 = value.clone(),
                None => row.push((column, value.clone())),
            }
        }
        let names = row.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ");
        let values = row.iter().map(|(_, v)| v.as_str()).collect::<Vec<_>>();
        let values = values.join(", ");
        match self {
            Table::Sqlite { by_hand, .. } => {
                let sql =
                    format!("INSERT INTO events ({names}) VALUES ({values}) RETURNING position");
                let position: i64 = lite::query_scalar(lite::AssertSqlSafe(sql))
                    .fetch_one(by_hand)
                    .await
                    .unwrap_or_else(|e| panic!("insert into {}: {e}", names));
                let at = |n: i64| Position::sequential(u64::try_from(n).unwrap_or(0));
                Inserted {
                    named: at(position),
                    before: at(position.saturating_sub(1)),
                }
            }
            Table::Postgres(store) => {
                // Setting `position` (an identity column) needs the override.
                let overriding = if names.contains("position") {
                    "OVERRIDING SYSTEM VALUE"
                } else {
                    ""
                };
                let sql = format!(
                    "INSERT INTO {}.events ({names}) {overriding} VALUES ({values}) \
                     RETURNING transaction_id::text, position",
                    store.schema()
                );
                let (commit, event): (String, i64) = pg::query_as(pg::AssertSqlSafe(sql))
                    .fetch_one(store.pool())
                    .await
                    .unwrap_or_else(|e| panic!("insert into {}: {e}", names));
                let commit: u64 = commit.parse().expect("a transaction id");
                // Each insert is its own transaction: the row is the only
                // one in `commit`, so the end of the one before precedes it.
                let before = match commit.checked_sub(1) {
                    Some(earlier) => Position {
                        commit: earlier,
                        event: u64::MAX,
                    },
                    None => Position::START,
                };
                Inserted {
                    named: Position {
                        commit,
                        event: u64::try_from(event).unwrap_or(0),
                    },
                    before,
                }
            }
        }
    }

    /// Waits until the global log shows every row written so far. SQLite
    /// shows a commit at once; on PostgreSQL another session's open
    /// transaction holds readers back, so a marker is appended and waited
    /// for (it sorts after every row written before it).
    async fn wait_for_log(&self) {
        let Table::Postgres(store) = self else {
            return;
        };
        let written = store
            .append_to_stream(
                "marker",
                ExpectedVersion::Any,
                vec![NewEvent::new("Marker", b"{}".to_vec())],
            )
            .await
            .expect("append a marker");
        store
            .wait_until_visible(written.streams[0].events[0].position, PATIENCE)
            .await
            .expect("the marker becomes readable");
    }

    /// Quotes `text` as an SQL string literal.
    fn text(text: &str) -> String {
        format!("'{}'", text.replace('\'', "''"))
    }
}

// ---------------------------------------------------------------------------
// Reading without panicking

/// Runs `read`, turning a panic into a failure line for `case`.
async fn no_panic<T>(
    failures: &mut Vec<String>,
    case: &str,
    what: &str,
    read: impl std::future::Future<Output = T>,
) -> Option<T> {
    match AssertUnwindSafe(read).catch_unwind().await {
        Ok(result) => Some(result),
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_default();
            failures.push(format!("{case}: {what} panicked: {message}"));
            None
        }
    }
}

fn positions(events: &[RecordedEvent]) -> Vec<Position> {
    events.iter().map(|e| e.position).collect()
}

/// The error as a short line, for failure messages.
fn describe<T: std::fmt::Debug>(result: &Result<T, Error>) -> String {
    let line = format!("{result:?}");
    line.chars().take(300).collect()
}

// ---------------------------------------------------------------------------
// The page policy

/// Good, bad, good in one stream: the log stops just before the bad row;
/// read from it, it is named; read after it, the log goes on. The stream
/// read fails naming it.
async fn a_bad_row_stops_the_log_just_before_it(table: &Table) {
    let stream = |v: u32| {
        vec![
            ("stream_id", Table::text("policy-1")),
            ("version", v.to_string()),
        ]
    };
    let first = table.insert(&stream(1)).await;
    let mut bad_columns = stream(2);
    bad_columns.push(("metadata", Table::text(r#"{"custom":{"k":5}}"#)));
    let bad = table.insert(&bad_columns).await;
    let third = table.insert(&stream(3)).await;
    table.wait_for_log().await;
    let store = table.store();

    let page = store
        .read_all_forward(ReadAll::after(first.before, 10))
        .await
        .expect("the rows before the bad one");
    assert_eq!(positions(&page), vec![first.named], "stops just before it");

    let named = store
        .read_all_forward(ReadAll::after(first.named, 10))
        .await;
    match &named {
        Err(Error::Undecodable {
            stream,
            version,
            position,
            reason,
        }) => {
            assert_eq!((stream.as_str(), *version), ("policy-1", 2));
            assert_eq!(*position, bad.named);
            assert!(
                reason.contains("metadata"),
                "reason names the column: {reason}"
            );
        }
        other => panic!("the bad row first in the page: {}", describe(other)),
    }

    let after = store
        .read_all_forward(ReadAll::after(bad.named, 2))
        .await
        .expect("the log after the bad row");
    assert_eq!(
        positions(&after).first(),
        Some(&third.named),
        "skipped by reading after it"
    );

    let read = store.read_stream_forward("policy-1", 1, 10).await;
    assert!(
        matches!(&read, Err(Error::Undecodable { version: 2, position, .. }) if *position == bad.named),
        "the stream read names it: {}",
        describe(&read)
    );
    let rest = store
        .read_stream_forward("policy-1", 3, 10)
        .await
        .expect("the stream after it");
    assert_eq!(positions(&rest), vec![third.named]);
    let info = store
        .stream_info("policy-1")
        .await
        .expect("first and last rows are fine");
    assert_eq!(info.map(|i| i.version), Some(3));
}

#[tokio::test]
async fn sqlite_a_bad_row_stops_the_log_just_before_it() {
    a_bad_row_stops_the_log_just_before_it(&Table::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_bad_row_stops_the_log_just_before_it() {
    let Some(table) = Table::postgres().await else {
        return;
    };
    a_bad_row_stops_the_log_just_before_it(&table).await;
}

// ---------------------------------------------------------------------------
// Version gaps

/// A stream whose versions skip (1, 2, 7), or do not start at 1, fails to
/// read at the first version out of place. An append after a gap is taken
/// after the highest version and leaves the gap where it is.
async fn a_version_gap_is_undecodable(table: &Table) {
    let at = |stream: &str, v: u32| {
        vec![
            ("stream_id", Table::text(stream)),
            ("version", v.to_string()),
        ]
    };
    table.insert(&at("gap-1", 1)).await;
    let two = table.insert(&at("gap-1", 2)).await;
    let seven = table.insert(&at("gap-1", 7)).await;
    let late_start = table.insert(&at("gap-2", 2)).await;
    table.insert(&at("gap-2", 3)).await;
    table.wait_for_log().await;
    let store = table.store();

    for from in [0, 1, 3] {
        let read = store.read_stream_forward("gap-1", from, 10).await;
        assert!(
            matches!(&read, Err(Error::Undecodable { stream, version: 7, position, .. })
                if stream == "gap-1" && *position == seven.named),
            "from version {from}: {}",
            describe(&read)
        );
    }
    let before_gap = store
        .read_stream_forward("gap-1", 1, 2)
        .await
        .expect("a page that ends before the gap");
    assert_eq!(positions(&before_gap)[1], two.named);
    let read = store.read_stream_forward("gap-2", 1, 10).await;
    assert!(
        matches!(&read, Err(Error::Undecodable { version: 2, position, .. }) if *position == late_start.named),
        "a stream that starts at 2: {}",
        describe(&read)
    );
    let exact = store
        .read_stream_forward("gap-2", 2, 10)
        .await
        .expect("read from where the stream starts");
    assert_eq!(exact.len(), 2);

    // The global log does not number by stream: every row is there.
    let gaps = ReadFilter::all().stream("gap-1").stream("gap-2");
    let log = store
        .read_all_forward(ReadAll::after(Position::START, 100).filter(gaps))
        .await
        .expect("the log");
    assert_eq!(log.len(), 5);

    // Tolerated (ADR 011): the append lands after the highest version, and
    // reading the stream still reports the gap.
    let appended = store
        .append_to_stream(
            "gap-1",
            ExpectedVersion::Any,
            vec![NewEvent::new("After", b"{}".to_vec())],
        )
        .await
        .expect("append after the gap");
    assert_eq!(appended.streams[0].events[0].version, 8);
    let read = store.read_stream_forward("gap-1", 1, 10).await;
    assert!(
        matches!(&read, Err(Error::Undecodable { version: 7, .. })),
        "still named: {}",
        describe(&read)
    );
}

#[tokio::test]
async fn sqlite_a_version_gap_is_undecodable() {
    a_version_gap_is_undecodable(&Table::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_version_gap_is_undecodable() {
    let Some(table) = Table::postgres().await else {
        return;
    };
    a_version_gap_is_undecodable(&table).await;
}

// ---------------------------------------------------------------------------
// Edge values of every column

/// What one read must give for a hand-written row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The row comes back as an event.
    Reads,
    /// The read fails with `Error::Undecodable` naming the row.
    Undecodable,
    /// The read does not reach the row (it is outside the log, or in no
    /// stream a caller can name).
    Absent,
}
use Outcome::{Absent, Reads, Undecodable};

/// One hand-written row and what reading it gives: by its stream (from
/// `from_version`) and in the global log.
struct Case {
    name: String,
    columns: Vec<(&'static str, String)>,
    from_version: u64,
    stream: Outcome,
    log: Outcome,
}

fn case(name: impl Into<String>, column: &'static str, value: impl Into<String>) -> Case {
    Case {
        name: name.into(),
        columns: vec![(column, value.into())],
        from_version: 1,
        stream: Reads,
        log: Reads,
    }
}

impl Case {
    fn undecodable(self) -> Case {
        self.reads(Undecodable, Undecodable)
    }
    fn reads(mut self, stream: Outcome, log: Outcome) -> Case {
        self.stream = stream;
        self.log = log;
        self
    }
    fn read_from(mut self, version: u64) -> Case {
        self.from_version = version;
        self
    }
}

/// Text of `len` bytes.
fn huge(len: usize) -> String {
    format!("'{}'", "x".repeat(len))
}

/// A JSON array nested `depth` deep, as a string literal.
fn nested(depth: usize) -> String {
    format!("'{}{}'", "[".repeat(depth), "]".repeat(depth))
}

/// Metadata cases shared by both adapters (the column is `jsonb` on
/// PostgreSQL, TEXT on SQLite).
fn metadata_cases() -> Vec<Case> {
    let undecodable = [
        "null",
        "[1,2,3]",
        r#""x""#,
        "5",
        r#"{"custom":{"k":5}}"#,
        r#"{"custom":[]}"#,
        r#"{"correlation_id":7}"#,
        r#"{"source":"import"}"#,
        r#"{"user_id":"u","extra":{}}"#,
    ];
    let reads = [
        "{}",
        r#"{"custom":{}}"#,
        r#"{"correlation_id":null}"#,
        r#"{"user_id":"u","tenant_id":"t","custom":{"k":"v"}}"#,
    ];
    let mut cases: Vec<Case> = undecodable
        .iter()
        .map(|m| case(format!("metadata {m}"), "metadata", Table::text(m)).undecodable())
        .collect();
    cases.extend(
        reads
            .iter()
            .map(|m| case(format!("metadata {m}"), "metadata", Table::text(m))),
    );
    cases.push(case("metadata nested 1000 deep", "metadata", nested(1000)).undecodable());
    cases
}

fn sqlite_cases() -> Vec<Case> {
    let mut cases = vec![
        case("a plain row", "payload", "'{}'"),
        // version (INTEGER, CHECK >= 1; text and blobs sort above numbers)
        case("version i64::MAX", "version", i64::MAX.to_string()).read_from(i64::MAX as u64),
        case("version as text", "version", "'seven'").undecodable(),
        case("version as real", "version", "1.5").undecodable(),
        case("version as blob", "version", "x'01'").undecodable(),
        // event_id (TEXT)
        case("event_id empty", "event_id", "''").undecodable(),
        case("event_id not a uuid", "event_id", "'not-a-uuid'").undecodable(),
        case(
            "event_id as blob",
            "event_id",
            format!("x'{}'", Uuid::now_v7().simple()),
        )
        .undecodable(),
        case("event_id not UTF-8", "event_id", "CAST(x'ff' AS TEXT)").undecodable(),
        case("event_id as integer", "event_id", "42").undecodable(),
        case(
            "event_id upper case",
            "event_id",
            format!("'{}'", Uuid::now_v7().to_string().to_uppercase()),
        ),
        // stream_id (TEXT): in no stream a caller names, but in the log
        case("stream_id empty", "stream_id", "''").reads(Absent, Reads),
        case("stream_id 1 MiB", "stream_id", huge(1 << 20)).reads(Absent, Reads),
        case("stream_id as blob", "stream_id", "x'65646765'").reads(Absent, Undecodable),
        case("stream_id not UTF-8", "stream_id", "CAST(x'ff' AS TEXT)").reads(Absent, Undecodable),
        // event_type (TEXT)
        case("event_type empty", "event_type", "''"),
        case("event_type 1 MiB", "event_type", huge(1 << 20)),
        case("event_type as blob", "event_type", "x'00ff'").undecodable(),
        case("event_type not UTF-8", "event_type", "CAST(x'ff' AS TEXT)").undecodable(),
        // schema_version (INTEGER)
        case("schema_version -1", "schema_version", "-1").undecodable(),
        case(
            "schema_version i64::MIN",
            "schema_version",
            i64::MIN.to_string(),
        )
        .undecodable(),
        case(
            "schema_version u32::MAX",
            "schema_version",
            u32::MAX.to_string(),
        ),
        case(
            "schema_version u32::MAX + 1",
            "schema_version",
            (u64::from(u32::MAX) + 1).to_string(),
        )
        .undecodable(),
        case(
            "schema_version i64::MAX",
            "schema_version",
            i64::MAX.to_string(),
        )
        .undecodable(),
        case("schema_version as text", "schema_version", "'one'").undecodable(),
        case("schema_version as real", "schema_version", "2.5").undecodable(),
        // payload (TEXT or BLOB, read as bytes)
        case("payload empty text", "payload", "''"),
        case("payload empty blob", "payload", "x''"),
        case("payload bytes", "payload", "x'00ff'"),
        case("payload not UTF-8 text", "payload", "CAST(x'ff' AS TEXT)"),
        case("payload 1 MiB", "payload", huge(1 << 20)),
        // metadata (TEXT): also what is not JSON at all
        case("metadata not JSON", "metadata", "'not json'").undecodable(),
        case("metadata empty", "metadata", "''").undecodable(),
        case("metadata as blob", "metadata", "x'7b7d'").undecodable(),
        case("metadata not UTF-8", "metadata", "CAST(x'ff' AS TEXT)").undecodable(),
        // created_at (TEXT, RFC 3339)
        case("created_at empty", "created_at", "''").undecodable(),
        case("created_at words", "created_at", "'yesterday'").undecodable(),
        case(
            "created_at month 13",
            "created_at",
            "'2025-13-01T00:00:00Z'",
        )
        .undecodable(),
        case("created_at as integer", "created_at", "1735689600").undecodable(),
        case("created_at as blob", "created_at", "x'00'").undecodable(),
        case("created_at not UTF-8", "created_at", "CAST(x'ff' AS TEXT)").undecodable(),
        case(
            "created_at year 9999",
            "created_at",
            "'9999-12-31T23:59:59.999999Z'",
        ),
        case("created_at year 0", "created_at", "'0000-01-01T00:00:00Z'"),
        case(
            "created_at with an offset",
            "created_at",
            "'2025-01-01T00:00:00+14:00'",
        ),
        case(
            "created_at a leap second",
            "created_at",
            "'2016-12-31T23:59:60Z'",
        ),
        // position (INTEGER PRIMARY KEY): at or below 0 it is outside the log
        case("position 0", "position", "0").reads(Reads, Absent),
        case("position -1", "position", "-1").reads(Undecodable, Absent),
        case("position i64::MIN", "position", i64::MIN.to_string()).reads(Undecodable, Absent),
    ];
    cases.extend(metadata_cases());
    // Last: no row can be added after the largest rowid.
    cases.push(case("position i64::MAX", "position", i64::MAX.to_string()));
    cases
}

fn postgres_cases() -> Vec<Case> {
    let mut cases = vec![
        case("a plain row", "payload", "'{}'"),
        // position (bigint identity)
        case("position 0", "position", "0"),
        case("position -1", "position", "-1").undecodable(),
        case("position i64::MIN", "position", i64::MIN.to_string()).undecodable(),
        case("position i64::MAX", "position", i64::MAX.to_string()),
        // transaction_id (xid8): above every running transaction, a row
        // never enters the readable log
        case("transaction_id 0", "transaction_id", "'0'"),
        case(
            "transaction_id above i64::MAX",
            "transaction_id",
            format!("'{}'", 1u64 << 63),
        )
        .reads(Reads, Absent),
        case(
            "transaction_id u64::MAX",
            "transaction_id",
            format!("'{}'", u64::MAX),
        )
        .reads(Reads, Absent),
        // event_id (uuid)
        case("event_id nil", "event_id", format!("'{}'", Uuid::nil())),
        case("event_id max", "event_id", format!("'{}'", Uuid::max())),
        // stream_id (text)
        case("stream_id empty", "stream_id", "''").reads(Absent, Reads),
        // (a btree index entry holds at most about 2.7 kB)
        case("stream_id 2 kB", "stream_id", huge(2000)).reads(Absent, Reads),
        // version (bigint, CHECK > 0)
        case("version i64::MAX", "version", i64::MAX.to_string()).read_from(i64::MAX as u64),
        // event_type (text)
        case("event_type empty", "event_type", "''"),
        case("event_type 1 MiB", "event_type", huge(1 << 20)),
        // schema_version (integer)
        case(
            "schema_version i32::MIN",
            "schema_version",
            i32::MIN.to_string(),
        )
        .undecodable(),
        case("schema_version -1", "schema_version", "-1").undecodable(),
        case("schema_version 0", "schema_version", "0"),
        case(
            "schema_version i32::MAX",
            "schema_version",
            i32::MAX.to_string(),
        ),
        // payload (jsonb) and payload_bytes (bytea), exactly one set
        case("payload null", "payload", "'null'"),
        case("payload empty string", "payload", r#"'""'"#),
        case("payload 1e1000", "payload", "'1e1000'"),
        case("payload -0.0", "payload", "'-0.0'"),
        case("payload nested 1000 deep", "payload", nested(1000)),
        case(
            "payload 1 MiB string",
            "payload",
            format!("'\"{}\"'", "x".repeat(1 << 20)),
        ),
        bytes("payload_bytes empty", "'\\x'"),
        bytes("payload_bytes 00 ff", "'\\x00ff'"),
        bytes(
            "payload_bytes 1 MiB",
            "decode(repeat('ab', 1048576), 'hex')",
        ),
        // created_at (timestamptz): beyond what a DateTime<Utc> holds
        case("created_at infinity", "created_at", "'infinity'").undecodable(),
        case("created_at -infinity", "created_at", "'-infinity'").undecodable(),
        case(
            "created_at year 294276",
            "created_at",
            "'294276-12-31 23:59:59.999999+00'",
        )
        .undecodable(),
        case(
            "created_at year 4713 BC",
            "created_at",
            "'4713-01-01 00:00:00+00 BC'",
        ),
        case(
            "created_at year 200000",
            "created_at",
            "'200000-01-01 00:00:00+00'",
        ),
        case(
            "created_at before 2000",
            "created_at",
            "'1999-12-31 23:59:59.999999+00'",
        ),
    ];
    cases.extend(metadata_cases());
    cases
}

/// A row whose payload is bytes only.
fn bytes(name: &str, value: &str) -> Case {
    let mut c = case(name, "payload_bytes", value);
    c.columns.push(("payload", "NULL".into()));
    c
}

/// Writes every case's row in a stream of its own, then reads each one by
/// its stream, in the log, with `stream_info` and `head_position`.
async fn every_edge_value_reads_or_is_undecodable(table: &Table, cases: Vec<Case>) {
    let mut written = Vec::new();
    for (n, mut c) in cases.into_iter().enumerate() {
        let stream = format!("edge-{n}");
        if !c.columns.iter().any(|(column, _)| *column == "stream_id") {
            c.columns.push(("stream_id", Table::text(&stream)));
        }
        if c.from_version != 1 && !c.columns.iter().any(|(column, _)| *column == "version") {
            c.columns.push(("version", c.from_version.to_string()));
        }
        let at = table.insert(&c.columns).await;
        written.push((c, stream, at));
    }
    table.wait_for_log().await;
    let store = table.store();

    let mut failures = Vec::new();
    for (c, stream, at) in &written {
        let name = &c.name;
        if let Some(read) = no_panic(
            &mut failures,
            name,
            "read_stream_forward",
            store.read_stream_forward(stream, c.from_version, 10),
        )
        .await
        {
            let got = match &read {
                Ok(events) if events.is_empty() => Absent,
                Ok(events) if positions(events) == [at.named] => Reads,
                Err(Error::Undecodable { position, .. }) if *position == at.named => Undecodable,
                _ => {
                    failures.push(format!("{name}: stream read gave {}", describe(&read)));
                    continue;
                }
            };
            if got != c.stream {
                failures.push(format!(
                    "{name}: stream read {got:?}, want {:?}: {}",
                    c.stream,
                    describe(&read)
                ));
            }
        }
        if let Some(read) = no_panic(
            &mut failures,
            name,
            "read_all_forward",
            store.read_all_forward(ReadAll::after(at.before, 1)),
        )
        .await
        {
            let got = match &read {
                Ok(events) if positions(events) == [at.named] => Reads,
                Err(Error::Undecodable { position, .. }) if *position == at.named => Undecodable,
                // Another row, or none: this one is not in the log.
                Ok(_) | Err(Error::Undecodable { .. }) => Absent,
                Err(_) => {
                    failures.push(format!("{name}: log read gave {}", describe(&read)));
                    continue;
                }
            };
            if got != c.log {
                failures.push(format!(
                    "{name}: log read {got:?}, want {:?}: {}",
                    c.log,
                    describe(&read)
                ));
            }
        }
        if let Some(info) = no_panic(
            &mut failures,
            name,
            "stream_info",
            store.stream_info(stream),
        )
        .await
            && !matches!(info, Ok(_) | Err(Error::Undecodable { .. }))
        {
            failures.push(format!("{name}: stream_info gave {}", describe(&info)));
        }
    }
    if let Some(head) = no_panic(
        &mut failures,
        "all rows",
        "head_position",
        store.head_position(),
    )
    .await
        && let Err(e) = head
    {
        failures.push(format!("head_position failed: {e}"));
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
async fn sqlite_every_edge_value_reads_or_is_undecodable() {
    every_edge_value_reads_or_is_undecodable(&Table::sqlite().await, sqlite_cases()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_every_edge_value_reads_or_is_undecodable() {
    let Some(table) = Table::postgres().await else {
        return;
    };
    every_edge_value_reads_or_is_undecodable(&table, postgres_cases()).await;
}
