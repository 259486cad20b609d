//! The command bus and each middleware, through real dispatches.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mink::bus::{
    MetricsLayer, RecoveryLayer, RetryOnConflictLayer, TenantLayer, TracingLayer, ValidationLayer,
};
use mink::idempotency::{IdempotencyLayer, IdempotencyStore, InFlight, InMemoryIdempotencyStore};
use mink::prelude::*;
use mink::{DispatchError, IdempotencyKey, Validate, ValidationErrors};

/// Counts handler runs per test (each test uses its own wallet ids).
static RUNS: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());

fn count_run(id: &str) {
    *RUNS.lock().unwrap().entry(id.to_owned()).or_default() += 1;
}

fn runs(id: &str) -> usize {
    RUNS.lock().unwrap().get(id).copied().unwrap_or(0)
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub enum WalletEvent {
    #[event(name = "WalletCredited")]
    Credited { amount: u64, note: String },
}

#[derive(Aggregate, Debug, Default)]
#[aggregate(events = WalletEvent, category = "wallet")]
pub struct Wallet {
    #[aggregate(id)]
    id: String,
    balance: u64,
}

#[command(aggregate = Wallet)]
pub struct Credit {
    #[command(id)]
    wallet: String,
    amount: u64,
    note: String,
}

impl Validate for Credit {
    fn validate(&self) -> Result<(), ValidationErrors> {
        let mut v = ValidationErrors::new();
        v.check(self.amount == 0, "amount", "must be positive");
        v.check(self.amount > 1_000_000, "amount", "must be at most 1000000");
        v.check(self.note.trim().is_empty(), "note", "must not be blank");
        v.into_result()
    }
}

#[command(aggregate = Wallet)]
pub struct Explode {
    #[command(id)]
    wallet: String,
}

/// A credit carrying its own idempotency key.
#[command(aggregate = Wallet)]
pub struct CreditOnce {
    #[command(id)]
    wallet: String,
    amount: u64,
    request: String,
}

impl IdempotencyKey for CreditOnce {
    fn idempotency_key(&self) -> Option<String> {
        Some(self.request.clone())
    }
}

#[derive(Debug, PartialEq, thiserror::Error)]
#[error("wallet refused: {0}")]
pub struct WalletError(String);

#[command_handler]
impl Wallet {
    fn credit(&self, cmd: Credit) -> Result<Vec<WalletEvent>, WalletError> {
        count_run(&self.id);
        if cmd.note == "refuse" {
            return Err(WalletError("told to".into()));
        }
        Ok(vec![WalletEvent::Credited {
            amount: cmd.amount,
            note: cmd.note,
        }])
    }

    fn credit_once(&self, cmd: CreditOnce) -> Result<Vec<WalletEvent>, WalletError> {
        count_run(&self.id);
        Ok(vec![WalletEvent::Credited {
            amount: cmd.amount,
            note: cmd.request,
        }])
    }

    fn explode(&self, _cmd: Explode) -> Result<Vec<WalletEvent>, WalletError> {
        panic!("wallet {} exploded", self.id)
    }

    fn apply(&mut self, event: &WalletEvent) {
        match event {
            WalletEvent::Credited { amount, .. } => self.balance += amount,
        }
    }
}

fn credit(wallet: &str, amount: u64) -> Credit {
    Credit {
        wallet: wallet.into(),
        amount,
        note: "n".into(),
    }
}

#[tokio::test]
async fn validation_refuses_with_every_violation_before_the_handler() {
    let app = Mink::builder()
        .store(InMemoryStore::new())
        .layer(ValidationLayer)
        .build()
        .await
        .unwrap();
    let err = app
        .dispatch(Credit {
            wallet: "v1".into(),
            amount: 0,
            note: "  ".into(),
        })
        .await
        .unwrap_err();
    let DispatchError::Invalid(v) = err else {
        panic!("expected Invalid, got {err:?}")
    };
    let fields: Vec<_> = v.violations.iter().map(|x| x.field.as_str()).collect();
    assert_eq!(fields, ["amount", "note"]);
    assert_eq!(
        v.to_string(),
        "invalid command: amount: must be positive; note: must not be blank"
    );
    assert_eq!(runs("v1"), 0, "the handler must not run");
    assert!(
        app.store()
            .stream_info("wallet-v1")
            .await
            .unwrap()
            .is_none()
    );

    app.dispatch(credit("v1", 5)).await.unwrap();
    assert_eq!(runs("v1"), 1);
}

#[tokio::test]
async fn without_the_validation_layer_commands_are_not_validated() {
    let app = Mink::builder()
        .store(InMemoryStore::new())
        .build()
        .await
        .unwrap();
    app.dispatch(credit("v2", 0)).await.unwrap();
    assert_eq!(runs("v2"), 1);
}

#[tokio::test]
async fn recovery_turns_a_panic_into_an_error_and_the_bus_keeps_working() {
    let app = Mink::builder()
        .store(InMemoryStore::new())
        .layer(RecoveryLayer)
        .build()
        .await
        .unwrap();
    let err = app
        .dispatch(Explode {
            wallet: "p1".into(),
        })
        .await
        .unwrap_err();
    match err {
        DispatchError::Panicked { command, message } => {
            assert_eq!(command, "Explode");
            assert_eq!(message, "wallet p1 exploded");
        }
        other => panic!("expected Panicked, got {other:?}"),
    }
    let r = app.dispatch(credit("p1", 3)).await.unwrap();
    assert_eq!(r.version, 1);
}

#[tokio::test]
async fn rejections_keep_the_handlers_error_type_through_the_stack() {
    let app = Mink::builder()
        .store(InMemoryStore::new())
        .layer(RecoveryLayer)
        .layer(ValidationLayer)
        .layer(RetryOnConflictLayer::new())
        .build()
        .await
        .unwrap();
    let err = app
        .dispatch(Credit {
            wallet: "r1".into(),
            amount: 1,
            note: "refuse".into(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.rejected(), Some(&WalletError("told to".into())));
}

/// A real store that waits before every append: makes a timeout happen
/// without blocking a runtime thread.
struct SlowStore {
    inner: InMemoryStore,
    delay: Duration,
}

#[mink::async_trait]
impl EventStore for SlowStore {
    async fn append_to_streams(
        &self,
        appends: Vec<mink::StreamAppend>,
    ) -> mink::Result<mink::AppendResult> {
        tokio::time::sleep(self.delay).await;
        self.inner.append_to_streams(appends).await
    }
    async fn read_stream_forward(
        &self,
        stream_id: &str,
        from_version: u64,
        limit: usize,
    ) -> mink::Result<Vec<mink::RecordedEvent>> {
        self.inner
            .read_stream_forward(stream_id, from_version, limit)
            .await
    }
    async fn read_all_forward(
        &self,
        request: mink::ReadAll,
    ) -> mink::Result<Vec<mink::RecordedEvent>> {
        self.inner.read_all_forward(request).await
    }
    async fn stream_info(&self, stream_id: &str) -> mink::Result<Option<mink::StreamInfo>> {
        self.inner.stream_info(stream_id).await
    }
    async fn head_position(&self) -> mink::Result<mink::Position> {
        self.inner.head_position().await
    }
}

#[tokio::test]
async fn towers_timeout_layer_bounds_a_dispatch() {
    let app = Mink::builder()
        .store(SlowStore {
            inner: InMemoryStore::new(),
            delay: Duration::from_secs(5),
        })
        .layer(tower::timeout::TimeoutLayer::new(Duration::from_millis(50)))
        .build()
        .await
        .unwrap();
    let err = app.dispatch(credit("t1", 1)).await.unwrap_err();
    assert!(matches!(err, DispatchError::TimedOut), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn retry_on_conflict_lets_every_racing_command_land_once() {
    let store = SlowStore {
        inner: InMemoryStore::new(),
        delay: Duration::from_millis(1),
    };
    let app = Mink::builder()
        .store(store)
        .layer(RetryOnConflictLayer::new().max_attempts(100))
        .build()
        .await
        .unwrap();
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let app = app.clone();
            tokio::spawn(async move { app.dispatch(credit("hot", i + 1)).await })
        })
        .collect();
    let mut versions = Vec::new();
    for t in tasks {
        versions.push(t.await.unwrap().unwrap().version);
    }
    versions.sort_unstable();
    assert_eq!(versions, (1..=16).collect::<Vec<u64>>());
    let wallet = app.load_aggregate::<Wallet>("hot").await.unwrap();
    assert_eq!(wallet.balance, (1..=16).sum::<u64>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn without_retry_racing_commands_conflict() {
    let store = SlowStore {
        inner: InMemoryStore::new(),
        delay: Duration::from_millis(5),
    };
    let app = Mink::builder().store(store).build().await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move { app.dispatch(credit("cold", 1)).await })
        })
        .collect();
    let mut conflicts = 0;
    for t in tasks {
        if let Err(e) = t.await.unwrap() {
            assert!(e.is_concurrency_conflict(), "{e:?}");
            conflicts += 1;
        }
    }
    assert!(
        conflicts > 0,
        "eight racing loads of one version must conflict"
    );
}

#[tokio::test]
async fn tenant_layer_refuses_commands_without_a_tenant_and_stamps_events() {
    let app = Mink::builder()
        .store(InMemoryStore::new())
        .layer(TenantLayer::required())
        .build()
        .await
        .unwrap();
    let err = app.dispatch(credit("tn1", 1)).await.unwrap_err();
    assert!(
        matches!(&err, DispatchError::TenantRequired { command } if command == "Credit"),
        "{err:?}"
    );
    assert_eq!(runs("tn1"), 0);

    app.dispatch_with(credit("tn1", 1), Context::new().with_tenant_id("acme"))
        .await
        .unwrap();
    let events = app
        .store()
        .read_stream_forward("wallet-tn1", 1, 10)
        .await
        .unwrap();
    assert_eq!(events[0].metadata.tenant_id.as_deref(), Some("acme"));

    let app = Mink::builder()
        .store(InMemoryStore::new())
        .layer(TenantLayer::default_tenant("shared"))
        .build()
        .await
        .unwrap();
    app.dispatch(credit("tn2", 1)).await.unwrap();
    let events = app
        .store()
        .read_stream_forward("wallet-tn2", 1, 10)
        .await
        .unwrap();
    assert_eq!(events[0].metadata.tenant_id.as_deref(), Some("shared"));
}

#[tokio::test]
async fn correlation_and_causation_ids_are_carried_to_the_events() {
    let app = Mink::builder()
        .store(InMemoryStore::new())
        .build()
        .await
        .unwrap();

    // No correlation given: one is created and shared by all events.
    let ctx = Context::new().with_user_id("ada");
    let command_id = ctx.command_id;
    app.dispatch_with(credit("c1", 1), ctx).await.unwrap();
    let first = &app
        .store()
        .read_stream_forward("wallet-c1", 1, 1)
        .await
        .unwrap()[0];
    let correlation = first.metadata.correlation_id.clone().expect("created");
    assert_eq!(correlation, command_id.to_string());
    assert_eq!(first.metadata.causation_id, Some(command_id.to_string()));
    assert_eq!(first.metadata.user_id.as_deref(), Some("ada"));

    // A command reacting to that event keeps its correlation and is caused
    // by it; its own events are caused by the new command.
    let reaction = Context::caused_by(first);
    let reaction_id = reaction.command_id;
    app.dispatch_with(credit("c2", 2), reaction).await.unwrap();
    let second = &app
        .store()
        .read_stream_forward("wallet-c2", 1, 1)
        .await
        .unwrap()[0];
    assert_eq!(second.metadata.correlation_id, Some(correlation));
    assert_eq!(second.metadata.causation_id, Some(reaction_id.to_string()));
    assert_eq!(
        second.metadata.custom.get("command_causation_id"),
        Some(&first.event_id.to_string())
    );
    assert_eq!(second.metadata.user_id.as_deref(), Some("ada"));

    // An explicit correlation id wins.
    app.dispatch_with(credit("c3", 1), Context::new().with_correlation_id("req-9"))
        .await
        .unwrap();
    let third = &app
        .store()
        .read_stream_forward("wallet-c3", 1, 1)
        .await
        .unwrap()[0];
    assert_eq!(third.metadata.correlation_id.as_deref(), Some("req-9"));
}

#[tokio::test]
async fn layers_compose_in_the_order_added() {
    use mink::bus::{BusService, CommandEnvelope};
    use tower::{Layer, ServiceExt};

    #[derive(Clone)]
    struct Mark(&'static str, Arc<Mutex<Vec<&'static str>>>);
    impl Layer<BusService> for Mark {
        type Service = BusService;
        fn layer(&self, inner: BusService) -> BusService {
            let (name, log) = (self.0, self.1.clone());
            BusService::new(tower::service_fn(move |env: CommandEnvelope| {
                log.lock().unwrap().push(name);
                inner.clone().oneshot(env)
            }))
        }
    }

    let log = Arc::new(Mutex::new(Vec::new()));
    let app = Mink::builder()
        .store(InMemoryStore::new())
        .layer(Mark("outer", log.clone()))
        .layer(Mark("middle", log.clone()))
        .layer(Mark("inner", log.clone()))
        .build()
        .await
        .unwrap();
    app.dispatch(credit("o1", 1)).await.unwrap();
    assert_eq!(*log.lock().unwrap(), ["outer", "middle", "inner"]);
}

/// Collects the fields of `mink.dispatch` spans.
#[derive(Clone, Default)]
struct SpanLog(Arc<Mutex<Vec<BTreeMap<String, String>>>>);

struct FieldVisitor<'a>(&'a mut BTreeMap<String, String>);

impl tracing::field::Visit for FieldVisitor<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
        self.0.insert(field.name().into(), value.to_string());
    }
}

