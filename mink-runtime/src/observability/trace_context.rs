//! The W3C `traceparent` header, stored in event metadata, and the bridge
//! to OpenTelemetry spans (with the `otel` feature).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::event::EventMetadata;

/// The custom metadata entry holding the W3C `traceparent` of the span that
/// wrote an event.
pub const TRACEPARENT: &str = "traceparent";
/// The custom metadata entry holding the W3C `tracestate` of the span that
/// wrote an event, when it has one.
pub const TRACESTATE: &str = "tracestate";

/// A W3C Trace Context `traceparent`: which trace, which span, and whether
/// it is sampled. Its text form is
/// `00-{trace id: 32 hex}-{span id: 16 hex}-{flags: 2 hex}`.
///
/// # Examples
///
/// ```
/// use mink_runtime::observability::TraceParent;
///
/// let text = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
/// let parent: TraceParent = text.parse().unwrap();
/// assert!(parent.sampled());
/// assert_eq!(parent.to_string(), text);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    /// The trace id (not all zeros).
    pub trace_id: [u8; 16],
    /// The id of the parent span (not all zeros).
    pub span_id: [u8; 8],
    /// The trace flags; bit 0 is "sampled".
    pub flags: u8,
}

impl TraceParent {
    /// Whether the trace is sampled.
    pub fn sampled(&self) -> bool {
        self.flags & 1 == 1
    }

    /// The trace parent stored in `metadata`, if there is a valid one.
    pub fn from_metadata(metadata: &EventMetadata) -> Option<TraceParent> {
        metadata.custom.get(TRACEPARENT)?.parse().ok()
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("00-")?;
        for b in self.trace_id {
            write!(f, "{b:02x}")?;
        }
        f.write_str("-")?;
        for b in self.span_id {
            write!(f, "{b:02x}")?;
        }
        write!(f, "-{:02x}", self.flags)
    }
}

/// A `traceparent` that is not in W3C Trace Context format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid traceparent `{0}`: expected 00-<32 hex>-<16 hex>-<2 hex>, ids not all zeros")]
pub struct InvalidTraceParent(pub String);

impl FromStr for TraceParent {
    type Err = InvalidTraceParent;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidTraceParent(s.to_owned());
        let mut parts = s.trim().split('-');
        let (Some(version), Some(trace), Some(span), Some(flags)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        // Version 00 has exactly four parts; a later version may add more.
        let version = hex::<1>(version).ok_or_else(invalid)?[0];
        if version == 0xff || (version == 0 && parts.next().is_some()) {
            return Err(invalid());
        }
        let trace_id = hex::<16>(trace).ok_or_else(invalid)?;
        let span_id = hex::<8>(span).ok_or_else(invalid)?;
        let flags = hex::<1>(flags).ok_or_else(invalid)?[0];
        if trace_id == [0; 16] || span_id == [0; 8] {
            return Err(invalid());
        }
        Ok(TraceParent {
            trace_id,
            span_id,
            flags,
        })
    }
}

/// Lowercase hex of exactly `N` bytes.
fn hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digits = text.as_bytes();
    if digits.len() != 2 * N {
        return None;
    }
    let value = |d: u8| match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        _ => None,
    };
    let mut out = [0u8; N];
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        out[i] = (value(pair[0])? << 4) | value(pair[1])?;
    }
    Some(out)
}

/// The trace context of the current `tracing` span, when it is an
/// OpenTelemetry span (the `otel` feature, with a `tracing-opentelemetry`
/// layer installed); `None` otherwise.
pub fn current_trace_parent() -> Option<(TraceParent, Option<String>)> {
    #[cfg(feature = "otel")]
    {
        otel::current()
    }
    #[cfg(not(feature = "otel"))]
    {
        None
    }
}

/// Writes the current span's trace context into `custom` (the
/// [`TRACEPARENT`] entry, and [`TRACESTATE`] when there is one). Does
/// nothing when there is no OpenTelemetry span, so an entry the caller set
/// stays.
pub fn inject_current_trace(custom: &mut BTreeMap<String, String>) {
    if let Some((parent, state)) = current_trace_parent() {
        custom.insert(TRACEPARENT.to_owned(), parent.to_string());
        match state {
            Some(state) => custom.insert(TRACESTATE.to_owned(), state),
            None => custom.remove(TRACESTATE),
        };
    }
}

/// Makes `span` a child of the trace context stored in `metadata` (a
/// remote parent), so that handling an event continues the trace of the
/// command that wrote it. Does nothing without the `otel` feature, without
/// an OpenTelemetry layer, or when the metadata holds no valid
/// [`TRACEPARENT`].
pub fn continue_trace(span: &tracing::Span, metadata: &EventMetadata) {
    #[cfg(feature = "otel")]
    if let Some(parent) = TraceParent::from_metadata(metadata) {
        otel::set_remote_parent(span, parent, metadata.custom.get(TRACESTATE));
    }
    #[cfg(not(feature = "otel"))]
    let _ = (span, metadata);
}

#[cfg(feature = "otel")]
mod otel {
    use opentelemetry::trace::{
        SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState,
    };
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    use super::TraceParent;

    pub(super) fn current() -> Option<(TraceParent, Option<String>)> {
        let context = tracing::Span::current().context();
        let span = context.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return None;
        }
        let parent = TraceParent {
            trace_id: sc.trace_id().to_bytes(),
            span_id: sc.span_id().to_bytes(),
            flags: sc.trace_flags().to_u8(),
        };
        let state = sc.trace_state().header();
        Some((parent, (!state.is_empty()).then_some(state)))
    }

    pub(super) fn set_remote_parent(
        span: &tracing::Span,
        parent: TraceParent,
        state: Option<&String>,
    ) {
        let state = state
            .and_then(|s| s.parse::<TraceState>().ok())
            .unwrap_or_default();
        let remote = SpanContext::new(
            TraceId::from_bytes(parent.trace_id),
            SpanId::from_bytes(parent.span_id),
            TraceFlags::new(parent.flags),
            true,
            state,
        );
        let context = opentelemetry::Context::new().with_remote_span_context(remote);
        // Fails only when no OpenTelemetry layer sees the span: then there
        // is no trace to continue.
        let _ = span.set_parent(context);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_w3c_trace_parents() {
        let text = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let parent: TraceParent = text.parse().unwrap();
        assert_eq!(parent.trace_id[0], 0x4b);
        assert_eq!(parent.span_id[7], 0xb7);
        assert!(parent.sampled());
        assert_eq!(parent.to_string(), text);
    }

    #[test]
    fn refuses_malformed_trace_parents() {
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",
            "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        ] {
            assert!(bad.parse::<TraceParent>().is_err(), "{bad}");
        }
    }

    #[test]
    fn without_a_span_nothing_is_written() {
        let mut custom = BTreeMap::new();
        custom.insert(TRACEPARENT.to_owned(), "kept".to_owned());
        inject_current_trace(&mut custom);
        assert_eq!(custom[TRACEPARENT], "kept");
    }
}
