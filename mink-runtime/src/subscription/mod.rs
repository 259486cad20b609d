//! Reading the global log as it grows: catch-up from a position, then live
//! delivery, with no gap and no duplicate at the hand-off.
//!
//! A [`Subscription`] is a [`futures::Stream`]. It reads the log in pages
//! after the last position it delivered, through
//! [`EventStore::read_all_forward`], whose filters run in SQL on the SQL
//! stores. When a read comes back empty, history is delivered: it yields
//! [`SubscriptionItem::CaughtUp`] once, then waits for the store's wake-up
//! ([`EventStore::log_changes`]: `LISTEN`/`NOTIFY` on PostgreSQL, an
//! in-process signal on SQLite and memory) or its poll interval, and reads
//! again. Catch-up and live delivery are the same read, so nothing falls
//! between them; and since the stream is pulled, a slow consumer only
//! reads later, from where it stopped: nothing is dropped, and nothing is
//! buffered beyond two pages (docs/adr/012-subscriptions.md).
//!
//! While catching up, each full page starts the read of the next one in a
//! task of its own, so the store serves page *n + 1* while the consumer
//! works through page *n* ([`SubscriptionOptions::read_ahead`]). The page
//! read ahead is the page the subscription would read next anyway: same
//! position, same filter, and its result is handled exactly as a read made
//! then would be.
//!
//! Layer: above `store`; below `projection` and `app`.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures::Stream;
use futures::future::BoxFuture;

use crate::error::{Error, Result};
use crate::event::{Position, RecordedEvent};
use crate::store::{EventStore, LogChanges, ReadAll, ReadFilter};

/// Where a subscription starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum StartFrom {
    /// The first event of the log.
    #[default]
    Beginning,
    /// The events strictly after this position (a checkpoint).
    After(Position),
    /// The events committed after the subscription starts.
    Now,
}

/// What a subscription yields.
// Nearly every item is an event and `CaughtUp` comes once: boxing the event
// would cost an allocation per event to save bytes on one item.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionItem {
    /// The next event, in log order.
    Event(RecordedEvent),
    /// Every event visible when the subscription started, or since, has
    /// been delivered: what follows is live. Yielded once.
    CaughtUp,
}

/// How a subscription reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionOptions {
    /// Events read per page.
    pub page_size: usize,
    /// How long it waits for a wake-up before reading anyway.
    pub poll_interval: Duration,
    /// Whether a full page starts the read of the next page at once, in a
    /// task of its own, so that reading and delivering overlap (on by
    /// default; at most one page is read ahead).
    pub read_ahead: bool,
}

impl Default for SubscriptionOptions {
    fn default() -> Self {
        SubscriptionOptions {
            page_size: 500,
            poll_interval: Duration::from_millis(500),
            read_ahead: true,
        }
    }
}

impl SubscriptionOptions {
    /// Sets the page size (at least 1).
    pub fn page_size(mut self, events: usize) -> Self {
        self.page_size = events.max(1);
        self
    }

    /// Sets the poll interval.
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll_interval = interval;
        self
    }

    /// Turns reading the next page ahead on or off.
    pub fn read_ahead(mut self, on: bool) -> Self {
        self.read_ahead = on;
        self
    }
}

/// A stream of the log's events after a position, catch-up then live.
///
/// Errors are yielded as items and the subscription goes on:
/// - [`Error::Undecodable`] names a stored row that cannot be read; the
///   subscription moves past it.
/// - Other errors (the store is unavailable) are yielded, then the same
///   read is tried again after the poll interval.
///
/// Dropping the subscription stops it.
pub struct Subscription {
    state: Option<Reader>,
    pending: Option<BoxFuture<'static, (Reader, Option<Result<SubscriptionItem>>)>>,
}

impl std::fmt::Debug for Subscription {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("position", &self.state.as_ref().map(|r| r.after))
            .finish_non_exhaustive()
    }
}

struct Reader {
    store: Arc<dyn EventStore>,
    from: Option<StartFrom>,
    after: Position,
    filter: ReadFilter,
    options: SubscriptionOptions,
    buffer: VecDeque<RecordedEvent>,
    changes: LogChanges,
    caught_up: Delivery,
    /// The read of the page after `buffer`, under way.
    ahead: Option<ReadAhead>,
}

/// A page read in a task of its own; aborted when dropped, so a dropped
/// subscription leaves no read behind.
struct ReadAhead(tokio::task::JoinHandle<Result<Vec<RecordedEvent>>>);

impl ReadAhead {
    fn start(store: &Arc<dyn EventStore>, request: ReadAll) -> ReadAhead {
        let store = Arc::clone(store);
        ReadAhead(tokio::spawn(async move {
            store.read_all_forward(request).await
        }))
    }