struct Fields(BTreeMap<String, String>);

impl<S> tracing_subscriber::Layer<S> for SpanLog
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if attrs.metadata().name() != "mink.dispatch" {
            return;
        }
        let mut fields = BTreeMap::new();
        attrs.record(&mut FieldVisitor(&mut fields));
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Fields(fields));
        }
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<Fields>()
        {
            values.record(&mut FieldVisitor(&mut fields.0));
        }
    }

    fn on_close(&self, id: tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if let Some(span) = ctx.span(&id)
            && let Some(fields) = span.extensions_mut().remove::<Fields>()
        {
            self.0.lock().unwrap().push(fields.0);
        }
    }
}

#[tokio::test]
async fn tracing_opens_one_span_per_dispatch_with_its_outcome() {
    use tracing_subscriber::layer::SubscriberExt;

    let log = SpanLog::default();
    let subscriber = tracing_subscriber::registry().with(log.clone());
    let _guard = tracing::subscriber::set_default(subscriber);

    let app = Mink::builder()
        .store(InMemoryStore::new())
        .layer(TracingLayer)
        .build()
        .await
        .unwrap();
    app.dispatch_with(
        credit("tr1", 1),
        Context::new().with_correlation_id("corr-1"),
    )
    .await
    .unwrap();
    let _ = app
        .dispatch(Credit {
            wallet: "tr1".into(),
            amount: 1,
            note: "refuse".into(),
        })
        .await;

    let spans = log.0.lock().unwrap().clone();
    assert_eq!(spans.len(), 2, "{spans:?}");
    assert_eq!(spans[0]["command"], "Credit");
    assert_eq!(spans[0]["aggregate_id"], "tr1");
    assert_eq!(spans[0]["correlation_id"], "corr-1");
    assert_eq!(spans[0]["outcome"], "ok");
    assert!(spans[0]["duration_ms"].parse::<f64>().unwrap() >= 0.0);
    assert_eq!(spans[1]["outcome"], "rejected");
}

