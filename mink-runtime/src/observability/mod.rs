//! What mink shares with the tools that watch it: the W3C trace context
//! stored in each event's metadata, so that whoever handles the event
//! later continues the trace of the command that wrote it.
//!
//! The metrics themselves are emitted where the work happens, through the
//! `metrics` facade: the bus's `MetricsLayer` and `IdempotencyLayer`, the
//! `InstrumentedStore` wrapper and the projection engine (the facade's
//! `mink::observability::METRICS` lists them all). Spans are emitted through `tracing`; with the `otel`
//! feature and a `tracing-opentelemetry` layer installed, they become
//! OpenTelemetry spans, and the trace context travels with the events:
//!
//! - when a command's events are built
//!   ([`Context::event_metadata`](crate::Context::event_metadata)), the
//!   current span's context is written into each event's
//!   `metadata.custom["traceparent"]` (and `"tracestate"` when there is
//!   one), in W3C Trace Context format;
//! - an async or live projection opens its handling span for an event as a
//!   child of that remote context ([`continue_trace`]).
//!
//! Without the `otel` feature (or without an OpenTelemetry layer), nothing
//! is written and nothing is read: the functions here do nothing.
//!
//! Layer: above [`crate::event`]; used by the command and projection
//! layers.

mod trace_context;

pub use trace_context::{
    InvalidTraceParent, TRACEPARENT, TRACESTATE, TraceParent, continue_trace, current_trace_parent,
    inject_current_trace,
};
