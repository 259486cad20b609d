//! A checkout saga over three aggregates (stock, payments, shipments),
//! with every return shape `#[saga]` accepts, both ways of associating an
//! event, and compensations. Event and command names are prefixed: both
//! are global to the test binary.

use mink::RecordedEvent;
use mink::prelude::*;
use mink::saga::SagaContext;

// ----- events the saga reacts to -----

#[event(name = "saga_macro.OrderPlaced")]
#[derive(Debug, Clone, PartialEq)]
pub struct OrderPlaced {
    pub order_id: String,
    pub sku: String,
    pub qty: u32,
    pub amount_cents: u64,
}

#[event(name = "saga_macro.StockReserved")]
#[derive(Debug, Clone, PartialEq)]
pub struct StockReserved {
    pub order_id: String,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub enum PaymentEvent {
    #[event(name = "saga_macro.PaymentAccepted")]
    Accepted { payment_id: String },
    #[event(name = "saga_macro.PaymentDeclined")]
    Declined { payment_id: String, reason: String },
}

/// A tuple struct: its association is `field = 0`.
#[event(name = "saga_macro.OrderCancelled")]
#[derive(Debug, Clone, PartialEq)]
pub struct OrderCancelled(pub String);

/// An event no handler of the saga takes.
#[event(name = "saga_macro.Unrelated")]
#[derive(Debug, Clone, PartialEq)]
pub struct Unrelated {
    pub order_id: String,
}

// ----- the aggregates the saga's commands go to -----

#[event]
#[derive(Debug, Clone, PartialEq)]
pub enum StockEvent {
    #[event(name = "saga_macro.Reserved")]
    Reserved { order_id: String, qty: u32 },
    #[event(name = "saga_macro.Released")]
    Released { order_id: String },
}

#[derive(Aggregate, Default)]
#[aggregate(events = StockEvent, category = "saga_macro_stock")]
pub struct Stock {
    #[aggregate(id)]
    pub sku: String,
    pub reserved: u32,
    pub releases: u32,
}

#[command(aggregate = Stock, name = "saga_macro.ReserveStock")]
#[derive(Debug, PartialEq)]
pub struct ReserveStock {
    #[command(id)]
    pub sku: String,
    pub order_id: String,
    pub qty: u32,
}

#[command(aggregate = Stock, name = "saga_macro.ReleaseStock")]
#[derive(Debug, PartialEq)]
pub struct ReleaseStock {
    #[command(id)]
    pub sku: String,
    pub order_id: String,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum StockError {
    #[error("cannot reserve nothing")]
    Nothing,
}

#[command_handler]
impl Stock {
    fn reserve(&self, cmd: ReserveStock) -> Result<Vec<StockEvent>, StockError> {
        if cmd.qty == 0 {
            return Err(StockError::Nothing);
        }
        Ok(vec![StockEvent::Reserved {
            order_id: cmd.order_id,
            qty: cmd.qty,
        }])
    }

    fn release(&self, cmd: ReleaseStock) -> Result<Vec<StockEvent>, StockError> {
        Ok(vec![StockEvent::Released {
            order_id: cmd.order_id,
        }])
    }

    fn apply(&mut self, event: &StockEvent) {
        match event {
            StockEvent::Reserved { qty, .. } => self.reserved += qty,
            StockEvent::Released { .. } => self.releases += 1,
        }
    }
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub enum LedgerEvent {
    #[event(name = "saga_macro.Charged")]
    Charged { amount_cents: u64 },
    #[event(name = "saga_macro.Refunded")]
    Refunded,
}

#[derive(Aggregate, Default)]
#[aggregate(events = LedgerEvent, category = "saga_macro_payment")]
pub struct Payment {
    #[aggregate(id)]
    pub payment_id: String,
    pub charged_cents: u64,
    pub refunded: bool,
}

#[command(aggregate = Payment, name = "saga_macro.RequestPayment")]
#[derive(Debug, PartialEq)]
pub struct RequestPayment {
    #[command(id)]
    pub payment_id: String,
    pub amount_cents: u64,
}

#[command(aggregate = Payment, name = "saga_macro.RefundPayment")]
#[derive(Debug, PartialEq)]
pub struct RefundPayment {
    #[command(id)]
    pub payment_id: String,
}

#[derive(Debug, thiserror::Error)]
#[error("payment refused")]
pub struct PaymentRefused;

#[command_handler]
impl Payment {
    fn request(&self, cmd: RequestPayment) -> Result<Vec<LedgerEvent>, PaymentRefused> {
        Ok(vec![LedgerEvent::Charged {
            amount_cents: cmd.amount_cents,
        }])
    }

    fn refund(&self, _cmd: RefundPayment) -> Result<Vec<LedgerEvent>, PaymentRefused> {
        Ok(vec![LedgerEvent::Refunded])
    }

