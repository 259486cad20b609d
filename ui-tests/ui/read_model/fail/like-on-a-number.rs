use mink::prelude::*;

#[derive(ReadModel)]
pub struct Book {
    #[read_model(id)]
    id: String,
    pages: u32,
}

fn main() {
    let _ = Book::fields().pages.like("1%");
}
