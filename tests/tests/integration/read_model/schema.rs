//! Schema changes: an added `Option` field is migrated in place and bumps
//! the recorded version; a changed type, a removed field or a new required
//! field is refused with a typed error until the table is recreated. The
//! SQL tables are plain: real columns, real indexes, readable by hand.

use mink::ReadModel;
use mink::adapters::sqlite::{SqliteStore, sqlx as sqlite_sqlx};
use mink::read_model::{Query, ReadModelError, ReadModelRepository};

use super::Backend;
use super::models::{OrderView, order};

super::on_every_store!(schema_changes);

#[derive(ReadModel, Debug, Clone, PartialEq)]
#[read_model(table = "people")]
struct PersonV1 {
    #[read_model(id)]
    id: String,
    name: String,
}

/// V1 plus an `Option` field, in another order: migrated in place.
#[derive(ReadModel, Debug, Clone, PartialEq)]
#[read_model(table = "people")]
struct PersonV2 {
    nickname: Option<String>,
    #[read_model(id)]
    id: String,
    #[read_model(index)]
    name: String,
}

/// `name` changed type.
#[derive(ReadModel, Debug, Clone, PartialEq)]
#[read_model(table = "people")]
struct PersonNameIsNumber {
    #[read_model(id)]
    id: String,
    name: i64,
    nickname: Option<String>,
}

/// `name` removed.
#[derive(ReadModel, Debug, Clone, PartialEq)]
#[read_model(table = "people")]
struct PersonWithoutName {
    #[read_model(id)]
    id: String,
    nickname: Option<String>,
}

/// A required field added.
#[derive(ReadModel, Debug, Clone, PartialEq)]
#[read_model(table = "people")]
struct PersonWithAge {
    #[read_model(id)]
    id: String,
    name: String,
    nickname: Option<String>,
    age: i64,
}

fn mismatch_reason<T: std::fmt::Debug>(r: Result<T, ReadModelError>) -> String {
    match r {
        Err(e @ ReadModelError::SchemaMismatch { .. }) => {
            let shown = e.to_string();
            assert!(
                shown.contains("recreate"),
                "the message points at a rebuild: {shown}"
            );
            let ReadModelError::SchemaMismatch { reason, .. } = e else {
                unreachable!()
            };
            reason
        }
        other => panic!("expected a schema mismatch, got {other:?}"),
    }
}

async fn schema_changes(b: &Backend) {
    let v1 = ReadModelRepository::<PersonV1>::open_shared(b.read_models.clone())
        .await
        .expect("open v1");
    assert_eq!(v1.schema_version(), 1);
    v1.insert(&PersonV1 {
        id: "p1".into(),
        name: "Ada".into(),
    })
    .await
    .expect("insert");

    let v2 = ReadModelRepository::<PersonV2>::open_shared(b.read_models.clone())
        .await
        .expect("an added Option field migrates in place");
    assert_eq!(v2.schema_version(), 2, "{}", b.name);
    assert_eq!(
        v2.get("p1").await.expect("the old row reads back"),
        PersonV2 {
            nickname: None,
            id: "p1".into(),
            name: "Ada".into()
        }
    );
    v2.insert(&PersonV2 {
        nickname: Some("Bo".into()),
        id: "p2".into(),
        name: "Bob".into(),
    })
    .await
    .expect("insert v2");
    let again = ReadModelRepository::<PersonV2>::open_shared(b.read_models.clone())
        .await
        .expect("reopen");
    assert_eq!(again.schema_version(), 2, "reopening migrates nothing");

    let r = mismatch_reason(
        ReadModelRepository::<PersonNameIsNumber>::open_shared(b.read_models.clone()).await,
    );
    assert!(r.contains("`name` changed from text to integer"), "{r}");
    let r = mismatch_reason(
        ReadModelRepository::<PersonWithoutName>::open_shared(b.read_models.clone()).await,
    );
    assert!(r.contains("`name` was removed"), "{r}");
    let r = mismatch_reason(
        ReadModelRepository::<PersonWithAge>::open_shared(b.read_models.clone()).await,
    );
    assert!(r.contains("`age` was added"), "{r}");

    // The refused openings changed nothing.
    assert_eq!(v2.count(Query::new()).await.expect("count"), 2);

    // Recreating starts over in the new shape.
    let fresh = ReadModelRepository::<PersonNameIsNumber>::recreate_shared(b.read_models.clone())
        .await
        .expect("recreate");
    assert_eq!(fresh.schema_version(), 1);
    assert_eq!(fresh.count(Query::new()).await.expect("count"), 0);
    fresh
        .insert(&PersonNameIsNumber {
            id: "p1".into(),
            name: 7,
            nickname: None,
        })
        .await
        .expect("insert in the new shape");
}

