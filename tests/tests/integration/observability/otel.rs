//! OpenTelemetry: a command's spans, exported through
//! `tracing-opentelemetry` to the SDK's in-memory exporter, link from the
//! dispatch through the append to the handling of its events by inline,
//! async and live projections; the events carry the append's trace
//! context in their metadata.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use mink::bus::TracingLayer;
use mink::observability::{TRACEPARENT, TraceParent};
use mink::prelude::*;
use mink::projection::ProjectionKind;
use mink::store::InstrumentedStore;
use mink::subscription::StartFrom;
use opentelemetry::trace::{SpanId, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use tracing_subscriber::layer::SubscriberExt;

use super::{DepositCounter, deposit};

fn attribute(span: &SpanData, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key.as_str() == key)
        .map(|kv| kv.value.as_str().into_owned())
}

fn only<'a>(spans: &'a [SpanData], what: &str, pick: impl Fn(&SpanData) -> bool) -> &'a SpanData {
    let found: Vec<_> = spans.iter().filter(|s| pick(s)).collect();
    assert_eq!(
        found.len(),
        1,
        "expected one {what}, got {}: {:#?}",
        found.len(),
        spans.iter().map(|s| &s.name).collect::<Vec<_>>()
    );
    found[0]
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    only(spans, name, |s| s.name == name)
}

fn handling<'a>(spans: &'a [SpanData], projection: &str) -> &'a SpanData {
    only(spans, projection, |s| {
        s.name == "mink.projection.handle"
            && attribute(s, "projection").as_deref() == Some(projection)
    })
}

#[tokio::test]
async fn a_commands_trace_continues_through_its_events_into_the_projections() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("mink-tests")));
    let _guard = tracing::subscriber::set_default(subscriber);

    let memory = InMemoryStore::new();
    let inline = DepositCounter::new("obs-otel-inline", ProjectionKind::Inline);
    let batch = DepositCounter::new("obs-otel-async", ProjectionKind::Async);
    let live = DepositCounter::new("obs-otel-live", ProjectionKind::Live);
    let (inline_seen, batch_seen, live_seen) = (
        Arc::clone(&inline.seen),
        Arc::clone(&batch.seen),
        Arc::clone(&live.seen),
    );
    let app = Mink::builder()
        .store(InstrumentedStore::new(memory.clone(), "memory"))
        .registered_projections(false)
        .projection(inline)
        .projection(batch)
        .live_projection_from(live, StartFrom::Beginning)
        .layer(TracingLayer)
        .build()
        .await
        .unwrap();

    app.dispatch(deposit("traced", 7)).await.unwrap();
    for name in ["obs-otel-async", "obs-otel-live"] {
        app.projections()
            .wait_caught_up(name, Duration::from_secs(30))
            .await
            .unwrap();
    }
    app.shutdown().await;
    for seen in [&inline_seen, &batch_seen, &live_seen] {
        assert_eq!(seen.load(Ordering::SeqCst), 1);
    }
    provider.force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();

    // dispatch -> command -> load, handle, append -> the store's append.
    let dispatch = named(&spans, "mink.dispatch");
    let trace = dispatch.span_context.trace_id();
    assert_eq!(dispatch.parent_span_id, SpanId::INVALID);
    let command = named(&spans, "mink.command");
    assert_eq!(command.parent_span_id, dispatch.span_context.span_id());
    for step in ["mink.load", "mink.handle", "mink.append"] {
        let span = named(&spans, step);
        assert_eq!(
            span.parent_span_id,
            command.span_context.span_id(),
            "{step}"
        );
        assert_eq!(span.span_context.trace_id(), trace, "{step}");
    }
    let append = named(&spans, "mink.append");
    let stored = named(&spans, "append obsledger");
    assert_eq!(stored.parent_span_id, append.span_context.span_id());
    assert_eq!(
        attribute(stored, "db.system.name").as_deref(),
        Some("memory")
    );
    assert_eq!(
        attribute(stored, "db.operation.name").as_deref(),
        Some("append")
    );
    assert_eq!(
        attribute(stored, "db.collection.name").as_deref(),
        Some("obsledger")
    );

    // The event carries the append's trace context.
    let events = memory
        .read_stream_forward("obsledger-traced", 1, 10)
        .await
        .unwrap();
    let parent = TraceParent::from_metadata(&events[0].metadata)
        .unwrap_or_else(|| panic!("no {TRACEPARENT} in {:?}", events[0].metadata));
    assert_eq!(parent.trace_id, trace.to_bytes());
    assert_eq!(parent.span_id, append.span_context.span_id().to_bytes());
    assert!(parent.sampled());

    // The inline projection runs inside the store's append.
    let inline = handling(&spans, "obs-otel-inline");
    assert_eq!(inline.parent_span_id, stored.span_context.span_id());
    assert!(!inline.parent_span_is_remote);

    // Async and live projections continue the trace from the event's
    // metadata: children of the append, through a remote parent.
    for projection in ["obs-otel-async", "obs-otel-live"] {
        let handled = handling(&spans, projection);
        assert_eq!(handled.span_context.trace_id(), trace, "{projection}");
        assert_eq!(
            handled.parent_span_id,
            append.span_context.span_id(),
            "{projection}"
        );
        assert!(handled.parent_span_is_remote, "{projection}");
        assert_eq!(
            attribute(handled, "event_type").as_deref(),
            Some(super::DEPOSITED)
        );
    }
    // The async projection's batch is a span of its own.
    assert!(spans.iter().any(|s| s.name == "mink.projection.batch"
        && attribute(s, "projection").as_deref() == Some("obs-otel-async")));
}