#[test]
fn metrics_count_and_time_each_command_by_outcome() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        futures::executor::block_on(async {
            let app = Mink::builder()
                .store(InMemoryStore::new())
                .layer(MetricsLayer)
                .build()
                .await
                .unwrap();
            app.dispatch(credit("m1", 1)).await.unwrap();
            app.dispatch(credit("m1", 2)).await.unwrap();
            let _ = app
                .dispatch(Credit {
                    wallet: "m1".into(),
                    amount: 1,
                    note: "refuse".into(),
                })
                .await;
        })
    });

    let mut counts = BTreeMap::new();
    let mut timings = BTreeMap::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let labels: BTreeMap<_, _> = key
            .key()
            .labels()
            .map(|l| (l.key().to_owned(), l.value().to_owned()))
            .collect();
        let id = (
            key.key().name().to_owned(),
            labels["command"].clone(),
            labels["outcome"].clone(),
        );
        match value {
            DebugValue::Counter(n) => {
                counts.insert(id, n);
            }
            DebugValue::Histogram(v) => {
                timings.insert(id, v.len());
            }
            DebugValue::Gauge(_) => {}
        }
    }
    let k = |name: &str, outcome: &str| (name.to_owned(), "Credit".to_owned(), outcome.to_owned());
    assert_eq!(counts[&k(mink::bus::COMMANDS_TOTAL, "ok")], 2);
    assert_eq!(counts[&k(mink::bus::COMMANDS_TOTAL, "rejected")], 1);
    assert_eq!(timings[&k(mink::bus::COMMAND_DURATION_SECONDS, "ok")], 2);
    assert_eq!(
        timings[&k(mink::bus::COMMAND_DURATION_SECONDS, "rejected")],
        1
    );
}

