//! Tracing and metrics: one `mink.dispatch` span per dispatch with its
//! outcome, and commands counted and timed by outcome.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use mink::bus::{MetricsLayer, TracingLayer};
use mink::prelude::*;

use super::{Credit, credit};

/// Collects the fields of `mink.dispatch` spans.
#[derive(Clone, Default)]
struct SpanLog(Arc<Mutex<Vec<BTreeMap<String, String>>>>);

struct FieldVisitor<'a>(&'a mut BTreeMap<String, String>);

impl tracing::field::Visit for FieldVisitor<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        self.0.insert(field.name().into(), value.to_string());
    }
}

struct Fields(BTreeMap<String, String>);

impl<S> tracing_subscriber::Layer<S> for SpanLog
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if attrs.metadata().name() != "mink.dispatch" {
            return;
        }
        let mut fields = BTreeMap::new();
        attrs.record(&mut FieldVisitor(&mut fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Fields(fields));
        }
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<Fields>()
        {
            values.record(&mut FieldVisitor(&mut fields.0));
        }
    }

    fn on_close(&self, id: tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if let Some(span) = ctx.span(&id)
            && let Some(fields) = span.extensions_mut().remove::<Fields>()
        {
            self.0.lock().unwrap().push(fields.0);
        }
    }
}

#[tokio::test]
async fn tracing_opens_one_span_per_dispatch_with_its_outcome() {
    use tracing_subscriber::layer::SubscriberExt;

    let log = SpanLog::default();
    let subscriber = tracing_subscriber::registry().with(log.clone());
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = Mink::builder()
        .store(InMemoryStore::new())
        .layer(TracingLayer)
        .build()
        .await
        .unwrap();
    app.dispatch_with(
        credit("tr1", 1),
        Context::new().with_correlation_id("corr-1"),
    )
    .await
    .unwrap();
    let _ = app
        .dispatch(Credit {
            wallet: "tr1".into(),
            amount: 1,
            note: "refuse".into(),
        })
        .await;

    let spans = log.0.lock().unwrap().clone();
    assert_eq!(spans.len(), 2, "{spans:?}");
    assert_eq!(spans[0]["command"], "Credit");
    assert_eq!(spans[0]["aggregate_id"], "tr1");
    assert_eq!(spans[0]["correlation_id"], "corr-1");
    assert_eq!(spans[0]["outcome"], "ok");
    assert!(spans[0]["duration_ms"].parse::<f64>().unwrap() >= 0.0);
    assert_eq!(spans[1]["outcome"], "rejected");
}

#[test]
fn metrics_count_and_time_each_command_by_outcome() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        futures::executor::block_on(async {
            let app = Mink::builder()
                .store(InMemoryStore::new())
                .layer(MetricsLayer)
                .build()
                .await
                .unwrap();
            app.dispatch(credit("m1", 1)).await.unwrap();
            app.dispatch(credit("m1", 2)).await.unwrap();
            let _ = app
                .dispatch(Credit {
                    wallet: "m1".into(),
                    amount: 1,
                    note: "refuse".into(),
                })
                .await;
        })
    });

    let mut counts = BTreeMap::new();
    let mut timings = BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        // The bus's metrics; the aggregate cache reports its own beside.
        if !key.key().name().starts_with("mink_command") {
            continue;
        }
        let labels: BTreeMap<_, _> = key
            .key()
            .labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect();
        let id = (
            key.key().name().to_owned(),
            labels["command"].clone(),
            labels["outcome"].clone(),
        );
        match value {
            DebugValue::Counter(n) => {
                counts.insert(id, n);
            }
            DebugValue::Histogram(v) => {
                timings.insert(id, v.len());
            }
            DebugValue::Gauge(_) => {}
        }
    }
    let k = |name: &str, outcome: &str| (name.to_owned(), "Credit".to_owned(), outcome.to_owned());
    assert_eq!(counts[&k(mink::bus::COMMANDS_TOTAL, "ok")], 2);
    assert_eq!(counts[&k(mink::bus::COMMANDS_TOTAL, "rejected")], 1);
    assert_eq!(timings[&k(mink::bus::COMMAND_DURATION_SECONDS, "ok")], 2);
    assert_eq!(
        timings[&k(mink::bus::COMMAND_DURATION_SECONDS, "rejected")],
        1
    );
}
