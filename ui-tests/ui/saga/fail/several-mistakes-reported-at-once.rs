use mink::prelude::*;

#[event]
pub struct OrderPlaced {
    pub order_id: String,
}

#[event]
pub struct StockReserved {
    pub order_id: String,
}

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

#[derive(Debug, thiserror::Error)]
#[error("out of stock")]
pub struct OutOfStock;

#[command_handler]
impl Warehouse {
    fn reserve(&self, cmd: ReserveStock) -> Result<Vec<Stock>, OutOfStock> {
        Ok(vec![Stock::Reserved { sku: cmd.sku }])
    }

    fn apply(&mut self, _event: &Stock) {}
}

#[derive(Default, serde::Serialize, serde::Deserialize)]
pub struct Checkout {
    order_id: String,
}

#[saga(nmae = "checkout")]
impl Checkout {
    #[saga(associate = order_id)]
    fn placed(&mut self, _event: &OrderPlaced) -> ReserveStock {
        ReserveStock { sku: "book".into() }
    }

    #[saga(associate = order_id)]
    fn placed_again(&mut self, _event: &OrderPlaced) {}

    fn reserved(&mut self, _event: &StockReserved) {}

    #[saga(compensate, associate = order_id)]
    fn release(&mut self, done: &ReserveStock) -> ReserveStock {
        ReserveStock { sku: done.sku.clone() }
    }
}

fn main() {}
