use mink::prelude::*;

#[event]
pub enum DoorEvent {
    #[event(version = 0)]
    Opened,
}

fn main() {}
