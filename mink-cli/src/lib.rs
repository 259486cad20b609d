//! The `mink` command line: scaffold an application, generate code, manage
//! the store's schema, look at streams and the log, control projections
//! running in other processes, and diagnose a deployment.
//!
//! Two entry points run the same commands:
//!
//! - the standalone `mink` binary, which knows stores and their schemas;
//! - [`run`], for an application's own `src/bin/`: given the application's
//!   store, projection engine and registry ([`Application`]), it adds what
//!   needs the application's types: registered projections that have no
//!   record yet, their exact lag, replaying dead letters on the engine
//!   holding the lease, and the registered event types.
//!
//! ```no_run
//! # async fn app() -> mink_runtime::Result<mink_runtime::Mink> { unimplemented!() }
//! #[tokio::main]
//! async fn main() -> std::process::ExitCode {
//!     let app = app().await.expect("the application starts");
//!     mink_cli::run(mink_cli::Application::from_mink(&app)).await
//! }
//! ```
//!
//! See `docs/guide/cli.md` for every command, and
//! `docs/adr/015-cli.md` for the decisions behind them.

mod args;
mod commands;
mod connect;
mod error;
mod output;

use std::ffi::OsString;
use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;
use mink_runtime::projection::ProjectionEngine;
use mink_runtime::{EventStore, Mink, Registry, Serializer};

pub use args::Cli;
pub use error::{CliError, CliResult};

/// What an application lends the commands when it embeds them with
/// [`run`]: its store, its projection engine and its registry.
#[derive(Clone, Default)]
pub struct Application {
    store: Option<Arc<dyn EventStore>>,
    engine: Option<ProjectionEngine>,
    registry: Option<Registry>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("store", &self.store.is_some())
            .field("engine", &self.engine.is_some())
            .field("registry", &self.registry)
            .finish()
    }
}

impl Application {
    /// Nothing lent: the commands behave as the standalone binary.
    pub fn new() -> Self {
        Application::default()
    }

    /// The application's store, its projection engine and its registry.
    /// Its projections should not be started by this process (build it
    /// with `start_projections(false)`), unless the command line is meant
    /// to work them itself.
    pub fn from_mink<S: Serializer>(app: &Mink<S>) -> Self {
        Application {
            store: Some(Arc::clone(app.store())),
            engine: Some(app.projections().clone()),
            registry: Some(app.registry().clone()),
        }
    }

    /// The store used when no database URL is given.
    pub fn store(mut self, store: Arc<dyn EventStore>) -> Self {
        self.store = Some(store);
        self
    }

    /// The engine whose projections `projection` commands know by type.
    pub fn engine(mut self, engine: ProjectionEngine) -> Self {
        self.engine = Some(engine);
        self
    }

    /// The registered event types.
    pub fn registry(mut self, registry: Registry) -> Self {
        self.registry = Some(registry);
        self
    }
}

/// Runs the command named by the process's arguments and returns its exit
/// status; errors are printed to standard error as one paragraph with the
/// fix.
pub async fn run(app: Application) -> ExitCode {
    run_from(std::env::args_os(), app).await
}

/// Runs the command named by `args` (the first is the program name).
pub async fn run_from<I, T>(args: I, app: Application) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2));
        }
    };
    match commands::dispatch(cli, app).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.code)
        }
    }
}

/// The standalone binary's `main`: a Tokio runtime around [`run`].
pub fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: could not start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(run(Application::new()))
}
