use mink::prelude::*;

#[event]
pub enum DoorEvent {
    Opened,
}

#[derive(Aggregate, Default)]
#[aggregate(events = DoorEvent, category = "door", category = "gate")]
pub struct Door {
    #[aggregate(id)]
    id: String,
}

impl Door {
    fn apply(&mut self, _event: &DoorEvent) {}
}

fn main() {}
