// The order aggregate (part 1).
// Included (hidden) by the tutorial's later code blocks; see the part that shows it.
/// One line of an order.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    pub sku: String,
    pub qty: u32,
    pub price_cents: u64,
}

/// An order: nothing but the fold of its events.
#[derive(Aggregate, Debug, Default)]
#[aggregate(events = OrderEvent, category = "order")]
pub struct Order {
    #[aggregate(id)]
    pub id: String,
    pub customer_id: String,
    pub items: Vec<Item>,
    pub created: bool,
    pub shipped: bool,
}

impl Order {
    /// Folds one event into the state. It never fails and never decides:
    /// the event already happened.
    fn apply(&mut self, event: &OrderEvent) {
        match event {
            OrderEvent::Created { customer_id } => {
                self.created = true;
                self.customer_id = customer_id.clone();
            }
            OrderEvent::ItemAdded { sku, qty, price_cents } => self.items.push(Item {
                sku: sku.clone(),
                qty: *qty,
                price_cents: *price_cents,
            }),
            OrderEvent::ItemRemoved { sku } => self.items.retain(|i| &i.sku != sku),
            OrderEvent::Shipped { .. } => self.shipped = true,
        }
    }

    /// What the order costs.
    pub fn total_cents(&self) -> u64 {
        self.items.iter().map(|i| u64::from(i.qty) * i.price_cents).sum()
    }
}
