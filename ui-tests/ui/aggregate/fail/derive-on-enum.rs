use mink::prelude::*;

#[event]
pub enum DoorEvent {
    Opened,
}

#[derive(Aggregate)]
#[aggregate(events = DoorEvent, category = "door")]
pub enum Door {
    Open,
    Closed,
}

fn main() {}
