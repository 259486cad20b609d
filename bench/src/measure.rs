//! The measuring loop: concurrent writers for a fixed window, a warm-up
//! first, latency in HDR histograms, and the median of several runs.
//! Shared word for word with the peer crate (`bench/peer`).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

/// How long to warm up and measure, and how many runs to take the median of.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    /// Untimed work before the first run.
    pub warmup: Duration,
    /// Length of one measured run.
    pub window: Duration,
    /// Measured runs; the figures reported are their medians.
    pub runs: usize,
}

/// What one operation did.
#[derive(Debug, Clone, Copy, Default)]
pub struct Done {
    /// Events written or read by it.
    pub events: u64,
    /// Attempts refused by a concurrency conflict before it succeeded.
    pub conflicts: u64,
}

impl Done {
    /// An operation that moved `events` events without a conflict.
    pub fn events(events: u64) -> Done {
        Done {
            events,
            conflicts: 0,
        }
    }
}

/// Medians over the runs of a [`Plan`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    /// Events per second.
    pub events_per_sec: f64,
    /// Operations per second.
    pub ops_per_sec: f64,
    /// Median latency of one operation, in microseconds.
    pub p50_us: f64,
    /// 99th percentile latency, in microseconds.
    pub p99_us: f64,
    /// Conflicts per attempt (attempts = operations + conflicts).
    pub conflict_rate: f64,
}

/// A boxed operation future.
pub type OpFuture = Pin<Box<dyn Future<Output = Result<Done, String>> + Send>>;

/// One operation of writer `writer` (0-based), its `seq`-th (counting on
/// across runs, so every call can use a fresh key).
pub type Op = Arc<dyn Fn(usize, u64) -> OpFuture + Send + Sync>;

/// A histogram of latencies in microseconds, from 1 µs to 10 minutes.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("constant bounds are valid")
}

/// Runs `op` on `writers` concurrent tasks: a warm-up, then `plan.runs`
/// measured windows, and returns the median figures.
pub async fn measure(plan: &Plan, writers: usize, op: Op) -> Result<Stats, String> {
    let next_seq: Arc<Vec<std::sync::atomic::AtomicU64>> =
        Arc::new((0..writers).map(|_| Default::default()).collect());
    window(plan.warmup, writers, &op, &next_seq).await?;
    let mut runs = Vec::with_capacity(plan.runs);
    for _ in 0..plan.runs.max(1) {
        runs.push(window(plan.window, writers, &op, &next_seq).await?);
    }
    Ok(median(&runs))
}

/// The median of each figure, taken separately.
pub fn median(runs: &[Stats]) -> Stats {
    let pick = |f: fn(&Stats) -> f64| {
        let mut v: Vec<f64> = runs.iter().map(f).collect();
        v.sort_by(f64::total_cmp);
        v.get(v.len() / 2).copied().unwrap_or(0.0)
    };
    Stats {
        events_per_sec: pick(|s| s.events_per_sec),
        ops_per_sec: pick(|s| s.ops_per_sec),
        p50_us: pick(|s| s.p50_us),
        p99_us: pick(|s| s.p99_us),
        conflict_rate: pick(|s| s.conflict_rate),
    }
}

/// Figures of one finished window.
pub fn stats_of(hist: &Histogram<u64>, events: u64, conflicts: u64, elapsed: Duration) -> Stats {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let ops = hist.len();
    Stats {
        events_per_sec: events as f64 / secs,
        ops_per_sec: ops as f64 / secs,
        p50_us: hist.value_at_quantile(0.50) as f64,
        p99_us: hist.value_at_quantile(0.99) as f64,
        conflict_rate: if ops + conflicts == 0 {
            0.0
        } else {
            conflicts as f64 / (ops + conflicts) as f64
        },
    }
}

async fn window(
    length: Duration,
    writers: usize,
    op: &Op,
    next_seq: &Arc<Vec<std::sync::atomic::AtomicU64>>,
) -> Result<Stats, String> {
    use std::sync::atomic::Ordering;
    let start = Instant::now();
    let deadline = start + length;
    let mut tasks = Vec::with_capacity(writers);
    for writer in 0..writers {
        let op = Arc::clone(op);
        let next_seq = Arc::clone(next_seq);
        tasks.push(tokio::spawn(async move {
            let mut hist = histogram();
            let (mut events, mut conflicts) = (0u64, 0u64);
            loop {
                let seq = next_seq[writer].fetch_add(1, Ordering::Relaxed);
                let began = Instant::now();
                let done = op(writer, seq).await?;
                let now = Instant::now();
                hist.saturating_record((now - began).as_micros().max(1) as u64);
                events += done.events;
                conflicts += done.conflicts;
                if now >= deadline {
                    return Ok::<_, String>((hist, events, conflicts));
                }
            }
        }));
    }
    let mut hist = histogram();
    let (mut events, mut conflicts) = (0, 0);
    for task in tasks {
        let (h, e, c) = task.await.map_err(|e| e.to_string())??;
        hist.add(&h).map_err(|e| e.to_string())?;
        events += e;
        conflicts += c;
    }
    Ok(stats_of(&hist, events, conflicts, start.elapsed()))
}
