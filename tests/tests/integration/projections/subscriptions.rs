//! Subscriptions on every store: catch-up then live with `CaughtUp` between,
//! filters, a slow consumer that loses nothing, racing writers delivered
//! once each in log order; on PostgreSQL, a transaction held open while
//! later ones commit.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use mink::subscription::{
    StartFrom, Subscription, SubscriptionItem, SubscriptionOptions, subscribe_all,
    subscribe_category, subscribe_stream,
};
use mink::{Error, EventStore, ExpectedVersion, NewEvent, ReadFilter, RecordedEvent, StreamAppend};
use uuid::Uuid;

use super::{Harness, PATIENCE};
use crate::postgres::support;

/// The next item, or a failure after [`PATIENCE`].
async fn next(sub: &mut Subscription) -> SubscriptionItem {
    tokio::time::timeout(PATIENCE, sub.next())
        .await
        .expect("the subscription delivers in time")
        .expect("the subscription goes on")
        .expect("no error")
}

/// Events until `CaughtUp`.
async fn history(sub: &mut Subscription) -> Vec<RecordedEvent> {
    let mut events = Vec::new();
    loop {
        match next(sub).await {
            SubscriptionItem::Event(e) => events.push(e),
            SubscriptionItem::CaughtUp => return events,
        }
    }
}

/// The next `n` events; fails on a second `CaughtUp`.
async fn events(sub: &mut Subscription, n: usize) -> Vec<RecordedEvent> {
    let mut events = Vec::with_capacity(n);
    while events.len() < n {
        match next(sub).await {
            SubscriptionItem::Event(e) => events.push(e),
            SubscriptionItem::CaughtUp => panic!("CaughtUp came twice"),
        }
    }
    events
}

fn named(kind: &str) -> NewEvent {
    NewEvent::new(kind, b"{}".to_vec())
}

async fn append(store: &dyn EventStore, stream: &str, kind: &str) -> Uuid {
    let event = named(kind);
    let id = event.event_id;
    store
        .append_to_stream(stream, ExpectedVersion::Any, vec![event])
        .await
        .expect("append");
    id
}

async fn catch_up_then_live_with_filters(h: Harness) {
    let store = Arc::clone(&h.store);
    for i in 0..6 {
        append(&*store, &format!("order-{i}"), "Placed").await;
        append(&*store, &format!("user-{i}"), "Joined").await;
    }
    append(&*store, "order-0", "Shipped").await;

    let mut all = subscribe_all(Arc::clone(&store), StartFrom::Beginning, ReadFilter::all());
    let past = history(&mut all).await;
    assert_eq!(past.len(), 13);
    assert!(past.windows(2).all(|w| w[0].position < w[1].position));

    // From an exclusive position: the events strictly after it.
    let mut after = subscribe_all(
        Arc::clone(&store),
        StartFrom::After(past[9].position),
        ReadFilter::all(),
    );
    assert_eq!(
        history(&mut after)
            .await
            .iter()
            .map(|e| e.event_id)
            .collect::<Vec<_>>(),
        past[10..].iter().map(|e| e.event_id).collect::<Vec<_>>()
    );

    let mut orders = subscribe_category(Arc::clone(&store), "order", StartFrom::Beginning);
    let mut one = subscribe_stream(Arc::clone(&store), "order-0", StartFrom::Beginning);
    let mut shipped = subscribe_all(
        Arc::clone(&store),
        StartFrom::Beginning,
        ReadFilter::all().event_type("Shipped").category("order"),
    );
    let mut now = subscribe_all(Arc::clone(&store), StartFrom::Now, ReadFilter::all());
    assert_eq!(history(&mut orders).await.len(), 7);
    assert_eq!(history(&mut one).await.len(), 2);
    assert_eq!(history(&mut shipped).await.len(), 1);
    assert!(history(&mut now).await.is_empty());

    // Live: each subscription gets what passes its filter.
    let placed = append(&*store, "order-0", "Placed").await;
    let joined = append(&*store, "user-9", "Joined").await;
    let ids = |events: Vec<RecordedEvent>| events.iter().map(|e| e.event_id).collect::<Vec<_>>();
    assert_eq!(ids(events(&mut all, 2).await), vec![placed, joined]);
    assert_eq!(ids(events(&mut now, 2).await), vec![placed, joined]);
    assert_eq!(ids(events(&mut orders, 1).await), vec![placed]);
    assert_eq!(ids(events(&mut one, 1).await), vec![placed]);
    let shipped_live = append(&*store, "order-3", "Shipped").await;
    assert_eq!(ids(events(&mut shipped, 1).await), vec![shipped_live]);
}

