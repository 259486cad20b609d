//! Metrics and traces: what mink emits, and how to export it.
//!
//! mink emits metrics through the [`metrics`](https://docs.rs/metrics)
//! facade and spans through [`tracing`](https://docs.rs/tracing), so they
//! go wherever the application's recorder and subscriber send them.
//! [`METRICS`] lists every metric; the guide
//! (`docs/guide/observability.md`) lists them with every span.
//!
//! - Commands: add [`MetricsLayer`](crate::bus::MetricsLayer) and
//!   [`TracingLayer`](crate::bus::TracingLayer) to the bus.
//! - Stores: wrap any store in
//!   [`InstrumentedStore`](crate::store::InstrumentedStore).
//! - Projections and idempotency hits: always emitted.
//! - Prometheus (feature `prometheus`): [`prometheus::serve`] serves
//!   `/metrics` over HTTP; [`prometheus::install_recorder`] returns a
//!   handle whose `render()` your own router can serve.
//! - OpenTelemetry (feature `otel`): install a `tracing-opentelemetry`
//!   layer ([`tracing_opentelemetry`] and [`opentelemetry`] are re-exported
//!   in the versions mink is built with); each event then carries the W3C
//!   trace context of the command that wrote it, and projections continue
//!   that trace (see [`continue_trace`]).

pub use mink_runtime::observability::*;

#[cfg(feature = "prometheus")]
pub mod prometheus;

#[cfg(feature = "otel")]
pub use opentelemetry;
#[cfg(feature = "otel")]
pub use tracing_opentelemetry;

use mink_runtime::aggregate::{
    AGGREGATE_CACHE_ENTRIES, AGGREGATE_CACHE_EVICTIONS_TOTAL, AGGREGATE_CACHE_LOADS_TOTAL,
};
use mink_runtime::bus::{COMMAND_DURATION_SECONDS, COMMANDS_TOTAL, IDEMPOTENCY_HITS_TOTAL};
use mink_runtime::outbox::{
    OUTBOX_DEAD_LETTERED_TOTAL, OUTBOX_DELIVERED_TOTAL, OUTBOX_FAILED_TOTAL, OUTBOX_PENDING,
    OUTBOX_RELAY_LATENCY_SECONDS,
};
use mink_runtime::projection::{
    PROJECTION_ERRORS_TOTAL, PROJECTION_EVENTS_TOTAL, PROJECTION_LAG_EVENTS, PROJECTION_LAG_SECONDS,
};
use mink_runtime::store::COALESCED_CALLS_TOTAL;
use mink_runtime::store::instrumented::{
    STORE_BYTES_TOTAL, STORE_CONFLICTS_TOTAL, STORE_EVENTS_TOTAL, STORE_OPERATION_DURATION_SECONDS,
    STORE_OPERATIONS_TOTAL,
};

/// The kind of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Only goes up.
    Counter,
    /// Goes up and down.
    Gauge,
    /// A distribution of observed values (durations, in seconds).
    Histogram,
}

/// One metric mink emits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MetricDescription {
    /// Its name.
    pub name: &'static str,
    /// Counter, gauge or histogram.
    pub kind: MetricKind,
    /// Its label names.
    pub labels: &'static [&'static str],
    /// What it measures.
    pub help: &'static str,
}

const STORE_LABELS: &[&str] = &["store", "operation", "category", "outcome"];

