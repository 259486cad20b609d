//! The e-commerce order flow: create an order, add items, remove one, ship;
//! an inline projection keeps an order summary per order (committed with
//! the events), an async projection counts units sold per SKU (committed
//! with its checkpoint), and the example queries both.
//!
//! Then two orders are placed and checked out by the `checkout` saga
//! (stock reserved, payment requested, shipped; the stock released when the
//! payment is declined), and the outbox publishes every order event: to
//! NATS JetStream when `NATS_URL` is set, else to a webhook the example
//! serves itself.
//!
//! ```text
//! cargo run -p mink-examples --bin order-flow
//! ```
//!
//! Events go to `mink-example.db` (SQLite) in the working directory, or to
//! the store `DATABASE_URL` names (`postgres://…`, `sqlite://…`, `memory:`). Look at them with
//! `sqlite3 mink-example.db 'select * from events'` or
//! `psql "$DATABASE_URL" -c 'select * from mink.events'`; the read models are
//! the tables `order_summaries` and `sku_sales` beside them.
//!
//! The example serves its metrics in Prometheus' format at `GET /metrics`
//! on `METRICS_ADDR` (default `127.0.0.1:0`, a free port), prints the URL,
//! and at the end prints what a scrape returns for commands and appends.
//! Set `METRICS_HOLD_SECS` to keep serving that long before exiting, to
//! scrape it yourself (`curl http://127.0.0.1:9000/metrics`).

use std::time::Duration;

use mink::adapters::AnyStore;
use mink::bus::{MetricsLayer, RecoveryLayer, RetryOnConflictLayer, TracingLayer, ValidationLayer};
use mink::observability::prometheus;
use mink::prelude::*;
use mink::projection::ProjectionContext;
use mink::read_model::{Query, ReadModelRepository};
use mink::store::InstrumentedStore;
use mink::{BoxError, ReadModel, RecordedEvent};

/// What can happen to an order.
#[event]
#[derive(Debug, Clone, PartialEq)]
pub enum OrderEvent {
    /// The order was opened for a customer.
    #[event(name = "OrderCreated")]
    Created {
        /// Who ordered.
        customer_id: String,
    },
    /// An item was put in the order.
    #[event(name = "OrderItemAdded")]
    ItemAdded {
        /// Stock keeping unit.
        sku: String,
        /// How many.
        qty: u32,
        /// Unit price.
        price_cents: u64,
    },
    /// An item was taken out of the order.
    #[event(name = "OrderItemRemoved")]
    ItemRemoved {
        /// Stock keeping unit.
        sku: String,
    },
    /// The order left the warehouse.
    #[event(name = "OrderShipped")]
    Shipped {
        /// Parcel tracking number.
        tracking: String,
    },
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    sku: String,
    qty: u32,
    price_cents: u64,
}

/// An order, rebuilt from its events.
#[derive(Aggregate, Debug, Default)]
#[aggregate(events = OrderEvent, category = "order")]
pub struct Order {
    #[aggregate(id)]
    id: String,
    customer_id: String,
    items: Vec<Item>,
    created: bool,
    shipped: bool,
}

/// Opens an order.
#[command(aggregate = Order)]
pub struct CreateOrder {
    #[command(id)]
    order_id: String,
    customer_id: String,
}

/// Adds an item.
#[command(aggregate = Order)]
pub struct AddItem {
    #[command(id)]
    order_id: String,
    sku: String,
    qty: u32,
    price_cents: u64,
}

/// Removes an item.
#[command(aggregate = Order)]
pub struct RemoveItem {
    #[command(id)]
    order_id: String,
    sku: String,
}

/// Ships the order.
#[command(aggregate = Order)]
pub struct ShipOrder {
    #[command(id)]
    order_id: String,
    tracking: String,
}

/// Why the order refused a command.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum OrderError {
    /// The order exists already.
    #[error("order {0} already exists")]
    AlreadyCreated(String),
    /// The order was never created.
    #[error("order {0} does not exist")]
    NotCreated(String),
    /// Shipped orders are final.
    #[error("order {0} has shipped and can no longer change")]
    AlreadyShipped(String),
    /// Quantities are positive.
    #[error("quantity must be at least 1")]
    ZeroQuantity,
    /// The item is not in the order.
    #[error("item {0} is not in the order")]
    NoSuchItem(String),
    /// Nothing to ship.
    #[error("an empty order cannot ship")]
    Empty,
}

