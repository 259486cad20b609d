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

use std::rc::Rc;

#[projection(kind = async)]
impl Summaries {
    async fn placed(&self, event: &OrderPlaced) -> Result<(), ModelDown> {
        let total = Rc::new(event.total);
        std::future::ready(()).await;
        drop(total);
        Ok(())
    }
}

fn main() {}
