//! The peer side of mink's benchmarks: workloads W1, W2 and W4 on cqrs-es
//! with postgres-es, measured with the same loop, sizes and payload as mink
//! (`../src/{measure,shape,figure}.rs` are compiled in as they are).
//!
//! ```text
//! cargo run --release --manifest-path bench/peer/Cargo.toml -- all --json
//! ```
//!
//! Prints one JSON [`Figure`] per line on stdout; progress goes to stderr.

#[path = "../../src/figure.rs"]
mod figure;
#[path = "../../src/measure.rs"]
mod measure;
#[path = "../../src/shape.rs"]
#[allow(dead_code, reason = "shared with the main bench, which uses all of it")]
mod shape;
mod workloads;

use std::time::Duration;

use figure::Figure;
use measure::Plan;

/// Command-line settings.
struct Args {
    workloads: Vec<String>,
    url: String,
    plan: Plan,
}

fn parse_args() -> Result<Args, String> {
    let mut workloads = Vec::new();
    let mut url = std::env::var("MINK_BENCH_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
    let mut plan = Plan {
        warmup: Duration::from_millis(1_000),
        window: Duration::from_millis(3_000),
        runs: 3,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--json" => {}
            "--url" => url = value("--url")?,
            "--runs" => {
                plan.runs = value("--runs")?
                    .parse()
                    .map_err(|e| format!("--runs: {e}"))?
            }
            "--warmup-ms" => {
                plan.warmup = Duration::from_millis(
                    value("--warmup-ms")?
                        .parse()
                        .map_err(|e| format!("--warmup-ms: {e}"))?,
                )
            }
            "--window-ms" => {
                plan.window = Duration::from_millis(
                    value("--window-ms")?
                        .parse()
                        .map_err(|e| format!("--window-ms: {e}"))?,
                )
            }
            "all" => workloads.extend(["w1", "w2", "w4"].map(String::from)),
            w @ ("w1" | "w2" | "w4") => workloads.push(w.to_owned()),
            other => {
                return Err(format!(
                    "unknown argument `{other}`; expected w1, w2, w4 or all"
                ));
            }
        }
    }
    if workloads.is_empty() {
        workloads.extend(["w1", "w2", "w4"].map(String::from));
    }
    Ok(Args {
        workloads,
        url,
        plan,
    })
}

#[tokio::main]
async fn main() {
    if let Err(e) = run().await {
        eprintln!("peer: {e}");
        std::process::exit(1);
    }
}

async fn run() -> Result<(), String> {
    let args = parse_args()?;
    let bench = workloads::PeerBench::create(&args.url).await?;
    let result = run_workloads(&bench, &args).await;
    bench.drop_tables().await?;
    result
}

async fn run_workloads(bench: &workloads::PeerBench, args: &Args) -> Result<(), String> {
    let print = |figure: Figure| {
        println!(
            "{}",
            serde_json::to_string(&figure).unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
        );
    };
    for w in &args.workloads {
        match w.as_str() {
            "w1" => {
                for writers in shape::SINGLE_WRITERS {
                    eprintln!("peer: W1 {writers} writer(s)");
                    print(bench.single_appends(&args.plan, writers).await?);
                }
            }
            "w2" => {
                for batch in shape::BATCH_SIZES {
                    for writers in shape::BATCH_WRITERS {
                        eprintln!("peer: W2 batch {batch}, {writers} writer(s)");
                        print(bench.batch_appends(&args.plan, batch, writers).await?);
                    }
                }
            }
            "w4" => {
                for size in shape::LOAD_SIZES {
                    eprintln!("peer: W4 {size} events");
                    print(bench.load(&args.plan, size).await?);
                }
            }
            _ => unreachable!("parse_args accepts only known workloads"),
        }
    }
    Ok(())
}
