//! A read model with fields of every kind, queried with every operator,
//! on the in-memory store; a module shadowing prelude names checks that the
//! generated code is hygienic.

use std::collections::BTreeMap;

use mink::adapters::memory::InMemoryReadModels;
use mink::prelude::*;
use mink::read_model::Filter;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Line {
    sku: String,
    qty: u32,
}

#[derive(ReadModel, Debug, Clone, PartialEq)]
pub struct OrderSummary {
    #[read_model(id)]
    pub id: String,
    #[read_model(index)]
    pub status: String,
    #[read_model(unique)]
    pub number: u32,
    pub total_cents: u64,
    pub note: Option<String>,
    pub lines: Vec<Line>,
    pub labels: BTreeMap<String, String>,
}

mod shadowing {
    #![allow(dead_code, non_camel_case_types)]
    struct Result;
    struct Ok;
    struct Option;
    struct Some;
    struct Vec;
    struct String;
    struct Box;

    #[derive(mink::ReadModel)]
    pub struct Shadowed {
        #[read_model(id)]
        id: u64,
        name: ::std::string::String,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let repo = ReadModelRepository::<OrderSummary>::open(InMemoryReadModels::new())
        .await
        .unwrap();
    repo.insert(&OrderSummary {
        id: "o1".into(),
        status: "pending".into(),
        number: 1,
        total_cents: 7_500,
        note: None,
        lines: vec![Line { sku: "a".into(), qty: 2 }],
        labels: BTreeMap::new(),
    })
    .await
    .unwrap();
    let f = OrderSummary::fields();
    let filters: std::vec::Vec<Filter<OrderSummary>> = vec![
        f.status.eq("pending"),
        f.status.ne(String::from("paid")),
        f.total_cents.gt(5_000),
        f.total_cents.gte(5_000u64),
        f.number.lt(2),
        f.number.lte(1),
        f.number.between(1, 3),
        f.status.in_(["pending", "paid"]),
        f.number.not_in([7, 8]),
        f.status.contains("end"),
        f.lines.contains(Line { sku: "a".into(), qty: 2 }),
        f.status.like("pend%"),
        f.note.is_null(),
        f.note.eq(None),
        f.labels.eq(BTreeMap::new()),
        f.status.eq("pending") & (f.number.eq(1) | f.number.eq(2)),
    ];
    for filter in filters {
        assert_eq!(repo.count(filter).await.unwrap(), 1);
    }
    let page = repo
        .find_page(
            Query::new()
                .filter(f.status.eq("pending").and(f.total_cents.gt(5_000)))
                .order_by(f.total_cents.desc())
                .order_by(f.id.asc())
                .page(1, 20),
        )
        .await
        .unwrap();
    assert_eq!((page.total, page.has_more, page.items.len()), (1, false, 1));
    let _ = <shadowing::Shadowed as mink::read_model::ReadModel>::schema();
}
