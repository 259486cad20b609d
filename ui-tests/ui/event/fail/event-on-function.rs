use mink::prelude::*;

#[event]
fn opened() {}

fn main() {}
