use mink::prelude::*;

#[event(name = "DoorEvent")]
pub enum DoorEvent {
    Opened,
}

fn main() {}
