//! The command line's grammar (clap derive). A golden file of every
//! command's help, `tests/help/*.txt`, shows any change to it as a diff.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// mink: look at and operate an event-sourced application's store.
#[derive(Debug, Parser)]
#[command(name = "mink", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: Global,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub struct Global {
    /// The store's database: `sqlite://<file>`, `postgres://user@host/db`.
    /// Read from DATABASE_URL, then from `.env`, when not given.
    #[arg(
        short = 'D',
        long,
        global = true,
        env = "DATABASE_URL",
        hide_env_values = true
    )]
    pub database_url: Option<String>,
    /// The PostgreSQL schema holding the store's tables.
    #[arg(long, global = true, env = "MINK_SCHEMA", default_value = "mink")]
    pub schema: String,
    /// Do not read DATABASE_URL from a `.env` file.
    #[arg(long, global = true)]
    pub no_dotenv: bool,
    /// Print JSON (one document, or one event per line for event streams).
    #[arg(long, global = true)]
    pub json: bool,
    /// No colours (also when NO_COLOR is set or the output is not a terminal).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// Answer yes to confirmation prompts of destructive commands.
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Scaffold a new application: Cargo.toml, an aggregate, a command, a
    /// projection, a test and a README.
    Init(InitArgs),
    /// Add a module using mink's macros to the application in this directory.
    #[command(alias = "g")]
    Generate(GenerateArgs),
    /// Manage the store's schema: mink's own migrations and the application's.
    #[command(subcommand)]
    Migrate(MigrateCommand),
    /// Look at streams.
    #[command(subcommand)]
    Stream(StreamCommand),
    /// Read or follow the global log, with filters.
    Events(EventsArgs),
    /// See and control projections, in this process or another.
    #[command(subcommand)]
    Projection(ProjectionCommand),
    /// See sagas and retry failed ones, in this process or another.
    #[command(subcommand)]
    Saga(SagaCommand),
    /// Check the deployment: connectivity, schema, projections, long
    /// transactions, idempotency records, SQLite settings. Exits non-zero
    /// when a check fails.
    #[command(alias = "doctor")]
    Diagnose(DiagnoseArgs),
    /// JSON Schema of the application's event types, and stored events
    /// checked against it (needs the application's entry point).
    #[command(subcommand)]
    Schema(SchemaCommand),
    /// Print a shell completion script.
    Completions(CompletionsArgs),
}

/// The store a new application uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StoreKind {
    /// A SQLite file: no server.
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// `mink init`.
#[derive(Debug, Args)]
pub struct InitArgs {
    /// Where to create the application (created when missing; must be
    /// empty).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// The crate's name (default: the directory's name).
    #[arg(long)]
    pub name: Option<String>,
    /// The event store it uses.
    #[arg(long, value_enum, default_value_t = StoreKind::Sqlite)]
    pub store: StoreKind,
    /// Path of the `mink` crate to depend on, until mink is on a registry
    /// (default: the `mink/` directory of the checkout this tool was built
    /// from).
    #[arg(
        long,
        default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/../mink"),
        hide_default_value = true
    )]
    pub mink_path: PathBuf,
    /// Write into a directory that is not empty, replacing files of the
    /// same names.
    #[arg(long)]
    pub force: bool,
}

/// What `mink generate` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GenerateKind {
    /// An aggregate with its event enum, a command, an error and a handler.
    Aggregate,
    /// An event enum.
    Event,
    /// A command for an existing aggregate, with its handler.
    Command,
    /// An async projection over an event enum.
    Projection,
}

/// `mink generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// What to generate.
    #[arg(value_enum)]
    pub kind: GenerateKind,
    /// Its name, in CamelCase (`Order`, `PlaceOrder`, `OrderTotals`).
    pub name: String,
    /// Event variants (aggregate, event), or the event enum a projection
    /// handles (default: the aggregate's `<Aggregate>Event`).
    #[arg(long, value_delimiter = ',')]
    pub events: Vec<String>,
    /// The aggregate a command belongs to, or whose events a projection
    /// handles.
    #[arg(long)]
    pub aggregate: Option<String>,
    /// Overwrite an existing module.
    #[arg(long)]
    pub force: bool,
    /// The crate to add the module to (its `src/` gets the file and a `mod`
    /// line in `lib.rs`).
    #[arg(long, default_value = ".")]
    pub dir: PathBuf,
}

