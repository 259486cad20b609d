//! A small application for the command line's end-to-end tests, and an
//! example of embedding the commands.
//!
//! - `ticker serve <database-url> [--schema <name>]` runs an async
//!   projection, `ticks`, counting `Ticked` events, until it is killed; it
//!   prints `ready` once its projections run.
//! - `ticker mink <command>…` runs a `mink` command through the embedded
//!   entry point, which knows the application's event types
//!   (`mink schema …`).

use std::process::ExitCode;
use std::time::Duration;

use mink::projection::{
    HandlerError, Projection, ProjectionContext, ProjectionKind, ProjectionOptions,
};
use mink::{InMemoryStore, Mink, PostgresStore, RecordedEvent, SqliteStore, event};

/// The clock's events: schemas come from the fields' types.
#[event]
pub enum ClockEvent {
    /// The clock ticked.
    Ticked {
        /// Which tick.
        n: u32,
        /// Why, when someone said.
        note: Option<String>,
    },
    /// The clock went back to zero.
    Reset,
}

/// A struct event whose schema comes from its own `JsonSchema` derive.
#[event(name = "Calibrated", version = 2)]
#[derive(schemars::JsonSchema)]
pub struct Calibrated {
    /// How far off the clock was.
    pub drift_ms: i64,
}

/// A field type without a schema.
#[derive(serde::Serialize, serde::Deserialize)]
pub struct Blob(pub Vec<u8>);

/// An event whose payload has no schema: the CLI says so.
#[event]
pub struct Archived {
    /// What was archived.
    pub blob: Blob,
}

/// Counts ticks, slowly enough that a test sees it work.
struct Ticks;

#[mink::__private::async_trait]
impl Projection for Ticks {
    fn name(&self) -> &str {
        "ticks"
    }
    fn kind(&self) -> ProjectionKind {
        ProjectionKind::Async
    }
    fn event_types(&self) -> Vec<&'static str> {
        vec!["Ticked"]
    }
    fn options(&self) -> ProjectionOptions {
        ProjectionOptions {
            // A heartbeat a second: quick to obey, and not lost on a busy
            // machine.
            lease_ttl: Duration::from_secs(3),
            poll_interval: Duration::from_millis(50),
            ..ProjectionOptions::default()
        }
    }
    async fn handle(
        &self,
        _event: &RecordedEvent,
        _ctx: &mut ProjectionContext<'_>,
    ) -> Result<(), HandlerError> {
        Ok(())
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("serve") if args.len() >= 3 => serve(&args[2], args.get(4).map(String::as_str)).await,
        Some("mink") => {
            let app = match Mink::builder()
                .store(InMemoryStore::new())
                .start_projections(false)
                .build()
                .await
            {
                Ok(app) => app,
                Err(e) => {
                    eprintln!("error: {e}");
                    return ExitCode::FAILURE;
                }
            };
            let argv = std::iter::once("mink".to_owned()).chain(args[2..].iter().cloned());
            mink_cli::run_from(argv, mink_cli::Application::from_mink(&app)).await
        }
        _ => {
            eprintln!(
                "usage: ticker serve <database-url> [--schema <name>] | ticker mink <command>…"
            );
            ExitCode::from(2)
        }
    }
}

/// Runs the `ticks` projection on the store at `url` until killed.
async fn serve(url: &str, schema: Option<&str>) -> ExitCode {
    let builder = Mink::builder()
        .instance_id(format!("ticker-{}", std::process::id()))
        .projection(Ticks);
    let app = if let Some(path) = url.strip_prefix("sqlite://") {
        match SqliteStore::open(path).await {
            Ok(store) => builder.store(store).build().await,
            Err(e) => Err(e),
        }
    } else {
        match PostgresStore::builder(url)
            .schema(schema.unwrap_or("mink"))
            .build()
            .await
        {
            Ok(store) => builder.store(store).build().await,
            Err(e) => Err(e),
        }
    };
    let app = match app {
        Ok(app) => app,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    println!("ready");
    let _ = tokio::signal::ctrl_c().await;
    app.shutdown().await;
    ExitCode::SUCCESS
}
