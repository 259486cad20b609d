//! Protocol Buffers event types of the tests, generated from
//! `proto/shop.proto` by build.rs (prost-build over protox: no `protoc`).

/// The messages of `shop.proto`. `ParcelWeighed` is an event type of its
/// own (`#[event(protobuf)]`, added by build.rs).
#[allow(missing_docs, reason = "generated from shop.proto")]
pub mod shop {
    include!(concat!(env!("OUT_DIR"), "/mink.tests.shop.rs"));
}

/// The shop's events: each variant holds one generated message, encoded as
/// Protocol Buffers whatever the application's serializer.
#[mink::event(protobuf)]
#[derive(Debug, Clone, PartialEq)]
pub enum ShopEvent {
    /// An order was placed.
    #[event(name = "ShopOrderPlaced")]
    Placed(shop::OrderPlaced),
    /// An order left the warehouse.
    #[event(name = "ShopOrderShipped", version = 2)]
    Shipped(shop::OrderShipped),
    /// The shop closed for the day: no payload.
    #[event(name = "ShopClosed")]
    Closed,
}

/// An order of `n` items, for tests.
pub fn order_placed(order_id: &str, n: u32) -> shop::OrderPlaced {
    shop::OrderPlaced {
        order_id: order_id.to_owned(),
        customer: "Ada Lovelace — ü".to_owned(),
        items: (1..=n)
            .map(|i| shop::LineItem {
                sku: format!("sku-{i}"),
                qty: i,
                price_cents: u64::from(i) * 1_999,
            })
            .collect(),
    }
}
