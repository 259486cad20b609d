//! Outbox publishers against real servers: an HTTP server started by the
//! test, NATS JetStream and RabbitMQ.

mod nats;
mod rabbitmq;
mod relay;
mod support;
mod webhook;
