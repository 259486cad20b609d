//! A Prometheus exporter of every metric mink emits, on
//! `metrics-exporter-prometheus` (feature `prometheus`).
//!
//! Two ways to use it:
//!
//! - [`serve`] installs the global recorder and serves `GET /metrics` over
//!   HTTP on an address of its own, until the returned [`MetricsServer`]
//!   is dropped;
//! - [`install_recorder`] only installs the recorder and returns a
//!   [`PrometheusHandle`]: serve `handle.render()` from your own axum or
//!   hyper route, and call `handle.run_upkeep()` every few seconds.
//!
//! Either way, histograms (`*_duration_seconds` and
//! `mink_outbox_relay_latency_seconds`) get the buckets
//! [`DURATION_BUCKETS`], and each of mink's metrics gets its `# HELP` line
//! from [`METRICS`].
//!
//! # Examples
//!
//! ```no_run
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use mink::observability::prometheus;
//!
//! let metrics = prometheus::serve(([0, 0, 0, 0], 9000)).await?;
//! println!("scrape {}", metrics.url());
//! // ... build and run the application; `metrics` serves until dropped.
//! # Ok(()) }
//! ```

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{ALLOW, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use metrics_exporter_prometheus::Matcher;
pub use metrics_exporter_prometheus::{BuildError, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::{METRICS, MetricKind};

/// Histogram buckets of mink's durations, in seconds: from half a
/// millisecond to ten seconds.
pub const DURATION_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The content type of the text exposition format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How often the recorder's upkeep runs while a [`MetricsServer`] serves.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Setting up the exporter failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PrometheusError {
    /// The recorder could not be built or installed (another global
    /// recorder is already installed, for example).
    #[error("cannot install the Prometheus recorder: {0}")]
    Recorder(#[from] BuildError),
    /// The HTTP listener could not bind its address.
    #[error("cannot listen on {addr} for /metrics: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why binding failed.
        #[source]
        source: std::io::Error,
    },
}

/// A [`PrometheusBuilder`] with mink's histogram buckets; add your own
/// settings (global labels, other buckets), then pass its recorder to
/// `metrics`, or its handle to [`serve_handle`].
pub fn builder() -> PrometheusBuilder {
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix("_duration_seconds".to_owned()),
            DURATION_BUCKETS,
        )
        .and_then(|b| {
            b.set_buckets_for_metric(
                Matcher::Full(mink_runtime::outbox::OUTBOX_RELAY_LATENCY_SECONDS.to_owned()),
                DURATION_BUCKETS,
            )
        })
        .unwrap_or_else(|_| PrometheusBuilder::new())
}

/// Installs [`builder`]'s recorder as the global `metrics` recorder and
/// describes mink's metrics. Serve the handle's `render()` at `/metrics`,
/// and call its `run_upkeep()` every few seconds.
///
/// Fails when a global recorder is already installed.
pub fn install_recorder() -> Result<PrometheusHandle, PrometheusError> {
    let handle = builder().install_recorder()?;
    describe();
    Ok(handle)
}

/// Installs the global recorder (as [`install_recorder`]) and serves it at
/// `GET /metrics` on `addr` (port 0 picks a free port; see
/// [`MetricsServer::local_addr`]). Must be called inside a Tokio runtime.
pub async fn serve(addr: impl Into<SocketAddr>) -> Result<MetricsServer, PrometheusError> {
    let addr = addr.into();
    // Bind first, so that a taken port leaves no recorder installed.
    let listener = bind(addr).await?;
    let handle = install_recorder()?;
    Ok(MetricsServer::start(listener, handle))
}

/// Serves `handle` (a recorder you installed yourself) at `GET /metrics`
/// on `addr`. Must be called inside a Tokio runtime.
pub async fn serve_handle(
    handle: PrometheusHandle,
    addr: impl Into<SocketAddr>,
) -> Result<MetricsServer, PrometheusError> {
    let listener = bind(addr.into()).await?;
    Ok(MetricsServer::start(listener, handle))
}

async fn bind(addr: SocketAddr) -> Result<TcpListener, PrometheusError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| PrometheusError::Bind { addr, source })
}

/// Gives each of mink's metrics its help text.
fn describe() {
    for metric in METRICS {
        match metric.kind {
            MetricKind::Counter => metrics::describe_counter!(metric.name, metric.help),
            MetricKind::Gauge => metrics::describe_gauge!(metric.name, metric.help),
            MetricKind::Histogram => metrics::describe_histogram!(metric.name, metric.help),
        }
    }
}

/// An HTTP server answering `GET /metrics` with the recorder's metrics in
/// Prometheus' text format. It stops when dropped (or [shut
/// down](Self::shutdown)).
#[derive(Debug)]
pub struct MetricsServer {
    addr: SocketAddr,
    handle: PrometheusHandle,
    server: JoinHandle<()>,
    upkeep: JoinHandle<()>,
}

impl MetricsServer {
    fn start(listener: TcpListener, handle: PrometheusHandle) -> Self {
        // Only fails for a listener whose socket is gone; report the
        // address asked for then.
        let addr = listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
        let server = tokio::spawn(accept(listener, handle.clone()));
        let upkeep = {
            let handle = handle.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(UPKEEP_EVERY);
                loop {
                    every.tick().await;
                    handle.run_upkeep();
                }
            })
        };
        MetricsServer {
            addr,
            handle,
            server,
            upkeep,
        }
    }

    /// The address it listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The URL to scrape: `http://{address}/metrics`.
    pub fn url(&self) -> String {
        format!("http://{}/metrics", self.addr)
    }

    /// The recorder's handle.
    pub fn handle(&self) -> &PrometheusHandle {
        &self.handle
    }

    /// What a scrape would return now.
    pub fn render(&self) -> String {
        self.handle.render()
    }

    /// Stops serving (the recorder stays installed).
    pub fn shutdown(self) {
        drop(self);
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.server.abort();
        self.upkeep.abort();
    }
}

async fn accept(listener: TcpListener, handle: PrometheusHandle) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of file descriptors, usually: wait rather than spin.
                tracing::warn!(%error, "the /metrics listener could not accept a connection");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let handle = handle.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let response = respond(&handle, &request);
                async move { Ok::<_, Infallible>(response) }
            });
            if let Err(error) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(%error, "a /metrics connection failed");
            }
        });
    }
}

fn respond(handle: &PrometheusHandle, request: &Request<Incoming>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::new()));
    if request.uri().path() != "/metrics" {
        *response.status_mut() = StatusCode::NOT_FOUND;
        return response;
    }
    match *request.method() {
        Method::GET | Method::HEAD => {
            *response.body_mut() = Full::new(Bytes::from(handle.render()));
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static(TEXT_FORMAT));
        }
        _ => {
            *response.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
        }
    }
    response
}
