//! The benchmark's domain, written as a mink user writes one: a cart that
//! items are added to. W3 dispatches [`AddItem`]; W4 loads [`Cart`].

use mink::prelude::*;

use crate::shape::{self, LineItem};

/// What happens to a cart.
#[event]
#[derive(Debug, Clone, PartialEq)]
pub enum CartEvent {
    /// An item was put in the cart (about 250 bytes as JSON).
    ItemAdded {
        /// Stock keeping unit.
        sku: String,
        /// How many.
        qty: u32,
        /// Unit price.
        price_cents: u64,
        /// Where it ships from.
        warehouse: String,
        /// Free text.
        note: String,
    },
}

impl From<LineItem> for CartEvent {
    fn from(item: LineItem) -> Self {
        CartEvent::ItemAdded {
            sku: item.sku,
            qty: item.qty,
            price_cents: item.price_cents,
            warehouse: item.warehouse,
            note: item.note,
        }
    }
}

/// The `n`-th benchmark event.
pub fn cart_event(n: u64) -> CartEvent {
    CartEvent::from(shape::line_item(n))
}

/// A cart, rebuilt from its events. `Clone`, so the aggregate cache can
/// keep it (W3 with the cache).
#[derive(Aggregate, Debug, Default, Clone)]
#[aggregate(events = CartEvent, category = "cart")]
pub struct Cart {
    #[aggregate(id)]
    id: String,
    items: u64,
    total_cents: u64,
}

impl Cart {
    /// How many items were added.
    pub fn items(&self) -> u64 {
        self.items
    }
}

/// Adds the `n`-th line item to a cart.
#[command(aggregate = Cart)]
pub struct AddItem {
    /// The cart.
    #[command(id)]
    pub cart_id: String,
    /// Which line item.
    pub n: u64,
}

/// Why a cart refused an item.
#[derive(Debug, thiserror::Error)]
pub enum CartError {
    /// Carts hold a bounded number of items.
    #[error("cart {0} is full")]
    Full(String),
}

/// The most items a cart takes; W3 starts a new hot cart before reaching it.
pub const CART_CAPACITY: u64 = 1_000_000;

#[command_handler]
impl Cart {
    fn add_item(&self, cmd: AddItem) -> Result<Vec<CartEvent>, CartError> {
        if self.items >= CART_CAPACITY {
            return Err(CartError::Full(self.id.clone()));
        }
        Ok(vec![cart_event(cmd.n)])
    }

    fn apply(&mut self, event: &CartEvent) {
        match event {
            CartEvent::ItemAdded {
                qty, price_cents, ..
            } => {
                self.items += 1;
                self.total_cents += u64::from(*qty) * price_cents;
            }
        }
    }
}
