//! The conformance cases: every operation, operator, ordering, page and
//! null rule gives the same answer on every store.

use mink::read_model::{Filter, Query, ReadModel, ReadModelError, ReadModelRepository};

use super::Backend;
use super::models::{Address, Counter, OrderView, at, order};

super::on_every_store!(
    crud,
    unique_fields,
    operators,
    ordering_and_pages,
    round_trips,
    integer_ids,
    contains_matches_a_row_once,
);

async fn repo(b: &Backend) -> ReadModelRepository<OrderView> {
    ReadModelRepository::open_shared(b.read_models.clone())
        .await
        .expect("open the repository")
}

/// Ten orders, `o00` … `o09`, whose fields follow from their number.
async fn seeded(b: &Backend) -> ReadModelRepository<OrderView> {
    let r = repo(b).await;
    for n in 0..10 {
        r.insert(&order(&format!("o{n:02}"), n))
            .await
            .expect("insert");
    }
    r
}

fn ids(rows: &[OrderView]) -> Vec<&str> {
    rows.iter().map(|r| r.id.as_str()).collect()
}

async fn crud(b: &Backend) {
    let r = repo(b).await;
    assert_eq!(r.schema_version(), 1);
    let o1 = order("o1", 1);
    r.insert(&o1).await.expect("insert");
    assert_eq!(r.get("o1").await.expect("get"), o1);

    match r.insert(&o1).await {
        Err(ReadModelError::AlreadyExists { table, id }) => {
            assert_eq!(table, "order_views");
            assert_eq!(id, "\"o1\"");
        }
        other => panic!("{}: a second insert gave {other:?}", b.name),
    }
    match r.get("nope").await {
        Err(ReadModelError::NotFound { id, .. }) => assert_eq!(id, "\"nope\""),
        other => panic!("{}: get of a missing id gave {other:?}", b.name),
    }
    assert_eq!(r.find_by_id("nope").await.expect("find_by_id"), None);

    let mut changed = order("o1", 1);
    changed.status = "shipped".into();
    r.upsert(&changed).await.expect("upsert replaces");
    assert_eq!(r.get("o1").await.expect("get").status, "shipped");
    r.upsert(&order("o2", 2)).await.expect("upsert adds");

    let updated = r
        .update("o2", |o| {
            o.total_cents += 5;
            o.note = None;
        })
        .await
        .expect("update");
    assert_eq!(updated.total_cents, 2005);
    assert_eq!(r.get("o2").await.expect("get"), updated);
    assert!(matches!(
        r.update("nope", |_| {}).await,
        Err(ReadModelError::NotFound { .. })
    ));
    assert!(matches!(
        r.update("o2", |o| o.id = "other".into()).await,
        Err(ReadModelError::IdChanged { .. })
    ));

    let many = r.get_many(["o2", "nope", "o1"]).await.expect("get_many");
    assert_eq!(ids(&many), ["o1", "o2"]);

    assert!(r.delete("o1").await.expect("delete"));
    assert!(!r.delete("o1").await.expect("delete again"));
    assert_eq!(r.count(Query::new()).await.expect("count"), 1);
    assert_eq!(r.clear().await.expect("clear"), 1);
    assert_eq!(r.count(Query::new()).await.expect("count"), 0);
}

async fn unique_fields(b: &Backend) {
    let r = repo(b).await;
    r.insert(&order("a", 1)).await.expect("insert");
    let mut same_number = order("b", 1);
    match r.insert(&same_number).await {
        Err(ReadModelError::UniqueViolation { column, .. }) => assert_eq!(column, "number"),
        other => panic!("{}: a repeated unique value gave {other:?}", b.name),
    }
    assert!(matches!(
        r.upsert(&same_number).await,
        Err(ReadModelError::UniqueViolation { .. })
    ));
    same_number.number = 2;
    r.insert(&same_number).await.expect("a fresh number");
    assert_eq!(r.count(Query::new()).await.expect("count"), 2);
}

