//! The webhook publisher against a real HTTP server started by each test.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use mink::outbox::Publisher;
use mink::outbox::publishers::HeldBack;
use mink::outbox::publishers::webhook::{WebhookError, WebhookPublisher};
use tokio::net::TcpListener;
use tokio::sync::Barrier;
use uuid::Uuid;

use super::support::{Outcome, assert_per_key_order, batch, error_of, message, outcomes};

/// One request the server answered.
#[derive(Debug, Clone)]
struct Received {
    headers: HashMap<String, Vec<String>>,
    body: String,
    status: u16,
}

impl Received {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .and_then(|values| values.last())
            .map(String::as_str)
    }
}

#[derive(Default)]
struct State {
    received: Mutex<Vec<Received>>,
    /// Statuses to answer, in turn, to the message with this id (204 once
    /// the list is used up).
    script: Mutex<HashMap<String, VecDeque<u16>>>,
    /// The first messages of these keys wait here for each other.
    meet: Mutex<HashMap<String, Arc<Barrier>>>,
}

/// A real HTTP/1 server on a free local port: `/hook` answers by the
/// script (204 by default), `/slow` never answers.
struct Server {
    addr: SocketAddr,
    state: Arc<State>,
}

impl Server {
    async fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(State::default());
        let shared = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let state = shared.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| answer(state.clone(), request));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Server { addr, state }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn script(&self, id: Uuid, statuses: &[u16]) {
        self.state
            .script
            .lock()
            .unwrap()
            .insert(id.to_string(), statuses.iter().copied().collect());
    }

    fn received(&self) -> Vec<Received> {
        self.state.received.lock().unwrap().clone()
    }

    /// (key, seq) of each request answered 2xx, in arrival order.
    fn delivered(&self) -> Vec<(String, u64)> {
        self.received()
            .into_iter()
            .filter(|r| (200..300).contains(&r.status))
            .map(|r| {
                let key = r.header("Mink-Key").unwrap().to_owned();
                (key, r.body.parse().unwrap())
            })
            .collect()
    }
}

async fn answer(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    let mut headers: HashMap<String, Vec<String>> = HashMap::new();
    for (name, value) in request.headers() {
        headers
            .entry(name.as_str().to_owned())
            .or_default()
            .push(value.to_str().unwrap_or_default().to_owned());
    }
    let body = request.into_body().collect().await.map(|b| b.to_bytes());
    let body = String::from_utf8_lossy(&body.unwrap_or_default()).into_owned();
    if path == "/slow" {
        std::future::pending::<()>().await;
    }
    let id = headers
        .get("idempotency-key")
        .and_then(|v| v.first())
        .cloned()
        .unwrap_or_default();
    let key = headers
        .get("mink-key")
        .and_then(|v| v.first())
        .cloned()
        .unwrap_or_default();
    let barrier = state.meet.lock().unwrap().remove(&key);
    if let Some(barrier) = barrier {
        barrier.wait().await;
    }
    // A little jitter, so a publisher that raced a key's messages would
    // show it.
    tokio::time::sleep(Duration::from_micros(rand::random::<u64>() % 2_000)).await;
    let status = state
        .script
        .lock()
        .unwrap()
        .get_mut(&id)
        .and_then(VecDeque::pop_front)
        .unwrap_or(204);
    state.received.lock().unwrap().push(Received {
        headers,
        body,
        status,
    });
    let mut response = Response::new(Full::new(Bytes::from(format!("answer {status}"))));
    *response.status_mut() = StatusCode::from_u16(status).unwrap();
    Ok(response)
}

#[tokio::test]
async fn a_2xx_is_delivered_with_the_idempotency_key_and_metadata_headers() {
    let server = Server::start().await;
    let publisher = WebhookPublisher::builder()
        .header("Authorization", "Bearer token-1")
        .build()
        .unwrap();
    let sent = message(&server.url("/hook"), "order-7", 3);

    let results = publisher.publish(std::slice::from_ref(&sent)).await;

    assert_eq!(outcomes(&results), [Outcome::Delivered]);
    let received = server.received();
    assert_eq!(received.len(), 1);
    let got = &received[0];
    assert_eq!(got.body, "3");
    let id = sent.id.to_string();
    let event_id = sent.event_id.to_string();
    for (name, value) in [
        ("Idempotency-Key", id.as_str()),
        ("Content-Type", "text/plain"),
        ("Authorization", "Bearer token-1"),
        ("Mink-Message-Id", id.as_str()),
        ("Mink-Event-Id", event_id.as_str()),
        ("Mink-Event-Type", "ItemAdded"),
        ("Mink-Stream-Id", "order-order-7"),
        ("Mink-Position", "3/3"),
        ("Mink-Route", "test-route"),
        ("Mink-Key", "order-7"),
        ("Mink-Attempt", "1"),
        ("X-Tenant", "acme"),
    ] {
        assert_eq!(got.header(name), Some(value), "header {name}");
    }
}

