//! Micro benchmarks: turning the benchmark event into a `NewEvent` and a
//! stored event back into the domain type, with the default JSON
//! serializer.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mink::prelude::*;
use mink::{Event, JsonSerializer};
use mink_bench::domain::{CartEvent, cart_event};

fn serialization(c: &mut Criterion) {
    let event = cart_event(42);
    c.bench_function("encode CartEvent to NewEvent (json)", |b| {
        b.iter(|| {
            black_box(&event)
                .to_new_event(&JsonSerializer, EventMetadata::default())
                .expect("the event serializes")
        })
    });
    // A stored event, as a store hands it back.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime starts");
    let recorded = runtime.block_on(async {
        let store = InMemoryStore::new();
        let new = event
            .to_new_event(&JsonSerializer, EventMetadata::default())
            .expect("the event serializes");
        store
            .append_to_stream("cart-1", ExpectedVersion::NoStream, vec![new])
            .await
            .expect("the append succeeds");
        store
            .read_stream_forward("cart-1", 1, 1)
            .await
            .expect("the read succeeds")
            .remove(0)
    });
    c.bench_function("decode RecordedEvent to CartEvent (json)", |b| {
        b.iter(|| CartEvent::from_recorded(black_box(&recorded), &JsonSerializer).expect("decodes"))
    });
}

criterion_group!(benches, serialization);
criterion_main!(benches);
