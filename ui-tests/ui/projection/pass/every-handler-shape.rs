// Every handler shape the macro accepts: async and plain methods, the event
// by reference or by value, with and without the envelope and the context,
// returning `Result<(), E>` or nothing; a reset method; helpers and a
// constructor left alone.
use std::sync::Mutex;

use mink::prelude::*;
use mink::projection::{Projection, ProjectionContext, ProjectionKind};
use mink::{Event, JsonSerializer, RecordedEvent};

#[event]
#[derive(Debug, Clone)]
pub enum ShelfEvent {
    Stocked { sku: String, qty: u32 },
    Emptied { sku: String },
}

#[event]
#[derive(Debug, Clone)]
pub struct Counted {
    pub qty: u32,
}

#[event]
#[derive(Debug, Clone)]
pub struct Audited {
    pub by: String,
}

#[event]
#[derive(Debug, Clone)]
pub struct Moved {
    pub to: String,
}

#[derive(Debug, thiserror::Error)]
#[error("the shelf is locked")]
pub struct Locked;

pub struct Stock {
    log: Mutex<Vec<String>>,
}

#[projection(kind = live)]
impl Stock {
    pub fn new() -> Self {
        Stock { log: Mutex::new(Vec::new()) }
    }

    async fn shelf(&self, event: &ShelfEvent, envelope: &RecordedEvent) -> Result<(), Locked> {
        let line = match event {
            ShelfEvent::Stocked { sku, qty } => format!("{sku}+{qty}@{}", envelope.stream_id),
            ShelfEvent::Emptied { sku } => format!("{sku}=0"),
        };
        self.push(line);
        Ok(())
    }

    fn counted(&self, event: Counted) {
        self.push(format!("counted {}", event.qty));
    }

    async fn audited(&self, event: &Audited, ctx: &mut ProjectionContext<'_>) {
        self.push(format!("audited by {} in {}", event.by, ctx.projection()));
    }

    fn moved(
        &self,
        event: &Moved,
        envelope: &RecordedEvent,
        ctx: &mut ProjectionContext<'_>,
    ) -> Result<(), mink::Error> {
        assert!(ctx.transaction().is_none());
        self.push(format!("moved to {} (v{})", event.to, envelope.version));
        Ok(())
    }

    #[projection(skip)]
    fn push(&self, line: String) {
        self.log.lock().unwrap().push(line);
    }

    #[projection(reset)]
    async fn clear(&self, _ctx: &mut ProjectionContext<'_>) -> Result<(), Locked> {
        self.log.lock().unwrap().clear();
        Ok(())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let stock = Stock::new();
    assert_eq!(stock.name(), "stock");
    assert_eq!(stock.kind(), ProjectionKind::Live);
    assert_eq!(
        stock.event_types(),
        ["Stocked", "Emptied", "Counted", "Audited", "Moved"]
    );

    let store = InMemoryStore::new();
    let events = [
        ShelfEvent::Stocked { sku: "tea".into(), qty: 4 }.to_new_event(&JsonSerializer, Default::default()),
        Counted { qty: 4 }.to_new_event(&JsonSerializer, Default::default()),
        Audited { by: "ada".into() }.to_new_event(&JsonSerializer, Default::default()),
        Moved { to: "aisle 2".into() }.to_new_event(&JsonSerializer, Default::default()),
        ShelfEvent::Emptied { sku: "tea".into() }.to_new_event(&JsonSerializer, Default::default()),
    ];
    let events: Vec<_> = events.into_iter().map(Result::unwrap).collect();
    store.append_to_stream("shelf-1", ExpectedVersion::NoStream, events).await.unwrap();
    let mut ctx = ProjectionContext::new("stock", ProjectionKind::Live, None);
    for event in store.read_stream_forward("shelf-1", 1, 10).await.unwrap() {
        stock.handle(&event, &mut ctx).await.unwrap();
    }
    assert_eq!(
        *stock.log.lock().unwrap(),
        [
            "tea+4@shelf-1",
            "counted 4",
            "audited by ada in stock",
            "moved to aisle 2 (v4)",
            "tea=0",
        ]
    );
    stock.reset(&mut ctx).await.unwrap();
    assert!(stock.log.lock().unwrap().is_empty());
}
