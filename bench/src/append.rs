//! W1 and W2: appends through [`EventStore::append_to_stream`] with an
//! exact expected version, on any store.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mink::prelude::*;
use mink::{Event, JsonSerializer, NewEvent};

use crate::domain::cart_event;
use crate::measure::{Done, Op, Plan, Stats, measure};
use crate::shape;

/// The `n`-th benchmark event, serialized as the framework does it.
pub fn new_event(n: u64) -> Result<NewEvent, String> {
    cart_event(n)
        .to_new_event(&JsonSerializer, EventMetadata::default())
        .map_err(|e| e.to_string())
}

/// W1: `writers` concurrent writers each append one event at a time to a
/// random stream (out of [`shape::STREAMS`]), expecting its exact version.
pub async fn single_appends(
    store: &Arc<dyn EventStore>,
    plan: &Plan,
    writers: usize,
) -> Result<Stats, String> {
    let versions: Arc<Vec<AtomicU64>> =
        Arc::new((0..shape::STREAMS).map(|_| AtomicU64::new(0)).collect());
    // Each run writes streams of its own, so runs on one store (plain,
    // then coalesced) do not meet.
    static RUNS: AtomicU64 = AtomicU64::new(0);
    let run = RUNS.fetch_add(1, Ordering::Relaxed);
    let prefix: Arc<str> = format!("cart-w1x{writers}r{run}").into();
    let store = Arc::clone(store);
    let op: Op = Arc::new(move |writer, seq| {
        let (store, versions, prefix) = (
            Arc::clone(&store),
            Arc::clone(&versions),
            Arc::clone(&prefix),
        );
        Box::pin(async move {
            let stream = shape::random_stream(writer, writers, seq);
            let version = versions[stream as usize].load(Ordering::Relaxed);
            store
                .append_to_stream(
                    &format!("{prefix}-{stream}"),
                    ExpectedVersion::Exact(version),
                    vec![new_event(seq)?],
                )
                .await
                .map_err(|e| format!("W1 append: {e}"))?;
            versions[stream as usize].store(version + 1, Ordering::Relaxed);
            Ok(Done::events(1))
        })
    });
    measure(plan, writers, op).await
}

/// W2: `writers` concurrent writers each append batches of `batch` events
/// to a stream of their own, expecting its exact version.
pub async fn batch_appends(
    store: &Arc<dyn EventStore>,
    plan: &Plan,
    batch: usize,
    writers: usize,
) -> Result<Stats, String> {
    let versions: Arc<Vec<AtomicU64>> = Arc::new((0..writers).map(|_| AtomicU64::new(0)).collect());
    let prefix: Arc<str> = format!("cart-w2b{batch}x{writers}").into();
    let store = Arc::clone(store);
    let op: Op = Arc::new(move |writer, seq| {
        let (store, versions, prefix) = (
            Arc::clone(&store),
            Arc::clone(&versions),
            Arc::clone(&prefix),
        );
        Box::pin(async move {
            let version = versions[writer].load(Ordering::Relaxed);
            let events = (0..batch as u64)
                .map(|i| new_event(seq * batch as u64 + i))
                .collect::<Result<Vec<_>, _>>()?;
            store
                .append_to_stream(
                    &format!("{prefix}-{writer}"),
                    ExpectedVersion::Exact(version),
                    events,
                )
                .await
                .map_err(|e| format!("W2 append: {e}"))?;
            versions[writer].store(version + batch as u64, Ordering::Relaxed);
            Ok(Done::events(batch as u64))
        })
    });
    measure(plan, writers, op).await
}
