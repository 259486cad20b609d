//! Recording a command's result in its own append transaction, for the
//! idempotency layer: the result then commits with the events or not at
//! all, so a retry after an ambiguous failure finds both or neither.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::outcome::CommandResult;
use crate::error::{Error, Result};
use crate::store::{IdempotencyStore, StoreTransaction};

/// A claimed idempotency key whose result the execution records inside the
/// append transaction. Only the idempotency layer creates one.
pub struct ResultRecord {
    store: Arc<dyn IdempotencyStore>,
    key: String,
    ttl: Duration,
    recorded: AtomicBool,
}

impl std::fmt::Debug for ResultRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResultRecord")
            .field("key", &self.key)
            .field("ttl", &self.ttl)
            .field("recorded", &self.was_recorded())
            .finish_non_exhaustive()
    }
}

impl ResultRecord {
    pub(crate) fn new(store: Arc<dyn IdempotencyStore>, key: String, ttl: Duration) -> Self {
        ResultRecord {
            store,
            key,
            ttl,
            recorded: AtomicBool::new(false),
        }
    }

    /// Records `result` in `tx` when the key's store lives in the same
    /// database; otherwise leaves it to the layer, after the append.
    pub(crate) async fn record_in(
        &self,
        tx: &mut dyn StoreTransaction,
        result: &CommandResult,
    ) -> Result<()> {
        let bytes = serde_json::to_vec(result).map_err(Error::backend)?;
        if self
            .store
            .complete_in(tx, &self.key, &bytes, self.ttl)
            .await?
        {
            // Read only once the execution succeeded, that is after the
            // commit; a rolled-back record leaves the claim to be released.
            self.recorded.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// Whether the result was recorded in the append transaction.
    pub(crate) fn was_recorded(&self) -> bool {
        self.recorded.load(Ordering::Acquire)
    }
}
