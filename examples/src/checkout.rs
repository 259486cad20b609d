//! The checkout: a saga that takes a placed order through stock, payment
//! and shipping, and gives the stock back when the payment is declined.
//!
//! ```text
//! CheckoutStarted -> ReserveStock (one per line; undone by ReleaseStock)
//! every line reserved -> RequestPayment
//! PaymentCaptured -> ShipOrder, and the checkout is complete
//! RequestPayment declined -> the reserved lines are released, newest first
//! ```
//!
//! `PlaceOrder` is a plain command: its handler reads the order and starts
//! the checkout in a stream of its own (`checkout-<order>`).

use mink::prelude::*;
use mink::saga::SagaContext;
use mink::{Event, EventStore, ExpectedVersion};

use crate::{Order, OrderEvent, ShipOrder, SummaryLine};

/// The most a card pays in one go, in cents: a larger payment is declined.
pub const CARD_LIMIT_CENTS: u64 = 10_000;

// ------------------------------------------------------------- placing

/// Checks an order out: its lines and total, as placed.
#[event(name = "CheckoutStarted")]
#[derive(Debug, Clone, PartialEq)]
pub struct CheckoutStarted {
    /// The order.
    pub order_id: String,
    /// What it holds.
    pub lines: Vec<SummaryLine>,
    /// What it costs.
    pub total_cents: u64,
}

/// Places an order: starts its checkout.
#[command]
pub struct PlaceOrder {
    /// The order.
    #[command(id)]
    pub order_id: String,
}

/// Why an order cannot be placed.
#[derive(Debug, thiserror::Error)]
pub enum PlaceError {
    /// It has no lines, was never created, or has shipped.
    #[error("order {0} cannot be placed: {1}")]
    Refused(String, &'static str),
    /// It was placed before.
    #[error("order {0} is placed already")]
    AlreadyPlaced(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] mink::Error),
}

/// Reads the order, then writes `CheckoutStarted` to the order's checkout
/// stream, which must not exist yet: an order is placed once.
#[command_handler]
async fn place_order(cmd: PlaceOrder, ctx: HandlerContext) -> Result<(), PlaceError> {
    let stream = Order::stream_id(&cmd.order_id);
    let mut order = Order::default();
    for recorded in ctx
        .store
        .read_stream_forward(&stream, 1, usize::MAX)
        .await?
    {
        order.apply_event(&OrderEvent::from_recorded(
            &recorded,
            &mink::JsonSerializer,
        )?);
    }
    if !order.created {
        return Err(PlaceError::Refused(cmd.order_id, "it does not exist"));
    }
    if order.shipped || order.items.is_empty() {
        return Err(PlaceError::Refused(cmd.order_id, "it is empty or shipped"));
    }
    let started = CheckoutStarted {
        order_id: cmd.order_id.clone(),
        lines: order
            .items
            .iter()
            .map(|i| SummaryLine {
                sku: i.sku.clone(),
                qty: i.qty,
                price_cents: i.price_cents,
            })
            .collect(),
        total_cents: order.total_cents(),
    };
    let event = started.to_new_event(&mink::JsonSerializer, ctx.event_metadata())?;
    let written = ctx
        .store
        .append_to_stream(
            &format!("checkout-{}", cmd.order_id),
            ExpectedVersion::NoStream,
            vec![event],
        )
        .await;
    match written {
        Ok(_) => Ok(()),
        Err(e) if e.is_concurrency_conflict() => Err(PlaceError::AlreadyPlaced(cmd.order_id)),
        Err(e) => Err(e.into()),
    }
}

// --------------------------------------------------------------- stock

/// What happens to a product's stock.
#[event]
#[derive(Debug, Clone, PartialEq)]
pub enum StockEvent {
    /// Units were set aside for an order.
    #[event(name = "StockReserved")]
    Reserved {
        /// For which order.
        order_id: String,
        /// How many.
        qty: u32,
    },
    /// Units set aside were given back.
    #[event(name = "StockReleased")]
    Released {
        /// For which order.
        order_id: String,
        /// How many.
        qty: u32,
    },
}

/// The stock of one product.
#[derive(Aggregate, Debug, Default, Clone)]
#[aggregate(events = StockEvent, category = "stock")]
pub struct Stock {
    #[aggregate(id)]
    sku: String,
    /// Units set aside now.
    pub reserved: u32,
}

/// Sets units aside for an order.
#[command(aggregate = Stock)]
pub struct ReserveStock {
    /// The product.
    #[command(id)]
    pub sku: String,
    /// The order.
    pub order_id: String,
    /// How many.
    pub qty: u32,
}

/// Gives units set aside back.
#[command(aggregate = Stock)]
pub struct ReleaseStock {
    /// The product.
    #[command(id)]
    pub sku: String,
    /// The order.
    pub order_id: String,
    /// How many.
    pub qty: u32,
}

/// Why the stock refused a command.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StockError {
    /// More released than reserved.
    #[error("{0} has only {1} unit(s) reserved")]
    NotReserved(String, u32),
}

#[command_handler]
impl Stock {
    fn reserve(&self, cmd: ReserveStock) -> Result<Vec<StockEvent>, StockError> {
        Ok(vec![StockEvent::Reserved {
            order_id: cmd.order_id,
            qty: cmd.qty,
        }])
    }

