use mink::prelude::*;
use mink::saga::{Saga, SagaContext};
use mink::RecordedEvent;

#[event]
pub struct OrderPlaced {
    pub order_id: String,
}

#[event]
pub enum Payment {
    Accepted { payment_id: String },
    Declined { payment_id: String },
}

#[event]
pub struct Cancelled(pub String);

#[event]
pub enum Stock {
    Reserved { sku: String },
}

#[derive(Aggregate, Default)]
#[aggregate(events = Stock, category = "stock")]
pub struct Warehouse {
    #[aggregate(id)]
    sku: String,
}

#[command(aggregate = Warehouse)]
pub struct ReserveStock {
    #[command(id)]
    pub sku: String,
}

#[command(aggregate = Warehouse)]
pub struct ReleaseStock {
    #[command(id)]
    pub sku: String,
}

#[derive(Debug, thiserror::Error)]
#[error("out of stock")]
pub struct OutOfStock;

#[command_handler]
impl Warehouse {
    fn reserve(&self, cmd: ReserveStock) -> Result<Vec<Stock>, OutOfStock> {
        Ok(vec![Stock::Reserved { sku: cmd.sku }])
    }

    fn release(&self, _cmd: ReleaseStock) -> Result<Vec<Stock>, OutOfStock> {
        Ok(vec![])
    }

    fn apply(&mut self, _event: &Stock) {}
}

/// A plain command.
#[command]
pub struct Notify {
    pub text: String,
}

#[command_handler]
async fn notify(_cmd: Notify, _ctx: HandlerContext) -> Result<(), OutOfStock> {
    Ok(())
}

#[derive(Debug, thiserror::Error)]
#[error("declined")]
pub struct Declined;

#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct Checkout {
    order_id: String,
    paid: bool,
}

fn payment_of(event: &Payment) -> String {
    match event {
        Payment::Accepted { payment_id } | Payment::Declined { payment_id } => payment_id.clone(),
    }
}

#[saga(name = "checkout")]
impl Checkout {
    pub fn new() -> Self {
        Self::default()
    }

    #[saga(start, associate = order_id)]
    fn placed(&mut self, event: &OrderPlaced, cx: &mut SagaContext) -> (ReserveStock, Notify) {
        self.order_id = event.order_id.clone();
        cx.associate("payment", format!("pay-{}", event.order_id));
        (
            ReserveStock { sku: "book".into() },
            Notify { text: "placed".into() },
        )
    }

    #[saga(associate(key = "payment", with = payment_of))]
    fn payment(
        &mut self,
        event: Payment,
        _envelope: &RecordedEvent,
        cx: &mut SagaContext,
    ) -> Result<Vec<Notify>, Declined> {
        match event {
            Payment::Accepted { .. } => {
                self.paid = true;
                cx.complete();
                Ok(vec![])
            }
            Payment::Declined { .. } => Err(Declined),
        }
    }

    #[saga(associate(key = "order_id", field = 0))]
    fn cancelled(&self, _event: &Cancelled) -> Option<ReleaseStock> {
        None
    }

    #[saga(compensate)]
    fn release(&self, done: &ReserveStock) -> Result<Option<ReleaseStock>, Declined> {
        Ok(Some(ReleaseStock { sku: done.sku.clone() }))
    }

    #[saga(skip)]
    fn is_paid(&self) -> bool {
        self.paid
    }
}

fn main() {
    assert_eq!(Checkout::NAME, "checkout");
    assert_eq!(
        Checkout::event_types(),
        ["OrderPlaced", "Accepted", "Declined", "Cancelled"]
    );
    assert!(!Checkout::new().is_paid());
}