/// The SQLite table is plain: typed columns, the indexes asked for, the
/// recorded schema version, and rows `sqlite3` can query.
#[tokio::test]
async fn sqlite_tables_are_plain() {
    use sqlite_sqlx::{Connection, SqliteConnection};
    let dir = tempfile::tempdir().expect("a temp dir");
    let path = dir.path().join("mink.db");
    let store = SqliteStore::open(&path).await.expect("open");
    let repo = ReadModelRepository::<OrderView>::open(store.read_models())
        .await
        .expect("open");
    repo.insert(&order("o1", 2)).await.expect("insert");

    let mut raw = SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("a second connection");
    let columns: Vec<(String, String, i64)> = sqlite_sqlx::query_as(
        "SELECT name, type, \"notnull\" FROM pragma_table_info('order_views')",
    )
    .fetch_all(&mut raw)
    .await
    .expect("columns");
    let want = [
        ("id", "TEXT", 1),
        ("status", "TEXT", 1),
        ("number", "INTEGER", 1),
        ("total_cents", "INTEGER", 1),
        ("weight", "REAL", 1),
        ("paid", "INTEGER", 1),
        ("note", "TEXT", 0),
        ("discount", "INTEGER", 0),
        ("placed_at", "TEXT", 1),
        ("tags", "TEXT", 0),
        ("address", "TEXT", 0),
    ];
    let got: Vec<(&str, &str, i64)> = columns
        .iter()
        .map(|(n, t, nn)| (n.as_str(), t.as_str(), *nn))
        .collect();
    assert_eq!(got, want);
    let mut indexes: Vec<(String, i64)> = sqlite_sqlx::query_as(
        "SELECT name, \"unique\" FROM pragma_index_list('order_views') WHERE origin = 'c'",
    )
    .fetch_all(&mut raw)
    .await
    .expect("indexes");
    indexes.sort();
    assert_eq!(
        indexes,
        [
            ("order_views_number_key".to_owned(), 1),
            ("order_views_status_idx".to_owned(), 0),
            ("order_views_total_cents_idx".to_owned(), 0),
        ]
    );
    let (status, city): (String, String) = sqlite_sqlx::query_as(
        "SELECT status, json_extract(address, '$.city') FROM order_views WHERE id = 'o1'",
    )
    .fetch_one(&mut raw)
    .await
    .expect("a query by hand");
    assert_eq!((status.as_str(), city.as_str()), ("pending", "Lyon"));
    let version: i64 = sqlite_sqlx::query_scalar(
        "SELECT version FROM mink_read_models WHERE table_name = 'order_views'",
    )
    .fetch_one(&mut raw)
    .await
    .expect("the schema record");
    assert_eq!(version, 1);
    // The index serves a range query.
    let plan: Vec<(i64, i64, i64, String)> = sqlite_sqlx::query_as(
        "EXPLAIN QUERY PLAN SELECT id FROM order_views WHERE total_cents > 5 ORDER BY total_cents, id",
    )
    .fetch_all(&mut raw)
    .await
    .expect("a plan");
    assert!(
        plan.iter()
            .any(|(_, _, _, d)| d.contains("order_views_total_cents_idx")),
        "{plan:?}"
    );
}

/// The PostgreSQL table is plain: typed columns (`jsonb` for nested
/// values), the indexes asked for, the recorded version, and rows `psql`
/// can query.
#[tokio::test]
async fn postgres_tables_are_plain() {
    use mink::adapters::postgres::sqlx as pg_sqlx;
    let Some(store) = crate::postgres::support::test_store().await else {
        return;
    };
    let repo = ReadModelRepository::<OrderView>::open(store.read_models())
        .await
        .expect("open");
    repo.insert(&order("o1", 2)).await.expect("insert");
    let schema = store.schema().to_owned();
    let columns: Vec<(String, String, String)> = pg_sqlx::query_as(
        "SELECT column_name::text, data_type::text, is_nullable::text FROM information_schema.columns \
         WHERE table_schema = $1 AND table_name = 'order_views' ORDER BY ordinal_position",
    )
    .bind(&schema)
    .fetch_all(store.pool())
    .await
    .expect("columns");
    let got: Vec<(&str, &str, &str)> = columns
        .iter()
        .map(|(a, b, c)| (a.as_str(), b.as_str(), c.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("id", "text", "NO"),
            ("status", "text", "NO"),
            ("number", "bigint", "NO"),
            ("total_cents", "bigint", "NO"),
            ("weight", "double precision", "NO"),
            ("paid", "boolean", "NO"),
            ("note", "text", "YES"),
            ("discount", "bigint", "YES"),
            ("placed_at", "timestamp with time zone", "NO"),
            ("tags", "jsonb", "YES"),
            ("address", "jsonb", "YES"),
        ]
    );
    let mut indexes: Vec<String> = pg_sqlx::query_scalar(
        "SELECT indexname::text FROM pg_indexes WHERE schemaname = $1 AND tablename = 'order_views'",
    )
    .bind(&schema)
    .fetch_all(store.pool())
    .await
    .expect("indexes");
    indexes.sort();
    assert_eq!(
        indexes,
        [
            "order_views_number_key",
            "order_views_pkey",
            "order_views_status_idx",
            "order_views_total_cents_idx"
        ]
    );
    let city: String = pg_sqlx::query_scalar(pg_sqlx::AssertSqlSafe(format!(
        "SELECT address->>'city' FROM {schema}.order_views WHERE status = 'pending'"
    )))
    .fetch_one(store.pool())
    .await
    .expect("a query by hand");
    assert_eq!(city, "Lyon");
    let version: i64 = pg_sqlx::query_scalar(pg_sqlx::AssertSqlSafe(format!(
        "SELECT version FROM {schema}.mink_read_models WHERE table_name = 'order_views'"
    )))
    .fetch_one(store.pool())
    .await
    .expect("the schema record");
    assert_eq!(version, 1);
}
