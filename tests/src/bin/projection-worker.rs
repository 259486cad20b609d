//! A small application for the multi-process tests of the projection
//! engine.
//!
//! - `projection-worker run <database> <schema> <instance> <events>` runs the
//!   async projection `kill-counter` until killed or until it has applied
//!   `<events>` events, printing `ready` once its engine runs and
//!   `applying <n>` before each event it applies. The projection writes one
//!   row per event into `kill_applied`, in the checkpoint's transaction, and
//!   takes 5 ms per event, so that a batch takes a while to apply.
//! - `projection-worker control <database> <schema> pause|resume <name>`
//!   asks for a pause or a resume, as an operator's tool in another process
//!   would.
//!
//! `<database>` is a `postgres://` URL (with `<schema>` the store's schema)
//! or a SQLite file path (the schema is ignored).

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use mink::adapters::postgres::{PostgresStore, PostgresTransaction};
use mink::adapters::sqlite::sqlx as sqlite_sqlx;
use mink::adapters::sqlite::{SqliteStore, SqliteTransaction};
use mink::prelude::*;
use mink::projection::{ProjectionContext, ProjectionEngine};
use mink::store::Desired;
use mink::{BoxError, RecordedEvent};

/// The event the tests append.
#[event(name = "Ticked")]
pub struct Ticked {
    /// Its number.
    pub n: u64,
}

/// Counts events into `kill_applied` (in the store's schema on
/// PostgreSQL), one row per event, with no key: an event applied twice
/// shows as two rows.
pub struct KillCounter {
    /// The PostgreSQL schema of the table.
    schema: String,
}

#[projection(name = "kill-counter", kind = async, batch_size = 20, lease_ttl_ms = 1000)]
impl KillCounter {
    async fn ticked(
        &self,
        event: &Ticked,
        envelope: &RecordedEvent,
        ctx: &mut ProjectionContext<'_>,
    ) -> Result<(), BoxError> {
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "applying {}", event.n)?;
            out.flush()?;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
        let id = envelope.event_id.to_string();
        if let Some(tx) = ctx.transaction_as::<PostgresTransaction>() {
            use mink::adapters::postgres::sqlx;
            let insert = format!(
                "INSERT INTO \"{}\".kill_applied (event_id) VALUES ($1)",
                self.schema
            );
            sqlx::query(sqlx::AssertSqlSafe(insert))
                .bind(&id)
                .execute(tx.connection())
                .await?;
        } else if let Some(tx) = ctx.transaction_as::<SqliteTransaction>() {
            sqlite_sqlx::query("INSERT INTO kill_applied (event_id) VALUES (?)")
                .bind(&id)
                .execute(tx.connection())
                .await?;
        } else {
            return Err("the kill counter needs a PostgreSQL or SQLite store".into());
        }
        Ok(())
    }
}

async fn open(database: &str, schema: &str) -> Result<Arc<dyn EventStore>, BoxError> {
    if database.starts_with("postgres://") || database.starts_with("postgresql://") {
        let store = PostgresStore::builder(database)
            .schema(schema)
            .build()
            .await?;
        Ok(Arc::new(store))
    } else {
        Ok(Arc::new(SqliteStore::open(database).await?))
    }
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |i: usize| -> Result<&str, BoxError> {
        args.get(i)
            .map(String::as_str)
            .ok_or_else(|| format!("missing argument {i}; see the module docs").into())
    };
    match arg(1)? {
        "run" => {
            let store = open(arg(2)?, arg(3)?).await?;
            let total: u64 = arg(5)?.parse()?;
            let engine = ProjectionEngine::builder(Arc::clone(&store))
                .instance_id(arg(4)?)
                .projection(KillCounter {
                    schema: arg(3)?.to_owned(),
                })
                .build()?;
            engine.start();
            println!("ready");
            std::io::stdout().flush()?;
            let checkpoints = store
                .projection_store()
                .ok_or("this store keeps no checkpoints")?;
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let done = checkpoints
                    .record("kill-counter")
                    .await?
                    .is_some_and(|r| r.events_processed >= total);
                if done {
                    break;
                }
            }
            engine.stop().await;
            println!("done");
            Ok(())
        }
        "control" => {
            let store = open(arg(2)?, arg(3)?).await?;
            let desired = match arg(4)? {
                "pause" => Desired::Paused,
                "resume" => Desired::Running,
                other => return Err(format!("unknown control verb `{other}`").into()),
            };
            let checkpoints = store
                .projection_store()
                .ok_or("this store keeps no checkpoints")?;
            checkpoints.set_desired(arg(5)?, desired).await?;
            println!("requested");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`").into()),
    }
}
