//! The read models the suite stores: one with a field of every kind.

use chrono::{DateTime, TimeZone, Utc};
use mink::ReadModel;
use serde::{Deserialize, Serialize};

/// A nested value, stored as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Address {
    pub city: String,
    pub zip: String,
}

/// An order summary with a field of every column kind.
#[derive(ReadModel, Debug, Clone, PartialEq)]
pub struct OrderView {
    #[read_model(id)]
    pub id: String,
    #[read_model(index)]
    pub status: String,
    #[read_model(unique)]
    pub number: i64,
    #[read_model(index)]
    pub total_cents: i64,
    pub weight: f64,
    pub paid: bool,
    pub note: Option<String>,
    pub discount: Option<i64>,
    pub placed_at: DateTime<Utc>,
    pub tags: Vec<String>,
    pub address: Option<Address>,
}

/// Second `n` after a fixed instant.
pub fn at(n: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + n, 0)
        .single()
        .expect("a valid instant")
}

/// An order whose fields follow from `n`.
pub fn order(id: &str, n: i64) -> OrderView {
    OrderView {
        id: id.to_owned(),
        status: if n % 2 == 0 { "pending" } else { "paid" }.to_owned(),
        number: n,
        total_cents: n * 1000,
        weight: n as f64 / 2.0,
        paid: n % 2 == 1,
        note: (n % 3 != 0).then(|| format!("note {n}")),
        discount: (n % 4 == 0).then_some(n * 10),
        placed_at: at(n),
        tags: (0..n % 3).map(|t| format!("t{t}")).collect(),
        address: (n % 2 == 0).then(|| Address {
            city: if n < 4 { "Lyon" } else { "Oslo" }.to_owned(),
            zip: format!("{n:05}"),
        }),
    }
}

/// An id-only model with an integer key, for id types other than text.
#[derive(ReadModel, Debug, Clone, PartialEq)]
#[read_model(table = "counters")]
pub struct Counter {
    #[read_model(id)]
    pub id: u32,
    pub value: i64,
}