    fn apply(&mut self, event: &LedgerEvent) {
        match event {
            LedgerEvent::Charged { amount_cents } => self.charged_cents += amount_cents,
            LedgerEvent::Refunded => self.refunded = true,
        }
    }
}

/// A plain command: handled by a function, not an aggregate.
#[command(name = "saga_macro.ShipOrder")]
#[derive(Debug, PartialEq)]
pub struct ShipOrder {
    #[command(id)]
    pub order_id: String,
}

#[derive(Debug, thiserror::Error)]
#[error("no courier")]
pub struct NoCourier;

/// How many `ShipOrder`s the plain handler ran, per order id (tests use
/// their own order ids).
pub static SHIPPED: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

#[command_handler]
async fn ship_order(cmd: ShipOrder, _ctx: HandlerContext) -> Result<(), NoCourier> {
    SHIPPED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(cmd.order_id);
    Ok(())
}

// ----- the saga -----

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum CheckoutError {
    #[error("payment {payment_id} declined: {reason}")]
    Declined { payment_id: String, reason: String },
}

/// The saga's state.
#[derive(Debug, Default, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Checkout {
    pub order_id: String,
    pub sku: String,
    pub qty: u32,
    pub amount_cents: u64,
    pub reserved: bool,
    pub payment_id: Option<String>,
    pub paid: bool,
    /// The stream of the last event seen, from the envelope.
    pub last_stream: Option<String>,
}

/// The association value of a payment event: its payment id.
pub fn payment_of(event: &PaymentEvent) -> &str {
    match event {
        PaymentEvent::Accepted { payment_id } | PaymentEvent::Declined { payment_id, .. } => {
            payment_id
        }
    }
}

#[saga(name = "saga-macro-checkout")]
impl Checkout {
    /// A constructor: left alone.
    pub fn for_order(order_id: &str) -> Self {
        Checkout {
            order_id: order_id.to_owned(),
            ..Checkout::default()
        }
    }

    #[saga(start, associate = order_id)]
    fn placed(&mut self, event: &OrderPlaced) -> ReserveStock {
        self.order_id = event.order_id.clone();
        self.sku = event.sku.clone();
        self.qty = event.qty;
        self.amount_cents = event.amount_cents;
        ReserveStock {
            sku: event.sku.clone(),
            order_id: event.order_id.clone(),
            qty: event.qty,
        }
    }

    /// Takes the event by value and the context; sends nothing for a free
    /// order.
    #[saga(associate = order_id)]
    fn reserved(&mut self, event: StockReserved, cx: &mut SagaContext) -> Option<RequestPayment> {
        self.reserved = true;
        if self.amount_cents == 0 {
            cx.complete();
            return None;
        }
        let payment_id = format!("pay-{}", event.order_id);
        cx.associate("payment", &payment_id);
        self.payment_id = Some(payment_id.clone());
        Some(RequestPayment {
            payment_id,
            amount_cents: self.amount_cents,
        })
    }

    /// An enum event, associated through a function; fallible.
    #[saga(associate(key = "payment", with = payment_of))]
    fn payment(
        &mut self,
        event: &PaymentEvent,
        envelope: &RecordedEvent,
        cx: &mut SagaContext,
    ) -> Result<Vec<ShipOrder>, CheckoutError> {
        self.last_stream = Some(envelope.stream_id.clone());
        match event {
            PaymentEvent::Accepted { .. } => {
                self.paid = true;
                cx.complete();
                Ok(vec![ShipOrder {
                    order_id: self.order_id.clone(),
                }])
            }
            PaymentEvent::Declined { payment_id, reason } => Err(CheckoutError::Declined {
                payment_id: payment_id.clone(),
                reason: reason.clone(),
            }),
        }
    }

    /// A tuple of a command and an optional one, with the envelope.
    #[saga(associate(key = "order_id", field = 0))]
    fn cancelled(
        &self,
        _event: &OrderCancelled,
        _envelope: &RecordedEvent,
    ) -> (ReleaseStock, Option<RefundPayment>) {
        (
            ReleaseStock {
                sku: self.sku.clone(),
                order_id: self.order_id.clone(),
            },
            self.payment_id
                .clone()
                .map(|payment_id| RefundPayment { payment_id }),
        )
    }

    #[saga(compensate)]
    fn release(&self, done: &ReserveStock) -> ReleaseStock {
        ReleaseStock {
            sku: done.sku.clone(),
            order_id: done.order_id.clone(),
        }
    }

    /// Nothing to refund for a free order; by value, in `Result`.
    #[saga(compensate)]
    fn refund(&self, done: RequestPayment) -> Result<Option<RefundPayment>, CheckoutError> {
        Ok((done.amount_cents > 0).then_some(RefundPayment {
            payment_id: done.payment_id,
        }))
    }

    #[saga(skip)]
    pub fn is_settled(&self) -> bool {
        self.paid
    }
}

/// A saga with the default name and a handler that sends nothing.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct OrderAuditTrail {
    pub seen: u32,
}

#[saga]
impl OrderAuditTrail {
    #[saga(start, associate = order_id)]
    fn placed(&mut self, _event: &OrderPlaced) {
        self.seen += 1;
    }
}
