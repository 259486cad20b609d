//! A property test: random rows and random queries give the SQL stores the
//! same answers as the in-memory store, whose meaning is written in Rust.

use mink::ReadModel;
use mink::read_model::{Filter, Query, ReadModelRepository};
use proptest::prelude::*;

use super::Backend;

#[derive(ReadModel, Debug, Clone, PartialEq)]
#[read_model(table = "samples")]
pub struct Sample {
    #[read_model(id)]
    id: u32,
    #[read_model(index)]
    a: i64,
    b: Option<i64>,
    s: String,
    o: Option<String>,
    flag: bool,
    x: f64,
    tags: Vec<String>,
}

const WORDS: [&str; 5] = ["", "a", "ab", "B", "ba"];

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(&WORDS[..]).prop_map(str::to_owned)
}

fn sample() -> impl Strategy<Value = Sample> {
    (
        0u32..40,
        -3i64..4,
        prop::option::of(-2i64..3),
        word(),
        prop::option::of(word()),
        any::<bool>(),
        prop::sample::select(vec![-1.5f64, 0.0, 0.25, 2.0]),
        prop::collection::vec(word(), 0..3),
    )
        .prop_map(|(id, a, b, s, o, flag, x, tags)| Sample {
            id,
            a,
            b,
            s,
            o,
            flag,
            x,
            tags,
        })
}

/// A query condition, kept as data so a failure prints it.
#[derive(Debug, Clone)]
enum Cond {
    AEq(i64),
    ANe(i64),
    AGt(i64),
    ALte(i64),
    ABetween(i64, i64),
    AIn(Vec<i64>),
    BEq(Option<i64>),
    BNe(i64),
    BGte(i64),
    BNotIn(Vec<Option<i64>>),
    BIsNull,
    SEq(String),
    SLt(String),
    SLike(String),
    SContains(String),
    OContains(String),
    OIsNotNull,
    Flag(bool),
    XGt(f64),
    TagsContain(String),
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
}

fn cond() -> impl Strategy<Value = Cond> {
    let leaf = prop_oneof![
        (-3i64..4).prop_map(Cond::AEq),
        (-3i64..4).prop_map(Cond::ANe),
        (-3i64..4).prop_map(Cond::AGt),
        (-3i64..4).prop_map(Cond::ALte),
        (-3i64..4, -3i64..4).prop_map(|(l, h)| Cond::ABetween(l, h)),
        prop::collection::vec(-3i64..4, 0..3).prop_map(Cond::AIn),
        prop::option::of(-2i64..3).prop_map(Cond::BEq),
        (-2i64..3).prop_map(Cond::BNe),
        (-2i64..3).prop_map(Cond::BGte),
        prop::collection::vec(prop::option::of(-2i64..3), 0..3).prop_map(Cond::BNotIn),
        Just(Cond::BIsNull),
        word().prop_map(Cond::SEq),
        word().prop_map(Cond::SLt),
        prop::sample::select(vec!["a%", "%b", "_", "%", "A%", "a_"])
            .prop_map(|p| Cond::SLike(p.to_owned())),
        word().prop_map(Cond::SContains),
        word().prop_map(Cond::OContains),
        Just(Cond::OIsNotNull),
        any::<bool>().prop_map(Cond::Flag),
        prop::sample::select(vec![-2.0f64, 0.0, 0.25, 1.0]).prop_map(Cond::XGt),
        word().prop_map(Cond::TagsContain),
    ];
    leaf.prop_recursive(2, 8, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| Cond::And(Box::new(a), Box::new(b))),
            (inner.clone(), inner).prop_map(|(a, b)| Cond::Or(Box::new(a), Box::new(b))),
        ]
    })
}