/// `mink migrate`.
#[derive(Debug, Subcommand)]
pub enum MigrateCommand {
    /// Show every migration: applied, pending, changed since applied, or
    /// applied but unknown to this build.
    Status(MigrateSource),
    /// Apply pending migrations (mink's, then the application's), each in
    /// its own transaction under an advisory lock.
    Up(MigrateRun),
    /// Revert the last applied application migration with its down script.
    Down(MigrateRun),
    /// Create a new application migration: `<timestamp>_<name>.up.sql` and
    /// `.down.sql` in the source directory.
    Create(MigrateCreate),
}

/// Where the application's migrations live.
#[derive(Debug, Args)]
pub struct MigrateSource {
    /// Directory of the application's migrations (used when it exists).
    #[arg(long, default_value = "migrations")]
    pub source: PathBuf,
}

/// `mink migrate up|down`.
#[derive(Debug, Args)]
pub struct MigrateRun {
    /// Where the application's migrations live.
    #[command(flatten)]
    pub source: MigrateSource,
    /// Print what would run, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `mink migrate create`.
#[derive(Debug, Args)]
pub struct MigrateCreate {
    /// What the migration does, in words (`add_orders_index`).
    pub name: String,
    /// Where the application's migrations live.
    #[command(flatten)]
    pub source: MigrateSource,
}

/// `mink stream`.
#[derive(Debug, Subcommand)]
pub enum StreamCommand {
    /// List streams, first written first.
    List(StreamListArgs),
    /// Show one stream's version and times.
    Show {
        /// The stream's id.
        id: String,
    },
    /// Print one stream's events.
    Events(StreamEventsArgs),
    /// Counts and sizes: events, streams, bytes, event types, categories,
    /// the longest streams.
    Stats {
        /// How many of the longest streams to show.
        #[arg(long, default_value_t = 10)]
        top: usize,
    },
    /// Write events as NDJSON, one per line, to a file or standard output.
    Export(ExportArgs),
}

/// `mink stream list`.
#[derive(Debug, Args)]
pub struct StreamListArgs {
    /// Only ids starting with this.
    #[arg(long, conflicts_with = "category")]
    pub prefix: Option<String>,
    /// Only streams of this category (the id before its first `-`).
    #[arg(long)]
    pub category: Option<String>,
    /// At most this many.
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
}

/// `mink stream events`.
#[derive(Debug, Args)]
pub struct StreamEventsArgs {
    /// The stream's id.
    pub id: String,
    /// The first version to print.
    #[arg(long, default_value_t = 1)]
    pub from: u64,
    /// At most this many (before following).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Keep printing new events as they are appended.
    #[arg(short = 'f', long)]
    pub follow: bool,
}

/// `mink stream export`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["id", "category", "all"]))]
pub struct ExportArgs {
    /// One stream.
    pub id: Option<String>,
    /// Every stream of a category.
    #[arg(long)]
    pub category: Option<String>,
    /// The whole log.
    #[arg(long)]
    pub all: bool,
    /// The file to write (default: standard output).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
}

/// `mink events`.
#[derive(Debug, Args)]
pub struct EventsArgs {
    /// Only events of this type (repeatable).
    #[arg(long = "type")]
    pub event_types: Vec<String>,
    /// Only events of streams in this category (repeatable).
    #[arg(long = "category")]
    pub categories: Vec<String>,
    /// Only events of this stream (repeatable).
    #[arg(long = "stream")]
    pub streams: Vec<String>,
    /// Start after this log position (`N`, or `commit/event` as printed).
    #[arg(long)]
    pub from: Option<String>,
    /// At most this many (before following).
    #[arg(long)]
    pub limit: Option<usize>,
    /// Keep printing new events as they are appended.
    #[arg(short = 'f', long)]
    pub follow: bool,
}

/// `mink projection`.
#[derive(Debug, Subcommand)]
pub enum ProjectionCommand {
    /// Every projection with its state, checkpoint and lag.
    List,
    /// One projection in full: state, checkpoint, head, lag, owner, lease,
    /// events processed, last error, rebuild.
    Status {
        /// The projection's name.
        name: String,
    },
    /// Ask the engine working the projection to pause, and wait until it
    /// confirms.
    Pause(ControlArgs),
    /// Ask the engine working the projection to resume, and wait until it
    /// confirms.
    Resume(ControlArgs),
    /// Clear the projection's read model and replay the log, showing
    /// progress.
    Rebuild(RebuildArgs),
    /// Events a projection parked.
    #[command(subcommand)]
    DeadLetters(DeadLetterCommand),
}

/// `mink saga`.
#[derive(Debug, Subcommand)]
pub enum SagaCommand {
    /// Sagas by type and status, most recently changed first.
    List(SagaListArgs),
    /// One saga in full: state, associations, commands, deadlines, history.
    Show {
        /// The saga's id.
        id: String,
    },
    /// Send a failed saga's failed commands (or compensations) again; for a
    /// running saga, send its pending commands now.
    Retry {
        /// The saga's id.
        id: String,
    },
}

/// `mink saga list`.
#[derive(Debug, Args)]
pub struct SagaListArgs {
    /// Only sagas of this type.
    #[arg(long = "type", value_name = "NAME")]
    pub saga_type: Option<String>,
    /// Only sagas in this status: running, compensating, completed, failed,
    /// compensated, compensation_failed.
    #[arg(long)]
    pub status: Option<String>,
    /// At most this many (0: all).
    #[arg(long, default_value_t = 100)]
    pub limit: usize,
}

/// `mink projection pause|resume`.
#[derive(Debug, Args)]
pub struct ControlArgs {
    /// The projection's name.
    pub name: String,
    /// How long to wait for the engine to confirm, in seconds.
    #[arg(long, default_value_t = 30)]
    pub timeout: u64,
    /// Store the request and return without waiting.
    #[arg(long)]
    pub no_wait: bool,
}

/// `mink projection rebuild`.
#[derive(Debug, Args)]
pub struct RebuildArgs {
    /// The projection's name.
    pub name: String,
    /// Replay the events after this position (`N` or `commit/event`;
    /// default: the start of the log).
    #[arg(long)]
    pub from: Option<String>,
    /// Stop after this position and leave the projection paused there.
    #[arg(long)]
    pub to: Option<String>,
    /// How long to wait for the rebuild to finish, in seconds (0: no
    /// limit).
    #[arg(long, default_value_t = 0)]
    pub timeout: u64,
    /// Store the request and return without waiting.
    #[arg(long)]
    pub no_wait: bool,
    /// Print what would happen, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `mink projection dead-letters`.
#[derive(Debug, Subcommand)]
pub enum DeadLetterCommand {
    /// The events a projection parked, with their errors.
    List {
        /// The projection's name.
        name: String,
    },
    /// Apply a parked event again on the engine holding the lease (needs
    /// the application's entry point, `mink_cli::run`).
    Retry(DeadLetterArgs),
    /// Give up on parked events: remove them.
    Drop(DeadLetterArgs),
}

/// Which parked events.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("which").required(true).args(["position", "all"]))]
pub struct DeadLetterArgs {
    /// The projection's name.
    pub name: String,
    /// The parked event's log position (`N` or `commit/event`).
    #[arg(long)]
    pub position: Option<String>,
    /// Every parked event of the projection.
    #[arg(long)]
    pub all: bool,
    /// Print what would happen, and change nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `mink diagnose`.
#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    /// Warn about a projection this many events behind the head.
    #[arg(long, default_value_t = 1000)]
    pub lag_warn: u64,
    /// Warn about a PostgreSQL transaction open this many seconds.
    #[arg(long, default_value_t = 60)]
    pub transaction_warn: u64,
}

/// `mink schema`.
#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Print the JSON Schema of every registered event type and version
    /// (one document; with `--type`, that type's schema alone).
    Print(SchemaPrintArgs),
    /// Write one JSON Schema file per registered event type and version:
    /// `<dir>/<type>.v<version>.json`.
    Generate(SchemaGenerateArgs),
    /// Check stored events against their type's schema; exits non-zero
    /// when any event does not match, listing them.
    Validate(SchemaValidateArgs),
}

/// `mink schema print`.
#[derive(Debug, Args)]
pub struct SchemaPrintArgs {
    /// Only this event type (repeatable).
    #[arg(long = "type")]
    pub event_types: Vec<String>,
}

/// `mink schema generate`.
#[derive(Debug, Args)]
pub struct SchemaGenerateArgs {
    /// The directory to write to (created when missing).
    #[arg(short, long, default_value = "schemas")]
    pub out: PathBuf,
    /// Only this event type (repeatable).
    #[arg(long = "type")]
    pub event_types: Vec<String>,
}

/// `mink schema validate`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["id", "category", "all"]))]
pub struct SchemaValidateArgs {
    /// One stream.
    pub id: Option<String>,
    /// Every stream of a category.
    #[arg(long)]
    pub category: Option<String>,
    /// The whole log.
    #[arg(long)]
    pub all: bool,
}

/// `mink completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}