    async fn finish(mut self) -> Result<Vec<RecordedEvent>> {
        (&mut self.0)
            .await
            .map_err(|e| Error::backend(format!("reading the next page ahead failed: {e}")))?
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// History is still being read.
    NotYet,
    /// The last read came back short: yield `CaughtUp` once the buffer is
    /// empty.
    Due,
    /// Yielded.
    Sent,
}

impl Subscription {
    /// Subscribes to the events of `store` that pass `filter`, from `from`.
    pub fn new(
        store: Arc<dyn EventStore>,
        from: StartFrom,
        filter: ReadFilter,
        options: SubscriptionOptions,
    ) -> Self {
        let changes = store.log_changes();
        Subscription {
            state: Some(Reader {
                store,
                from: Some(from),
                after: Position::START,
                filter,
                options,
                buffer: VecDeque::new(),
                changes,
                caught_up: Delivery::NotYet,
                ahead: None,
            }),
            pending: None,
        }
    }

    /// The position of the last event delivered ([`Position::START`]
    /// before the first, or the start position), while no read is under
    /// way.
    pub fn position(&self) -> Option<Position> {
        self.state.as_ref().map(|r| r.after)
    }
}

impl Reader {
    /// Produces the next item, reading and waiting as needed.
    async fn next(mut self) -> (Reader, Option<Result<SubscriptionItem>>) {
        if let Some(from) = self.from.take() {
            self.after = match from {
                StartFrom::Beginning => Position::START,
                StartFrom::After(p) => p,
                StartFrom::Now => match self.store.head_position().await {
                    Ok(p) => p,
                    Err(e) => {
                        self.from = Some(from);
                        tokio::time::sleep(self.options.poll_interval).await;
                        return (self, Some(Err(e)));
                    }
                },
            };
        }
        loop {
            if let Some(event) = self.buffer.pop_front() {
                self.after = event.position;
                return (self, Some(Ok(SubscriptionItem::Event(event))));
            }
            if self.caught_up == Delivery::Due {
                self.caught_up = Delivery::Sent;
                return (self, Some(Ok(SubscriptionItem::CaughtUp)));
            }
            let read = match self.ahead.take() {
                // Started after the page just delivered, whose last event
                // is `self.after`: the read this one would make.
                Some(ahead) => ahead.finish().await,
                None => {
                    // Forget earlier wake-ups first: a commit signalled
                    // after this read wakes the wait below.
                    self.changes.mark_seen();
                    let request = ReadAll {
                        after: self.after,
                        filter: self.filter.clone(),
                        limit: self.options.page_size,
                    };
                    self.store.read_all_forward(request).await
                }
            };
            match read {
                Ok(page) if page.is_empty() => {
                    // Only an empty read proves history delivered: a short
                    // page may stop before a row that cannot be decoded.
                    if self.caught_up == Delivery::NotYet {
                        self.caught_up = Delivery::Due;
                        continue;
                    }
                    self.changes.wait(self.options.poll_interval).await;
                }
                Ok(page) => {
                    let full = page.len() >= self.options.page_size;
                    if let (true, true, Some(last)) = (self.options.read_ahead, full, page.last()) {
                        // As before a read: later commits wake the wait.
                        self.changes.mark_seen();
                        let request = ReadAll {
                            after: last.position,
                            filter: self.filter.clone(),
                            limit: self.options.page_size,
                        };
                        self.ahead = Some(ReadAhead::start(&self.store, request));
                    }
                    self.buffer.extend(page)
                }
                Err(Error::Undecodable {
                    stream,
                    version,
                    position,
                    reason,
                }) => {
                    self.after = position;
                    let error = Error::Undecodable {
                        stream,
                        version,
                        position,
                        reason,
                    };
                    return (self, Some(Err(error)));
                }
                Err(e) => {
                    let pause = self.options.poll_interval;
                    tokio::time::sleep(pause).await;
                    return (self, Some(Err(e)));
                }
            }
        }
    }
}

impl Stream for Subscription {
    type Item = Result<SubscriptionItem>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.pending.is_none() {
            let Some(reader) = this.state.take() else {
                return Poll::Ready(None);
            };
            this.pending = Some(Box::pin(reader.next()));
        }
        let Some(pending) = this.pending.as_mut() else {
            return Poll::Ready(None);
        };
        match pending.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready((reader, item)) => {
                this.pending = None;
                this.state = Some(reader);
                Poll::Ready(item)
            }
        }
    }
}

/// Subscribes to the whole log (or the part `filter` passes).
pub fn subscribe_all(
    store: Arc<dyn EventStore>,
    from: StartFrom,
    filter: ReadFilter,
) -> Subscription {
    Subscription::new(store, from, filter, SubscriptionOptions::default())
}

/// Subscribes to one stream, in log order.
pub fn subscribe_stream(
    store: Arc<dyn EventStore>,
    stream_id: &str,
    from: StartFrom,
) -> Subscription {
    subscribe_all(store, from, ReadFilter::all().stream(stream_id))
}