fn filter(c: &Cond) -> Filter<Sample> {
    let f = Sample::fields();
    match c.clone() {
        Cond::AEq(v) => f.a.eq(v),
        Cond::ANe(v) => f.a.ne(v),
        Cond::AGt(v) => f.a.gt(v),
        Cond::ALte(v) => f.a.lte(v),
        Cond::ABetween(l, h) => f.a.between(l, h),
        Cond::AIn(v) => f.a.in_(v),
        Cond::BEq(v) => f.b.eq(v),
        Cond::BNe(v) => f.b.ne(v),
        Cond::BGte(v) => f.b.gte(v),
        Cond::BNotIn(v) => f.b.not_in(v),
        Cond::BIsNull => f.b.is_null(),
        Cond::SEq(v) => f.s.eq(v),
        Cond::SLt(v) => f.s.lt(v),
        Cond::SLike(p) => f.s.like(p),
        Cond::SContains(v) => f.s.contains(v),
        Cond::OContains(v) => f.o.contains(v),
        Cond::OIsNotNull => f.o.is_not_null(),
        Cond::Flag(v) => f.flag.eq(v),
        Cond::XGt(v) => f.x.gt(v),
        Cond::TagsContain(v) => f.tags.contains(v),
        Cond::And(a, b) => filter(&a).and(filter(&b)),
        Cond::Or(a, b) => filter(&a).or(filter(&b)),
    }
}

/// Sort keys, as data.
#[derive(Debug, Clone, Copy)]
enum Key {
    AAsc,
    ADesc,
    BAsc,
    BDesc,
    SAsc,
    XDesc,
    FlagAsc,
}

fn query(c: &Cond, keys: &[Key], limit: Option<u64>, offset: u64) -> Query<Sample> {
    let f = Sample::fields();
    let mut q = Query::new().filter(filter(c));
    for k in keys {
        q = q.order_by(match k {
            Key::AAsc => f.a.asc(),
            Key::ADesc => f.a.desc(),
            Key::BAsc => f.b.asc(),
            Key::BDesc => f.b.desc(),
            Key::SAsc => f.s.asc(),
            Key::XDesc => f.x.desc(),
            Key::FlagAsc => f.flag.asc(),
        });
    }
    if let Some(l) = limit {
        q = q.limit(l);
    }
    q.offset(offset)
}

type Case = (Vec<Sample>, Vec<(Cond, Vec<Key>, Option<u64>, u64)>);

fn case() -> impl Strategy<Value = Case> {
    let key = prop::sample::select(vec![
        Key::AAsc,
        Key::ADesc,
        Key::BAsc,
        Key::BDesc,
        Key::SAsc,
        Key::XDesc,
        Key::FlagAsc,
    ]);
    (
        prop::collection::vec(sample(), 0..25),
        prop::collection::vec(
            (
                cond(),
                prop::collection::vec(key, 0..3),
                prop::option::of(0u64..6),
                0u64..4,
            ),
            1..6,
        ),
    )
}

/// Runs every generated case on `sql` and on a fresh in-memory store.
fn agree(sql: &Backend, runtime: &tokio::runtime::Handle, cases: u32) {
    let repo = runtime
        .block_on(ReadModelRepository::<Sample>::open_shared(
            sql.read_models.clone(),
        ))
        .expect("open");
    let config = ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |((rows, queries) in case())| {
        runtime.block_on(async {
            let model = ReadModelRepository::<Sample>::open(
                mink::adapters::memory::InMemoryReadModels::new(),
            )
            .await
            .expect("open memory");
            repo.clear().await.expect("clear");
            for row in &rows {
                repo.upsert(row).await.expect("upsert");
                model.upsert(row).await.expect("upsert");
            }
            for (c, keys, limit, offset) in &queries {
                let q = query(c, keys, *limit, *offset);
                let want = model.find(q.clone()).await.expect("memory");
                let got = repo.find(q.clone()).await.expect("sql");
                assert_eq!(got, want, "{}: {c:?} {keys:?} {limit:?} {offset}", sql.name);
                let n = repo.count(q.clone()).await.expect("count");
                assert_eq!(n, model.count(q).await.expect("count"), "{}: count {c:?}", sql.name);
            }
        });
    });
}

#[test]
fn sqlite_agrees_with_memory() {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let sqlite = rt.block_on(super::sqlite()).expect("sqlite");
    agree(&sqlite, rt.handle(), 96);
}

#[test]
fn postgres_agrees_with_memory() {
    let rt = tokio::runtime::Runtime::new().expect("a runtime");
    let Some(pg) = rt.block_on(super::postgres()) else {
        return;
    };
    agree(&pg, rt.handle(), 48);
}
