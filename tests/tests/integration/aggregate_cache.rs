//! The aggregate cache: a load starts from the cached state and reads only
//! the events after it, so decisions are always made on what the store has
//! confirmed — also when another instance wrote in between, and when many
//! writers race on one stream.

use std::sync::Arc;

use mink::aggregate::AggregateCache;
use mink::bus::RetryOnConflictLayer;
use mink::prelude::*;
use mink::{DispatchError, EventStore};

#[event]
#[derive(Debug, Clone, PartialEq)]
pub enum SeatEvent {
    #[event(name = "CacheSeatTaken")]
    Taken { by: u64 },
}

/// A room with a fixed number of seats: a decision that is wrong on a stale
/// state (it would hand out more seats than there are).
#[derive(Aggregate, Debug, Default, Clone)]
#[aggregate(events = SeatEvent, category = "cacheroom")]
pub struct Room {
    #[aggregate(id)]
    id: String,
    taken: Vec<u64>,
}

#[command(aggregate = Room)]
pub struct TakeSeat {
    #[command(id)]
    room: String,
    by: u64,
}

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum RoomError {
    #[error("the room is full")]
    Full,
}

const SEATS: usize = 12;

#[command_handler]
impl Room {
    fn take_seat(&self, cmd: TakeSeat) -> Result<Vec<SeatEvent>, RoomError> {
        if self.taken.len() >= SEATS {
            return Err(RoomError::Full);
        }
        Ok(vec![SeatEvent::Taken { by: cmd.by }])
    }

    fn apply(&mut self, event: &SeatEvent) {
        match event {
            SeatEvent::Taken { by } => self.taken.push(*by),
        }
    }
}

async fn app(store: Arc<dyn EventStore>, cache: Option<AggregateCache>) -> Mink {
    let builder = Mink::builder()
        .shared_store(store)
        .registered_projections(false)
        .layer(RetryOnConflictLayer::new().max_attempts(1_000));
    let builder = match cache {
        Some(cache) => builder.aggregate_cache(cache),
        None => builder.no_aggregate_cache(),
    };
    builder.build().await.expect("the application builds")
}

/// Another instance (no shared memory) fills the room after this instance
/// cached it: this instance's next decision sees every seat taken.
async fn a_write_elsewhere_is_seen_after_a_cached_load(store: Arc<dyn EventStore>) {
    let here = app(Arc::clone(&store), Some(AggregateCache::new(16))).await;
    let elsewhere = app(Arc::clone(&store), None).await;
    here.dispatch(TakeSeat {
        room: "r1".into(),
        by: 0,
    })
    .await
    .unwrap();
    let cached = here.load_aggregate::<Room>("r1").await.unwrap();
    assert_eq!(cached.version(), 1);
    for by in 1..SEATS as u64 {
        elsewhere
            .dispatch(TakeSeat {
                room: "r1".into(),
                by,
            })
            .await
            .unwrap();
    }
    let loaded = here.load_aggregate::<Room>("r1").await.unwrap();
    assert_eq!(loaded.version(), SEATS as u64);
    assert_eq!(loaded.taken, (0..SEATS as u64).collect::<Vec<_>>());
    let refused = here
        .dispatch(TakeSeat {
            room: "r1".into(),
            by: 99,
        })
        .await;
    assert!(
        matches!(refused, Err(DispatchError::Rejected(RoomError::Full))),
        "{refused:?}"
    );
}