/// Subscribes to every stream of one category (`order` for `order-42`).
pub fn subscribe_category(
    store: Arc<dyn EventStore>,
    category: &str,
    from: StartFrom,
) -> Subscription {
    subscribe_all(store, from, ReadFilter::all().category(category))
}

/// Subscriptions as methods of any shareable store:
/// `store.subscribe_all(StartFrom::Beginning, ReadFilter::all())`.
pub trait Subscribe {
    /// See [`subscribe_all`].
    fn subscribe_all(&self, from: StartFrom, filter: ReadFilter) -> Subscription;
    /// See [`subscribe_stream`].
    fn subscribe_stream(&self, stream_id: &str, from: StartFrom) -> Subscription;
    /// See [`subscribe_category`].
    fn subscribe_category(&self, category: &str, from: StartFrom) -> Subscription;
}

impl<S: EventStore + Clone> Subscribe for S {
    fn subscribe_all(&self, from: StartFrom, filter: ReadFilter) -> Subscription {
        subscribe_all(Arc::new(self.clone()), from, filter)
    }
    fn subscribe_stream(&self, stream_id: &str, from: StartFrom) -> Subscription {
        subscribe_stream(Arc::new(self.clone()), stream_id, from)
    }
    fn subscribe_category(&self, category: &str, from: StartFrom) -> Subscription {
        subscribe_category(Arc::new(self.clone()), category, from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::InMemoryStore;
    use crate::event::{ExpectedVersion, NewEvent};
    use futures::StreamExt;

    fn event(kind: &str) -> NewEvent {
        NewEvent::new(kind, b"{}".to_vec())
    }

    #[tokio::test]
    async fn catches_up_then_follows_with_a_filter() {
        let store = InMemoryStore::new();
        for i in 0..5 {
            store
                .append_to_stream(
                    &format!("order-{i}"),
                    ExpectedVersion::Any,
                    vec![event("Placed")],
                )
                .await
                .unwrap();
            store
                .append_to_stream(
                    &format!("user-{i}"),
                    ExpectedVersion::Any,
                    vec![event("Joined")],
                )
                .await
                .unwrap();
        }
        let mut sub = Subscription::new(
            Arc::new(store.clone()),
            StartFrom::After(Position::sequential(2)),
            ReadFilter::all().category("order"),
            SubscriptionOptions::default().page_size(2),
        );
        let mut seen = Vec::new();
        while let SubscriptionItem::Event(e) = sub.next().await.unwrap().unwrap() {
            seen.push(e.stream_id);
        }
        assert_eq!(seen, ["order-1", "order-2", "order-3", "order-4"]);
        store
            .append_to_stream("order-9", ExpectedVersion::Any, vec![event("Placed")])
            .await
            .unwrap();
        let live = tokio::time::timeout(Duration::from_secs(5), sub.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        let SubscriptionItem::Event(live) = live else {
            panic!("expected an event, got {live:?}");
        };
        assert_eq!(live.stream_id, "order-9");
        assert_eq!(sub.position(), Some(live.position));
    }

    /// Reading ahead delivers the same events as reading page by page: in
    /// log order, none twice, none skipped, also while appends land during
    /// the catch-up.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn reading_ahead_delivers_every_event_once_in_order() {
        let store = InMemoryStore::new();
        for i in 0..200 {
            store
                .append_to_stream(
                    &format!("s-{}", i % 7),
                    ExpectedVersion::Any,
                    vec![event("E")],
                )
                .await
                .unwrap();
        }
        for read_ahead in [true, false] {
            // Everything stored now, and the 100 appends made while reading.
            let total = store.head_position().await.unwrap().event + 100;
            let mut sub = Subscription::new(
                Arc::new(store.clone()),
                StartFrom::Beginning,
                ReadFilter::all(),
                SubscriptionOptions::default()
                    .page_size(7)
                    .read_ahead(read_ahead),
            );
            let writer = {
                let store = store.clone();
                tokio::spawn(async move {
                    for _ in 0..100 {
                        store
                            .append_to_stream("late", ExpectedVersion::Any, vec![event("L")])
                            .await
                            .unwrap();
                        tokio::task::yield_now().await;
                    }
                })
            };
            let mut positions = Vec::new();
            while positions.len() < total as usize {
                let item = tokio::time::timeout(Duration::from_secs(10), sub.next())
                    .await
                    .expect("the subscription delivers within 10 s")
                    .unwrap()
                    .unwrap();
                if let SubscriptionItem::Event(e) = item {
                    positions.push(e.position.event);
                }
            }
            writer.await.unwrap();
            let expected: Vec<u64> = (1..=total).collect();
            assert_eq!(positions, expected, "read_ahead = {read_ahead}");
        }
    }
}
