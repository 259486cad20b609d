//! What each database keeps: PostgreSQL stores JSON content in `jsonb`
//! (readable with psql, queryable with `->>`) and every other format in
//! `bytea`, decided by the content type, not the bytes; SQLite keeps binary
//! formats as BLOBs. Rows stored before content types were recorded read
//! back as JSON after the migration adds the column.

use mink::adapters::AnyStore;
use mink::testing::TestDatabase;
use mink::{
    ContentType, Event, EventMetadata, EventStore, ExpectedVersion, MessagePackSerializer,
    NewEvent, Position, ReadAll,
};
use mink_tests::conformance::{Price, StockEvent};
use mink_tests::proto::{ShopEvent, order_placed};
use sqlx::AssertSqlSafe;

/// JSON, a `+json` type, MessagePack, Protocol Buffers, and MessagePack
/// bytes that are also the JSON text `1`.
fn formats() -> Vec<NewEvent> {
    let stocked = StockEvent::Stocked {
        sku: "tea".into(),
        qty: 2,
        note: None,
    };
    let priced = StockEvent::Priced(Price {
        sku: "cocoa".into(),
        cents: 250,
        tag: vec![1],
        ratio: 0.5,
    });
    let meta = EventMetadata::default;
    vec![
        stocked
            .to_new_event(&mink::JsonSerializer, meta())
            .expect("json"),
        NewEvent::new("Vendor", br#"{"sku": "vendor"}"#.to_vec())
            .with_content_type("application/vnd.shop+json"),
        priced
            .to_new_event(&MessagePackSerializer, meta())
            .expect("msgpack"),
        ShopEvent::Placed(order_placed("o-1", 2))
            .to_new_event(&mink::JsonSerializer, meta())
            .expect("protobuf"),
        NewEvent::new("Int", b"1".to_vec()).with_content_type(ContentType::MSGPACK),
    ]
}

#[tokio::test]
async fn postgres_keeps_json_in_jsonb_and_binary_formats_in_bytea() {
    let Some(db) = TestDatabase::postgres("postgres_keeps_json_in_jsonb").await else {
        return;
    };
    let Ok(AnyStore::Postgres(store)) = db.store().await else {
        panic!("a PostgreSQL store");
    };
    let written = formats();
    store
        .append_to_stream("stock-1", ExpectedVersion::NoStream, written.clone())
        .await
        .expect("append");
    let rows: Vec<(String, String, bool, bool, Option<String>)> =
        sqlx::query_as(AssertSqlSafe(format!(
            "SELECT event_type, content_type, payload IS NOT NULL, payload_bytes IS NOT NULL, \
                payload->>'sku' \
         FROM {}.events ORDER BY position",
            store.schema()
        )))
        .fetch_all(store.pool())
        .await
        .expect("rows");
    let expected = [
        (
            "FormatsStocked",
            "application/json",
            true,
            false,
            Some("tea"),
        ),
        (
            "Vendor",
            "application/vnd.shop+json",
            true,
            false,
            Some("vendor"),
        ),
        ("FormatsPriced", "application/msgpack", false, true, None),
        ("ShopOrderPlaced", "application/protobuf", false, true, None),
        // Valid JSON, but MessagePack: kept as bytes.
        ("Int", "application/msgpack", false, true, None),
    ];
    let rows: Vec<_> = rows
        .iter()
        .map(|(t, c, j, b, s)| (t.as_str(), c.as_str(), *j, *b, s.as_deref()))
        .collect();
    assert_eq!(rows, expected);
    // The bytes kept are the bytes written.
    let bytes: Vec<Vec<u8>> = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT payload_bytes FROM {}.events WHERE payload_bytes IS NOT NULL ORDER BY position",
        store.schema()
    )))
    .fetch_all(store.pool())
    .await
    .expect("bytes");
    let binary: Vec<&[u8]> = written[2..].iter().map(|e| &e.payload[..]).collect();
    assert_eq!(bytes, binary);
}

