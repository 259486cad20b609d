//! W1, W2 and W4 on postgres-es: its event repository for appends, its
//! persisted event store for loading an aggregate.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cqrs_es::event_sink::EventSink;
use cqrs_es::persist::{PersistedEventRepository, PersistedEventStore, SerializedEvent};
use cqrs_es::{Aggregate, DomainEvent, EventStore};
use postgres_es::PostgresEventRepository;
use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgPool, PgPoolOptions};

use crate::figure::Figure;
use crate::measure::{Done, Op, Plan, Stats, measure};
use crate::shape::{self, LineItem};

/// The system name in the report.
const SYSTEM: &str = "peer/postgres-es";

/// A cart: what W4 folds.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Cart {
    items: u64,
    total_cents: u64,
}

/// The cart's one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CartEvent {
    /// An item was put in the cart.
    ItemAdded(LineItem),
}

impl DomainEvent for CartEvent {
    fn event_type(&self) -> String {
        "ItemAdded".to_owned()
    }
    fn event_version(&self) -> String {
        "1.0".to_owned()
    }
}

/// The cart refuses nothing in these workloads.
#[derive(Debug)]
pub struct CartError;

impl std::fmt::Display for CartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("cart error")
    }
}

impl std::error::Error for CartError {}

impl Aggregate for Cart {
    const TYPE: &'static str = "cart";
    type Command = LineItem;
    type Event = CartEvent;
    type Error = CartError;
    type Services = ();

    async fn handle(
        &mut self,
        command: LineItem,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), CartError> {
        sink.write(CartEvent::ItemAdded(command), self).await;
        Ok(())
    }

    fn apply(&mut self, event: CartEvent) {
        match event {
            CartEvent::ItemAdded(item) => {
                self.items += 1;
                self.total_cents += u64::from(item.qty) * item.price_cents;
            }
        }
    }
}

/// The peer's tables in a schema of their own, and a pool on them.
pub struct PeerBench {
    pool: PgPool,
    schema: String,
}

impl PeerBench {
    /// Creates a fresh schema with postgres-es's tables.
    pub async fn create(url: &str) -> Result<PeerBench, String> {
        let pool = PgPoolOptions::new()
            .max_connections(shape::HOT_WRITERS as u32)
            .connect(url)
            .await
            .map_err(|e| format!("connecting to {url}: {e}"))?;
        let schema = format!("mink_bench_peer_{}", uuid::Uuid::new_v4().simple());
        // The tables of postgres-es's own `db/init.sql`, in the fresh schema.
        let ddl = format!(
            "CREATE SCHEMA {schema};
             CREATE TABLE {schema}.events (
                 aggregate_type text NOT NULL, aggregate_id text NOT NULL,
                 sequence bigint CHECK (sequence >= 0) NOT NULL,
                 event_type text NOT NULL, event_version text NOT NULL,
                 payload json NOT NULL, metadata json NOT NULL,
                 PRIMARY KEY (aggregate_type, aggregate_id, sequence));
             CREATE TABLE {schema}.snapshots (
                 aggregate_type text NOT NULL, aggregate_id text NOT NULL,
                 last_sequence bigint CHECK (last_sequence >= 0) NOT NULL,
                 current_snapshot bigint CHECK (current_snapshot >= 0) NOT NULL,
                 payload json NOT NULL,
                 PRIMARY KEY (aggregate_type, aggregate_id, last_sequence));"
        );
        sqlx::raw_sql(&ddl)
            .execute(&pool)
            .await
            .map_err(|e| format!("creating the peer's tables: {e}"))?;
        Ok(PeerBench { pool, schema })
    }

    /// Drops the schema and everything in it.
    pub async fn drop_tables(&self) -> Result<(), String> {
        sqlx::raw_sql(&format!("DROP SCHEMA {} CASCADE", self.schema))
            .execute(&self.pool)
            .await
            .map_err(|e| format!("dropping {}: {e}", self.schema))?;
        Ok(())
    }

    fn repository(&self) -> PostgresEventRepository {
        PostgresEventRepository::new(self.pool.clone()).with_tables(
            &format!("{}.events", self.schema),
            &format!("{}.snapshots", self.schema),
        )
    }

