//! The outbox relay's throughput: `mink-bench outbox`.
//!
//! Seeds a backlog of outbox messages (one event each, spread over a number
//! of keys), then times relays draining it through a publisher, and checks
//! that every key's messages arrived in order.
//!
//! ```text
//! cargo run --release -p mink-bench -- outbox [--stores memory,sqlite,postgres]
//!     [--messages N] [--keys K] [--relays R] [--batch B] [--publisher null]
//! ```
//!
//! `--publisher nats|rabbitmq|webhook` sends through the brokers'
//! publishers instead (`crate::publishers`).
//!
//! The publisher is pluggable: [`publisher_named`] maps a name to a
//! [`Publisher`]; `null` acknowledges every message at once, so the figure
//! is the relay's own cost (claims and marks on the store). A broker's
//! publisher joins by adding its name there.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use mink::outbox::{Outbox, OutboxMessage, PublishError, Publisher, Relay, RelayOptions, Route};
use mink::{EventStore, ExpectedVersion, NewEvent};

use crate::OrSay;
use crate::stores::{Backend, Target};

/// The workload's settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Stores to measure on.
    pub backends: Vec<Backend>,
    /// Messages in the backlog.
    pub messages: usize,
    /// Keys (streams) they are spread over.
    pub keys: usize,
    /// Relays draining at once.
    pub relays: usize,
    /// Messages per claim.
    pub batch: usize,
    /// The publisher's name (see [`publisher_named`]).
    pub publisher: String,
    /// The PostgreSQL server.
    pub url: String,
}

const USAGE: &str = "usage: mink-bench outbox [--stores memory,sqlite,postgres] [--messages N] \
[--keys K] [--relays R] [--batch B] [--publisher null|nats|rabbitmq|webhook]";

impl Settings {
    /// Reads the settings from the arguments after `outbox`.
    pub fn parse(args: impl Iterator<Item = String>) -> Result<Settings, String> {
        let mut s = Settings {
            backends: vec![Backend::Memory, Backend::Sqlite, Backend::Postgres],
            messages: 20_000,
            keys: 100,
            relays: 2,
            batch: 200,
            publisher: "null".to_owned(),
            url: std::env::var("MINK_BENCH_POSTGRES_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned()),
        };
        let mut args = args;
        while let Some(arg) = args.next() {
            let mut value =
                |name: &str| args.next().ok_or(format!("{name} needs a value\n{USAGE}"));
            match arg.as_str() {
                "--messages" => s.messages = value("--messages")?.parse().or_say("--messages")?,
                "--keys" => s.keys = value("--keys")?.parse().or_say("--keys")?,
                "--relays" => s.relays = value("--relays")?.parse().or_say("--relays")?,
                "--batch" => s.batch = value("--batch")?.parse().or_say("--batch")?,
                "--publisher" => s.publisher = value("--publisher")?,
                "--stores" => {
                    s.backends = value("--stores")?
                        .split(',')
                        .map(|b| match b {
                            "memory" => Ok(Backend::Memory),
                            "sqlite" => Ok(Backend::Sqlite),
                            "postgres" => Ok(Backend::Postgres),
                            other => Err(format!("unknown store `{other}`\n{USAGE}")),
                        })
                        .collect::<Result<_, _>>()?
                }
                other => return Err(format!("unknown argument `{other}`\n{USAGE}")),
            }
        }
        if s.keys == 0 || s.relays == 0 || s.batch == 0 {
            return Err(format!(
                "keys, relays and batch must be at least 1\n{USAGE}"
            ));
        }
        Ok(s)
    }
}

/// Acknowledges every message at once, and notes each key's last position
/// to count messages that arrived out of order.
#[derive(Default)]
pub struct NullPublisher {
    last: Mutex<HashMap<String, (u64, u64)>>,
    out_of_order: Mutex<u64>,
}

#[async_trait]
impl Publisher for NullPublisher {
    fn name(&self) -> &str {
        "null"
    }

    async fn publish(&self, messages: &[OutboxMessage]) -> Vec<Result<(), PublishError>> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let mut wrong = 0;
        for m in messages {
            let here = (m.position.commit, m.position.event);
            if let Some(before) = last.insert(m.key.clone(), here)
                && before >= here
            {
                wrong += 1;
            }
        }
        *self.out_of_order.lock().unwrap_or_else(|p| p.into_inner()) += wrong;
        messages.iter().map(|_| Ok(())).collect()
    }
}

