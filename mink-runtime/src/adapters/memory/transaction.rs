//! The append transaction of an in-memory store, as a unit of work sees it.

use crate::store::StoreTransaction;

/// The append transaction of an [`InMemoryStore`](super::InMemoryStore), as a unit of work sees
/// it. The events it wrote are published only after the work succeeds.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct MemoryTransaction {}

impl StoreTransaction for MemoryTransaction {
    fn backend(&self) -> &'static str {
        "memory"
    }

    fn as_any_mut(&mut self) -> &mut dyn std::any::Any {
        self
    }
}