    /// W1: one event per call to a random stream of the writer's own,
    /// sequence = known version + 1 (the primary key is the version check).
    pub async fn single_appends(&self, plan: &Plan, writers: usize) -> Result<Figure, String> {
        let repo = Arc::new(self.repository());
        let versions: Arc<Vec<AtomicU64>> =
            Arc::new((0..shape::STREAMS).map(|_| AtomicU64::new(0)).collect());
        let prefix = format!("w1x{writers}");
        let op: Op = Arc::new(move |writer, seq| {
            let (repo, versions, prefix) =
                (Arc::clone(&repo), Arc::clone(&versions), prefix.clone());
            Box::pin(async move {
                let stream = shape::random_stream(writer, writers, seq);
                let version = versions[stream as usize].load(Ordering::Relaxed) + 1;
                let event = serialized(&format!("{prefix}-{stream}"), version, seq)?;
                repo.persist::<Cart>(&[event], None)
                    .await
                    .map_err(|e| format!("W1 persist: {e}"))?;
                versions[stream as usize].store(version, Ordering::Relaxed);
                Ok(Done::events(1))
            })
        });
        let stats = measure(plan, writers, op).await?;
        Ok(figure("W1", shape::single_case(writers), stats))
    }

    /// W2: batches to one stream per writer.
    pub async fn batch_appends(
        &self,
        plan: &Plan,
        batch: usize,
        writers: usize,
    ) -> Result<Figure, String> {
        let repo = Arc::new(self.repository());
        let versions: Arc<Vec<AtomicU64>> =
            Arc::new((0..writers).map(|_| AtomicU64::new(0)).collect());
        let prefix = format!("w2b{batch}x{writers}");
        let op: Op = Arc::new(move |writer, seq| {
            let (repo, versions, prefix) =
                (Arc::clone(&repo), Arc::clone(&versions), prefix.clone());
            Box::pin(async move {
                let first = versions[writer].load(Ordering::Relaxed) + 1;
                let stream = format!("{prefix}-{writer}");
                let events = (0..batch as u64)
                    .map(|i| serialized(&stream, first + i, seq * batch as u64 + i))
                    .collect::<Result<Vec<_>, _>>()?;
                repo.persist::<Cart>(&events, None)
                    .await
                    .map_err(|e| format!("W2 persist: {e}"))?;
                versions[writer].store(first + batch as u64 - 1, Ordering::Relaxed);
                Ok(Done::events(batch as u64))
            })
        });
        let stats = measure(plan, writers, op).await?;
        Ok(figure("W2", shape::batch_case(batch, writers), stats))
    }

    /// W4: loads (reads, deserializes and folds) an aggregate of `size`
    /// events through postgres-es's persisted event store.
    pub async fn load(&self, plan: &Plan, size: usize) -> Result<Figure, String> {
        let repo = self.repository();
        let id = format!("load{size}");
        let mut version = 0;
        while version < size as u64 {
            let n = (size as u64 - version).min(1_000);
            let events = (1..=n)
                .map(|i| serialized(&id, version + i, version + i))
                .collect::<Result<Vec<_>, _>>()?;
            repo.persist::<Cart>(&events, None)
                .await
                .map_err(|e| format!("W4 seeding: {e}"))?;
            version += n;
        }
        let store = Arc::new(PersistedEventStore::<_, Cart>::new_event_store(
            self.repository(),
        ));
        let op: Op = Arc::new(move |_, _| {
            let (store, id) = (Arc::clone(&store), id.clone());
            Box::pin(async move {
                let mut context = store
                    .load_aggregate(&id)
                    .await
                    .map_err(|e| format!("W4 load: {e}"))?;
                let cart = cqrs_es::AggregateContext::aggregate(&mut context);
                if cart.items != size as u64 {
                    return Err(format!("W4 loaded {} of {size} events", cart.items));
                }
                Ok(Done::events(1))
            })
        });
        let stats = measure(plan, 1, op).await?;
        Ok(figure("W4", shape::load_case(size), stats))
    }
}

/// One event as postgres-es stores it.
fn serialized(stream: &str, version: u64, n: u64) -> Result<SerializedEvent, String> {
    let event = CartEvent::ItemAdded(shape::line_item(n));
    let payload = serde_json::to_value(&event).map_err(|e| e.to_string())?;
    Ok(SerializedEvent::new(
        stream.to_owned(),
        version as usize,
        Cart::TYPE.to_owned(),
        event.event_type(),
        event.event_version(),
        payload,
        serde_json::json!({}),
    ))
}

fn figure(workload: &str, case: String, stats: Stats) -> Figure {
    Figure {
        workload: workload.to_owned(),
        case,
        system: SYSTEM.to_owned(),
        events_per_sec: stats.events_per_sec,
        p50_us: stats.p50_us,
        p99_us: stats.p99_us,
        conflict_rate: None,
    }
}