#[command_handler]
impl Order {
    fn create(&self, cmd: CreateOrder) -> Result<Vec<OrderEvent>, OrderError> {
        if self.created {
            return Err(OrderError::AlreadyCreated(self.id.clone()));
        }
        Ok(vec![OrderEvent::Created {
            customer_id: cmd.customer_id,
        }])
    }

    fn add_item(&self, cmd: AddItem) -> Result<Vec<OrderEvent>, OrderError> {
        self.ensure_open()?;
        if cmd.qty == 0 {
            return Err(OrderError::ZeroQuantity);
        }
        Ok(vec![OrderEvent::ItemAdded {
            sku: cmd.sku,
            qty: cmd.qty,
            price_cents: cmd.price_cents,
        }])
    }

    fn remove_item(&self, cmd: RemoveItem) -> Result<Vec<OrderEvent>, OrderError> {
        self.ensure_open()?;
        if !self.items.iter().any(|i| i.sku == cmd.sku) {
            return Err(OrderError::NoSuchItem(cmd.sku));
        }
        Ok(vec![OrderEvent::ItemRemoved { sku: cmd.sku }])
    }

    fn ship(&self, cmd: ShipOrder) -> Result<Vec<OrderEvent>, OrderError> {
        self.ensure_open()?;
        if self.items.is_empty() {
            return Err(OrderError::Empty);
        }
        Ok(vec![OrderEvent::Shipped {
            tracking: cmd.tracking,
        }])
    }

    fn apply(&mut self, event: &OrderEvent) {
        match event {
            OrderEvent::Created { customer_id } => {
                self.created = true;
                self.customer_id = customer_id.clone();
            }
            OrderEvent::ItemAdded {
                sku,
                qty,
                price_cents,
            } => self.items.push(Item {
                sku: sku.clone(),
                qty: *qty,
                price_cents: *price_cents,
            }),
            OrderEvent::ItemRemoved { sku } => self.items.retain(|i| &i.sku != sku),
            OrderEvent::Shipped { .. } => self.shipped = true,
        }
    }

    #[command_handler(skip)]
    fn ensure_open(&self) -> Result<(), OrderError> {
        if !self.created {
            return Err(OrderError::NotCreated(self.id.clone()));
        }
        if self.shipped {
            return Err(OrderError::AlreadyShipped(self.id.clone()));
        }
        Ok(())
    }

    /// The order's total.
    pub fn total_cents(&self) -> u64 {
        self.items
            .iter()
            .map(|i| u64::from(i.qty) * i.price_cents)
            .sum()
    }
}

impl mink::Validate for AddItem {
    fn validate(&self) -> Result<(), mink::ValidationErrors> {
        let mut v = mink::ValidationErrors::new();
        v.check(self.sku.trim().is_empty(), "sku", "must not be empty");
        v.check(self.qty == 0, "qty", "must be at least 1");
        v.into_result()
    }
}

/// One line of an order summary.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct SummaryLine {
    /// Stock keeping unit.
    pub sku: String,
    /// How many.
    pub qty: u32,
    /// Unit price.
    pub price_cents: u64,
}

