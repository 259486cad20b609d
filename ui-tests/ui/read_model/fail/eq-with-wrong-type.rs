use mink::prelude::*;

#[derive(ReadModel)]
pub struct Book {
    #[read_model(id)]
    id: String,
    title: String,
}

fn main() {
    let _ = Book::fields().title.eq(5);
}
