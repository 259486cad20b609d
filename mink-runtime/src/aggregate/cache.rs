//! [`AggregateCache`]: the last loaded state and version of recently used
//! aggregates, so that loading one reads only the events stored after it.
//!
//! A cached state is never served as it is: every load reads the stream
//! after the cached version and folds what it finds, so the state a handler
//! decides on is as fresh as a full replay at that moment, and the append
//! that follows still expects the version it was loaded at. On a hot
//! stream, a command that lost a race reloads only the events that beat it.

use std::any::Any;
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::{Aggregate, Tracked};

/// Counts loads served from the cache (`outcome`: `hit`, `miss`, `expired`).
pub const AGGREGATE_CACHE_LOADS_TOTAL: &str = "mink_aggregate_cache_loads_total";
/// Entries dropped to stay within the cache's capacity.
pub const AGGREGATE_CACHE_EVICTIONS_TOTAL: &str = "mink_aggregate_cache_evictions_total";
/// Entries held.
pub const AGGREGATE_CACHE_ENTRIES: &str = "mink_aggregate_cache_entries";

/// A bounded cache of aggregate states, by stream, with a time to live.
///
/// Only aggregates whose type is `Clone` are cached (the cache hands out
/// copies); others are always replayed from their stream. The cache is
/// bounded by its [capacity](Self::new) (least recently used entries go
/// first) and by its [time to live](Self::ttl), and reports its loads,
/// evictions and size as metrics (see the observability guide).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use mink_runtime::aggregate::AggregateCache;
///
/// let cache = AggregateCache::new(10_000).ttl(Duration::from_secs(30));
/// assert_eq!(cache.capacity(), 10_000);
/// assert!(cache.is_empty());
/// ```
#[derive(Debug)]
pub struct AggregateCache {
    capacity: usize,
    ttl: Duration,
    inner: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    by_stream: HashMap<String, Entry>,
    /// Stream ids by the tick of their last use, oldest first.
    recency: BTreeMap<u64, String>,
    tick: u64,
}

struct Entry {
    state: Box<dyn Any + Send + Sync>,
    version: u64,
    stored_at: Instant,
    tick: u64,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entry")
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl Default for AggregateCache {
    /// 1,024 aggregates for 60 seconds each.
    fn default() -> Self {
        AggregateCache::new(1024)
    }
}

impl AggregateCache {
    /// A cache of at most `capacity` aggregates (0 caches nothing), kept
    /// for 60 seconds after their last load.
    pub fn new(capacity: usize) -> Self {
        AggregateCache {
            capacity,
            ttl: Duration::from_secs(60),
            inner: Mutex::new(Entries::default()),
        }
    }

