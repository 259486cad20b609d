//! The conformance suite against the PostgreSQL store, each case on a
//! fresh schema of the shared server, holding the gate.

use std::sync::Arc;

use mink::{EventStore, Limits};

use super::support::{TestStore, test_store_with};

async fn postgres_store(limits: Limits) -> Option<Arc<dyn EventStore>> {
    let TestStore { store, _gate } = test_store_with(limits).await?;
    Some(mink_tests::conformance::keep_alive(store, _gate))
}

mink_tests::conformance_suite!(postgres_store);
