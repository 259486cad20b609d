//! `InstrumentedStore` changes nothing a store does: the whole conformance
//! suite passes through it, on memory, SQLite and PostgreSQL.

mod memory {
    use std::sync::Arc;

    use mink::adapters::memory::InMemoryStore;
    use mink::store::InstrumentedStore;
    use mink::{EventStore, Limits};

    async fn instrumented(limits: Limits) -> Option<Arc<dyn EventStore>> {
        let store = InMemoryStore::with_limits(limits);
        Some(Arc::new(InstrumentedStore::new(store, "memory")))
    }

    mink_tests::conformance_suite!(instrumented);
}

mod sqlite {
    use std::sync::Arc;

    use mink::adapters::sqlite::SqliteStore;
    use mink::store::InstrumentedStore;
    use mink::{EventStore, Limits};

    async fn instrumented(limits: Limits) -> Option<Arc<dyn EventStore>> {
        let dir = tempfile::tempdir().expect("a temp dir for the database");
        let store = SqliteStore::options(dir.path().join("mink.db"))
            .limits(limits)
            .open()
            .await
            .expect("open a fresh SQLite store");
        let store = InstrumentedStore::new(store, "sqlite");
        Some(mink_tests::conformance::keep_alive(store, dir))
    }

    mink_tests::conformance_suite!(instrumented);
}

mod postgres {
    use std::sync::Arc;

    use mink::store::InstrumentedStore;
    use mink::{EventStore, Limits};

    use crate::postgres::support::{TestStore, test_store_with};

    async fn instrumented(limits: Limits) -> Option<Arc<dyn EventStore>> {
        let TestStore { store, _gate } = test_store_with(limits).await?;
        let store = InstrumentedStore::new(store, "postgres");
        Some(mink_tests::conformance::keep_alive(store, _gate))
    }

    mink_tests::conformance_suite!(instrumented);
}