async fn operators(b: &Backend) {
    let r = seeded(b).await;
    let f = OrderView::fields();
    let cases: Vec<(&str, Filter<OrderView>, Vec<&str>)> = vec![
        (
            "eq text",
            f.status.eq("paid"),
            vec!["o01", "o03", "o05", "o07", "o09"],
        ),
        ("eq int", f.number.eq(4), vec!["o04"]),
        (
            "eq bool",
            f.paid.eq(false),
            vec!["o00", "o02", "o04", "o06", "o08"],
        ),
        ("eq float", f.weight.eq(1.5), vec!["o03"]),
        ("eq timestamp", f.placed_at.eq(at(7)), vec!["o07"]),
        ("eq option value", f.discount.eq(40), vec!["o04"]),
        ("eq None", f.note.eq(None), vec!["o00", "o03", "o06", "o09"]),
        (
            "ne counts missing values",
            f.discount.ne(0),
            vec![
                "o01", "o02", "o03", "o04", "o05", "o06", "o07", "o08", "o09",
            ],
        ),
        ("ne None", f.discount.ne(None), vec!["o00", "o04", "o08"]),
        ("gt", f.total_cents.gt(7000), vec!["o08", "o09"]),
        ("gte", f.total_cents.gte(8000), vec!["o08", "o09"]),
        ("lt", f.weight.lt(1.0), vec!["o00", "o01"]),
        ("lte text", f.id.lte("o01"), vec!["o00", "o01"]),
        (
            "gt on option skips missing",
            f.discount.gt(-1),
            vec!["o00", "o04", "o08"],
        ),
        ("gt timestamp", f.placed_at.gt(at(8)), vec!["o09"]),
        ("between", f.number.between(3, 5), vec!["o03", "o04", "o05"]),
        ("in", f.number.in_([1, 5, 42]), vec!["o01", "o05"]),
        ("in empty", f.number.in_(Vec::<i64>::new()), vec![]),
        (
            "in with None",
            f.discount.in_([Some(80), None]),
            vec!["o01", "o02", "o03", "o05", "o06", "o07", "o08", "o09"],
        ),
        (
            "not in",
            f.number.not_in([0, 1, 2, 3, 4, 5, 6]),
            vec!["o07", "o08", "o09"],
        ),
        (
            "not in keeps missing",
            f.discount.not_in([0, 40]),
            vec!["o01", "o02", "o03", "o05", "o06", "o07", "o08", "o09"],
        ),
        (
            "not in empty",
            f.number.not_in(Vec::<i64>::new()),
            vec![
                "o00", "o01", "o02", "o03", "o04", "o05", "o06", "o07", "o08", "o09",
            ],
        ),
        ("contains text", f.note.contains("e 1"), vec!["o01"]),
        (
            "contains is case-sensitive",
            f.status.contains("PAID"),
            vec![],
        ),
        (
            "contains list",
            f.tags.contains("t1"),
            vec!["o02", "o05", "o08"],
        ),
        (
            "like",
            f.note.like("note _"),
            vec!["o01", "o02", "o04", "o05", "o07", "o08"],
        ),
        (
            "like %",
            f.status.like("p%d"),
            vec!["o01", "o03", "o05", "o07", "o09"],
        ),
        ("like is case-sensitive", f.status.like("PAID"), vec![]),
        ("like escape", f.note.like("note\\%"), vec![]),
        (
            "is null",
            f.address.is_null(),
            vec!["o01", "o03", "o05", "o07", "o09"],
        ),
        (
            "is not null",
            f.discount.is_not_null(),
            vec!["o00", "o04", "o08"],
        ),
        (
            "eq json",
            f.address.eq(Some(Address {
                city: "Oslo".into(),
                zip: "00006".into(),
            })),
            vec!["o06"],
        ),
        (
            "and",
            f.status.eq("pending").and(f.total_cents.gt(3000)),
            vec!["o04", "o06", "o08"],
        ),
        ("or", f.number.eq(1) | f.number.eq(9), vec!["o01", "o09"]),
        (
            "and of ors",
            (f.number.lt(2) | f.number.gt(7)) & f.paid.eq(true),
            vec!["o01", "o09"],
        ),
        (
            "all",
            Filter::all(),
            vec![
                "o00", "o01", "o02", "o03", "o04", "o05", "o06", "o07", "o08", "o09",
            ],
        ),
    ];
    for (name, filter, want) in cases {
        let got = r
            .find(filter.clone())
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(ids(&got), want, "{}: {name}", b.name);
        let n = r.count(filter).await.expect("count");
        assert_eq!(n, want.len() as u64, "{}: count of {name}", b.name);
    }
}