/// Every metric mink emits.
pub const METRICS: &[MetricDescription] = &[
    MetricDescription {
        name: COMMANDS_TOTAL,
        kind: MetricKind::Counter,
        labels: &["command", "outcome"],
        help: "Commands dispatched, by outcome (ok, rejected, invalid, conflict, ...).",
    },
    MetricDescription {
        name: COMMAND_DURATION_SECONDS,
        kind: MetricKind::Histogram,
        labels: &["command", "outcome"],
        help: "How long dispatching a command took, in seconds.",
    },
    MetricDescription {
        name: IDEMPOTENCY_HITS_TOTAL,
        kind: MetricKind::Counter,
        labels: &["command"],
        help: "Commands answered with the stored result of an earlier run of the same key.",
    },
    MetricDescription {
        name: STORE_OPERATIONS_TOTAL,
        kind: MetricKind::Counter,
        labels: STORE_LABELS,
        help: "Calls on the event store, by operation and outcome.",
    },
    MetricDescription {
        name: STORE_OPERATION_DURATION_SECONDS,
        kind: MetricKind::Histogram,
        labels: STORE_LABELS,
        help: "How long calls on the event store took, in seconds.",
    },
    MetricDescription {
        name: STORE_EVENTS_TOTAL,
        kind: MetricKind::Counter,
        labels: &["store", "operation", "category"],
        help: "Events appended or read.",
    },
    MetricDescription {
        name: STORE_BYTES_TOTAL,
        kind: MetricKind::Counter,
        labels: &["store", "operation", "category"],
        help: "Payload bytes of the events appended or read.",
    },
    MetricDescription {
        name: STORE_CONFLICTS_TOTAL,
        kind: MetricKind::Counter,
        labels: &["store", "category"],
        help: "Appends refused by a concurrency conflict.",
    },
    MetricDescription {
        name: PROJECTION_EVENTS_TOTAL,
        kind: MetricKind::Counter,
        labels: &["projection"],
        help: "Events a projection applied.",
    },
    MetricDescription {
        name: PROJECTION_ERRORS_TOTAL,
        kind: MetricKind::Counter,
        labels: &["projection"],
        help: "Handler failures of a projection (each attempt counts).",
    },
    MetricDescription {
        name: PROJECTION_LAG_EVENTS,
        kind: MetricKind::Gauge,
        labels: &["projection"],
        help: "Log positions between a projection's checkpoint and the head.",
    },
    MetricDescription {
        name: PROJECTION_LAG_SECONDS,
        kind: MetricKind::Gauge,
        labels: &["projection"],
        help: "Age of the oldest event a projection has not applied, in seconds.",
    },
    MetricDescription {
        name: OUTBOX_DELIVERED_TOTAL,
        kind: MetricKind::Counter,
        labels: &["publisher", "route"],
        help: "Outbox messages their destination acknowledged.",
    },
    MetricDescription {
        name: OUTBOX_FAILED_TOTAL,
        kind: MetricKind::Counter,
        labels: &["publisher", "route", "kind"],
        help: "Failed outbox delivery attempts, by kind (retry or permanent).",
    },
    MetricDescription {
        name: OUTBOX_DEAD_LETTERED_TOTAL,
        kind: MetricKind::Counter,
        labels: &["publisher", "route"],
        help: "Outbox messages moved to the dead letters.",
    },
    MetricDescription {
        name: OUTBOX_PENDING,
        kind: MetricKind::Gauge,
        labels: &[],
        help: "Outbox messages waiting to be delivered.",
    },
    MetricDescription {
        name: OUTBOX_RELAY_LATENCY_SECONDS,
        kind: MetricKind::Histogram,
        labels: &["publisher"],
        help: "Seconds from a message's event to its delivery.",
    },
    MetricDescription {
        name: AGGREGATE_CACHE_LOADS_TOTAL,
        kind: MetricKind::Counter,
        labels: &["category", "outcome"],
        help: "Aggregate loads by whether they started from a cached state (hit, miss, expired).",
    },
    MetricDescription {
        name: AGGREGATE_CACHE_EVICTIONS_TOTAL,
        kind: MetricKind::Counter,
        labels: &[],
        help: "Cached aggregate states dropped to stay within the cache's capacity.",
    },
    MetricDescription {
        name: AGGREGATE_CACHE_ENTRIES,
        kind: MetricKind::Gauge,
        labels: &[],
        help: "Aggregate states held by the aggregate cache.",
    },
    MetricDescription {
        name: COALESCED_CALLS_TOTAL,
        kind: MetricKind::Counter,
        labels: &["appends", "outcome"],
        help: "Calls a coalescing store made, by how many appends each merged and whether it was split.",
    },
];
