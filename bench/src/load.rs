//! W4: loading an aggregate (read its stream, deserialize, fold) through
//! [`Mink::load_aggregate`].

use std::sync::Arc;

use mink::prelude::*;

use crate::append::new_event;
use crate::domain::Cart;
use crate::measure::{Done, Op, Plan, Stats, measure};

/// Events per append while seeding a stream.
const SEED_BATCH: u64 = 1_000;

/// The aggregate id W4 uses for a cart of `size` events.
pub fn cart_id(size: usize) -> String {
    format!("load{size}")
}

/// Writes a cart of `size` events, in batches.
pub async fn seed_cart(store: &Arc<dyn EventStore>, size: usize) -> Result<(), String> {
    let stream = <Cart as mink::Aggregate>::stream_id(&cart_id(size));
    let mut version = 0;
    while version < size as u64 {
        let n = (size as u64 - version).min(SEED_BATCH);
        let events = (version..version + n)
            .map(new_event)
            .collect::<Result<Vec<_>, _>>()?;
        store
            .append_to_stream(&stream, ExpectedVersion::Exact(version), events)
            .await
            .map_err(|e| format!("W4 seeding: {e}"))?;
        version += n;
    }
    Ok(())
}

/// W4: one task loads the cart of `size` events again and again.
pub async fn load_cart(app: &Mink, plan: &Plan, size: usize) -> Result<Stats, String> {
    let app = app.clone();
    let id: Arc<str> = cart_id(size).into();
    let op: Op = Arc::new(move |_, _| {
        let (app, id) = (app.clone(), Arc::clone(&id));
        Box::pin(async move {
            let cart = app
                .load_aggregate::<Cart>(&id)
                .await
                .map_err(|e| format!("W4 load: {e}"))?;
            if cart.items() != size as u64 {
                return Err(format!("W4 loaded {} of {size} events", cart.items()));
            }
            Ok(Done::events(1))
        })
    });
    measure(plan, 1, op).await
}
