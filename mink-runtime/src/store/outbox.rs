//! Where outbox messages wait: the trait each adapter implements beside its
//! events. The outbox layer above decides which messages an append writes
//! and relays them; this trait only keeps them, claims them, and records
//! what became of each (docs/adr/017-outbox.md).

use std::collections::BTreeMap;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::StoreTransaction;
use crate::error::Result;
use crate::event::Position;

/// One outbox message as a store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// The message's id: deterministic, the same on every attempt.
    pub id: Uuid,
    /// The route that wrote it.
    pub route: String,
    /// The name of the publisher that sends it.
    pub publisher: String,
    /// Where the publisher sends it.
    pub destination: String,
    /// Messages with one key are delivered in the order they were written.
    pub key: String,
    /// The event it was written for.
    pub event_id: Uuid,
    /// The event's stable type name.
    pub event_type: String,
    /// The event's stream.
    pub stream_id: String,
    /// The event's position in the log.
    pub position: Position,
    /// The body.
    pub payload: Vec<u8>,
    /// The body's media type.
    pub content_type: String,
    /// Extra headers.
    pub headers: BTreeMap<String, String>,
    /// Attempts made so far (0 for a new message).
    pub attempts: u32,
    /// The last attempt's error, if it failed.
    pub last_error: Option<String>,
    /// When it was written.
    pub created_at: DateTime<Utc>,
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OutboxStatus {
    /// Waiting to be sent (perhaps claimed by a relay, perhaps waiting for
    /// its next attempt).
    Pending,
    /// Acknowledged by its destination.
    Delivered,
    /// Refused for good, or out of attempts: waits for an operator.
    DeadLettered,
}

impl OutboxStatus {
    /// The name stored in the database: `pending`, `delivered` or `dead`.
    pub fn as_str(self) -> &'static str {
        match self {
            OutboxStatus::Pending => "pending",
            OutboxStatus::Delivered => "delivered",
            OutboxStatus::DeadLettered => "dead",
        }
    }

    /// The status stored as `name`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "pending" => Some(OutboxStatus::Pending),
            "delivered" => Some(OutboxStatus::Delivered),
            "dead" => Some(OutboxStatus::DeadLettered),
            _ => None,
        }
    }
}

/// Messages a relay claimed, for [`ttl`](Self::ttl).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxClaim {
    /// Fences every later call about these messages: a relay whose claim
    /// expired and was taken over records nothing.
    pub token: Uuid,
    /// How long the claim lasts.
    pub ttl: Duration,
    /// The messages, in the order they were written. At most one per key.
    pub rows: Vec<OutboxRow>,
}

/// How many messages are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutboxCounts {
    /// Waiting to be sent.
    pub pending: u64,
    /// Delivered and not yet purged.
    pub delivered: u64,
    /// In the dead letters.
    pub dead_lettered: u64,
}

/// The outbox table of a store: messages written in append transactions,
/// claimed by relays, and what became of each.
///
/// # Order and claims
///
/// [`claim`](Self::claim) hands out only the *oldest pending message of its
/// key*: a message is never claimed while an earlier message with the same
/// key is still pending, whether claimed by another relay or waiting for
/// its next attempt. A claim lasts `ttl`; after that another relay may
/// claim the message again (its first relay died or stalled), and calls
/// with the old claim's token change nothing. Concurrent claims, in one
/// process or many, never hand out one message twice while its claim
/// lasts.
#[async_trait]
pub trait OutboxStore: Send + Sync + 'static {
    /// Writes `rows` inside `tx`, an append transaction, so that they commit
    /// with the events or not at all. Returns `false`, writing nothing, when
    /// `tx` is not a transaction of this store's database.
    async fn write_in(&self, tx: &mut dyn StoreTransaction, rows: &[OutboxRow]) -> Result<bool>;

    /// Claims up to `limit` messages that are due, for `ttl`, without
    /// waiting for other relays' claims: the oldest pending message of each
    /// key whose next attempt is due and which no live claim holds.
    async fn claim(&self, limit: usize, ttl: Duration) -> Result<OutboxClaim>;

    /// Records that the messages `ids` of claim `token` were delivered.
    /// Returns how many were (messages no longer held by `token` are left
    /// alone).
    async fn mark_delivered(&self, token: Uuid, ids: &[Uuid]) -> Result<u64>;

    /// Records a failed attempt of message `id` of claim `token`: its
    /// attempts grow by one, it keeps `error`, and waits `delay` before its
    /// next attempt. Returns whether `token` still held it.
    async fn retry_later(
        &self,
        token: Uuid,
        id: Uuid,
        error: &str,
        delay: Duration,
    ) -> Result<bool>;

    /// Moves message `id` of claim `token` to the dead letters with `error`,
    /// counting the attempt. Returns whether `token` still held it.
    async fn dead_letter(&self, token: Uuid, id: Uuid, error: &str) -> Result<bool>;

    /// Gives back the messages `ids` of claim `token` untried, due at once
    /// (a relay stopping, or a message held back behind a failed one).
    async fn release(&self, token: Uuid, ids: &[Uuid]) -> Result<()>;

    /// Up to `limit` dead letters, oldest first.
    async fn dead_letters(&self, limit: usize) -> Result<Vec<OutboxRow>>;

    /// Puts dead letter `id` back in line, due at once with its attempts
    /// reset. Returns `false` when `id` is not a dead letter.
    async fn requeue(&self, id: Uuid) -> Result<bool>;

    /// Deletes delivered messages delivered more than `older_than` ago.
    /// Returns how many.
    async fn purge_delivered(&self, older_than: Duration) -> Result<u64>;

    /// The status of message `id`, or `None` when there is none (never
    /// written, or purged).
    async fn status(&self, id: Uuid) -> Result<Option<OutboxStatus>>;

    /// How many messages are in each state.
    async fn counts(&self) -> Result<OutboxCounts>;
}

#[async_trait]
impl<S: OutboxStore + ?Sized> OutboxStore for std::sync::Arc<S> {
    async fn write_in(&self, tx: &mut dyn StoreTransaction, rows: &[OutboxRow]) -> Result<bool> {
        (**self).write_in(tx, rows).await
    }
    async fn claim(&self, limit: usize, ttl: Duration) -> Result<OutboxClaim> {
        (**self).claim(limit, ttl).await
    }
    async fn mark_delivered(&self, token: Uuid, ids: &[Uuid]) -> Result<u64> {
        (**self).mark_delivered(token, ids).await
    }
    async fn retry_later(
        &self,
        token: Uuid,
        id: Uuid,
        error: &str,
        delay: Duration,
    ) -> Result<bool> {
        (**self).retry_later(token, id, error, delay).await
    }
    async fn dead_letter(&self, token: Uuid, id: Uuid, error: &str) -> Result<bool> {
        (**self).dead_letter(token, id, error).await
    }
    async fn release(&self, token: Uuid, ids: &[Uuid]) -> Result<()> {
        (**self).release(token, ids).await
    }
    async fn dead_letters(&self, limit: usize) -> Result<Vec<OutboxRow>> {
        (**self).dead_letters(limit).await
    }
    async fn requeue(&self, id: Uuid) -> Result<bool> {
        (**self).requeue(id).await
    }
    async fn purge_delivered(&self, older_than: Duration) -> Result<u64> {
        (**self).purge_delivered(older_than).await
    }
    async fn status(&self, id: Uuid) -> Result<Option<OutboxStatus>> {
        (**self).status(id).await
    }
    async fn counts(&self) -> Result<OutboxCounts> {
        (**self).counts().await
    }
}
