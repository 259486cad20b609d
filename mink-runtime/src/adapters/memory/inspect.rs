//! Looking at a store from outside the application: which streams it holds
//! and how big its log is. The `mink` command line reads these through
//! [`AnyStore`](crate::adapters::AnyStore); every adapter answers with the
//! types below, the in-memory one from its log.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::InMemoryStore;
use crate::error::Result;
use crate::event::category_of;
use crate::store::StreamInfo;

/// Which streams [`list_streams`](InMemoryStore::list_streams) returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamQuery {
    /// Only stream ids starting with this text.
    pub prefix: Option<String>,
    /// Only streams of this category (see [`category_of`]).
    pub category: Option<String>,
    /// At most this many streams, in the order they were first written.
    pub limit: usize,
}

impl StreamQuery {
    /// Every stream, up to `limit`.
    pub fn all(limit: usize) -> Self {
        StreamQuery {
            prefix: None,
            category: None,
            limit,
        }
    }

    /// Whether `stream_id` is one the query selects.
    pub fn matches(&self, stream_id: &str) -> bool {
        self.prefix
            .as_deref()
            .is_none_or(|p| stream_id.starts_with(p))
            && self
                .category
                .as_deref()
                .is_none_or(|c| category_of(stream_id) == c)
    }
}

/// How many events of one kind (type, stream or category) a log holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    /// The event type, stream id or category.
    pub name: String,
    /// Its events.
    pub events: u64,
    /// The bytes of their payloads and metadata, as the database measures
    /// them.
    pub bytes: u64,
}

/// Figures about a whole log, as [`log_stats`](InMemoryStore::log_stats)
/// returns them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LogStats {
    /// Events stored.
    pub events: u64,
    /// Streams with at least one event.
    pub streams: u64,
    /// Bytes of every payload and its metadata.
    pub payload_bytes: u64,
    /// The size of the database holding the log, when the adapter can tell
    /// (the SQLite file, the PostgreSQL table with its indexes).
    pub database_bytes: Option<u64>,
    /// When the first event was stored.
    pub first_event_at: Option<DateTime<Utc>>,
    /// When the last event was stored.
    pub last_event_at: Option<DateTime<Utc>>,
    /// Events per type, most first.
    pub event_types: Vec<Tally>,
    /// Events per category, most first.
    pub categories: Vec<Tally>,
    /// The longest streams, longest first (at most the `top` asked for).
    pub top_streams: Vec<Tally>,
}

/// Sorts tallies most first, then by name, and keeps `keep` of them.
pub(crate) fn rank(tallies: impl IntoIterator<Item = Tally>, keep: usize) -> Vec<Tally> {
    let mut tallies: Vec<Tally> = tallies.into_iter().collect();
    tallies.sort_by(|a, b| b.events.cmp(&a.events).then_with(|| a.name.cmp(&b.name)));
    tallies.truncate(keep);
    tallies
}

impl InMemoryStore {
    /// The streams `query` selects, in the order they were first written.
    pub async fn list_streams(&self, query: &StreamQuery) -> Result<Vec<StreamInfo>> {
        let log = self.read();
        let mut found: Vec<(usize, StreamInfo)> = log
            .streams
            .iter()
            .filter(|(id, _)| query.matches(id))
            .filter_map(|(id, indexes)| {
                let first = &log.events[*indexes.first()?];
                let last = &log.events[*indexes.last()?];
                Some((
                    indexes[0],
                    StreamInfo {
                        stream_id: id.clone(),
                        version: indexes.len() as u64,
                        created_at: first.timestamp,
                        updated_at: last.timestamp,
                    },
                ))
            })
            .collect();
        found.sort_by_key(|(first, _)| *first);
        Ok(found
            .into_iter()
            .take(query.limit)
            .map(|(_, info)| info)
            .collect())
    }

    /// Counts and sizes of the whole log, with the `top` longest streams.
    pub async fn log_stats(&self, top: usize) -> Result<LogStats> {
        let log = self.read();
        let mut types: BTreeMap<&str, Tally> = BTreeMap::new();
        let mut categories: BTreeMap<&str, Tally> = BTreeMap::new();
        let mut streams: BTreeMap<&str, Tally> = BTreeMap::new();
        let mut stats = LogStats::default();
        for event in &log.events {
            let bytes = event.payload.len() as u64
                + serde_json::to_vec(&event.metadata).map_or(0, |m| m.len() as u64);
            stats.events += 1;
            stats.payload_bytes += bytes;
            for (map, key) in [
                (&mut types, event.event_type.as_str()),
                (&mut categories, category_of(&event.stream_id)),
                (&mut streams, event.stream_id.as_str()),
            ] {
                let tally = map.entry(key).or_insert_with(|| Tally {
                    name: key.to_owned(),
                    events: 0,
                    bytes: 0,
                });
                tally.events += 1;
                tally.bytes += bytes;
            }
        }
        stats.streams = streams.len() as u64;
        stats.first_event_at = log.events.first().map(|e| e.timestamp);
        stats.last_event_at = log.events.last().map(|e| e.timestamp);
        stats.event_types = rank(types.into_values(), usize::MAX);
        stats.categories = rank(categories.into_values(), usize::MAX);
        stats.top_streams = rank(streams.into_values(), top);
        Ok(stats)
    }
}
