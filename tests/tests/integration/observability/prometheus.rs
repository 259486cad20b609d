//! The Prometheus endpoint, scraped over real HTTP after known work:
//! commands (one refused by a concurrency conflict, one answered from its
//! idempotency record), appends and reads through an instrumented store,
//! and an async projection's batch.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use mink::bus::{IdempotencyLayer, KeyStrategy, MetricsLayer};
use mink::observability::prometheus;
use mink::prelude::*;
use mink::projection::ProjectionKind;
use mink::store::InstrumentedStore;
use mink::{ExpectedVersion, NewEvent};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Barrier;

use super::{DEPOSITED, DepositCounter, RaceGate, deposit};

/// One sample of the exposition: name and labels, and its value.
type Samples = BTreeMap<(String, BTreeMap<String, String>), f64>;

/// `GET /metrics` over a plain TCP connection; returns the status line,
/// the headers and the body.
async fn scrape(url_host: std::net::SocketAddr, path: &str) -> (String, String, String) {
    let mut stream = tokio::net::TcpStream::connect(url_host)
        .await
        .expect("connect to the metrics endpoint");
    let request = format!("GET {path} HTTP/1.1\r\nHost: {url_host}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    let (head, body) = response.split_once("\r\n\r\n").expect("an HTTP response");
    let (status, headers) = head.split_once("\r\n").unwrap_or((head, ""));
    (
        status.to_owned(),
        headers.to_ascii_lowercase(),
        body.to_owned(),
    )
}

/// Parses the text exposition format (`name{label="value",...} value`).
fn parse(body: &str) -> Samples {
    let mut samples = Samples::new();
    for line in body.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample line");
        let (name, labels) = match series.split_once('{') {
            Some((name, rest)) => (name, rest.trim_end_matches('}')),
            None => (series, ""),
        };
        let labels = labels
            .split("\",")
            .filter(|l| !l.is_empty())
            .map(|l| {
                let (k, v) = l.split_once("=\"").expect("a label");
                (k.to_owned(), v.trim_end_matches('"').to_owned())
            })
            .collect();
        samples.insert((name.to_owned(), labels), value.parse().expect("a number"));
    }
    samples
}

fn value(samples: &Samples, name: &str, labels: &[(&str, &str)]) -> f64 {
    let labels: BTreeMap<String, String> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    *samples
        .get(&(name.to_owned(), labels.clone()))
        .unwrap_or_else(|| panic!("no sample {name}{labels:?}"))
}

