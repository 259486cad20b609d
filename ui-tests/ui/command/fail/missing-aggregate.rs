use mink::prelude::*;

#[command]
pub struct OpenDoor {
    #[command(id)]
    door_id: String,
}

fn main() {}