// ------------------------------------------------------------ idempotency

/// Sixteen identical dispatches at once: the handler runs once, every caller
/// gets the same result.
async fn sixteen_duplicates_run_once(idem: Arc<dyn IdempotencyStore>, wallet: &str) {
    let app = Mink::builder()
        .store(InMemoryStore::new())
        .layer(IdempotencyLayer::shared(idem))
        .build()
        .await
        .unwrap();
    let barrier = Arc::new(tokio::sync::Barrier::new(16));
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let app = app.clone();
            let barrier = barrier.clone();
            let wallet = wallet.to_owned();
            tokio::spawn(async move {
                barrier.wait().await;
                app.dispatch(credit(&wallet, 7)).await
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap().expect("every duplicate succeeds"));
    }
    assert_eq!(runs(wallet), 1, "the handler ran once");
    assert!(results.windows(2).all(|w| w[0] == w[1]), "{results:?}");
    assert_eq!(results[0].version, 1);
    let info = app
        .store()
        .stream_info(&format!("wallet-{wallet}"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.version, 1);

    // A different command is not a duplicate.
    app.dispatch(credit(wallet, 8)).await.unwrap();
    assert_eq!(runs(wallet), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idempotency_memory_sixteen_concurrent_duplicates_run_once() {
    sixteen_duplicates_run_once(Arc::new(InMemoryIdempotencyStore::new()), "i-mem").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idempotency_sqlite_sixteen_concurrent_duplicates_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = mink::idempotency::SqliteIdempotencyStore::open(dir.path().join("idem.db"))
        .await
        .unwrap();
    sixteen_duplicates_run_once(Arc::new(store), "i-sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idempotency_postgres_sixteen_concurrent_duplicates_run_once() {
    let Ok(url) = std::env::var("MINK_TEST_POSTGRES_URL") else {
        println!("skipped: MINK_TEST_POSTGRES_URL not set");
        return;
    };
    let schema = format!("mink_idem_{}", uuid::Uuid::now_v7().simple());
    let pg = mink::PostgresStore::builder(url)
        .schema(schema.clone())
        .build()
        .await
        .unwrap();
    let store = mink::idempotency::PostgresIdempotencyStore::new(pg.pool().clone())
        .await
        .unwrap();
    sixteen_duplicates_run_once(Arc::new(store), "i-pg").await;
    sqlx_drop_schema(&pg, &schema).await;
}

async fn sqlx_drop_schema(pg: &mink::PostgresStore, schema: &str) {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP SCHEMA \"{schema}\" CASCADE"
    )))
    .execute(pg.pool())
    .await
    .expect("drop the test schema");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn idempotency_can_refuse_in_flight_duplicates() {
    let app = Mink::builder()
        .store(SlowStore {
            inner: InMemoryStore::new(),
            delay: Duration::from_millis(200),
        })
        .layer(IdempotencyLayer::new(InMemoryIdempotencyStore::new()).in_flight(InFlight::Reject))
        .build()
        .await
        .unwrap();
    let first = {
        let app = app.clone();
        tokio::spawn(async move { app.dispatch(credit("i-rej", 1)).await })
    };
    // Wait until the first holds the key (its handler has run).
    while runs("i-rej") == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let err = app.dispatch(credit("i-rej", 1)).await.unwrap_err();
    assert!(matches!(err, DispatchError::InProgress { .. }), "{err:?}");
    let done = first.await.unwrap().unwrap();
    // Once finished, a repeat returns the stored result.
    let again = app.dispatch(credit("i-rej", 1)).await.unwrap();
    assert_eq!(again, done);
    assert_eq!(runs("i-rej"), 1);
}

#[tokio::test]
async fn idempotency_keys_expire_and_failures_release_them() {
    let app = Mink::builder()
        .store(InMemoryStore::new())
        .layer(
            IdempotencyLayer::new(InMemoryIdempotencyStore::new()).ttl(Duration::from_millis(30)),
        )
        .build()
        .await
        .unwrap();
    let cmd = |amount| CreditOnce {
        wallet: "i-ttl".into(),
        amount,
        request: "req-1".into(),
    };
    let first = app.dispatch(cmd(1)).await.unwrap();
    // Same explicit key, different payload: still a repeat.
    let repeat = app.dispatch(cmd(99)).await.unwrap();
    assert_eq!(repeat, first);
    assert_eq!(runs("i-ttl"), 1);
    tokio::time::sleep(Duration::from_millis(60)).await;
    let after_ttl = app.dispatch(cmd(1)).await.unwrap();
    assert_eq!(after_ttl.version, 2);
    assert_eq!(runs("i-ttl"), 2);

    // A rejected command does not keep its key: fixing and retrying runs it.
    let refused = Credit {
        wallet: "i-fail".into(),
        amount: 1,
        note: "refuse".into(),
    };
    assert!(app.dispatch(refused.clone()).await.is_err());
    assert!(app.dispatch(refused).await.is_err());
    assert_eq!(runs("i-fail"), 2, "a failed command may be retried");

    // The context's key overrides the command's.
    let a = app
        .dispatch_with(cmd(5), Context::new().with_idempotency_key("ctx-key"))
        .await
        .unwrap();
    let b = app
        .dispatch_with(cmd(6), Context::new().with_idempotency_key("ctx-key"))
        .await
        .unwrap();
    assert_eq!(a, b);
}
