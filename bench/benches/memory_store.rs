//! Micro benchmarks of the in-memory store: single and batched appends of
//! prepared events, and reading a stream back.

use std::hint::black_box;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use mink::prelude::*;
use mink_bench::append::new_event;

fn events(n: u64) -> Vec<mink::NewEvent> {
    (0..n)
        .map(|i| new_event(i).expect("the event serializes"))
        .collect()
}

fn memory_store(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime starts");
    let mut group = c.benchmark_group("in-memory store");

    group.throughput(Throughput::Elements(1));
    let store = InMemoryStore::new();
    let mut version = 0u64;
    group.bench_function("append 1 prepared event, expected version", |b| {
        b.iter_batched(
            || events(1),
            |batch| {
                runtime
                    .block_on(store.append_to_stream(
                        "cart-single",
                        ExpectedVersion::Exact(version),
                        batch,
                    ))
                    .expect("the append succeeds");
                version += 1;
            },
            BatchSize::SmallInput,
        )
    });

    group.throughput(Throughput::Elements(100));
    let store = InMemoryStore::new();
    group.bench_function("append 100 prepared events, any version", |b| {
        b.iter_batched(
            || events(100),
            |batch| {
                runtime
                    .block_on(store.append_to_stream("cart-batch", ExpectedVersion::Any, batch))
                    .expect("the append succeeds")
            },
            BatchSize::SmallInput,
        )
    });

    group.throughput(Throughput::Elements(1_000));
    let store = InMemoryStore::new();
    runtime
        .block_on(store.append_to_stream("cart-read", ExpectedVersion::NoStream, events(1_000)))
        .expect("the seeding append succeeds");
    group.bench_function("read a stream of 1,000 events", |b| {
        b.iter(|| {
            runtime
                .block_on(store.read_stream_forward(black_box("cart-read"), 1, 4_096))
                .expect("the read succeeds")
        })
    });
    group.finish();
}

criterion_group!(benches, memory_store);
criterion_main!(benches);
