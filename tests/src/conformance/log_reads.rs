//! Reading the global log: after a position and in pages, filtered by
//! event type, category and stream, and its positions, which strictly
//! increase and end at the head.

use mink::{EventStore, ExpectedVersion, Position, ReadAll, ReadFilter};
use serde_json::json;

use super::harness::Harness;
use super::support::{
    append, assert_strictly_increasing, event, filtered, ids, numbered, whole_log, whole_stream,
};

/// The log reads after a position, in pages, without gaps or repeats.
pub async fn read_all_after_position(harness: Harness) {
    let store = harness.store();
    for (i, stream) in ["a-1", "b-1", "a-2", "b-1", "c-9"].into_iter().enumerate() {
        append(
            &*store,
            stream,
            ExpectedVersion::Any,
            numbered("E", i as u64 + 1),
        )
        .await;
    }
    let log = whole_log(&*store).await;
    assert_eq!(log.len(), 15);
    let third = log[2].position;
    let rest = store
        .read_all_forward(ReadAll::after(third, 100))
        .await
        .expect("read after");
    assert_eq!(rest, log[3..]);
    let two = store
        .read_all_forward(ReadAll::after(third, 2))
        .await
        .expect("read after");
    assert_eq!(two, log[3..5]);
    let past_head = ReadAll::after(store.head_position().await.expect("head"), 10);
    assert_eq!(
        store
            .read_all_forward(past_head)
            .await
            .expect("read past head"),
        Vec::new()
    );
    let none = store
        .read_all_forward(ReadAll::after(Position::START, 0))
        .await
        .expect("limit 0");
    assert_eq!(none, Vec::new());
}

/// Writes the log the filter cases read.
async fn seed_filter_log(store: &dyn EventStore) {
    use ExpectedVersion::NoStream;
    let e = |t: &str| event(t, json!({}));
    append(
        store,
        "order-1",
        NoStream,
        vec![e("OrderPlaced"), e("OrderShipped")],
    )
    .await;
    append(store, "customer-1", NoStream, vec![e("CustomerRegistered")]).await;
    append(store, "order-2", NoStream, vec![e("OrderPlaced")]).await;
    // No dash: the whole id is the category.
    append(store, "order", NoStream, vec![e("OrderPlaced")]).await;
    // Shares a prefix with `order` but is another category.
    append(store, "orderly-1", NoStream, vec![e("OrderPlaced")]).await;
    // Only the part before the first dash counts.
    append(store, "order-x-y", NoStream, vec![e("OrderShipped")]).await;
    append(
        store,
        "customer-1",
        ExpectedVersion::Exact(1),
        vec![e("CustomerMoved")],
    )
    .await;
}

/// Filtering the log by event type.
pub async fn filter_by_event_type(harness: Harness) {
    let store = harness.store();
    seed_filter_log(&*store).await;
    let placed = ReadFilter::all().event_type("OrderPlaced");
    assert_eq!(
        filtered(&*store, placed.clone()).await,
        ids(&[
            ("order-1", 1),
            ("order-2", 1),
            ("order", 1),
            ("orderly-1", 1)
        ])
    );
    let either = ReadFilter::all()
        .event_type("CustomerMoved")
        .event_type("OrderShipped");
    assert_eq!(
        filtered(&*store, either).await,
        ids(&[("order-1", 2), ("order-x-y", 1), ("customer-1", 2)])
    );
    assert_eq!(
        filtered(&*store, ReadFilter::all().event_type("Nothing")).await,
        Vec::new()
    );

    // The limit counts matching events, and paging resumes after the last.
    let first_two = store
        .read_all_forward(ReadAll::after(Position::START, 2).filter(placed.clone()))
        .await
        .expect("page");
    assert_eq!(
        first_two
            .iter()
            .map(|e| e.stream_id.as_str())
            .collect::<Vec<_>>(),
        ["order-1", "order-2"]
    );
    let next = ReadAll::after(first_two[1].position, 10).filter(placed);
    let next = store.read_all_forward(next).await.expect("next page");
    assert_eq!(
        next.iter()
            .map(|e| e.stream_id.as_str())
            .collect::<Vec<_>>(),
        ["order", "orderly-1"]
    );
}