#[tokio::test]
async fn sqlite_keeps_binary_formats_as_blobs() {
    let db = TestDatabase::sqlite();
    let Ok(AnyStore::Sqlite(store)) = db.store().await else {
        panic!("a SQLite store");
    };
    store
        .append_to_stream("stock-1", ExpectedVersion::NoStream, formats())
        .await
        .expect("append");
    let path = db.path().expect("a file");
    let reader = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("reader");
    let rows: Vec<(String, String)> =
        sqlx::query_as("SELECT content_type, typeof(payload) FROM events ORDER BY position")
            .fetch_all(&reader)
            .await
            .expect("rows");
    let rows: Vec<(&str, &str)> = rows.iter().map(|(c, t)| (c.as_str(), t.as_str())).collect();
    assert_eq!(
        rows,
        [
            ("application/json", "text"),
            ("application/vnd.shop+json", "text"),
            ("application/msgpack", "blob"),
            ("application/protobuf", "blob"),
            ("application/msgpack", "blob"),
        ]
    );
    reader.close().await;
}

/// A row written before the content type column existed (the column is
/// dropped, a row inserted as an older mink wrote it, and the migration's
/// own statement run again) reads back as JSON and decodes.
#[tokio::test]
async fn postgres_rows_from_before_content_types_read_as_json() {
    let Some(db) = TestDatabase::postgres("postgres_rows_from_before_content_types").await else {
        return;
    };
    let Ok(AnyStore::Postgres(store)) = db.store().await else {
        panic!("a PostgreSQL store");
    };
    let schema = store.schema().to_owned();
    let mut conn = store.pool().acquire().await.expect("connection");
    sqlx::query(AssertSqlSafe(format!(
        "ALTER TABLE {schema}.events DROP COLUMN content_type"
    )))
    .execute(&mut *conn)
    .await
    .expect("drop");
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO {schema}.events (event_id, stream_id, version, event_type, schema_version, payload) \
         VALUES (gen_random_uuid(), 'stock-old', 1, 'FormatsCounted', 1, '[3, -4]'::jsonb)"
    )))
    .execute(&mut *conn)
    .await
    .expect("an old row");
    sqlx::query(AssertSqlSafe(format!("SET search_path TO {schema}")))
        .execute(&mut *conn)
        .await
        .expect("search path");
    sqlx::raw_sql(include_str!(
        "../../../../mink-runtime/migrations/postgres/0006_content_type.sql"
    ))
    .execute(&mut *conn)
    .await
    .expect("the migration");
    drop(conn);
    assert_old_row_reads_as_json(&store).await;
}

#[tokio::test]
async fn sqlite_rows_from_before_content_types_read_as_json() {
    let db = TestDatabase::sqlite();
    let Ok(AnyStore::Sqlite(store)) = db.store().await else {
        panic!("a SQLite store");
    };
    let path = db.path().expect("a file");
    let writer = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("writer");
    sqlx::query("ALTER TABLE events DROP COLUMN content_type")
        .execute(&writer)
        .await
        .expect("drop");
    sqlx::query(
        "INSERT INTO events (event_id, stream_id, version, event_type, schema_version, payload, created_at) \
         VALUES ('0190d7f4-0000-7000-8000-000000000001', 'stock-old', 1, 'FormatsCounted', 1, '[3,-4]', \
                 '2026-01-01T00:00:00.000000Z')",
    )
    .execute(&writer)
    .await
    .expect("an old row");
    sqlx::raw_sql(include_str!(
        "../../../../mink-runtime/migrations/sqlite/20260601000000_content_type.sql"
    ))
    .execute(&writer)
    .await
    .expect("the migration");
    writer.close().await;
    assert_old_row_reads_as_json(&store).await;
}

async fn assert_old_row_reads_as_json(store: &dyn EventStore) {
    let log = store
        .read_all_forward(ReadAll::after(Position::START, 10))
        .await
        .expect("read");
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].content_type, ContentType::JSON);
    assert_eq!(
        StockEvent::from_recorded(&log[0], &MessagePackSerializer).expect("decodes as JSON"),
        StockEvent::Counted(3, -4)
    );
}