#[tokio::test]
async fn the_metrics_endpoint_serves_every_kind_of_mink_metric_after_known_work() {
    let server = prometheus::serve(([127, 0, 0, 1], 0))
        .await
        .expect("serve /metrics");

    let memory = InMemoryStore::new();
    let idempotency = memory.idempotency();
    let gate = Arc::new(Barrier::new(2));
    let store = Arc::new(InstrumentedStore::new(
        RaceGate {
            inner: memory.clone(),
            stream: "obsledger-race".into(),
            gate,
        },
        "memory",
    ));
    let counter = DepositCounter::new("obs-prometheus-deposits", ProjectionKind::Async);
    let seen = Arc::clone(&counter.seen);
    let app = Mink::builder()
        .shared_store(store.clone())
        .registered_projections(false)
        .projection(counter)
        .layer(MetricsLayer)
        .layer(IdempotencyLayer::new(idempotency).strategy(KeyStrategy::Explicit))
        .build()
        .await
        .unwrap();

    // A command, then its repeat under the same key: answered from the
    // stored result.
    let keyed = || Context::new().with_idempotency_key("obs-k1");
    let first = app
        .dispatch_with(deposit("keyed", 5), keyed())
        .await
        .unwrap();
    let again = app
        .dispatch_with(deposit("keyed", 5), keyed())
        .await
        .unwrap();
    assert_eq!(first.event_ids, again.event_ids);

    // Two commands loading the same version: one conflicts.
    let (a, b) = tokio::join!(
        app.dispatch(deposit("race", 1)),
        app.dispatch(deposit("race", 2))
    );
    let outcomes = [a.is_ok(), b.is_ok()];
    assert_eq!(outcomes.iter().filter(|ok| **ok).count(), 1, "{a:?} {b:?}");
    let refused = a.err().or(b.err()).unwrap();
    assert_eq!(refused.outcome(), "conflict");

    // Direct appends and reads through the instrumented store.
    let payload = |n: u64| format!("{{\"Deposited\":{{\"amount\":{n}}}}}").into_bytes();
    store
        .append_to_stream(
            "obsledger-direct",
            ExpectedVersion::NoStream,
            vec![
                NewEvent::new(DEPOSITED, payload(10)),
                NewEvent::new(DEPOSITED, payload(20)),
            ],
        )
        .await
        .unwrap();
    let direct = store
        .read_stream_forward("obsledger-direct", 1, 100)
        .await
        .unwrap();
    assert_eq!(direct.len(), 2);

    // The async projection applies all four deposits.
    app.projections()
        .wait_caught_up("obs-prometheus-deposits", Duration::from_secs(30))
        .await
        .unwrap();
    assert_eq!(seen.load(Ordering::SeqCst), 4);

    let (status, headers, body) = scrape(server.local_addr(), "/metrics").await;
    assert!(status.contains(" 200 "), "{status}");
    assert!(
        headers.contains("content-type: text/plain; version=0.0.4"),
        "{headers}"
    );
    let samples = parse(&body);

    // Commands.
    let cmd = |outcome| [("command", "ObsDeposit"), ("outcome", outcome)];
    assert_eq!(value(&samples, "mink_commands_total", &cmd("ok")), 3.0);
    assert_eq!(
        value(&samples, "mink_commands_total", &cmd("conflict")),
        1.0
    );
    assert_eq!(
        value(&samples, "mink_command_duration_seconds_count", &cmd("ok")),
        3.0
    );
    assert_eq!(
        value(
            &samples,
            "mink_idempotency_hits_total",
            &[("command", "ObsDeposit")]
        ),
        1.0
    );

    // The store: three appends written, one refused; four stream reads
    // (three loads and one direct read).
    let op = |operation, outcome| {
        [
            ("store", "memory"),
            ("operation", operation),
            ("category", "obsledger"),
            ("outcome", outcome),
        ]
    };
    assert_eq!(
        value(&samples, "mink_store_operations_total", &op("append", "ok")),
        3.0
    );
    assert_eq!(
        value(
            &samples,
            "mink_store_operations_total",
            &op("append", "conflict")
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "mink_store_operations_total",
            &op("read_stream", "ok")
        ),
        4.0
    );
    assert_eq!(
        value(
            &samples,
            "mink_store_conflicts_total",
            &[("store", "memory"), ("category", "obsledger")]
        ),
        1.0
    );
    let append_ok = op("append", "ok");
    assert_eq!(
        value(
            &samples,
            "mink_store_operation_duration_seconds_count",
            &append_ok
        ),
        3.0
    );
    let mut bucket = append_ok.to_vec();
    bucket.push(("le", "+Inf"));
    assert_eq!(
        value(
            &samples,
            "mink_store_operation_duration_seconds_bucket",
            &bucket
        ),
        3.0
    );
    // Events and payload bytes written: the four deposits, as stored.
    let all = memory
        .read_all_forward(mink::ReadAll::after(mink::Position::START, 100))
        .await
        .unwrap();
    let written: Vec<_> = all
        .iter()
        .filter(|e| e.stream_id.starts_with("obsledger-"))
        .collect();
    assert_eq!(written.len(), 4);
    let bytes: usize = written.iter().map(|e| e.payload.len()).sum();
    let sizes = [
        ("store", "memory"),
        ("operation", "append"),
        ("category", "obsledger"),
    ];
    assert_eq!(value(&samples, "mink_store_events_total", &sizes), 4.0);
    assert_eq!(
        value(&samples, "mink_store_bytes_total", &sizes),
        bytes as f64
    );
    // The projection read the log through the store, and applied its
    // batch.
    let read_all = [
        ("store", "memory"),
        ("operation", "read_all"),
        ("category", ""),
    ];
    assert!(value(&samples, "mink_store_events_total", &read_all) >= 4.0);
    assert_eq!(
        value(
            &samples,
            "mink_projection_events_total",
            &[("projection", "obs-prometheus-deposits")]
        ),
        4.0
    );

    // Help and type lines.
    assert!(
        body.contains("# HELP mink_store_operations_total "),
        "{body}"
    );
    assert!(body.contains("# TYPE mink_store_operation_duration_seconds histogram"));
    assert!(body.contains("# TYPE mink_commands_total counter"));

    // Anything but /metrics is not found.
    let (status, _, _) = scrape(server.local_addr(), "/other").await;
    assert!(status.contains(" 404 "), "{status}");

    app.shutdown().await;
}
