//! Micro benchmarks: turning the benchmark event into a `NewEvent` and a
//! stored event back into the domain type, in each payload format: JSON
//! (the default), MessagePack, and Protocol Buffers (the same fields as a
//! prost message).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mink::prelude::*;
use mink::{Event, JsonSerializer, MessagePackSerializer, RecordedEvent, Serializer};
use mink_bench::domain::cart_event;
use mink_bench::shape::line_item;

/// The benchmark event's fields as a Protocol Buffers message.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ItemAdded {
    #[prost(string, tag = "1")]
    sku: String,
    #[prost(uint32, tag = "2")]
    qty: u32,
    #[prost(uint64, tag = "3")]
    price_cents: u64,
    #[prost(string, tag = "4")]
    warehouse: String,
    #[prost(string, tag = "5")]
    note: String,
}

/// The benchmark's cart events, encoded as Protocol Buffers.
#[mink::event(protobuf)]
#[derive(Debug, Clone, PartialEq)]
pub enum ProtoCartEvent {
    /// An item was put in the cart.
    #[event(name = "ProtoItemAdded")]
    ItemAdded(ItemAdded),
}

fn proto_cart_event(n: u64) -> ProtoCartEvent {
    let item = line_item(n);
    ProtoCartEvent::ItemAdded(ItemAdded {
        sku: item.sku,
        qty: item.qty,
        price_cents: item.price_cents,
        warehouse: item.warehouse,
        note: item.note,
    })
}

/// `event` as a store hands it back.
fn recorded<E: Event, S: Serializer>(event: &E, serializer: &S) -> RecordedEvent {
    let new = event
        .to_new_event(serializer, EventMetadata::default())
        .expect("the event serializes");
    RecordedEvent::recorded(
        new,
        "cart-1",
        1,
        Position::sequential(1),
        Default::default(),
    )
}

/// Encodes `event` to a `NewEvent` and decodes it back from a stored
/// event, with `serializer`, under `format`.
fn bench_format<E: Event, S: Serializer>(
    c: &mut Criterion,
    format: &str,
    event: &E,
    serializer: &S,
) {
    c.bench_function(&format!("encode CartEvent to NewEvent ({format})"), |b| {
        b.iter(|| {
            black_box(event)
                .to_new_event(serializer, EventMetadata::default())
                .expect("the event serializes")
        })
    });
    let stored = recorded(event, serializer);
    c.bench_function(
        &format!("decode RecordedEvent to CartEvent ({format})"),
        |b| b.iter(|| E::from_recorded(black_box(&stored), serializer).expect("decodes")),
    );
}

fn serialization(c: &mut Criterion) {
    let event = cart_event(42);
    bench_format(c, "json", &event, &JsonSerializer);
    bench_format(c, "msgpack", &event, &MessagePackSerializer);
    // The application serializer is JSON; the type's own format is used.
    bench_format(c, "protobuf", &proto_cart_event(42), &JsonSerializer);
    for (format, payload) in [
        ("json", recorded(&event, &JsonSerializer).payload),
        ("msgpack", recorded(&event, &MessagePackSerializer).payload),
        (
            "protobuf",
            recorded(&proto_cart_event(42), &JsonSerializer).payload,
        ),
    ] {
        eprintln!("payload size ({format}): {} bytes", payload.len());
    }
}

criterion_group!(benches, serialization);
criterion_main!(benches);
