use std::collections::HashMap;

use mink::prelude::*;

#[derive(ReadModel)]
pub struct Book {
    #[read_model(id)]
    id: String,
    ratings: HashMap<String, u32>,
}

fn main() {
    let _ = Book::fields().ratings.gt(HashMap::new());
}