async fn ordering_and_pages(b: &Backend) {
    let r = seeded(b).await;
    let f = OrderView::fields();

    let by_total_desc = r
        .find(Query::new().order_by(f.total_cents.desc()).limit(3))
        .await
        .expect("find");
    assert_eq!(ids(&by_total_desc), ["o09", "o08", "o07"], "{}", b.name);

    // Several keys: status ascending, then number descending.
    let two_keys = r
        .find(
            Query::new()
                .order_by(f.status.asc())
                .order_by(f.number.desc())
                .limit(4),
        )
        .await
        .expect("find");
    assert_eq!(ids(&two_keys), ["o09", "o07", "o05", "o03"], "{}", b.name);

    // Missing values sort first ascending, last descending.
    let asc = r
        .find(Query::new().order_by(f.discount.asc()))
        .await
        .expect("find");
    assert_eq!(
        ids(&asc),
        [
            "o01", "o02", "o03", "o05", "o06", "o07", "o09", "o00", "o04", "o08"
        ],
        "{}",
        b.name
    );
    let desc = r
        .find(Query::new().order_by(f.discount.desc()))
        .await
        .expect("find");
    assert_eq!(
        ids(&desc),
        [
            "o08", "o04", "o00", "o09", "o07", "o06", "o05", "o03", "o02", "o01"
        ],
        "{}",
        b.name
    );

    // Ties fall back to the id, in the last key's direction.
    let ties = r
        .find(Query::new().order_by(f.paid.asc()).limit(3))
        .await
        .expect("find");
    assert_eq!(ids(&ties), ["o00", "o02", "o04"], "{}", b.name);

    let q = || {
        Query::new()
            .filter(f.status.eq("pending"))
            .order_by(f.placed_at.desc())
    };
    let p1 = r.find_page(q().page(1, 2)).await.expect("page 1");
    assert_eq!(ids(&p1.items), ["o08", "o06"], "{}", b.name);
    assert_eq!((p1.total, p1.has_more), (5, true));
    let p3 = r.find_page(q().page(3, 2)).await.expect("page 3");
    assert_eq!(ids(&p3.items), ["o00"], "{}", b.name);
    assert_eq!((p3.total, p3.has_more), (5, false));
    let p9 = r.find_page(q().page(9, 2)).await.expect("page 9");
    assert!(p9.items.is_empty());
    assert!(matches!(
        r.find(q().page(0, 2)).await,
        Err(ReadModelError::InvalidQuery { .. })
    ));
    let skipped = r
        .find(Query::new().order_by(f.number.asc()).offset(8))
        .await
        .expect("offset only");
    assert_eq!(ids(&skipped), ["o08", "o09"], "{}", b.name);

    let first = r
        .find_one(
            Query::new()
                .filter(f.paid.eq(true))
                .order_by(f.number.desc()),
        )
        .await
        .expect("find_one");
    assert_eq!(first.map(|o| o.id), Some("o09".to_owned()));
    assert_eq!(r.find_one(f.number.eq(99)).await.expect("find_one"), None);

    assert_eq!(
        r.delete_many(f.status.eq("paid"))
            .await
            .expect("delete_many"),
        5
    );
    assert_eq!(r.count(Query::new()).await.expect("count"), 5);
}

async fn round_trips(b: &Backend) {
    let r = repo(b).await;
    let mut o = order("ünïcødé 🚀", 2);
    o.note = Some("quote ' \" backslash \\ nul-free".into());
    o.weight = -0.125;
    o.tags = vec!["a".into(), "".into(), "ü".into()];
    o.placed_at = chrono::DateTime::parse_from_rfc3339("2024-02-29T23:59:59.123456+02:00")
        .expect("an instant")
        .with_timezone(&chrono::Utc);
    o.number = i64::MIN;
    o.total_cents = i64::MAX;
    r.insert(&o).await.expect("insert");
    assert_eq!(r.get("ünïcødé 🚀").await.expect("get"), o, "{}", b.name);

    // Instants are kept to the microsecond on every store.
    let mut fine = order("fine", 3);
    fine.placed_at = chrono::DateTime::parse_from_rfc3339("2024-01-01T00:00:00.123456789Z")
        .expect("an instant")
        .with_timezone(&chrono::Utc);
    r.insert(&fine).await.expect("insert");
    let back = r.get("fine").await.expect("get");
    assert_eq!(
        back.placed_at.to_rfc3339(),
        "2024-01-01T00:00:00.123456+00:00",
        "{}",
        b.name
    );
}

async fn integer_ids(b: &Backend) {
    let r = ReadModelRepository::<Counter>::open_shared(b.read_models.clone())
        .await
        .expect("open");
    for id in [10u32, 2, 33] {
        r.insert(&Counter { id, value: 0 }).await.expect("insert");
    }
    r.update(2, |c| c.value = 7).await.expect("update");
    let all = r.find(Query::new()).await.expect("find");
    let got: Vec<(u32, i64)> = all.iter().map(|c| (c.id, c.value)).collect();
    assert_eq!(got, [(2, 7), (10, 0), (33, 0)], "{}", b.name);
    assert!(matches!(
        r.insert(&Counter { id: 10, value: 1 }).await,
        Err(ReadModelError::AlreadyExists { .. })
    ));
}

/// A list holding the value twice still matches its row once: no
/// duplicate rows, so counts, limits and offsets stay right.
async fn contains_matches_a_row_once(b: &Backend) {
    let r = repo(b).await;
    let mut twice = order("o01", 1);
    twice.tags = vec!["x".into(), "x".into()];
    r.insert(&twice).await.expect("insert");
    r.insert(&order("o02", 2)).await.expect("insert");
    let f = OrderView::fields();
    let q = || Query::new().filter(f.tags.contains("x"));
    assert_eq!(
        ids(&r.find(q()).await.expect("find")),
        ["o01"],
        "{}",
        b.name
    );
    assert_eq!(r.count(q()).await.expect("count"), 1, "{}", b.name);
    assert!(
        r.find(q().offset(1)).await.expect("offset").is_empty(),
        "{}",
        b.name
    );
}
