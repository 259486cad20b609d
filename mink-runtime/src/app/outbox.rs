//! The outbox part of [`Mink`]: wrapping the store so that appends write
//! the outbox's messages, and running its relay.

use std::sync::Arc;

use super::Mink;
use crate::error::Result;
use crate::event::Serializer;
use crate::outbox::{Outbox, RelayHandle};
use crate::store::{EventStore, OutboxStore};

/// Attaches `outbox` (if any) to `store` and starts its relay (if this
/// instance runs one).
pub(super) fn attach(
    outbox: Option<Outbox>,
    store: Arc<dyn EventStore>,
) -> Result<(Arc<dyn EventStore>, Option<RelayHandle>)> {
    let Some(outbox) = outbox else {
        return Ok((store, None));
    };
    let attached = outbox.attach(store)?;
    let relay = attached
        .relay
        .map(|relay| relay.start(attached.store.log_changes()));
    Ok((attached.store, relay))
}

impl<S: Serializer> Mink<S> {
    /// The outbox of the application's store: its messages, dead letters
    /// and requeues. `None` when the store keeps none.
    pub fn outbox_store(&self) -> Option<Arc<dyn OutboxStore>> {
        self.store().outbox_store()
    }

    /// The outbox relay this instance runs, if it was given an outbox with
    /// publishers. [`Mink::shutdown`] stops it.
    pub fn outbox_relay(&self) -> Option<&RelayHandle> {
        self.outbox.as_ref()
    }
}
