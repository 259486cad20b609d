//! Idempotent commands under real connection faults on PostgreSQL: while a
//! stream of keyed commands runs, a second connection terminates the
//! store's backends with `pg_terminate_backend` at seeded intervals. Each
//! caller retries with its key. Every key's events are written exactly once
//! (never twice, even when a commit's acknowledgement was lost), and every
//! caller ends with its result or a typed error.

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mink::EventStore;
use mink::adapters::postgres::sqlx::postgres::PgConnectOptions;
use mink::adapters::postgres::sqlx::{self, Connection};
use mink::bus::{IdempotencyLayer, InFlight};
use mink::prelude::*;

#[event]
pub enum LedgerEvent {
    Deposited { amount: u64 },
}

#[derive(Aggregate, Default)]
#[aggregate(events = LedgerEvent, category = "ledger")]
pub struct Ledger {
    #[aggregate(id)]
    id: String,
}

#[command(aggregate = Ledger)]
pub struct Deposit {
    #[command(id)]
    ledger: String,
    amount: u64,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct NeverRefused;

static HANDLER_RUNS: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());

#[command_handler]
impl Ledger {
    fn deposit(&self, cmd: Deposit) -> Result<Vec<LedgerEvent>, NeverRefused> {
        *HANDLER_RUNS
            .lock()
            .unwrap()
            .entry(cmd.ledger.clone())
            .or_default() += 1;
        Ok(vec![LedgerEvent::Deposited { amount: cmd.amount }])
    }

    fn apply(&mut self, _event: &LedgerEvent) {}
}

/// SplitMix64: the killer's intervals replay from the seed.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }
}

const COMMANDS: usize = 240;
const WORKERS: usize = 4;
const ATTEMPTS: usize = 60;
const APP_NAME: &str = "mink-idempotency-faults";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn keyed_commands_run_once_while_connections_are_killed() {
    let Some(gated) = crate::postgres::support::test_store().await else {
        mink_tests::skip("idempotency under killed connections (MINK_TEST_POSTGRES_URL not set)");
        return;
    };
    let url = crate::postgres::support::server_url().expect("the gate saw a URL");
    let options = PgConnectOptions::from_str(&url)
        .expect("a PostgreSQL URL")
        .application_name(APP_NAME);
    let store = mink::adapters::postgres::PostgresStoreBuilder::from_connect_options(options)
        .schema(gated.schema())
        .max_connections(WORKERS as u32 + 2)
        .build()
        .await
        .expect("the store, with its application name");
    let app = Mink::builder()
        .store(store.clone())
        .layer(
            IdempotencyLayer::new(store.idempotency())
                .lease(Duration::from_millis(300))
                .in_flight(InFlight::Wait {
                    timeout: Duration::from_secs(5),
                    poll: Duration::from_millis(10),
                }),
        )
        .build()
        .await
        .unwrap();

    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let kills = std::sync::Arc::new(AtomicUsize::new(0));
    let killer = {
        let (done, kills, url) = (done.clone(), kills.clone(), url.clone());
        tokio::spawn(async move {
            let mut rng = Rng(0x5eed_1de4);
            let mut admin = sqlx::PgConnection::connect(&url).await.expect("admin");
            let started = std::time::Instant::now();
            while !done.load(Ordering::Acquire) {
                tokio::time::sleep(Duration::from_millis(2 + rng.below(14))).await;
                // Kill in bursts of 150 ms with 150 ms of quiet between, so
                // that retries get through however slow the machine is:
                // progress does not depend on a command outrunning a
                // killer that never rests.
                if started.elapsed().as_millis() % 300 >= 150 {
                    continue;
                }
                let killed: i64 = sqlx::query_scalar(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
                     WHERE application_name = $1 AND pid <> pg_backend_pid()",
                )
                .bind(APP_NAME)
                .fetch_one(&mut admin)
                .await
                .expect("terminate");
                kills.fetch_add(killed as usize, Ordering::Relaxed);
            }
        })
    };

    let outcomes = std::sync::Arc::new(Mutex::new(Vec::new()));
    let workers: Vec<_> = (0..WORKERS)
        .map(|w| {
            let (app, outcomes) = (app.clone(), outcomes.clone());
            tokio::spawn(async move {
                for i in (w..COMMANDS).step_by(WORKERS) {
                    let ledger = format!("k{i}");
                    let mut last = None;
                    for _ in 0..ATTEMPTS {
                        let cmd = Deposit {
                            ledger: ledger.clone(),
                            amount: i as u64,
                        };
                        let ctx = Context::new().with_idempotency_key(format!("key-{i}"));
                        match app.dispatch_with(cmd, ctx).await {
                            Ok(result) => {
                                last = Some(Ok(result));
                                break;
                            }
                            Err(e) => {
                                last = Some(Err(e.to_string()));
                                tokio::time::sleep(Duration::from_millis(5)).await;
                            }
                        }
                    }
                    outcomes
                        .lock()
                        .unwrap()
                        .push((ledger, last.expect("one attempt")));
                }
            })
        })
        .collect();
    let all = tokio::time::timeout(Duration::from_secs(120), async {
        for w in workers {
            w.await.expect("worker");
        }
    })
    .await;
    done.store(true, Ordering::Release);
    killer.await.expect("killer");
    all.expect("the commands finish in bounded time");

    // Read back on a connection the killer leaves alone.
    let outcomes = outcomes.lock().unwrap().clone();
    assert_eq!(outcomes.len(), COMMANDS);
    let mut succeeded = 0;
    for (ledger, outcome) in &outcomes {
        let stream = format!("ledger-{ledger}");
        let version = gated
            .stream_info(&stream)
            .await
            .expect("stream info")
            .map_or(0, |i| i.version);
        assert!(version <= 1, "`{stream}` was written {version} times");
        match outcome {
            Ok(result) => {
                succeeded += 1;
                assert_eq!(version, 1, "`{stream}` succeeded but holds no event");
                assert_eq!(result.version, Some(1), "`{stream}`: {result:?}");
            }
            // A typed error after every retry: the events are there once
            // or not at all, never twice.
            Err(message) => println!("`{stream}` ended with: {message}"),
        }
    }
    let kills = kills.load(Ordering::Relaxed);
    println!(
        "{succeeded} of {COMMANDS} keyed commands succeeded; {kills} connections killed; \
         handler runs: {}",
        HANDLER_RUNS.lock().unwrap().values().sum::<usize>()
    );
    assert!(kills > 0, "the test killed no connection");
    assert!(succeeded > COMMANDS / 2, "too few commands got through");
}
