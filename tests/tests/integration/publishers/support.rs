//! Messages to publish and what the tests read back.

use std::collections::{BTreeMap, HashMap};

use mink::Position;
use mink::outbox::{OutboxMessage, PublishError};
use uuid::Uuid;

/// A message of `key` numbered `seq` (its payload is the number as text),
/// with a fresh id.
pub fn message(destination: &str, key: &str, seq: u64) -> OutboxMessage {
    OutboxMessage {
        id: Uuid::now_v7(),
        route: "test-route".into(),
        destination: destination.into(),
        key: key.into(),
        event_id: Uuid::now_v7(),
        event_type: "ItemAdded".into(),
        stream_id: format!("order-{key}"),
        position: Position {
            commit: seq,
            event: seq,
        },
        payload: seq.to_string().into_bytes(),
        content_type: "text/plain".into(),
        headers: BTreeMap::from([("X-Tenant".to_owned(), "acme".to_owned())]),
        attempts: 0,
        created_at: chrono::Utc::now(),
    }
}

/// `per_key` messages for each of `keys` keys, interleaved the way a relay
/// reads them from the log (key 0 seq 0, key 1 seq 0, …, key 0 seq 1, …).
pub fn batch(destination: &str, keys: usize, per_key: u64) -> Vec<OutboxMessage> {
    let mut messages = Vec::new();
    for seq in 0..per_key {
        for key in 0..keys {
            messages.push(message(destination, &format!("k{key}"), seq));
        }
    }
    messages
}

/// A unique suffix for names on a shared server.
pub fn unique() -> String {
    Uuid::now_v7().simple().to_string()
}

/// What a result was, for assertions that read as a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Delivered,
    Retry,
    Permanent,
}

/// The outcome of each result.
pub fn outcomes(results: &[Result<(), PublishError>]) -> Vec<Outcome> {
    results
        .iter()
        .map(|result| match result {
            Ok(()) => Outcome::Delivered,
            Err(PublishError::Retry(_)) => Outcome::Retry,
            Err(PublishError::Permanent(_)) => Outcome::Permanent,
        })
        .collect()
}

/// Panics unless every `(key, seq)` pair arrives in increasing `seq` order
/// for its key.
pub fn assert_per_key_order<'a>(arrivals: impl IntoIterator<Item = (&'a str, u64)>) {
    let mut last: HashMap<&str, u64> = HashMap::new();
    for (key, seq) in arrivals {
        if let Some(previous) = last.insert(key, seq) {
            assert!(
                seq > previous,
                "key {key}: message {seq} arrived after message {previous}"
            );
        }
    }
}

/// The error inside a failed result, for downcasting.
pub fn error_of(
    result: &Result<(), PublishError>,
) -> &(dyn std::error::Error + Send + Sync + 'static) {
    match result {
        Ok(()) => panic!("expected a failure, got a delivery"),
        Err(PublishError::Retry(e) | PublishError::Permanent(e)) => e.as_ref(),
    }
}
