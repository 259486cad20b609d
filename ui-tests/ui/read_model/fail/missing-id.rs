use mink::prelude::*;

#[derive(ReadModel)]
pub struct Book {
    id: String,
    title: String,
}

fn main() {}
