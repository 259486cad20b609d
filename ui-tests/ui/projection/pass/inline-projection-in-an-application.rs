// A `Default` projection is found by `Mink::builder()` without being named:
// an inline one runs in the transaction of every dispatched command's append.
use std::sync::Mutex;

use mink::prelude::*;

#[event]
pub enum CartEvent {
    ItemAdded { sku: String },
}

#[derive(Aggregate, Default)]
#[aggregate(events = CartEvent, category = "cart")]
pub struct Cart {
    #[aggregate(id)]
    id: String,
}

#[command(aggregate = Cart)]
pub struct AddItem {
    #[command(id)]
    cart_id: String,
    sku: String,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

#[command_handler]
impl Cart {
    fn add_item(&self, cmd: AddItem) -> Result<Vec<CartEvent>, Never> {
        Ok(vec![CartEvent::ItemAdded { sku: cmd.sku }])
    }

    fn apply(&mut self, _event: &CartEvent) {}
}

static ADDED: Mutex<Vec<String>> = Mutex::new(Vec::new());

#[derive(Default)]
pub struct PopularItems;

#[projection(kind = inline)]
impl PopularItems {
    fn item_added(&self, event: &CartEvent) {
        let CartEvent::ItemAdded { sku } = event;
        ADDED.lock().unwrap().push(sku.clone());
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let registration = mink::projection::registered()
        .find(|r| r.name == "popular-items")
        .expect("registered");
    assert_eq!(registration.kind, mink::projection::ProjectionKind::Inline);
    assert!((registration.make)().is_some(), "a Default projection is built by the registry");

    let app = Mink::builder().store(InMemoryStore::new()).build().await.unwrap();
    app.dispatch(AddItem { cart_id: "c1".into(), sku: "tea".into() }).await.unwrap();
    app.dispatch(AddItem { cart_id: "c1".into(), sku: "cake".into() }).await.unwrap();
    assert_eq!(*ADDED.lock().unwrap(), ["tea", "cake"]);
}
