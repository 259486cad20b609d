use mink::prelude::*;

#[event]
pub enum DoorEvent {
    Opened,
    #[event(name = "Opened")]
    OpenedAgain,
}

fn main() {}