/// A row per order, kept by the inline projection [`OrderSummaries`].
#[derive(ReadModel, Debug, Clone, PartialEq)]
#[read_model(table = "order_summaries")]
pub struct OrderSummary {
    /// The order's id.
    #[read_model(id)]
    pub id: String,
    /// Who ordered.
    #[read_model(index)]
    pub customer_id: String,
    /// `open` or `shipped`.
    #[read_model(index)]
    pub status: String,
    /// The order's lines (a JSON column).
    pub lines: Vec<SummaryLine>,
    /// What the lines cost together.
    #[read_model(index)]
    pub total_cents: i64,
    /// When the order was created.
    #[read_model(index)]
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Keeps [`OrderSummary`] rows in the append's transaction: a command's
/// caller reads its order's summary as soon as the command returns.
pub struct OrderSummaries {
    repo: ReadModelRepository<OrderSummary>,
}

#[projection(name = "order-summaries", kind = inline)]
impl OrderSummaries {
    async fn on_order(
        &self,
        event: &OrderEvent,
        envelope: &RecordedEvent,
        ctx: &mut ProjectionContext<'_>,
    ) -> Result<(), BoxError> {
        let id = envelope.stream_id.trim_start_matches("order-").to_owned();
        let tx = ctx
            .transaction()
            .ok_or("an inline projection runs in a transaction")?;
        let mut summaries = self.repo.in_tx(tx);
        match event {
            OrderEvent::Created { customer_id } => {
                summaries
                    .insert(&OrderSummary {
                        id,
                        customer_id: customer_id.clone(),
                        status: "open".into(),
                        lines: Vec::new(),
                        total_cents: 0,
                        created_at: envelope.timestamp,
                    })
                    .await?
            }
            OrderEvent::ItemAdded {
                sku,
                qty,
                price_cents,
            } => {
                let line = SummaryLine {
                    sku: sku.clone(),
                    qty: *qty,
                    price_cents: *price_cents,
                };
                summaries
                    .update(id.as_str(), |o| {
                        o.lines.push(line);
                        o.total_cents = total_of(&o.lines);
                    })
                    .await
                    .map(drop)?
            }
            OrderEvent::ItemRemoved { sku } => summaries
                .update(id.as_str(), |o| {
                    o.lines.retain(|l| &l.sku != sku);
                    o.total_cents = total_of(&o.lines);
                })
                .await
                .map(drop)?,
            OrderEvent::Shipped { .. } => summaries
                .update(id.as_str(), |o| o.status = "shipped".into())
                .await
                .map(drop)?,
        }
        Ok(())
    }
}

fn total_of(lines: &[SummaryLine]) -> i64 {
    let cents: u64 = lines.iter().map(|l| u64::from(l.qty) * l.price_cents).sum();
    i64::try_from(cents).unwrap_or(i64::MAX)
}

/// Units ordered per SKU, kept by the async projection [`SalesPerSku`].
#[derive(ReadModel, Debug, Clone, PartialEq)]
#[read_model(table = "sku_sales")]
pub struct SkuSales {
    /// Stock keeping unit.
    #[read_model(id)]
    pub sku: String,
    /// Units put in orders.
    #[read_model(index)]
    pub units: i64,
    /// Order lines that added it.
    pub lines_added: i64,
    /// Order lines that took it out again.
    pub lines_removed: i64,
}

/// Counts [`SkuSales`] in a background worker; each batch's rows commit
/// with its checkpoint, so every event counts exactly once, across
/// restarts.
pub struct SalesPerSku {
    repo: ReadModelRepository<SkuSales>,
}

#[projection(name = "sales-per-sku", kind = async, batch_size = 200)]
impl SalesPerSku {
    async fn on_order(
        &self,
        event: &OrderEvent,
        ctx: &mut ProjectionContext<'_>,
    ) -> Result<(), BoxError> {
        let (sku, units, added, removed) = match event {
            OrderEvent::ItemAdded { sku, qty, .. } => (sku, i64::from(*qty), 1, 0),
            OrderEvent::ItemRemoved { sku } => (sku, 0, 0, 1),
            OrderEvent::Created { .. } | OrderEvent::Shipped { .. } => return Ok(()),
        };
        let tx = ctx
            .transaction()
            .ok_or("an async projection runs in a transaction")?;
        let mut sales = self.repo.in_tx(tx);
        let mut row = sales.find_by_id(sku.as_str()).await?.unwrap_or(SkuSales {
            sku: sku.clone(),
            units: 0,
            lines_added: 0,
            lines_removed: 0,
        });
        row.units += units;
        row.lines_added += added;
        row.lines_removed += removed;
        sales.upsert(&row).await?;
        Ok(())
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Only when OTEL_EXPORTER_OTLP_ENDPOINT is set; flushes when dropped.
    let _telemetry = telemetry::init()?;
    let metrics_addr: std::net::SocketAddr = std::env::var("METRICS_ADDR")
        .unwrap_or_else(|_| "127.0.0.1:0".into())
        .parse()?;
    let metrics = prometheus::serve(metrics_addr).await?;
    println!("metrics: {}", metrics.url());
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://mink-example.db".into());
    let store = AnyStore::open(&url).await?;
    println!("store: {} ({url})", store.backend());
    let idempotency = store.idempotency();
    let read_models = store.read_models();
    // Appends and reads counted and timed per store, for /metrics.
    let backend = store.backend();
    let store = InstrumentedStore::new(store, backend);
    let summaries = ReadModelRepository::<OrderSummary>::open_shared(read_models.clone()).await?;
    let sales = ReadModelRepository::<SkuSales>::open_shared(read_models).await?;
    let (delivery, outbox) = delivery::Delivery::start().await?;
    println!("{}", delivery.describe());
    let builder = Mink::builder()
        .store(store)
        .instance_id("order-flow")
        .saga::<checkout::Checkout>()
        .outbox(outbox)
        .projection(OrderSummaries {
            repo: summaries.clone(),
        })
        .projection(SalesPerSku {
            repo: sales.clone(),
        });
    let app = builder
        .layer(RecoveryLayer)
        .layer(MetricsLayer)
        .layer(TracingLayer)
        .layer(ValidationLayer)
        .layer(IdempotencyLayer::shared(idempotency))
        .layer(RetryOnConflictLayer::new())
        .build()
        .await?;
    run(&app, &summaries).await?;
    report(&app, &summaries, &sales).await?;
    check_out(&app, &delivery).await?;
    scrape(&metrics);
    if let Some(secs) = std::env::var("METRICS_HOLD_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        println!("serving {} for {secs} s", metrics.url());
        tokio::time::sleep(Duration::from_secs(secs)).await;
    }
    app.shutdown().await;
    Ok(())
}

/// Places two orders and follows their checkouts to the end: one paid and
/// shipped, one declined (over the card limit) with its stock released;
/// then what the outbox delivered for the first.
async fn check_out(
    app: &Mink,
    delivery: &delivery::Delivery,
) -> Result<(), Box<dyn std::error::Error>> {
    use checkout::{CARD_LIMIT_CENTS, PlaceOrder};
    use mink::store::{SagaQuery, SagaStatus};

    let run = uuid::Uuid::now_v7().simple().to_string()[20..].to_owned();
    let small = format!("{run}s");
    let large = format!("{run}l");
    for (id, sku, qty, price_cents) in [
        (&small, "kettle", 1, 4_500),
        (&large, "sofa", 1, CARD_LIMIT_CENTS + 39_900),
    ] {
        app.dispatch(CreateOrder {
            order_id: id.clone(),
            customer_id: "customer-3".into(),
        })
        .await?;
        app.dispatch(AddItem {
            order_id: id.clone(),
            sku: sku.into(),
            qty,
            price_cents,
        })
        .await?;
        app.dispatch(PlaceOrder {
            order_id: id.clone(),
        })
        .await?;
        println!("placed    {id}: {qty} x {sku} at {price_cents} cents");
    }

    // The saga manager works in the background: wait for both to end.
    let ended = |s: SagaStatus| !matches!(s, SagaStatus::Running | SagaStatus::Compensating);
    let started = tokio::time::Instant::now();
    let sagas = loop {
        let all = app
            .sagas()
            .list(&SagaQuery {
                saga_type: Some("checkout".into()),
                ..SagaQuery::default()
            })
            .await?;
        let ours: Vec<_> = all
            .into_iter()
            .filter_map(|record| {
                let state: checkout::Checkout = serde_json::from_slice(&record.state).ok()?;
                [&small, &large]
                    .contains(&&state.order_id)
                    .then_some((state, record))
            })
            .collect();
        if ours.len() == 2 && ours.iter().all(|(_, r)| ended(r.status)) {
            break ours;
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err(format!("the checkouts did not end in 30 s: {ours:?}").into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for (state, record) in &sagas {
        println!(
            "checkout  {}: {} after {} command(s){}",
            state.order_id,
            record.status,
            record.commands_issued,
            record
                .last_error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default()
        );
    }
    let shipped = app.load_aggregate::<Order>(&small).await?;
    println!("order {small} shipped by the saga: {}", shipped.shipped);
    let sofa = checkout::reserved_units(app.store().as_ref(), "sofa").await?;
    println!("sofa units still reserved after the declined payment: {sofa}");

    // The outbox relay delivers in the background too.
    let stream = Order::stream_id(&small);
    if let Some(mut received) = delivery.received_for(&stream) {
        let started = tokio::time::Instant::now();
        let shipped = |r: &[delivery::Received]| r.iter().any(|r| r.event_type == "OrderShipped");
        while !shipped(&received) && started.elapsed() < Duration::from_secs(30) {
            tokio::time::sleep(Duration::from_millis(50)).await;
            received = delivery.received_for(&stream).unwrap_or_default();
        }
        println!("webhook received for {stream}, in order:");
        for r in received {
            println!("  {:<16} id {}", r.event_type, r.id);
        }
    }
    Ok(())
}

/// Prints the command and append counters a scrape of `/metrics` returns.
fn scrape(metrics: &prometheus::MetricsServer) {
    println!("metrics (from {}):", metrics.url());
    for line in metrics.render().lines().filter(|l| {
        l.starts_with("mink_commands_total")
            || (l.starts_with("mink_store_operations_total") && l.contains("append"))
    }) {
        println!("  {line}");
    }
}

/// Queries both read models.
async fn report(
    app: &Mink,
    summaries: &ReadModelRepository<OrderSummary>,
    sales: &ReadModelRepository<SkuSales>,
) -> Result<(), Box<dyn std::error::Error>> {
    // Open orders over 50 euros, newest first, first page of five.
    let f = OrderSummary::fields();
    let open_over_50 = Query::new()
        .filter(f.status.eq("open").and(f.total_cents.gt(5_000)))
        .order_by(f.created_at.desc())
        .page(1, 5);
    let page = summaries.find_page(open_over_50).await?;
    println!(
        "open orders over 50 euros (inline projection): {} in all, first page:",
        page.total
    );
    for o in &page.items {
        println!(
            "  {} {:<10} {} line(s) {:>6} cents  {}",
            o.id,
            o.customer_id,
            o.lines.len(),
            o.total_cents,
            o.created_at.format("%Y-%m-%d %H:%M:%S")
        );
    }

    // The async projection catches up in the background.
    app.projections()
        .wait_caught_up("sales-per-sku", Duration::from_secs(30))
        .await?;
    let status = app.projections().status_of("sales-per-sku").await?;
    println!(
        "units per SKU (async projection, {} events applied, checkpoint {}):",
        status.events_processed, status.checkpoint
    );
    let s = SkuSales::fields();
    for row in sales.find(Query::new().order_by(s.units.desc())).await? {
        println!(
            "  {:<6} {:>4} unit(s), {} line(s) added, {} removed",
            row.sku, row.units, row.lines_added, row.lines_removed
        );
    }
    Ok(())
}

async fn run(
    app: &Mink,
    summaries: &ReadModelRepository<OrderSummary>,
) -> Result<(), Box<dyn std::error::Error>> {
    // A new order each run, so the example can run again on the same file.
    let order_id = uuid::Uuid::now_v7().simple().to_string()[20..].to_owned();
    let id = || order_id.clone();
    // Everything this checkout causes shares one correlation id.
    let checkout = || {
        Context::new()
            .with_correlation_id(format!("checkout-{order_id}"))
            .with_user_id("customer-7")
    };

    let create = CreateOrder {
        order_id: id(),
        customer_id: "customer-7".into(),
    };
    let r = app.dispatch_with(create, checkout()).await?;
    println!("created   {} -> version {}", stream_of(&r), version_of(&r));

    for (sku, qty, price_cents) in [("book", 2, 1_250), ("lamp", 1, 3_900), ("mug", 4, 650)] {
        let add = AddItem {
            order_id: id(),
            sku: sku.into(),
            qty,
            price_cents,
        };
        let ctx = checkout().with_idempotency_key(format!("{order_id}-add-{sku}"));
        let r = app.dispatch_with(add.clone(), ctx.clone()).await?;
        println!(
            "added     {qty} x {sku} at {price_cents} cents -> version {}",
            version_of(&r)
        );
        if sku == "book" {
            // The client retries (say, after a timeout): same key, same
            // result, and the handler does not run again.
            let again = app.dispatch_with(add, ctx).await?;
            let verdict = if again == r {
                "same result, nothing appended"
            } else {
                "a different result"
            };
            println!(
                "retried   {qty} x {sku}: {verdict} (version {})",
                version_of(&again)
            );
        }
    }

    let invalid = AddItem {
        order_id: id(),
        sku: " ".into(),
        qty: 0,
        price_cents: 1,
    };
    match app.dispatch_with(invalid, checkout()).await {
        Err(mink::DispatchError::Invalid(v)) => println!("refused   {v}"),
        other => return Err(format!("an invalid command must be refused, got {other:?}").into()),
    }

    let remove = RemoveItem {
        order_id: id(),
        sku: "lamp".into(),
    };
    let r = app.dispatch_with(remove, checkout()).await?;
    println!("removed   lamp -> version {}", version_of(&r));

    let absent = RemoveItem {
        order_id: id(),
        sku: "piano".into(),
    };
    match app.dispatch_with(absent, checkout()).await {
        Err(mink::DispatchError::Rejected(e)) => println!("refused   removing piano: {e}"),
        other => {
            return Err(format!("removing an absent item must be refused, got {other:?}").into());
        }
    }

    let ship = ShipOrder {
        order_id: id(),
        tracking: "TRACK-0042".into(),
    };
    let r = app.dispatch_with(ship, checkout()).await?;
    println!("shipped   -> version {}", version_of(&r));

    let late = AddItem {
        order_id: id(),
        sku: "late".into(),
        qty: 1,
        price_cents: 1,
    };
    match app.dispatch_with(late, checkout()).await {
        Err(mink::DispatchError::Rejected(e)) => println!("refused   adding after shipping: {e}"),
        other => return Err(format!("a shipped order must refuse changes, got {other:?}").into()),
    }

    // A second order, left open.
    let open_id = format!("{order_id}b");
    let create = CreateOrder {
        order_id: open_id.clone(),
        customer_id: "customer-9".into(),
    };
    app.dispatch_with(create, checkout()).await?;
    let add = AddItem {
        order_id: open_id.clone(),
        sku: "lamp".into(),
        qty: 2,
        price_cents: 3_900,
    };
    app.dispatch_with(add, checkout()).await?;
    let summary = summaries.get(open_id.as_str()).await?;
    println!(
        "summary   {open_id}: {} cents, {} (read at once: it committed with the events)",
        summary.total_cents, summary.status
    );

    let order = app.load_aggregate::<Order>(&id()).await?;
    println!(
        "order {} for {}: {} line(s), total {} cents, shipped: {}, version {}",
        order.id(),
        order.customer_id,
        order.items.len(),
        order.total_cents(),
        order.shipped,
        order.version()
    );

    println!("stored events of {}:", order.stream_id());
    for e in app
        .store()
        .read_stream_forward(order.stream_id(), 1, usize::MAX)
        .await?
    {
        println!(
            "  v{} {:<17} {:<44} correlation {}",
            e.version,
            e.event_type,
            String::from_utf8_lossy(&e.payload),
            e.metadata.correlation_id.as_deref().unwrap_or("-"),
        );
    }
    Ok(())
}

/// The stream an aggregate command wrote to.
fn stream_of(result: &mink::CommandResult) -> &str {
    result.stream_id.as_deref().unwrap_or("-")
}

/// The stream version after an aggregate command.
fn version_of(result: &mink::CommandResult) -> u64 {
    result.version.unwrap_or_default()
}

mod checkout;
mod delivery;
mod telemetry;

#[cfg(test)]
#[path = "order_flow_tests.rs"]
mod tests;
