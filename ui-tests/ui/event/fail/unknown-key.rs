use mink::prelude::*;

#[event(name = "DoorOpened", verison = 2)]
pub struct DoorOpened {
    pub by: String,
}

fn main() {}
