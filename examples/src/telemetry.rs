//! Traces of the example, exported to an OpenTelemetry collector over
//! OTLP/HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (for example
//! `http://localhost:4318`), with the `otlp` feature:
//!
//! ```text
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 \
//!   cargo run -p mink-examples --features otlp --bin order-flow
//! ```
//!
//! Each command is one trace: dispatch, load, handle, append, the inline
//! projection inside the append, and, from the trace context stored in
//! each event, the async projection that handles the event later.

/// The endpoint variable the OTLP exporter reads.
const ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// Flushes the spans still buffered when dropped.
#[cfg(feature = "otlp")]
pub struct Telemetry {
    provider: opentelemetry_sdk::trace::SdkTracerProvider,
}

#[cfg(feature = "otlp")]
impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Err(error) = self.provider.shutdown() {
            eprintln!("exporting the last spans failed: {error}");
        }
    }
}

/// Installs the OTLP exporter behind a `tracing-opentelemetry` layer when
/// the endpoint is set; returns `None` otherwise.
#[cfg(feature = "otlp")]
pub fn init() -> Result<Option<Telemetry>, Box<dyn std::error::Error>> {
    use mink::observability::opentelemetry::trace::TracerProvider as _;
    use mink::observability::tracing_opentelemetry;
    use opentelemetry_sdk::Resource;
    use opentelemetry_sdk::trace::SdkTracerProvider;
    use tracing_subscriber::layer::SubscriberExt;

    let Ok(endpoint) = std::env::var(ENDPOINT) else {
        return Ok(None);
    };
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()?;
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name("order-flow").build())
        .build();
    let layer = tracing_opentelemetry::layer().with_tracer(provider.tracer("order-flow"));
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(layer))?;
    println!("traces: OTLP to {endpoint}");
    Ok(Some(Telemetry { provider }))
}

/// Built without the `otlp` feature: says how to get traces when the
/// endpoint is set.
#[cfg(not(feature = "otlp"))]
pub fn init() -> Result<Option<()>, Box<dyn std::error::Error>> {
    if std::env::var_os(ENDPOINT).is_some() {
        eprintln!(
            "{ENDPOINT} is set, but order-flow was built without OTLP export: \
             cargo run -p mink-examples --features otlp --bin order-flow"
        );
    }
    Ok(None)
}
