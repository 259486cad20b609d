//! Applications choosing a format: a MessagePack application whose log
//! later gets JSON events from another application, and an aggregate whose
//! events are Protocol Buffers messages.

use mink::prelude::*;
use mink::testing::TestDatabase;
use mink::{ContentType, JsonSerializer, MessagePackSerializer, ReadAll};
use mink_tests::proto::{ShopEvent, order_placed, shop};

#[event]
#[derive(Debug, Clone, PartialEq)]
pub enum CounterEvent {
    #[event(name = "SerializersCounterStarted")]
    Started { label: String },
    #[event(name = "SerializersCounterAdded")]
    Added(u64),
}

#[derive(Aggregate, Debug, Default)]
#[aggregate(events = CounterEvent, category = "counter")]
pub struct Counter {
    #[aggregate(id)]
    id: String,
    label: String,
    total: u64,
}

#[command(aggregate = Counter)]
pub struct Start {
    #[command(id)]
    id: String,
    label: String,
}

#[command(aggregate = Counter)]
pub struct Add {
    #[command(id)]
    id: String,
    n: u64,
}

#[command_handler]
impl Counter {
    fn start(&self, cmd: Start) -> Result<Vec<CounterEvent>, std::convert::Infallible> {
        Ok(vec![CounterEvent::Started { label: cmd.label }])
    }

    fn add(&self, cmd: Add) -> Result<Vec<CounterEvent>, std::convert::Infallible> {
        Ok(vec![CounterEvent::Added(cmd.n)])
    }

    fn apply(&mut self, event: &CounterEvent) {
        match event {
            CounterEvent::Started { label } => self.label.clone_from(label),
            CounterEvent::Added(n) => self.total += n,
        }
    }
}

fn add(id: &str, n: u64) -> Add {
    Add { id: id.into(), n }
}

/// An application on MessagePack writes `application/msgpack` events and
/// loads its aggregates from them. A second application on the same file,
/// still on JSON (as during a change of format), appends JSON events to
/// the same stream; both read the mixed stream, each event in its format.
#[tokio::test]
async fn a_msgpack_application_shares_its_log_with_a_json_one() {
    let db = TestDatabase::sqlite();
    let msgpack = Mink::builder()
        .store(db.store().await.expect("store"))
        .serializer(MessagePackSerializer)
        .build()
        .await
        .expect("msgpack app");
    msgpack
        .dispatch(Start {
            id: "c1".into(),
            label: "tea — grün".into(),
        })
        .await
        .expect("start");
    msgpack.dispatch(add("c1", 5)).await.expect("add");

    let json = Mink::builder()
        .store(db.store().await.expect("store"))
        .serializer(JsonSerializer)
        .build()
        .await
        .expect("json app");
    json.dispatch(add("c1", 7)).await.expect("add through JSON");
    msgpack.dispatch(add("c1", 30)).await.expect("add again");

    let log = json
        .store()
        .read_all_forward(ReadAll::after(Position::START, 100))
        .await
        .expect("read");
    let types: Vec<&str> = log.iter().map(|e| e.content_type.as_str()).collect();
    assert_eq!(
        types,
        [
            "application/msgpack",
            "application/msgpack",
            "application/json",
            "application/msgpack"
        ]
    );
    assert_eq!(log[2].payload, b"7");
    for app_total in [
        msgpack.load_aggregate::<Counter>("c1").await.expect("load"),
        json.load_aggregate::<Counter>("c1").await.expect("load"),
    ] {
        assert_eq!(app_total.label, "tea — grün");
        assert_eq!(app_total.total, 42);
        assert_eq!(app_total.version(), 4);
    }
}

#[derive(Aggregate, Debug, Default)]
#[aggregate(events = ShopEvent, category = "shoporder")]
pub struct ShopOrder {
    #[aggregate(id)]
    id: String,
    lines: usize,
    carrier: Option<String>,
}

#[command(aggregate = ShopOrder)]
pub struct Place {
    #[command(id)]
    id: String,
    lines: u32,
}

#[command(aggregate = ShopOrder)]
pub struct Ship {
    #[command(id)]
    id: String,
    carrier: String,
}

#[derive(Debug, thiserror::Error)]
#[error("order {0} is not placed")]
pub struct NotPlaced(String);

#[command_handler]
impl ShopOrder {
    fn place(&self, cmd: Place) -> Result<Vec<ShopEvent>, NotPlaced> {
        Ok(vec![ShopEvent::Placed(order_placed(&cmd.id, cmd.lines))])
    }

    fn ship(&self, cmd: Ship) -> Result<Vec<ShopEvent>, NotPlaced> {
        if self.lines == 0 {
            return Err(NotPlaced(cmd.id));
        }
        Ok(vec![ShopEvent::Shipped(shop::OrderShipped {
            order_id: cmd.id,
            carrier: cmd.carrier,
        })])
    }

    fn apply(&mut self, event: &ShopEvent) {
        match event {
            ShopEvent::Placed(placed) => self.lines = placed.items.len(),
            ShopEvent::Shipped(shipped) => self.carrier = Some(shipped.carrier.clone()),
            ShopEvent::Closed => {}
        }
    }
}

/// An aggregate whose events are prost messages: commands append
/// `application/protobuf` events in a JSON application, and the aggregate
/// loads from them.
#[tokio::test]
async fn an_aggregate_of_protobuf_events() {
    let app = Mink::builder()
        .store(InMemoryStore::new())
        .build()
        .await
        .expect("app");
    app.dispatch(Place {
        id: "o1".into(),
        lines: 3,
    })
    .await
    .expect("place");
    app.dispatch(Ship {
        id: "o1".into(),
        carrier: "bike".into(),
    })
    .await
    .expect("ship");
    let order = app.load_aggregate::<ShopOrder>("o1").await.expect("load");
    assert_eq!(order.lines, 3);
    assert_eq!(order.carrier.as_deref(), Some("bike"));
    let stream = app
        .store()
        .read_stream_forward("shoporder-o1", 1, 10)
        .await
        .expect("read");
    assert!(
        stream
            .iter()
            .all(|e| e.content_type == ContentType::PROTOBUF)
    );
    assert_eq!(
        stream
            .iter()
            .map(|e| (e.event_type.as_str(), e.schema_version))
            .collect::<Vec<_>>(),
        [("ShopOrderPlaced", 1), ("ShopOrderShipped", 2)]
    );
    // The payload is the message's own encoding.
    let placed = <shop::OrderPlaced as prost::Message>::decode(&*stream[0].payload).expect("proto");
    assert_eq!(placed, order_placed("o1", 3));
}
