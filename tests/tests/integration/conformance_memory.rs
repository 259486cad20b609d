//! The conformance suite against the in-memory store.

use std::sync::Arc;

use mink::{EventStore, InMemoryStore, Limits};

async fn memory_store(limits: Limits) -> Option<Arc<dyn EventStore>> {
    Some(Arc::new(InMemoryStore::with_limits(limits)))
}

mink_tests::conformance_suite!(memory_store);