    fn release(&self, cmd: ReleaseStock) -> Result<Vec<StockEvent>, StockError> {
        if cmd.qty > self.reserved {
            return Err(StockError::NotReserved(self.sku.clone(), self.reserved));
        }
        Ok(vec![StockEvent::Released {
            order_id: cmd.order_id,
            qty: cmd.qty,
        }])
    }

    fn apply(&mut self, event: &StockEvent) {
        match event {
            StockEvent::Reserved { qty, .. } => self.reserved += qty,
            StockEvent::Released { qty, .. } => self.reserved -= qty,
        }
    }
}

// ------------------------------------------------------------- payment

/// What happens to a payment.
#[event]
#[derive(Debug, Clone, PartialEq)]
pub enum PaymentEvent {
    /// The money was taken.
    #[event(name = "PaymentCaptured")]
    Captured {
        /// For which order.
        order_id: String,
        /// How much.
        amount_cents: u64,
    },
}

/// One payment.
#[derive(Aggregate, Debug, Default, Clone)]
#[aggregate(events = PaymentEvent, category = "payment")]
pub struct Payment {
    #[aggregate(id)]
    payment_id: String,
    captured: bool,
}

/// Takes the money for an order.
#[command(aggregate = Payment)]
pub struct RequestPayment {
    /// The payment.
    #[command(id)]
    pub payment_id: String,
    /// The order.
    pub order_id: String,
    /// How much.
    pub amount_cents: u64,
}

/// Why a payment failed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum PaymentError {
    /// The card does not cover the amount.
    #[error("card declined: {0} cents is over the limit of {CARD_LIMIT_CENTS}")]
    Declined(u64),
    /// It was taken before.
    #[error("payment {0} was captured already")]
    AlreadyCaptured(String),
}

#[command_handler]
impl Payment {
    fn request(&self, cmd: RequestPayment) -> Result<Vec<PaymentEvent>, PaymentError> {
        if self.captured {
            return Err(PaymentError::AlreadyCaptured(self.payment_id.clone()));
        }
        if cmd.amount_cents > CARD_LIMIT_CENTS {
            return Err(PaymentError::Declined(cmd.amount_cents));
        }
        Ok(vec![PaymentEvent::Captured {
            order_id: cmd.order_id,
            amount_cents: cmd.amount_cents,
        }])
    }

    fn apply(&mut self, event: &PaymentEvent) {
        match event {
            PaymentEvent::Captured { .. } => self.captured = true,
        }
    }
}

// ---------------------------------------------------------------- saga

/// The checkout's state, stored between events.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Checkout {
    /// The order.
    pub order_id: String,
    /// Its lines.
    pub lines: Vec<SummaryLine>,
    /// Its total.
    pub total_cents: u64,
    /// Lines whose stock is set aside.
    pub reserved: usize,
    /// The payment asked for, once every line is reserved.
    pub payment_id: Option<String>,
}

/// The order a stock event is for.
pub fn stock_order(event: &StockEvent) -> &str {
    match event {
        StockEvent::Reserved { order_id, .. } | StockEvent::Released { order_id, .. } => order_id,
    }
}

/// The order a payment event is for.
pub fn payment_order(event: &PaymentEvent) -> &str {
    match event {
        PaymentEvent::Captured { order_id, .. } => order_id,
    }
}

#[saga(name = "checkout")]
impl Checkout {
    /// Sets every line's stock aside.
    #[saga(start, associate = order_id)]
    fn started(&mut self, event: &CheckoutStarted) -> Vec<ReserveStock> {
        self.order_id = event.order_id.clone();
        self.lines = event.lines.clone();
        self.total_cents = event.total_cents;
        event
            .lines
            .iter()
            .map(|line| ReserveStock {
                sku: line.sku.clone(),
                order_id: event.order_id.clone(),
                qty: line.qty,
            })
            .collect()
    }

    /// Once every line is set aside, asks for the money.
    #[saga(associate(key = "order_id", with = stock_order))]
    fn stock(&mut self, event: &StockEvent) -> Option<RequestPayment> {
        let StockEvent::Reserved { .. } = event else {
            return None;
        };
        self.reserved += 1;
        if self.reserved < self.lines.len() || self.payment_id.is_some() {
            return None;
        }
        let payment_id = format!("pay-{}", self.order_id);
        self.payment_id = Some(payment_id.clone());
        Some(RequestPayment {
            payment_id,
            order_id: self.order_id.clone(),
            amount_cents: self.total_cents,
        })
    }

    /// Paid: ships the order, and the checkout is done.
    #[saga(associate(key = "order_id", with = payment_order))]
    fn paid(&mut self, _event: &PaymentEvent, cx: &mut SagaContext) -> ShipOrder {
        cx.complete();
        ShipOrder {
            order_id: self.order_id.clone(),
            tracking: format!("TRACK-{}", self.order_id),
        }
    }

    /// A line's reservation is undone by releasing it.
    #[saga(compensate)]
    fn release(&self, done: &ReserveStock) -> ReleaseStock {
        ReleaseStock {
            sku: done.sku.clone(),
            order_id: done.order_id.clone(),
            qty: done.qty,
        }
    }
}

/// Reads what a stock's reservations are now (for the example's report).
pub async fn reserved_units(store: &dyn EventStore, sku: &str) -> mink::Result<u32> {
    let mut stock = Stock::default();
    for recorded in store
        .read_stream_forward(&Stock::stream_id(sku), 1, usize::MAX)
        .await?
    {
        stock.apply_event(&StockEvent::from_recorded(
            &recorded,
            &mink::JsonSerializer,
        )?);
    }
    Ok(stock.reserved)
}
