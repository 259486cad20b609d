use mink::prelude::*;

#[derive(ReadModel)]
#[read_model(tabel = "books")]
pub struct Book {
    #[read_model(id)]
    id: String,
}

fn main() {}