/// The publisher called `name`, and a check of per-key order after the run
/// (messages seen out of order), when it can tell.
pub fn publisher_named(name: &str) -> Result<(Arc<dyn Publisher>, OrderCheck), String> {
    match name {
        "null" => {
            let publisher = Arc::new(NullPublisher::default());
            let check: OrderCheck = {
                let publisher = Arc::clone(&publisher);
                Box::new(move || {
                    Some(
                        *publisher
                            .out_of_order
                            .lock()
                            .unwrap_or_else(|p| p.into_inner()),
                    )
                })
            };
            Ok((publisher, check))
        }
        other => Err(format!(
            "unknown publisher `{other}`; this bench knows `null` (add yours in bench/src/outbox.rs)"
        )),
    }
}

/// After a run: how many messages arrived out of their key's order, or
/// `None` when the publisher cannot tell.
pub type OrderCheck = Box<dyn Fn() -> Option<u64> + Send + Sync>;

/// One measured run.
#[derive(Debug, Clone)]
pub struct RelayFigure {
    /// The store.
    pub system: &'static str,
    /// Messages delivered.
    pub messages: usize,
    /// How long draining took.
    pub elapsed: Duration,
    /// Messages per second.
    pub per_sec: f64,
    /// Messages out of their key's order (`None`: unknown).
    pub out_of_order: Option<u64>,
}

/// Seeds `settings.messages` messages on `store` and times relays
/// draining them through `publisher`.
pub async fn relay_throughput(
    system: &'static str,
    store: Arc<dyn EventStore>,
    publisher: Arc<dyn Publisher>,
    settings: &Settings,
) -> Result<RelayFigure, String> {
    let name = publisher.name().to_owned();
    let writer = Outbox::new()
        .route(Route::for_type("Measured").named("bench").to(name, "bench"))
        .run_relay(false)
        .attach(Arc::clone(&store))
        .or_say("attaching the outbox")?
        .store;
    // Seed: appends of up to 100 events, each to one key's stream.
    let per_append = 100.min(settings.messages.max(1));
    let mut seeded = 0;
    let mut round = 0;
    while seeded < settings.messages {
        let key = round % settings.keys;
        let count = per_append.min(settings.messages - seeded);
        let events = (0..count)
            .map(|i| NewEvent::new("Measured", format!("{{\"i\":{}}}", seeded + i).into_bytes()))
            .collect();
        writer
            .append_to_stream(&format!("bench-{key}"), ExpectedVersion::Any, events)
            .await
            .or_say("seeding the outbox")?;
        seeded += count;
        round += 1;
    }
    let outbox = store.outbox_store().ok_or("the store keeps no outbox")?;
    let options = RelayOptions {
        batch_size: settings.batch,
        ..RelayOptions::default()
    };
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..settings.relays {
        let relay = Relay::new(
            Arc::clone(&outbox),
            vec![Arc::clone(&publisher)],
            options.clone(),
        )
        .or_say("building a relay")?;
        tasks.push(tokio::spawn(async move {
            loop {
                let pass = relay.run_once().await.or_say("a relay pass")?;
                if pass.claimed == 0 {
                    let counts = relay.store().counts().await.or_say("counting")?;
                    if counts.pending == 0 {
                        return Ok::<_, String>(());
                    }
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }));
    }
    for task in tasks {
        task.await.or_say("a relay task")??;
    }
    let elapsed = started.elapsed();
    let counts = outbox.counts().await.or_say("counting")?;
    if counts.delivered as usize != settings.messages {
        return Err(format!(
            "{} of {} messages delivered",
            counts.delivered, settings.messages
        ));
    }
    Ok(RelayFigure {
        system,
        messages: settings.messages,
        elapsed,
        per_sec: settings.messages as f64 / elapsed.as_secs_f64(),
        out_of_order: None,
    })
}

/// Runs the workload on every store of `settings` and prints a table.
pub async fn run(settings: Settings) -> Result<(), String> {
    eprintln!(
        "outbox relay: {} messages over {} keys, {} relays, batches of {}, publisher `{}`",
        settings.messages, settings.keys, settings.relays, settings.batch, settings.publisher
    );
    println!("| store | publisher | messages | relays | msgs/s | out of order |");
    println!("| --- | --- | ---: | ---: | ---: | ---: |");
    for backend in settings.backends.clone() {
        let target = Target::open(backend, &settings.url).await?;
        let (publisher, check) =
            match crate::publishers::broker_publisher(&settings.publisher).await? {
                Some(broker) => broker,
                None => publisher_named(&settings.publisher)?,
            };
        let mut figure = relay_throughput(
            backend.system(),
            Arc::clone(&target.store),
            publisher,
            &settings,
        )
        .await?;
        figure.out_of_order = check();
        target.close().await?;
        println!(
            "| {} | {} | {} | {} | {:.0} | {} |",
            figure.system,
            settings.publisher,
            figure.messages,
            settings.relays,
            figure.per_sec,
            figure
                .out_of_order
                .map_or("?".to_owned(), |n| n.to_string())
        );
    }
    Ok(())
}
