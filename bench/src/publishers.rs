//! The brokers' publishers for `mink-bench outbox --publisher …`:
//! `nats` (JetStream, each message on its PubAck), `rabbitmq` (publisher
//! confirms, mandatory) and `webhook` (an HTTP server in this process that
//! answers 204).
//!
//! Servers: `MINK_BENCH_NATS_URL` (default `nats://127.0.0.1:4222`),
//! `MINK_BENCH_AMQP_URL` (default `amqp://guest:guest@127.0.0.1:5672/%2f`).
//! Each run gets a JetStream stream (file storage) or a queue of its own.
//!
//! The bench's route sends to destination `bench`; [`Redirected`] gives
//! each message the destination the broker needs (a subject, `/queue`, a
//! URL) and counts messages acknowledged out of their key's order.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use http_body_util::{BodyExt, Empty};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use mink::outbox::publishers::nats::{NatsPublisher, async_nats};
use mink::outbox::publishers::rabbitmq::RabbitMqPublisher;
use mink::outbox::publishers::rabbitmq::lapin::options::QueueDeclareOptions;
use mink::outbox::publishers::rabbitmq::lapin::types::{AMQPValue, FieldTable};
use mink::outbox::publishers::rabbitmq::lapin::{Connection, ConnectionProperties};
use mink::outbox::publishers::webhook::WebhookPublisher;
use mink::outbox::{OutboxMessage, PublishError, Publisher};

use crate::OrSay;
use crate::outbox::OrderCheck;

/// The publisher called `name` when it is one of the brokers', ready to
/// use, with its order check; `None` for other names.
pub async fn broker_publisher(
    name: &str,
) -> Result<Option<(Arc<dyn Publisher>, OrderCheck)>, String> {
    let run = uuid::Uuid::now_v7().simple().to_string();
    let (inner, destination): (Arc<dyn Publisher>, String) = match name {
        "nats" => {
            let url = std::env::var("MINK_BENCH_NATS_URL")
                .unwrap_or_else(|_| "nats://127.0.0.1:4222".to_owned());
            let client = async_nats::connect(&url)
                .await
                .or_say("connecting to NATS")?;
            let subject = format!("mink-bench.{run}");
            async_nats::jetstream::new(client.clone())
                .create_stream(async_nats::jetstream::stream::Config {
                    name: format!("mink_bench_{run}"),
                    subjects: vec![subject.clone()],
                    duplicate_window: Duration::from_secs(120),
                    // Gone a while after the run.
                    max_age: Duration::from_secs(600),
                    ..Default::default()
                })
                .await
                .or_say("creating the JetStream stream")?;
            (
                Arc::new(NatsPublisher::new(client).max_keys_in_flight(1024)),
                subject,
            )
        }
        "rabbitmq" => {
            let url = std::env::var("MINK_BENCH_AMQP_URL")
                .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned());
            let queue = format!("mink-bench-{run}");
            let connection = Connection::connect(&url, ConnectionProperties::default())
                .await
                .or_say("connecting to RabbitMQ")?;
            let channel = connection
                .create_channel()
                .await
                .or_say("opening a channel")?;
            let mut arguments = FieldTable::default();
            // Deleted a while after the run.
            arguments.insert("x-expires".into(), AMQPValue::LongInt(600_000));
            channel
                .queue_declare(
                    queue.as_str().into(),
                    QueueDeclareOptions::default(),
                    arguments,
                )
                .await
                .or_say("declaring the queue")?;
            let _ = connection.close(200, "declared".into()).await;
            let publisher = RabbitMqPublisher::connect(&url)
                .await
                .or_say("connecting the publisher")?
                .max_keys_in_flight(1024);
            (Arc::new(publisher), format!("/{queue}"))
        }
        "webhook" => {
            let url = serve_204().await?;
            let publisher = WebhookPublisher::builder()
                .max_keys_in_flight(128)
                .build()
                .or_say("building the webhook publisher")?;
            (Arc::new(publisher), url)
        }
        _ => return Ok(None),
    };
    let redirected = Arc::new(Redirected {
        inner,
        destination,
        last: Mutex::new(HashMap::new()),
        out_of_order: Mutex::new(0),
    });
    let check: OrderCheck = {
        let redirected = Arc::clone(&redirected);
        Box::new(move || {
            Some(
                *redirected
                    .out_of_order
                    .lock()
                    .unwrap_or_else(|p| p.into_inner()),
            )
        })
    };
    Ok(Some((redirected, check)))
}

/// Sends every message to one destination through `inner`, and counts the
/// messages acknowledged after a later one of their key.
pub struct Redirected {
    inner: Arc<dyn Publisher>,
    destination: String,
    last: Mutex<HashMap<String, (u64, u64)>>,
    out_of_order: Mutex<u64>,
}

#[async_trait]
impl Publisher for Redirected {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn publish(&self, messages: &[OutboxMessage]) -> Vec<Result<(), PublishError>> {
        let messages: Vec<OutboxMessage> = messages
            .iter()
            .map(|m| OutboxMessage {
                destination: self.destination.clone(),
                ..m.clone()
            })
            .collect();
        let results = self.inner.publish(&messages).await;
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let mut wrong = 0;
        for (m, result) in messages.iter().zip(&results) {
            if result.is_err() {
                continue;
            }
            let here = (m.position.commit, m.position.event);
            if let Some(before) = last.insert(m.key.clone(), here)
                && before >= here
            {
                wrong += 1;
            }
        }
        *self.out_of_order.lock().unwrap_or_else(|p| p.into_inner()) += wrong;
        results
    }
}

/// An HTTP/1 server on a free local port that answers every request 204;
/// returns its URL.
async fn serve_204() -> Result<String, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .or_say("binding the webhook server")?;
    let addr = listener
        .local_addr()
        .or_say("the webhook server's address")?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = service_fn(|request: Request<Incoming>| async {
                    // Read the body, as a receiver that stores it would.
                    let _ = request.into_body().collect().await;
                    let mut response = Response::new(Empty::<Bytes>::new());
                    *response.status_mut() = StatusCode::NO_CONTENT;
                    Ok::<_, Infallible>(response)
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(format!("http://{addr}/hook"))
}
