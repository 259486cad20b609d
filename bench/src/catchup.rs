//! W5: reading the whole global log in pages, as a catching-up subscriber
//! does, through [`EventStore::read_all_forward`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use mink::prelude::*;
use mink::{Position, ReadAll};

use crate::append::new_event;
use crate::measure::{Plan, Stats, histogram, median, stats_of};

/// Events per page read.
pub const PAGE: usize = 1_000;
/// The bigger page W5 also reads in.
pub const BIG_PAGE: usize = 10_000;

/// How W5 reads the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reading {
    /// [`EventStore::read_all_forward`], one page after the other.
    Pages,
    /// A [`Subscription`](mink::subscription::Subscription) catching up,
    /// which reads the next page while the current one is delivered.
    Subscription,
}

impl Reading {
    /// The case name of W5 read this way in pages of `page`.
    pub fn case(self, events: u64, page: usize) -> String {
        match self {
            Reading::Pages => format!("{events} events, pages of {page}"),
            Reading::Subscription => {
                format!("{events} events, subscription, pages of {page}")
            }
        }
    }
}
/// Events per append while seeding.
const SEED_BATCH: u64 = 1_000;
/// Concurrent seeding writers.
const SEED_WRITERS: u64 = 4;

/// Writes `events` events in batches of 1,000, each batch a new stream, and
/// returns how long it took.
pub async fn seed_log(store: &Arc<dyn EventStore>, events: u64) -> Result<Duration, String> {
    let started = Instant::now();
    let batches = events.div_ceil(SEED_BATCH);
    let mut writers = Vec::new();
    for writer in 0..SEED_WRITERS {
        let store = Arc::clone(store);
        writers.push(tokio::spawn(async move {
            for batch in (writer..batches).step_by(SEED_WRITERS as usize) {
                let first = batch * SEED_BATCH;
                let last = (first + SEED_BATCH).min(events);
                let batch_events = (first..last)
                    .map(new_event)
                    .collect::<Result<Vec<_>, _>>()?;
                store
                    .append_to_stream(
                        &format!("log-{batch}"),
                        ExpectedVersion::NoStream,
                        batch_events,
                    )
                    .await
                    .map_err(|e| format!("W5 seeding: {e}"))?;
            }
            Ok::<_, String>(())
        }));
    }
    for w in writers {
        w.await.map_err(|e| e.to_string())??;
    }
    Ok(started.elapsed())
}

/// Reads the log from the start, one page after the other, until a page
/// comes back empty. Returns the figures of the pass and how many events it
/// read; latency is that of one page.
async fn read_pass(
    store: &Arc<dyn EventStore>,
    reading: Reading,
    page_size: usize,
) -> Result<(Stats, u64), String> {
    if reading == Reading::Subscription {
        return subscription_pass(store, page_size).await;
    }
    let mut hist = histogram();
    let mut after = Position::START;
    let mut read = 0u64;
    let started = Instant::now();
    loop {
        let began = Instant::now();
        let page = store
            .read_all_forward(ReadAll::after(after, page_size))
            .await
            .map_err(|e| format!("W5 read: {e}"))?;
        hist.saturating_record(began.elapsed().as_micros().max(1) as u64);
        let Some(last) = page.last() else { break };
        after = last.position;
        read += page.len() as u64;
    }
    Ok((stats_of(&hist, read, 0, started.elapsed()), read))
}

