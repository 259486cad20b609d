use mink::prelude::*;

#[derive(ReadModel)]
pub struct Book {
    #[read_model(id)]
    id: String,
    authors: Vec<String>,
}

fn main() {
    let _ = Query::<Book>::new().order_by(Book::fields().authors.asc());
}
