use mink::prelude::*;

#[derive(ReadModel)]
pub struct Book {
    #[read_model(id)]
    id: f64,
    title: String,
}

fn main() {}