#[tokio::test]
async fn a_4xx_is_permanent_and_a_5xx_or_429_is_retried() {
    let server = Server::start().await;
    let publisher = WebhookPublisher::new().unwrap();
    let cases = [
        (404, Outcome::Permanent),
        (422, Outcome::Permanent),
        (503, Outcome::Retry),
        (500, Outcome::Retry),
        (429, Outcome::Retry),
        (408, Outcome::Retry),
    ];
    // One key each, so no failure holds another case back.
    let messages: Vec<_> = cases
        .iter()
        .map(|(status, _)| message(&server.url("/hook"), &format!("key-{status}"), 0))
        .collect();
    for ((status, _), m) in cases.iter().zip(&messages) {
        server.script(m.id, &[*status]);
    }

    let results = publisher.publish(&messages).await;

    let expected: Vec<_> = cases.iter().map(|(_, outcome)| *outcome).collect();
    assert_eq!(outcomes(&results), expected);
    let error = error_of(&results[0])
        .downcast_ref::<WebhookError>()
        .unwrap();
    assert!(
        matches!(error, WebhookError::Status { status: 404, body, .. } if body == "answer 404"),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_timeout_or_a_refused_connection_is_retried() {
    let server = Server::start().await;
    let publisher = WebhookPublisher::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    // A port nothing listens on: bind one, note it, close it.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let closed_url = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    let messages = [
        message(&server.url("/slow"), "a", 0),
        message(&closed_url, "b", 0),
        message("not a url", "c", 0),
    ];

    let results = publisher.publish(&messages).await;

    assert_eq!(
        outcomes(&results),
        [Outcome::Retry, Outcome::Retry, Outcome::Permanent]
    );
    let timeout = error_of(&results[0]).downcast_ref::<WebhookError>();
    assert!(
        matches!(timeout, Some(WebhookError::Timeout { .. })),
        "{timeout:?}"
    );
    let refused = error_of(&results[1]).downcast_ref::<WebhookError>();
    assert!(
        matches!(refused, Some(WebhookError::Transport { .. })),
        "{refused:?}"
    );
    let invalid = error_of(&results[2]).downcast_ref::<WebhookError>();
    assert!(
        matches!(invalid, Some(WebhookError::InvalidUrl { .. })),
        "{invalid:?}"
    );
}

#[tokio::test]
async fn keys_go_concurrently_and_each_key_in_order() {
    let server = Server::start().await;
    let publisher = WebhookPublisher::builder()
        .max_keys_in_flight(8)
        .build()
        .unwrap();
    // The first messages of k0 and k1 are answered only once both have
    // arrived: a publisher sending keys one at a time never finishes.
    let barrier = Arc::new(Barrier::new(2));
    for key in ["k0", "k1"] {
        server
            .state
            .meet
            .lock()
            .unwrap()
            .insert(key.to_owned(), barrier.clone());
    }
    let messages = batch(&server.url("/hook"), 6, 8);

    let results = tokio::time::timeout(Duration::from_secs(60), publisher.publish(&messages))
        .await
        .expect("keys k0 and k1 were not sent concurrently");

    assert!(outcomes(&results).iter().all(|o| *o == Outcome::Delivered));
    let delivered = server.delivered();
    assert_eq!(delivered.len(), messages.len());
    assert_per_key_order(delivered.iter().map(|(k, s)| (k.as_str(), *s)));
}

#[tokio::test]
async fn a_failure_holds_back_its_key_and_a_resend_keeps_the_order() {
    let server = Server::start().await;
    let publisher = WebhookPublisher::new().unwrap();
    let messages = batch(&server.url("/hook"), 3, 5);
    // Key k1's message 2 fails once with a 503.
    let failing = messages
        .iter()
        .position(|m| m.key == "k1" && m.payload == b"2")
        .unwrap();
    server.script(messages[failing].id, &[503]);

    let first = publisher.publish(&messages).await;

    for (m, result) in messages.iter().zip(&first) {
        let seq: u64 = String::from_utf8_lossy(&m.payload).parse().unwrap();
        match (m.key.as_str(), seq) {
            ("k1", 2) => assert!(matches!(
                error_of(result).downcast_ref::<WebhookError>(),
                Some(WebhookError::Status { status: 503, .. })
            )),
            ("k1", 3..) => {
                let held = error_of(result).downcast_ref::<HeldBack>().unwrap();
                assert_eq!(held.earlier, messages[failing].id);
            }
            _ => assert!(result.is_ok(), "{}: {result:?}", m.key),
        }
    }
    // The relay sends the failed message and its successors again.
    let again: Vec<_> = messages
        .iter()
        .zip(&first)
        .filter(|(_, r)| r.is_err())
        .map(|(m, _)| m.clone())
        .collect();
    assert_eq!(again.len(), 3);
    let second = publisher.publish(&again).await;
    assert!(second.iter().all(Result::is_ok), "{second:?}");

    let delivered = server.delivered();
    assert_eq!(delivered.len(), messages.len());
    assert_per_key_order(delivered.iter().map(|(k, s)| (k.as_str(), *s)));
    let k1: Vec<u64> = delivered
        .iter()
        .filter(|(k, _)| k == "k1")
        .map(|(_, s)| *s)
        .collect();
    assert_eq!(k1, [0, 1, 2, 3, 4]);
}
