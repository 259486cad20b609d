use mink::prelude::*;

#[derive(ReadModel)]
pub struct Book {
    #[read_model(id)]
    id: String,
    #[read_model(id)]
    isbn: String,
}

fn main() {}
