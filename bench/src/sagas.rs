//! Saga throughput: `mink-bench sagas`.
//!
//! Seeds a backlog of events that each start a saga, then times the saga
//! manager handling them: each saga sends one command through the bus
//! (with its idempotency key) and completes.
//!
//! ```text
//! cargo run --release -p mink-bench -- sagas [--stores memory,sqlite,postgres] [--sagas N]
//! ```

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mink::prelude::*;
use mink::saga::SagaContext;
use mink::{Event, EventMetadata, ExpectedVersion, JsonSerializer};

use crate::OrSay;
use crate::stores::{Backend, Target};

/// Starts one saga.
#[event(name = "BenchPing")]
#[derive(Debug, Clone, PartialEq)]
pub struct Ping {
    /// The saga's association.
    pub id: String,
}

/// The one command each saga sends.
#[command]
pub struct Pong {
    /// The saga it comes from.
    #[command(id)]
    pub id: String,
}

/// Commands handled in this process.
static PONGS: AtomicU64 = AtomicU64::new(0);

/// Why a pong failed (it never does).
#[derive(Debug, thiserror::Error)]
#[error("pong refused")]
pub struct PongRefused;

#[command_handler]
async fn pong(_cmd: Pong, _ctx: HandlerContext) -> Result<(), PongRefused> {
    PONGS.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Sends one command per `Ping`, then completes.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub struct PingSaga {
    id: String,
}

#[saga(name = "bench-ping")]
impl PingSaga {
    #[saga(start, associate = id)]
    fn ping(&mut self, event: &Ping, cx: &mut SagaContext) -> Pong {
        self.id = event.id.clone();
        cx.complete();
        Pong {
            id: event.id.clone(),
        }
    }
}

/// Runs the workload on each store in `args` (after `sagas`).
pub async fn run(args: impl Iterator<Item = String>) -> Result<(), String> {
    let mut backends = vec![Backend::Memory, Backend::Sqlite, Backend::Postgres];
    let mut sagas = 2_000usize;
    let mut args = args;
    while let Some(arg) = args.next() {
        let value = args.next().ok_or(format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--sagas" => sagas = value.parse().or_say("--sagas")?,
            "--stores" => {
                backends = value
                    .split(',')
                    .map(|b| match b {
                        "memory" => Ok(Backend::Memory),
                        "sqlite" => Ok(Backend::Sqlite),
                        "postgres" => Ok(Backend::Postgres),
                        other => Err(format!("unknown store `{other}`")),
                    })
                    .collect::<Result<_, _>>()?
            }
            other => return Err(format!("unknown argument `{other}`")),
        }
    }
    let url = std::env::var("MINK_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    println!("| store | sagas | seconds | sagas/s (one command each) |");
    println!("|---|--:|--:|--:|");
    for backend in backends {
        let target = Target::open(backend, &url).await?;
        let (elapsed, n) = measure(&target, sagas).await?;
        println!(
            "| {} | {n} | {:.2} | {:.0} |",
            backend.system(),
            elapsed.as_secs_f64(),
            n as f64 / elapsed.as_secs_f64()
        );
        target.close().await?;
    }
    Ok(())
}

/// Seeds `sagas` pings, then times one saga manager handling all of them.
async fn measure(target: &Target, sagas: usize) -> Result<(Duration, usize), String> {
    let mut seeded = 0;
    while seeded < sagas {
        let count = 100.min(sagas - seeded);
        let events = (seeded..seeded + count)
            .map(|i| {
                Ping {
                    id: format!("p{i}"),
                }
                .to_new_event(&JsonSerializer, EventMetadata::default())
                .map_err(|e| e.to_string())
            })
            .collect::<Result<Vec<_>, _>>()?;
        target
            .store
            .append_to_stream(
                &format!("ping-{}", seeded / 100),
                ExpectedVersion::Any,
                events,
            )
            .await
            .or_say("seeding pings")?;
        seeded += count;
    }
    let before = PONGS.load(Ordering::Relaxed);
    let started = Instant::now();
    let app = Mink::builder()
        .shared_store(std::sync::Arc::clone(&target.store))
        .registered_projections(false)
        .no_aggregate_cache()
        .saga::<PingSaga>()
        .build()
        .await
        .or_say("building the application")?;
    while PONGS.load(Ordering::Relaxed) - before < sagas as u64 {
        if started.elapsed() > Duration::from_secs(600) {
            return Err("the sagas did not finish in 10 minutes".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let elapsed = started.elapsed();
    app.shutdown().await;
    Ok((elapsed, sagas))
}
