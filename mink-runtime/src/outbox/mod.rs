//! The transactional outbox: messages written in the append's unit of
//! work, then relayed to publishers (webhooks, NATS JetStream, RabbitMQ, or
//! your own) with retries, per-key order and dead letters.
//!
//! Layer: above [`crate::store`]; below the application.

mod publisher;

pub use publisher::{OutboxMessage, PublishError, Publisher};
