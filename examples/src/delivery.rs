//! Publishing the order events through the outbox: to NATS JetStream when
//! `NATS_URL` is set, else to a webhook this example serves itself.
//!
//! The outbox writes one message per order and checkout event in the
//! append's own transaction; the relay sends them, each with its stable id
//! (`Idempotency-Key`, `Nats-Msg-Id`), one key (order) at a time in order.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use mink::outbox::publishers::nats::{NatsPublisher, async_nats};
use mink::outbox::publishers::webhook::WebhookPublisher;
use mink::outbox::{Outbox, Route};

use crate::OrderEvent;
use crate::checkout::CheckoutStarted;

/// One message the example's webhook received.
#[derive(Debug, Clone, PartialEq)]
pub struct Received {
    /// `Mink-Event-Type`.
    pub event_type: String,
    /// `Idempotency-Key`: the message's stable id.
    pub id: String,
    /// `Mink-Key`: the order's stream.
    pub key: String,
}

/// Where the order events go, and what the example shows of them.
pub enum Delivery {
    /// The example's own webhook, which keeps what it receives.
    Webhook {
        /// Where it listens.
        url: String,
        /// What it received, in arrival order.
        received: Arc<Mutex<Vec<Received>>>,
    },
    /// A JetStream subject on the server `NATS_URL` names.
    Nats {
        /// The subject prefix (`orders.<event type>`).
        subject: String,
    },
}

impl Delivery {
    /// Publishes to NATS when `NATS_URL` is set, else starts the webhook;
    /// returns the outbox to give the application.
    pub async fn start() -> Result<(Delivery, Outbox), Box<dyn std::error::Error>> {
        let route = |to: &str, destination: String| {
            Route::for_event::<OrderEvent>()
                .named("order-events")
                .to(to, destination)
        };
        let started = |to: &str, destination: String| {
            Route::for_event::<CheckoutStarted>()
                .named("checkouts")
                .to(to, destination)
        };
        if let Ok(url) = std::env::var("NATS_URL") {
            let client = async_nats::connect(url.as_str()).await?;
            async_nats::jetstream::new(client.clone())
                .get_or_create_stream(async_nats::jetstream::stream::Config {
                    name: "MINK_ORDER_FLOW".into(),
                    subjects: vec!["order-flow.>".into()],
                    duplicate_window: Duration::from_secs(10 * 60),
                    ..Default::default()
                })
                .await?;
            let outbox = Outbox::new()
                .route(route("nats", "order-flow.orders".into()))
                .route(started("nats", "order-flow.checkouts".into()))
                .publisher(NatsPublisher::new(client));
            let subject = "order-flow.>".to_owned();
            return Ok((Delivery::Nats { subject }, outbox));
        }
        let received = Arc::new(Mutex::new(Vec::new()));
        let addr = serve(Arc::clone(&received)).await?;
        let url = format!("http://{addr}/orders");
        let outbox = Outbox::new()
            .route(route("webhook", url.clone()))
            .route(started("webhook", url.clone()))
            .publisher(WebhookPublisher::new()?);
        Ok((Delivery::Webhook { url, received }, outbox))
    }

    /// Where the events go, for the example's first lines.
    pub fn describe(&self) -> String {
        match self {
            Delivery::Webhook { url, .. } => format!("order events: webhook {url} (served here)"),
            Delivery::Nats { subject } => format!("order events: NATS JetStream {subject}"),
        }
    }

    /// What the webhook received for `stream` (nothing to show for NATS:
    /// read it with `nats stream view MINK_ORDER_FLOW`).
    pub fn received_for(&self, stream: &str) -> Option<Vec<Received>> {
        match self {
            Delivery::Webhook { received, .. } => Some(
                received
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .iter()
                    .filter(|r| r.key == stream)
                    .cloned()
                    .collect(),
            ),
            Delivery::Nats { .. } => None,
        }
    }
}

/// Serves `POST /orders` on a free port, keeping what arrives; answers
/// 200, so each message counts as delivered.
async fn serve(received: Arc<Mutex<Vec<Received>>>) -> std::io::Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let received = Arc::clone(&received);
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let received = Arc::clone(&received);
                    async move { Ok::<_, hyper::Error>(take(request, &received).await) }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(socket), service)
                    .await;
            });
        }
    });
    Ok(addr)
}

/// Keeps one delivered message.
async fn take(
    request: Request<Incoming>,
    received: &Mutex<Vec<Received>>,
) -> Response<Full<Bytes>> {
    let header = |name: &str| {
        request
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let message = Received {
        event_type: header("mink-event-type"),
        id: header("idempotency-key"),
        key: header("mink-key"),
    };
    // The body is the event's payload; reading it completes the request.
    let _ = request.into_body().collect().await;
    received
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(message);
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::OK;
    response
}
