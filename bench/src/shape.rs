//! What every system is asked to do: sizes, case names and the event
//! payload. Shared word for word with the peer crate (`bench/peer`), so mink,
//! raw PostgreSQL and the peer run the same workloads.

use serde::{Deserialize, Serialize};

/// W1 picks its streams at random out of this many.
pub const STREAMS: u64 = 100_000;
/// W1 concurrency levels.
pub const SINGLE_WRITERS: [usize; 2] = [1, 16];
/// W2 batch sizes.
pub const BATCH_SIZES: [usize; 2] = [10, 100];
/// W2 concurrency levels: one writer on one stream, several on distinct
/// streams.
pub const BATCH_WRITERS: [usize; 2] = [1, 8];
/// W3 writers on the one hot stream.
pub const HOT_WRITERS: usize = 16;
/// W4 aggregate sizes, in events.
pub const LOAD_SIZES: [usize; 4] = [10, 100, 1_000, 10_000];
/// W5 log size, in events.
pub const LOG_EVENTS: u64 = 1_000_000;

/// The case name of W1 with `writers` concurrent writers.
pub fn single_case(writers: usize) -> String {
    format!("{writers} writer{}", plural(writers))
}

/// The case name of W2.
pub fn batch_case(batch: usize, writers: usize) -> String {
    format!("batch {batch}, {writers} writer{}", plural(writers))
}

/// The case name of W4.
pub fn load_case(events: usize) -> String {
    format!("{events} events")
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// The writer-owned stream number `writer` uses for its `seq`-th append in
/// W1: random out of [`STREAMS`], and never one another writer uses, so the
/// expected version each writer keeps is always right.
pub fn random_stream(writer: usize, writers: usize, seq: u64) -> u64 {
    let per_writer = STREAMS / writers as u64;
    writer as u64 + (mix(writer as u64, seq) % per_writer) * writers as u64
}

/// A cheap, well-spread hash of two numbers (splitmix64).
pub fn mix(a: u64, b: u64) -> u64 {
    let mut z = a.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ b.wrapping_add(0x6A09_E667_F3BC_C909);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The fields of the benchmark event, an item put in a cart. Serialized as
/// JSON it is about 250 bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LineItem {
    /// Stock keeping unit.
    pub sku: String,
    /// How many.
    pub qty: u32,
    /// Unit price.
    pub price_cents: u64,
    /// Where it ships from.
    pub warehouse: String,
    /// Free text, to bring the payload to its size.
    pub note: String,
}

/// The `n`-th line item.
pub fn line_item(n: u64) -> LineItem {
    LineItem {
        sku: format!("SKU-{:08}", n % 100_000_000),
        qty: (n % 7) as u32 + 1,
        price_cents: 199 + n % 10_000,
        warehouse: "eu-central-2".to_owned(),
        note: NOTE.to_owned(),
    }
}

/// Filler text of the payload.
const NOTE: &str = "gift wrap requested; deliver to the side door after five, \
                    ring twice and leave with the neighbour at number 12 if nobody answers; \
                    no substitutions please";

/// The payload of [`line_item`] as pgbench scripts spell it: a space after
/// each `:` so that pgbench does not take `:name` for a variable.
pub fn line_item_sql_literal(n: u64) -> String {
    let item = line_item(n);
    format!(
        r#"{{"sku": "{}", "qty": {}, "price_cents": {}, "warehouse": "{}", "note": "{}"}}"#,
        item.sku, item.qty, item.price_cents, item.warehouse, item.note
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_is_about_250_bytes() {
        let len = serde_json::to_vec(&line_item(42))
            .map(|v| v.len())
            .unwrap_or(0);
        assert!((230..=270).contains(&len), "{len}");
    }

    #[test]
    fn writers_never_share_a_stream() {
        for seq in 0..1_000 {
            for writer in 0..16 {
                let s = random_stream(writer, 16, seq);
                assert!(s < STREAMS);
                assert_eq!(s as usize % 16, writer);
            }
        }
    }
}