    /// How long an entry stays usable after it was stored.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The most entries it holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// The entries it holds now.
    pub fn len(&self) -> usize {
        self.lock().by_stream.len()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets every entry.
    pub fn clear(&self) {
        let mut entries = self.lock();
        entries.by_stream.clear();
        entries.recency.clear();
        metrics::gauge!(AGGREGATE_CACHE_ENTRIES).set(0.0);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        // A panic while holding the lock leaves consistent maps behind
        // (each update is a few inserts and removes), so keep using them.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A copy of the cached state of `stream_id` and its version, when the
    /// aggregate type is cacheable and a live entry of that type is there.
    pub(crate) fn get<A: Aggregate>(&self, id: &str, stream_id: &str) -> Option<Tracked<A>> {
        if self.capacity == 0 {
            return None;
        }
        let mut entries = self.lock();
        let outcome = match entries.by_stream.get(stream_id) {
            None => "miss",
            Some(entry) if entry.stored_at.elapsed() > self.ttl => "expired",
            Some(entry) => match entry.state.downcast_ref::<A>().and_then(A::clone_state) {
                Some(state) => {
                    let version = entry.version;
                    entries.touch(stream_id);
                    drop(entries);
                    metrics::counter!(AGGREGATE_CACHE_LOADS_TOTAL, "category" => A::CATEGORY, "outcome" => "hit")
                        .increment(1);
                    return Some(Tracked::cached(state, id, stream_id, version));
                }
                None => "miss",
            },
        };
        if outcome == "expired" {
            entries.remove(stream_id);
            metrics::gauge!(AGGREGATE_CACHE_ENTRIES).set(entries.by_stream.len() as f64);
        }
        drop(entries);
        metrics::counter!(AGGREGATE_CACHE_LOADS_TOTAL, "category" => A::CATEGORY, "outcome" => outcome)
            .increment(1);
        None
    }

    /// Keeps a copy of `tracked`'s state at its version, unless the type is
    /// not cacheable, it has unsaved events, or a newer version is cached.
    pub(crate) fn put<A: Aggregate>(&self, tracked: &Tracked<A>) {
        if self.capacity == 0 || !tracked.uncommitted().is_empty() {
            return;
        }
        let Some(state) = tracked.state().clone_state() else {
            return;
        };
        let stream_id = tracked.stream_id();
        let mut entries = self.lock();
        if let Some(entry) = entries.by_stream.get(stream_id)
            && entry.version > tracked.version()
            && entry.stored_at.elapsed() <= self.ttl
        {
            return;
        }
        entries.remove(stream_id);
        entries.tick += 1;
        let tick = entries.tick;
        entries.recency.insert(tick, stream_id.to_owned());
        entries.by_stream.insert(
            stream_id.to_owned(),
            Entry {
                state: Box::new(state),
                version: tracked.version(),
                stored_at: Instant::now(),
                tick,
            },
        );
        let mut evicted = 0u64;
        while entries.by_stream.len() > self.capacity {
            let Some((_, oldest)) = entries.recency.pop_first() else {
                break;
            };
            entries.by_stream.remove(&oldest);
            evicted += 1;
        }
        let len = entries.by_stream.len();
        drop(entries);
        if evicted > 0 {
            metrics::counter!(AGGREGATE_CACHE_EVICTIONS_TOTAL).increment(evicted);
        }
        metrics::gauge!(AGGREGATE_CACHE_ENTRIES).set(len as f64);
    }
}

impl Entries {
    fn touch(&mut self, stream_id: &str) {
        self.tick += 1;
        let tick = self.tick;
        if let Some(entry) = self.by_stream.get_mut(stream_id) {
            let old = std::mem::replace(&mut entry.tick, tick);
            self.recency.remove(&old);
            self.recency.insert(tick, stream_id.to_owned());
        }
    }

    fn remove(&mut self, stream_id: &str) {
        if let Some(entry) = self.by_stream.remove(stream_id) {
            self.recency.remove(&entry.tick);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::{Aggregate, Event};
    use crate::error::{BoxError, Result};
    use crate::event::Serializer;

    #[derive(Debug, Clone, PartialEq)]
    struct Added(u64);

    impl Event for Added {
        const EVENT_TYPES: &'static [&'static str] = &["Added"];
        fn event_type(&self) -> &'static str {
            "Added"
        }
        fn schema_version(&self) -> u32 {
            1
        }
        fn encode<S: Serializer>(&self, serializer: &S) -> std::result::Result<Vec<u8>, BoxError> {
            serializer.serialize(&self.0)
        }
        fn decode<S: Serializer>(
            _: &str,
            _: u32,
            payload: &[u8],
            serializer: &S,
        ) -> std::result::Result<Option<Self>, BoxError> {
            Ok(Some(Added(serializer.deserialize(payload)?)))
        }
    }

    #[derive(Debug, Default, Clone)]
    struct Counter {
        id: String,
        total: u64,
    }

    impl Aggregate for Counter {
        type Event = Added;
        const CATEGORY: &'static str = "counter";
        fn aggregate_id(&self) -> String {
            self.id.clone()
        }
        fn set_aggregate_id(&mut self, id: &str) -> Result<()> {
            self.id = id.to_owned();
            Ok(())
        }
        fn apply_event(&mut self, event: &Added) {
            self.total += event.0;
        }
        fn clone_state(&self) -> Option<Self> {
            Some(self.clone())
        }
    }

    fn at(id: &str, total: u64, version: u64) -> Tracked<Counter> {
        let mut t = Tracked::<Counter>::new(id).unwrap();
        t.replay(&Added(total), version);
        t
    }

    #[test]
    fn serves_copies_at_their_version_and_keeps_the_newest() {
        let cache = AggregateCache::new(8);
        assert!(cache.get::<Counter>("a", "counter-a").is_none());
        cache.put(&at("a", 5, 3));
        let hit = cache.get::<Counter>("a", "counter-a").unwrap();
        assert_eq!((hit.total, hit.version(), hit.id()), (5, 3, "a"));
        // An older state never replaces a newer one.
        cache.put(&at("a", 1, 2));
        assert_eq!(cache.get::<Counter>("a", "counter-a").unwrap().version(), 3);
        cache.put(&at("a", 9, 4));
        assert_eq!(cache.get::<Counter>("a", "counter-a").unwrap().total, 9);
    }

    #[test]
    fn evicts_the_least_recently_used_beyond_its_capacity() {
        let cache = AggregateCache::new(2);
        cache.put(&at("a", 1, 1));
        cache.put(&at("b", 1, 1));
        // `a` is used again, so `b` is the oldest when `c` arrives.
        assert!(cache.get::<Counter>("a", "counter-a").is_some());
        cache.put(&at("c", 1, 1));
        assert_eq!(cache.len(), 2);
        assert!(cache.get::<Counter>("b", "counter-b").is_none());
        assert!(cache.get::<Counter>("a", "counter-a").is_some());
        assert!(cache.get::<Counter>("c", "counter-c").is_some());
    }

    #[test]
    fn expired_entries_and_unsaved_events_are_not_served() {
        let cache = AggregateCache::new(4).ttl(Duration::ZERO);
        cache.put(&at("a", 1, 1));
        std::thread::sleep(Duration::from_millis(2));
        assert!(cache.get::<Counter>("a", "counter-a").is_none());
        assert!(cache.is_empty(), "the expired entry is dropped");

        let cache = AggregateCache::new(4);
        let mut dirty = at("a", 1, 1);
        dirty.record(Added(2));
        cache.put(&dirty);
        assert!(
            cache.is_empty(),
            "a state with unsaved events is not cached"
        );
        let none = AggregateCache::new(0);
        none.put(&at("a", 1, 1));
        assert!(none.get::<Counter>("a", "counter-a").is_none());
    }
}
