//! The e-commerce order flow: create an order, add items, remove one, ship.
//!
//! ```text
//! cargo run -p mink-examples --bin order-flow
//! ```
//!
//! Events go to `mink-example.db` (SQLite) in the working directory, or to
//! the store `DATABASE_URL` names (`postgres://…`, `sqlite://…`, `memory:`). Look at them with
//! `sqlite3 mink-example.db 'select * from events'` or
//! `psql "$DATABASE_URL" -c 'select * from mink.events'`.

use mink::adapters::AnyStore;
use mink::bus::{RecoveryLayer, RetryOnConflictLayer, TracingLayer, ValidationLayer};
use mink::prelude::*;

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

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite://mink-example.db".into());
    let store = AnyStore::open(&url).await?;
    println!("store: {} ({url})", store.backend());
    let idempotency = store.idempotency();
    let builder = Mink::builder().store(store);
    let app = builder
        .layer(RecoveryLayer)
        .layer(TracingLayer)
        .layer(ValidationLayer)
        .layer(IdempotencyLayer::shared(idempotency))
        .layer(RetryOnConflictLayer::new())
        .build()
        .await?;
    run(&app).await
}

async fn run(app: &Mink) -> Result<(), Box<dyn std::error::Error>> {
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
