// Every payload shape an #[event] enum variant may have, a struct event with
// its own name and version, and serde `rename` / `default` on a field; the
// events round-trip through a store.
use mink::prelude::*;

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Address {
    pub street: String,
    pub city: String,
}

#[event]
#[derive(Debug, Clone, PartialEq)]
pub enum ShipmentEvent {
    Created {
        #[serde(rename = "customer")]
        customer_id: String,
        #[serde(default)]
        note: Option<String>,
    },
    AddressChanged(Address),
    Weighed(u32, u32),
    #[event(name = "ShipmentDispatched", version = 2)]
    Dispatched,
}

#[event(name = "ShipmentAudited", version = 3)]
#[derive(Debug, Clone, PartialEq)]
pub struct Audited {
    pub by: String,
}

#[derive(Aggregate, Default)]
#[aggregate(events = ShipmentEvent, category = "shipment")]
pub struct Shipment {
    #[aggregate(id)]
    id: String,
    history: Vec<ShipmentEvent>,
}

#[command(aggregate = Shipment)]
pub struct Record {
    #[command(id)]
    shipment_id: String,
}

#[derive(Debug, thiserror::Error)]
#[error("never")]
pub struct Never;

#[command_handler]
impl Shipment {
    fn record(&self, _cmd: Record) -> Result<Vec<ShipmentEvent>, Never> {
        Ok(every_shape())
    }

    fn apply(&mut self, event: &ShipmentEvent) {
        self.history.push(event.clone());
    }
}

fn every_shape() -> Vec<ShipmentEvent> {
    vec![
        ShipmentEvent::Created { customer_id: "c1".into(), note: None },
        ShipmentEvent::AddressChanged(Address { street: "Main 1".into(), city: "Oslo".into() }),
        ShipmentEvent::Weighed(3, 250),
        ShipmentEvent::Dispatched,
    ]
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    use mink::Event as _;

    let all = every_shape();
    assert_eq!(
        ShipmentEvent::EVENT_TYPES,
        ["Created", "AddressChanged", "Weighed", "ShipmentDispatched"]
    );
    assert_eq!(all[3].schema_version(), 2);
    assert_eq!(Audited::EVENT_TYPES, ["ShipmentAudited"]);
    assert_eq!(Audited { by: "ann".into() }.schema_version(), 3);

    // The renamed field is stored under its serde name.
    let json = all[0].encode(&mink::JsonSerializer).unwrap();
    assert!(String::from_utf8(json).unwrap().contains("\"customer\""));
    // A payload without the defaulted field still decodes.
    let decoded =
        ShipmentEvent::decode("Created", 1, br#"{"customer":"c9"}"#, &mink::JsonSerializer)
            .unwrap();
    assert_eq!(
        decoded,
        Some(ShipmentEvent::Created { customer_id: "c9".into(), note: None })
    );

    let app = Mink::builder().store(InMemoryStore::new()).build().await.unwrap();
    let done = app
        .dispatch(Record { shipment_id: "s1".into() })
        .await
        .unwrap();
    assert_eq!(done.version, Some(4));
    let loaded = app.load_aggregate::<Shipment>("s1").await.unwrap();
    assert_eq!(loaded.history, all);
}
