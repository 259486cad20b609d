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

/// Does not implement std::error::Error.
#[derive(Debug)]
pub struct Oops;

#[projection(kind = async)]
impl Summaries {
    async fn placed(&self, _event: &OrderPlaced) -> Result<(), Oops> {
        Err(Oops)
    }
}

fn main() {}