/// Writers race for the seats through two cached instances: exactly
/// `SEATS` succeed, every other one is refused as full, and the stream holds
/// one event per successful writer, in version order, with no duplicates.
async fn racing_writers_never_decide_on_a_stale_state(store: Arc<dyn EventStore>) {
    let instances = [
        app(Arc::clone(&store), Some(AggregateCache::new(16))).await,
        app(Arc::clone(&store), Some(AggregateCache::new(16))).await,
    ];
    let writers = 3 * SEATS as u64;
    let mut tasks = Vec::new();
    for by in 0..writers {
        let app = instances[(by % 2) as usize].clone();
        tasks.push(tokio::spawn(async move {
            app.dispatch(TakeSeat {
                room: "race".into(),
                by,
            })
            .await
        }));
    }
    let mut seated = Vec::new();
    for (by, task) in tasks.into_iter().enumerate() {
        match task.await.unwrap() {
            Ok(done) => seated.push((done.version.unwrap(), by as u64)),
            Err(DispatchError::Rejected(RoomError::Full)) => {}
            Err(other) => panic!("writer {by}: {other}"),
        }
    }
    seated.sort();
    assert_eq!(seated.len(), SEATS, "{seated:?}");
    let versions: Vec<u64> = seated.iter().map(|(v, _)| *v).collect();
    assert_eq!(versions, (1..=SEATS as u64).collect::<Vec<_>>());
    let stored = store
        .read_stream_forward("cacheroom-race", 1, usize::MAX)
        .await
        .unwrap();
    assert_eq!(stored.len(), SEATS);
    let room = instances[0].load_aggregate::<Room>("race").await.unwrap();
    let winners: Vec<u64> = seated.iter().map(|(_, by)| *by).collect();
    assert_eq!(
        room.taken, winners,
        "the stream's order is the winners' order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_cached_loads_see_later_writes() {
    let store: Arc<dyn EventStore> = Arc::new(mink::adapters::memory::InMemoryStore::new());
    a_write_elsewhere_is_seen_after_a_cached_load(Arc::clone(&store)).await;
    racing_writers_never_decide_on_a_stale_state(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_cached_loads_see_later_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = mink::adapters::sqlite::SqliteStore::open(dir.path().join("cache.db"))
        .await
        .unwrap();
    let store: Arc<dyn EventStore> = Arc::new(store);
    a_write_elsewhere_is_seen_after_a_cached_load(Arc::clone(&store)).await;
    racing_writers_never_decide_on_a_stale_state(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_cached_loads_see_later_writes() {
    let Some(pg) = crate::postgres::support::test_store().await else {
        mink_tests::skip("aggregate cache on PostgreSQL (MINK_TEST_POSTGRES_URL not set)");
        return;
    };
    let store: Arc<dyn EventStore> = Arc::new(pg.store.clone());
    a_write_elsewhere_is_seen_after_a_cached_load(Arc::clone(&store)).await;
    racing_writers_never_decide_on_a_stale_state(store).await;
}

/// With `queue_commands_per_aggregate`, racing writers in one instance take
/// turns: with no retry layer at all, none of them meets a conflict, and
/// exactly the room's seats are handed out.
async fn queued_writers_take_turns(store: Arc<dyn EventStore>) {
    let app = Mink::builder()
        .shared_store(Arc::clone(&store))
        .registered_projections(false)
        .queue_commands_per_aggregate(64)
        .build()
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for by in 0..2 * SEATS as u64 {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            app.dispatch(TakeSeat {
                room: "queued".into(),
                by,
            })
            .await
        }));
    }
    let (mut seated, mut full) = (0, 0);
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => seated += 1,
            Err(DispatchError::Rejected(RoomError::Full)) => full += 1,
            Err(other) => panic!("a queued writer failed: {other}"),
        }
    }
    assert_eq!((seated, full), (SEATS, SEATS));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_queued_writers_take_turns() {
    queued_writers_take_turns(Arc::new(mink::adapters::memory::InMemoryStore::new())).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_queued_writers_take_turns() {
    let dir = tempfile::tempdir().unwrap();
    let store = mink::adapters::sqlite::SqliteStore::open(dir.path().join("queue.db"))
        .await
        .unwrap();
    queued_writers_take_turns(Arc::new(store)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_queued_writers_take_turns() {
    let Some(pg) = crate::postgres::support::test_store().await else {
        mink_tests::skip("per-aggregate queue on PostgreSQL (MINK_TEST_POSTGRES_URL not set)");
        return;
    };
    queued_writers_take_turns(Arc::new(pg.store.clone())).await;
}
