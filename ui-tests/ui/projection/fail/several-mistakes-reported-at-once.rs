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

#[projection(kind = inline, batch_size = 10, nme = "x")]
impl Summaries {
    fn placed(&self, _event: &OrderPlaced) {}

    fn placed_again(&self, _event: &OrderPlaced) {}

    fn shipped(&mut self, _event: &OrderShipped) {}
}

fn main() {}
