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

#[saga]
impl Checkout {
    #[saga(start, associate = order_id)]
    fn placed(&mut self, event: &OrderPlaced) -> ReserveStock {
        self.order_id = event.order_id.clone();
        ReserveStock { sku: "book".into() }
    }

    #[saga(compensate, start)]
    fn release(&self, done: &ReserveStock) -> ReserveStock {
        ReserveStock { sku: done.sku.clone() }
    }
}

fn main() {}
