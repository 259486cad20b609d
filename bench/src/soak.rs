//! `--soak`: W1 at 16 writers for many minutes, in back-to-back windows,
//! with the process's resident memory read after each window, to show
//! whether memory stays flat under sustained writes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mink::EventStore;
use serde::Serialize;

use crate::append;
use crate::measure::Plan;
use crate::memory_use;

/// Writers during the soak, as in W1's concurrent case.
pub const WRITERS: usize = 16;
/// Length of one window of the soak.
pub const WINDOW: Duration = Duration::from_secs(30);

/// One window of the soak.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// The store it ran on.
    pub system: String,
    /// Minutes since the soak started, at the end of the window.
    pub minute: f64,
    /// Events per second in the window.
    pub events_per_sec: f64,
    /// 99th percentile append latency in the window, in microseconds.
    pub p99_us: f64,
    /// Resident memory of the bench process after the window, in kB.
    pub rss_kb: u64,
}

/// Runs W1 with [`WRITERS`] writers on `store` for `minutes`, one
/// [`WINDOW`] after the other, sampling resident memory after each.
pub async fn run(
    store: &Arc<dyn EventStore>,
    system: &str,
    minutes: u64,
) -> Result<Vec<Sample>, String> {
    let started = Instant::now();
    let until = started + Duration::from_secs(minutes * 60);
    let plan = Plan {
        warmup: Duration::ZERO,
        window: WINDOW,
        runs: 1,
    };
    let mut samples = Vec::new();
    while Instant::now() < until {
        let stats = append::single_appends(store, &plan, WRITERS).await?;
        let sample = Sample {
            system: system.to_owned(),
            minute: started.elapsed().as_secs_f64() / 60.0,
            events_per_sec: stats.events_per_sec,
            p99_us: stats.p99_us,
            rss_kb: memory_use::resident_kb().map_or(0, |(now, _)| now),
        };
        eprintln!(
            "  soak {:<14} {:>5.1} min {:>9.0} ev/s  p99 {:>7.3} ms  RSS {:>7.1} MB",
            sample.system,
            sample.minute,
            sample.events_per_sec,
            sample.p99_us / 1000.0,
            sample.rss_kb as f64 / 1024.0
        );
        samples.push(sample);
    }
    Ok(samples)
}
