// The order's events (part 1).
// Included (hidden) by the tutorial's later code blocks; see the part that shows it.
/// What can happen to an order. Each variant is one event type, stored
/// under the stable name given here.
#[event]
#[derive(Debug, Clone, PartialEq)]
pub enum OrderEvent {
    #[event(name = "OrderCreated")]
    Created { customer_id: String },
    #[event(name = "OrderItemAdded")]
    ItemAdded { sku: String, qty: u32, price_cents: u64 },
    #[event(name = "OrderItemRemoved")]
    ItemRemoved { sku: String },
    #[event(name = "OrderShipped")]
    Shipped { tracking: String },
}
