//! An async projection's read-model writes commit with its checkpoint: a
//! handler that writes and then fails leaves neither the read model nor the
//! checkpoint changed, on every store.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use mink::ReadModel;
use mink::projection::{
    HandlerError, PoisonPolicy, Projection, ProjectionContext, ProjectionEngine, ProjectionKind,
    ProjectionOptions,
};
use mink::read_model::{Query, ReadModelRepository};
use mink::store::ProjectionState;
use mink::{ExpectedVersion, NewEvent, Position, ReadAll, RecordedEvent};

use super::Backend;

super::on_every_store!(failed_handler_leaves_read_model_and_checkpoint_unchanged);

#[derive(ReadModel, Debug, Clone, PartialEq)]
#[read_model(table = "stream_totals")]
struct StreamTotal {
    #[read_model(id)]
    stream: String,
    events: i64,
}

/// Counts events per stream in the batch's transaction; a `Poison` event
/// is counted, then fails.
struct Totals {
    repo: ReadModelRepository<StreamTotal>,
}

const NAME: &str = "read_model_totals";

#[async_trait]
impl Projection for Totals {
    fn name(&self) -> &str {
        NAME
    }

    fn kind(&self) -> ProjectionKind {
        ProjectionKind::Async
    }

    fn event_types(&self) -> Vec<&'static str> {
        vec!["Touched", "Poison"]
    }

    fn options(&self) -> ProjectionOptions {
        ProjectionOptions {
            batch_size: 1,
            max_attempts: 1,
            on_poison: PoisonPolicy::Pause,
            backoff_initial: Duration::from_millis(5),
            poll_interval: Duration::from_millis(20),
            ..ProjectionOptions::default()
        }
    }

    async fn handle(
        &self,
        event: &RecordedEvent,
        ctx: &mut ProjectionContext<'_>,
    ) -> Result<(), HandlerError> {
        let tx = ctx
            .transaction()
            .ok_or_else(|| HandlerError::permanent("an async projection has a transaction"))?;
        let mut totals = self.repo.in_tx(tx);
        let row = match totals
            .find_by_id(&event.stream_id)
            .await
            .map_err(HandlerError::permanent)?
        {
            Some(mut t) => {
                t.events += 1;
                t
            }
            None => StreamTotal {
                stream: event.stream_id.clone(),
                events: 1,
            },
        };
        totals.upsert(&row).await.map_err(HandlerError::permanent)?;
        if event.event_type == "Poison" {
            return Err(HandlerError::permanent("failed after writing"));
        }
        Ok(())
    }
}

async fn failed_handler_leaves_read_model_and_checkpoint_unchanged(b: &Backend) {
    let repo = ReadModelRepository::<StreamTotal>::open_shared(b.read_models.clone())
        .await
        .expect("open");
    for (stream, kind) in [("s-1", "Touched"), ("s-1", "Touched"), ("s-2", "Poison")] {
        b.events
            .append_to_stream(
                stream,
                ExpectedVersion::Any,
                vec![NewEvent::new(kind, b"{}".to_vec())],
            )
            .await
            .expect("append");
    }
    let log = b
        .events
        .read_all_forward(ReadAll::after(Position::START, 10))
        .await
        .expect("read the log");
    let engine = ProjectionEngine::builder(Arc::clone(&b.events))
        .instance_id("read-model-test")
        .projection(Totals { repo: repo.clone() })
        .build()
        .expect("an engine");
    engine.start();
    let started = Instant::now();
    let status = loop {
        let status = engine.status_of(NAME).await.expect("a status");
        if status.state == ProjectionState::Faulted {
            break status;
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "{}: the projection never faulted: {status:?}",
            b.name
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    };
    engine.stop().await;

    assert_eq!(status.checkpoint, log[1].position, "{}", b.name);
    let stored = b
        .events
        .projection_store()
        .expect("a projection store")
        .record(NAME)
        .await
        .expect("the record")
        .expect("a record");
    assert_eq!(stored.checkpoint, log[1].position, "{}", b.name);
    let totals = repo.find(Query::new()).await.expect("read");
    assert_eq!(
        totals,
        [StreamTotal {
            stream: "s-1".into(),
            events: 2
        }],
        "{}: the failed event's write was rolled back with its checkpoint",
        b.name
    );
}