/// Filtering the log by category: the part of the stream id before the
/// first `-`.
pub async fn filter_by_category(harness: Harness) {
    let store = harness.store();
    seed_filter_log(&*store).await;
    assert_eq!(
        filtered(&*store, ReadFilter::all().category("order")).await,
        ids(&[
            ("order-1", 1),
            ("order-1", 2),
            ("order-2", 1),
            ("order", 1),
            ("order-x-y", 1)
        ])
    );
    assert_eq!(
        filtered(
            &*store,
            ReadFilter::all().category("orderly").category("customer")
        )
        .await,
        ids(&[("customer-1", 1), ("orderly-1", 1), ("customer-1", 2)])
    );
    assert_eq!(
        filtered(&*store, ReadFilter::all().category("order-x")).await,
        Vec::new()
    );
    assert_eq!(
        filtered(&*store, ReadFilter::all().category("ord")).await,
        Vec::new()
    );
    assert_eq!(
        filtered(&*store, ReadFilter::all().category("ORDER")).await,
        Vec::new()
    );
}

/// Filtering the log by stream id.
pub async fn filter_by_stream(harness: Harness) {
    let store = harness.store();
    seed_filter_log(&*store).await;
    assert_eq!(
        filtered(&*store, ReadFilter::all().stream("customer-1")).await,
        ids(&[("customer-1", 1), ("customer-1", 2)])
    );
    assert_eq!(
        filtered(&*store, ReadFilter::all().stream("order").stream("order-1")).await,
        ids(&[("order-1", 1), ("order-1", 2), ("order", 1)])
    );
    assert_eq!(
        filtered(&*store, ReadFilter::all().stream("order-")).await,
        Vec::new()
    );
}

/// Filters of different kinds must all pass; values of one kind are
/// alternatives.
pub async fn filter_combined(harness: Harness) {
    let store = harness.store();
    seed_filter_log(&*store).await;
    let shipped_orders = ReadFilter::all()
        .category("order")
        .event_type("OrderShipped");
    assert_eq!(
        filtered(&*store, shipped_orders).await,
        ids(&[("order-1", 2), ("order-x-y", 1)])
    );
    let placed_in = ReadFilter::all()
        .event_type("OrderPlaced")
        .stream("order-1")
        .stream("customer-1")
        .stream("orderly-1");
    assert_eq!(
        filtered(&*store, placed_in).await,
        ids(&[("order-1", 1), ("orderly-1", 1)])
    );
    let disjoint = ReadFilter::all()
        .stream("order-2")
        .event_type("OrderShipped");
    assert_eq!(filtered(&*store, disjoint).await, Vec::new());
    let all_three = ReadFilter::all()
        .category("customer")
        .stream("customer-1")
        .event_type("CustomerMoved");
    assert_eq!(
        filtered(&*store, all_three).await,
        ids(&[("customer-1", 2)])
    );
    let after_first = store
        .read_all_forward(ReadAll::after(Position::START, 1))
        .await
        .expect("first");
    let later =
        ReadAll::after(after_first[0].position, 10).filter(ReadFilter::all().stream("order-1"));
    let later = store
        .read_all_forward(later)
        .await
        .expect("after a position");
    assert_eq!(later.iter().map(|e| e.version).collect::<Vec<_>>(), [2]);
}

/// The log's positions strictly increase, and the head is the last one.
pub async fn positions_increase_and_head_agrees(harness: Harness) {
    let store = harness.store();
    assert_eq!(store.head_position().await.expect("head"), Position::START);
    let mut heads = Vec::new();
    for i in 0..6u64 {
        let stream = format!("pos-{}", i % 3);
        append(
            &*store,
            &stream,
            ExpectedVersion::Any,
            numbered("E", i % 3 + 1),
        )
        .await;
        let head = store.head_position().await.expect("head");
        let log = whole_log(&*store).await;
        assert_eq!(
            Some(head),
            log.last().map(|e| e.position),
            "head after append {i}"
        );
        assert!(head > Position::START);
        heads.push(head);
    }
    assert!(
        heads.windows(2).all(|w| w[0] < w[1]),
        "head went backwards: {heads:?}"
    );
    let log = whole_log(&*store).await;
    assert_eq!(log.len(), 12);
    assert_strictly_increasing(&log);
    // Stream reads report the same positions as the log.
    for stream in ["pos-0", "pos-1", "pos-2"] {
        for e in whole_stream(&*store, stream).await {
            assert!(
                log.contains(&e),
                "{stream} v{} differs from the log's copy",
                e.version
            );
        }
    }
}