/// Reads the log from the start through a subscription until it says it
/// caught up. Latency is that of each `page_size` events delivered.
async fn subscription_pass(
    store: &Arc<dyn EventStore>,
    page_size: usize,
) -> Result<(Stats, u64), String> {
    use futures::StreamExt;
    use mink::subscription::{StartFrom, Subscription, SubscriptionItem, SubscriptionOptions};
    let mut subscription = Subscription::new(
        Arc::clone(store),
        StartFrom::Beginning,
        mink::ReadFilter::all(),
        SubscriptionOptions::default().page_size(page_size),
    );
    let mut hist = histogram();
    let mut read = 0u64;
    let started = Instant::now();
    let mut began = Instant::now();
    while let Some(item) = subscription.next().await {
        match item.map_err(|e| format!("W5 subscription: {e}"))? {
            SubscriptionItem::Event(_) => {
                read += 1;
                if read.is_multiple_of(page_size as u64) {
                    hist.saturating_record(began.elapsed().as_micros().max(1) as u64);
                    began = Instant::now();
                }
            }
            SubscriptionItem::CaughtUp => break,
        }
    }
    Ok((stats_of(&hist, read, 0, started.elapsed()), read))
}

/// W5: whole passes over a log of `expected` events. The first pass is the
/// warm-up; it is repeated (for up to a minute) until every event is
/// visible, because a transaction running elsewhere in the cluster holds
/// readers of the log back (`docs/adr/004-global-ordering.md`).
pub async fn read_log(
    store: &Arc<dyn EventStore>,
    plan: &Plan,
    expected: u64,
    reading: Reading,
    page_size: usize,
) -> Result<Stats, String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, read) = read_pass(store, reading, page_size).await?;
        if read >= expected {
            break;
        }
        if Instant::now() > deadline {
            return Err(format!(
                "W5: only {read} of {expected} events became visible"
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut runs = Vec::new();
    for _ in 0..plan.runs.max(1) {
        let (stats, read) = read_pass(store, reading, page_size).await?;
        if read != expected {
            return Err(format!("W5 read {read} events, expected {expected}"));
        }
        runs.push(stats);
    }
    Ok(median(&runs))
}

/// The system name of W5's driver-level baseline.
pub const RAW_SQLX: &str = "raw/sqlx";

/// W5's leanest baseline: the log's rows read page by page with sqlx in
/// PostgreSQL's binary format, straight from the columns (no casts, no
/// visibility horizon), and decoded no further than the next page's key.
/// The same data as the store's pages; what mink adds on top is the
/// horizon, the decoding into events and the checks.
pub async fn lean_pages(
    store: &PostgresStore,
    plan: &Plan,
    expected: u64,
    page_size: usize,
) -> Result<Stats, String> {
    use mink::adapters::postgres::sqlx::{self, Row};
    let sql = format!(
        "SELECT event_id, stream_id, version, transaction_id, position, event_type, \
         schema_version, payload, metadata, created_at, payload_bytes, content_type \
         FROM {}.events WHERE (transaction_id, position) > ($1::text::xid8, $2) \
         ORDER BY transaction_id, position LIMIT $3",
        store.schema()
    );
    let pass = async || {
        let mut hist = histogram();
        let (mut commit, mut position) = (0u64, 0i64);
        let mut read = 0u64;
        let started = Instant::now();
        loop {
            let began = Instant::now();
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(commit.to_string())
                .bind(position)
                .bind(page_size as i64)
                .fetch_all(store.pool())
                .await
                .map_err(|e| format!("W5 lean read: {e}"))?;
            hist.saturating_record(began.elapsed().as_micros().max(1) as u64);
            let Some(last) = rows.last() else { break };
            let xid = last
                .try_get_raw(3)
                .map_err(|e| e.to_string())?
                .as_bytes()
                .map_err(|e| e.to_string())?;
            commit = u64::from_be_bytes(xid.try_into().map_err(|_| "xid8 is 8 bytes")?);
            position = last.try_get(4).map_err(|e| e.to_string())?;
            read += rows.len() as u64;
        }
        Ok::<_, String>((stats_of(&hist, read, 0, started.elapsed()), read))
    };
    pass().await?;
    let mut runs = Vec::new();
    for _ in 0..plan.runs.max(1) {
        let (stats, read) = pass().await?;
        if read != expected {
            return Err(format!("W5 lean read {read} events, expected {expected}"));
        }
        runs.push(stats);
    }
    Ok(median(&runs))
}