async fn a_slow_consumer_loses_nothing(h: Harness) {
    let store = Arc::clone(&h.store);
    let mut sub = Subscription::new(
        Arc::clone(&store),
        StartFrom::Beginning,
        ReadFilter::all(),
        SubscriptionOptions::default().page_size(16),
    );
    assert!(history(&mut sub).await.is_empty());
    // 500 events while the consumer reads nothing.
    let mut written = Vec::new();
    for chunk in 0..50 {
        let batch: Vec<NewEvent> = (0..10).map(|_| named("Burst")).collect();
        written.extend(batch.iter().map(|e| e.event_id));
        store
            .append_to_stream(&format!("burst-{chunk}"), ExpectedVersion::NoStream, batch)
            .await
            .unwrap();
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let got = events(&mut sub, 500).await;
    assert_eq!(got.iter().map(|e| e.event_id).collect::<Vec<_>>(), written);
}

async fn racing_writers_are_delivered_once_in_log_order(h: Harness) {
    let store = Arc::clone(&h.store);
    let mut sub = Subscription::new(
        Arc::clone(&store),
        StartFrom::Beginning,
        ReadFilter::all(),
        SubscriptionOptions::default().page_size(7),
    );
    assert!(history(&mut sub).await.is_empty());
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let store = Arc::clone(&h.other);
            tokio::spawn(async move {
                let mut ids = Vec::new();
                for i in 0..40 {
                    let events: Vec<NewEvent> = (0..(i % 3 + 1)).map(|_| named("Raced")).collect();
                    ids.extend(events.iter().map(|e| e.event_id));
                    store
                        .append_to_streams(vec![StreamAppend::new(
                            format!("race-{w}-{i}"),
                            ExpectedVersion::NoStream,
                            events,
                        )])
                        .await
                        .unwrap();
                }
                ids
            })
        })
        .collect();
    let mut expected = HashSet::new();
    for writer in writers {
        expected.extend(writer.await.unwrap());
    }
    let got = events(&mut sub, expected.len()).await;
    let seen: HashSet<Uuid> = got.iter().map(|e| e.event_id).collect();
    assert_eq!(seen.len(), got.len(), "an event was delivered twice");
    assert_eq!(seen, expected);
    assert!(
        got.windows(2).all(|w| w[0].position < w[1].position),
        "delivered out of log order"
    );
    // Nothing more.
    assert!(
        tokio::time::timeout(Duration::from_millis(200), sub.next())
            .await
            .is_err()
    );
}

macro_rules! every_store {
    ($($name:ident),* $(,)?) => {
        mod on_memory {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Harness::memory()).await })*
        }
        mod on_sqlite {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() { super::$name(super::Harness::sqlite().await).await })*
        }
        mod on_postgres {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let Some(h) = super::Harness::postgres().await else { return };
                super::$name(h).await
            })*
        }
    };
}

every_store!(
    catch_up_then_live_with_filters,
    a_slow_consumer_loses_nothing,
    racing_writers_are_delivered_once_in_log_order,
);

/// A transaction that wrote first and commits last: a live subscription
/// waits for it, then delivers both events, each once, in log order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_transaction_held_open_is_neither_skipped_nor_repeated() {
    let Some(store) = support::test_store().await else {
        return;
    };
    let shared: Arc<dyn EventStore> = Arc::new(store.store.clone());
    let mut sub = subscribe_all(Arc::clone(&shared), StartFrom::Beginning, ReadFilter::all());
    assert!(history(&mut sub).await.is_empty());

    let held = named("Held");
    let late = named("Late");
    let mut tx = store.pool().begin().await.unwrap();
    store
        .append_to_streams_in(
            &mut tx,
            vec![StreamAppend::new(
                "held-1",
                ExpectedVersion::NoStream,
                vec![held.clone()],
            )],
        )
        .await
        .unwrap();
    store
        .append_to_stream("late-1", ExpectedVersion::NoStream, vec![late.clone()])
        .await
        .unwrap();
    // The later commit is not delivered while the earlier one is open.
    assert!(
        tokio::time::timeout(Duration::from_millis(500), sub.next())
            .await
            .is_err(),
        "an event was delivered past an open transaction"
    );
    tx.commit().await.unwrap();
    let got = events(&mut sub, 2).await;
    assert_eq!(
        got.iter().map(|e| e.event_id).collect::<Vec<_>>(),
        vec![held.event_id, late.event_id]
    );
    assert!(got[0].position < got[1].position);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), sub.next())
            .await
            .is_err(),
        "an event was delivered twice"
    );
}

/// A row that cannot be decoded is reported with its position, and the
/// subscription goes on after it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_undecodable_row_is_reported_and_passed() {
    let Some(store) = support::test_store().await else {
        return;
    };
    let shared: Arc<dyn EventStore> = Arc::new(store.store.clone());
    append(&*shared, "good-1", "Good").await;
    append(&*shared, "bad-1", "Bad").await;
    append(&*shared, "good-2", "Good").await;
    let schema = store.schema().to_owned();
    mink::adapters::postgres::sqlx::query(mink::adapters::postgres::sqlx::AssertSqlSafe(format!(
        "UPDATE \"{schema}\".events SET metadata = '{{\"correlation_id\": 7}}'::jsonb WHERE stream_id = 'bad-1'"
    )))
    .execute(store.pool())
    .await
    .unwrap();
    let mut sub = subscribe_all(shared, StartFrom::Beginning, ReadFilter::all());
    let SubscriptionItem::Event(first) = next(&mut sub).await else {
        panic!("expected the first event");
    };
    assert_eq!(first.stream_id, "good-1");
    let err = tokio::time::timeout(PATIENCE, sub.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap_err();
    let Error::Undecodable {
        stream, position, ..
    } = err
    else {
        panic!("expected an undecodable row, got {err}");
    };
    assert_eq!(stream, "bad-1");
    assert!(position > first.position);
    let SubscriptionItem::Event(third) = next(&mut sub).await else {
        panic!("expected the third event");
    };
    assert_eq!(third.stream_id, "good-2");
    assert_eq!(next(&mut sub).await, SubscriptionItem::CaughtUp);
}
