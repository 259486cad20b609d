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

#[projection(kind = async)]
impl Summaries {
    fn placed(&self, _event: &OrderPlaced) {}

    #[projection(reset)]
    fn clear() {}
}

fn main() {}
