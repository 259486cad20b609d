use mink::prelude::*;

#[event]
pub struct OrderPlaced {
    pub total: u64,
}

#[event]
pub struct OrderShipped {
    pub carrier: String,
}

#[derive(Debug, thiserror::Error)]
#[error("the read model is down")]
pub struct ModelDown;

pub struct Summaries;

type Placed = OrderPlaced;

#[projection(kind = async)]
impl Summaries {
    async fn placed(&self, _event: &OrderPlaced) -> Result<(), ModelDown> {
        Ok(())
    }

    fn placed_again(&self, _event: &Placed) {}
}

fn main() {}
