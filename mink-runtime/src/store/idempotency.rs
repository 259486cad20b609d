//! Where idempotency records live: the trait each adapter implements beside
//! its events. The command layer above decides keys and what a record holds.

use std::time::Duration;

use async_trait::async_trait;

use super::StoreTransaction;
use crate::error::Result;

/// The state of a key after [`IdempotencyStore::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// The caller now holds the key and must run the command, then call
    /// [`IdempotencyStore::complete`] or [`IdempotencyStore::release`].
    Started,
    /// The command ran before; here is its stored result.
    Completed(Vec<u8>),
    /// Someone else holds the key right now.
    InProgress,
}

/// Idempotency records: claims, stored results and their lifetimes.
///
/// Built from the event store it sits beside (`store.idempotency()`),
/// sharing its connections and its database's clock. Claims are atomic: of
/// many concurrent claims of one key, exactly one gets [`Claim::Started`].
#[async_trait]
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Claims `key` for `lease` (after which an unfinished claim may be
    /// taken over), or reports what is there.
    async fn claim(&self, key: &str, lease: Duration) -> Result<Claim>;

    /// Stores the result of a claimed key, kept for `ttl`.
    async fn complete(&self, key: &str, result: &[u8], ttl: Duration) -> Result<()>;

    /// Records the result of a claimed key inside `tx`, an append
    /// transaction, so that it commits with the events or not at all.
    /// Returns `false`, writing nothing, when `tx` is not a transaction of
    /// the database these records live in; the caller then completes the
    /// key after the append, with [`complete`](Self::complete).
    async fn complete_in(
        &self,
        tx: &mut dyn StoreTransaction,
        key: &str,
        result: &[u8],
        ttl: Duration,
    ) -> Result<bool> {
        let _ = (tx, key, result, ttl);
        Ok(false)
    }

    /// Gives up a claim (the command failed), so a retry may run it. A
    /// completed key stays completed.
    async fn release(&self, key: &str) -> Result<()>;
}

#[async_trait]
impl<S: IdempotencyStore + ?Sized> IdempotencyStore for std::sync::Arc<S> {
    async fn claim(&self, key: &str, lease: Duration) -> Result<Claim> {
        (**self).claim(key, lease).await
    }
    async fn complete(&self, key: &str, result: &[u8], ttl: Duration) -> Result<()> {
        (**self).complete(key, result, ttl).await
    }
    async fn complete_in(
        &self,
        tx: &mut dyn StoreTransaction,
        key: &str,
        result: &[u8],
        ttl: Duration,
    ) -> Result<bool> {
        (**self).complete_in(tx, key, result, ttl).await
    }
    async fn release(&self, key: &str) -> Result<()> {
        (**self).release(key).await
    }
}
