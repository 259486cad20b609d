//! The e-commerce order flow: create an order, add items, remove one, ship.
//!
//! ```text
//! cargo run -p mink-examples --bin order-flow
//! ```

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

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let app = Mink::builder().store(InMemoryStore::new()).build().await?;
    println!("store: in memory");
    run(&app).await
}

async fn run(app: &Mink) -> Result<(), Box<dyn std::error::Error>> {
    let order_id = format!("{}", std::process::id());
    let id = || order_id.clone();

    let r = app
        .dispatch(CreateOrder {
            order_id: id(),
            customer_id: "customer-7".into(),
        })
        .await?;
    println!("created   {} -> version {}", r.stream_id, r.version);

    for (sku, qty, price_cents) in [("book", 2, 1_250), ("lamp", 1, 3_900), ("mug", 4, 650)] {
        let r = app
            .dispatch(AddItem {
                order_id: id(),
                sku: sku.into(),
                qty,
                price_cents,
            })
            .await?;
        println!(
            "added     {qty} x {sku} at {price_cents} cents -> version {}",
            r.version
        );
    }

    let r = app
        .dispatch(RemoveItem {
            order_id: id(),
            sku: "lamp".into(),
        })
        .await?;
    println!("removed   lamp -> version {}", r.version);

    match app
        .dispatch(RemoveItem {
            order_id: id(),
            sku: "piano".into(),
        })
        .await
    {
        Err(mink::DispatchError::Rejected(e)) => println!("refused   removing piano: {e}"),
        other => {
            return Err(format!("removing an absent item should be refused, got {other:?}").into());
        }
    }

    let r = app
        .dispatch(ShipOrder {
            order_id: id(),
            tracking: "TRACK-0042".into(),
        })
        .await?;
    println!("shipped   -> version {}", r.version);

    if let Err(e) = app
        .dispatch(AddItem {
            order_id: id(),
            sku: "late".into(),
            qty: 1,
            price_cents: 1,
        })
        .await
    {
        println!("refused   adding after shipping: {e}");
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
        .read_stream_forward(&order.stream_id(), 1, usize::MAX)
        .await?
    {
        println!(
            "  v{} {:<17} {}",
            e.version,
            e.event_type,
            String::from_utf8_lossy(&e.payload)
        );
    }
    Ok(())
}
