//! The harness a case runs in: the store the factory made, the factory for
//! more, and [`keep_alive`] for what must outlive a store.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use async_trait::async_trait;
use mink::{
    AppendResult, EventStore, Limits, Position, ReadAll, RecordedEvent, StreamAppend, StreamInfo,
    UnitOfWork,
};

/// What a factory returns, boxed.
pub type StoreFuture = Pin<Box<dyn Future<Output = Option<Arc<dyn EventStore>>> + Send>>;

type Factory = Box<dyn Fn(Limits) -> StoreFuture + Send + Sync>;

/// A fresh store for one case, and the factory for more.
pub struct Harness {
    store: Arc<dyn EventStore>,
    factory: Factory,
}

impl Harness {
    /// Makes the first store with default limits; `None` when the adapter is
    /// unavailable.
    pub async fn start<F, Fut>(factory: F) -> Option<Harness>
    where
        F: Fn(Limits) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<Arc<dyn EventStore>>> + Send + 'static,
    {
        let factory: Factory = Box::new(move |limits| Box::pin(factory(limits)));
        let store = factory(Limits::default()).await?;
        Some(Harness { store, factory })
    }

    /// The fresh store made with default limits.
    pub fn store(&self) -> Arc<dyn EventStore> {
        Arc::clone(&self.store)
    }

    /// Another fresh, empty store enforcing `limits`.
    ///
    /// # Panics
    ///
    /// When the factory, which gave the first store, now returns `None`.
    pub async fn fresh_store(&self, limits: Limits) -> Arc<dyn EventStore> {
        match (self.factory)(limits).await {
            Some(store) => store,
            None => panic!("the store factory gave a first store, then none"),
        }
    }
}

/// Wraps `store` so that `guard` lives exactly as long as it (dropped after
/// the store): a temp dir holding a database file, a schema to drop.
pub fn keep_alive<S, G>(store: S, guard: G) -> Arc<dyn EventStore>
where
    S: EventStore,
    G: Send + Sync + 'static,
{
    Arc::new(KeepAlive {
        store,
        _guard: guard,
    })
}

/// A store and what must outlive it. Fields drop in order: store first.
struct KeepAlive<S, G> {
    store: S,
    _guard: G,
}

#[async_trait]
impl<S: EventStore, G: Send + Sync + 'static> EventStore for KeepAlive<S, G> {
    async fn append_to_streams(&self, appends: Vec<StreamAppend>) -> mink::Result<AppendResult> {
        self.store.append_to_streams(appends).await
    }
    async fn append_with(
        &self,
        appends: Vec<StreamAppend>,
        work: &dyn UnitOfWork,
    ) -> mink::Result<AppendResult> {
        self.store.append_with(appends, work).await
    }
    async fn read_stream_forward(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> mink::Result<Vec<RecordedEvent>> {
        self.store
            .read_stream_forward(stream_id, from_version, limit)
            .await
    }
    async fn read_all_forward(&self, request: ReadAll) -> mink::Result<Vec<RecordedEvent>> {
        self.store.read_all_forward(request).await
    }
    async fn stream_info(&self, stream_id: &str) -> mink::Result<Option<StreamInfo>> {
        self.store.stream_info(stream_id).await
    }
    async fn head_position(&self) -> mink::Result<Position> {
        self.store.head_position().await
    }
    fn log_changes(&self) -> mink::store::LogChanges {
        self.store.log_changes()
    }
    fn projection_store(&self) -> Option<std::sync::Arc<dyn mink::store::ProjectionStore>> {
        self.store.projection_store()
    }
    fn saga_store(&self) -> Option<std::sync::Arc<dyn mink::store::SagaStore>> {
        self.store.saga_store()
    }
    fn outbox_store(&self) -> Option<std::sync::Arc<dyn mink::store::OutboxStore>> {
        self.store.outbox_store()
    }
}
