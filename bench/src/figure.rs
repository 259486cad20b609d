//! One measured figure, as the bench binary and the peer crate exchange and
//! report it. Shared word for word with the peer crate (`bench/peer`).

use serde::{Deserialize, Serialize};

/// One system's result for one case of one workload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// `W1` … `W5`.
    pub workload: String,
    /// The case within the workload, e.g. `16 writers`.
    pub case: String,
    /// Who did the work: `mink/postgres`, `raw/postgres`, `peer/postgres-es`, …
    pub system: String,
    /// Events per second (W1–W3, W5) or loads per second (W4).
    pub events_per_sec: f64,
    /// Median latency of one operation, in microseconds.
    pub p50_us: f64,
    /// 99th percentile latency, in microseconds.
    pub p99_us: f64,
    /// Conflicts per attempt (W3 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conflict_rate: Option<f64>,
}
