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
async fn read_pass(store: &Arc<dyn EventStore>) -> Result<(Stats, u64), String> {
    let mut hist = histogram();
    let mut after = Position::START;
    let mut read = 0u64;
    let started = Instant::now();
    loop {
        let began = Instant::now();
        let page = store
            .read_all_forward(ReadAll::after(after, PAGE))
            .await
            .map_err(|e| format!("W5 read: {e}"))?;
        hist.saturating_record(began.elapsed().as_micros().max(1) as u64);
        let Some(last) = page.last() else { break };
        after = last.position;
        read += page.len() as u64;
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
) -> Result<Stats, String> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let (_, read) = read_pass(store).await?;
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
        let (stats, read) = read_pass(store).await?;
        if read != expected {
            return Err(format!("W5 read {read} events, expected {expected}"));
        }
        runs.push(stats);
    }
    Ok(median(&runs))
}
