//! Values are never SQL: hostile text stored and queried as values comes
//! back as it went in, and the table is still there.

use mink::read_model::{Query, ReadModel, ReadModelRepository};

use super::Backend;
use super::models::{OrderView, order};

super::on_every_store!(hostile_values_are_only_values);

const HOSTILE: [&str; 8] = [
    "'; DROP TABLE order_views; --",
    "\" OR 1=1 --",
    "x' OR '1'='1",
    "$1",
    "?1 ?2",
    "\\",
    "%_*?[",
    "order_views\"; DELETE FROM order_views; --",
];

async fn hostile_values_are_only_values(b: &Backend) {
    let r = ReadModelRepository::<OrderView>::open_shared(b.read_models.clone())
        .await
        .expect("open");
    let f = OrderView::fields();
    for (n, text) in HOSTILE.iter().enumerate() {
        let mut o = order(text, n as i64);
        o.status = (*text).to_owned();
        o.note = Some(format!("{text}{text}"));
        o.tags = vec![(*text).to_owned()];
        r.insert(&o).await.expect("insert");
    }
    for (n, text) in HOSTILE.iter().enumerate() {
        assert_eq!(r.get(*text).await.expect("get").number, n as i64);
        let found = r.find(f.status.eq(*text)).await.expect("eq");
        assert_eq!(found.len(), 1, "{}: eq {text:?}", b.name);
        let found = r.find(f.tags.contains(*text)).await.expect("contains");
        assert_eq!(found.len(), 1, "{}: contains {text:?}", b.name);
        let found = r.find(f.note.contains(*text)).await.expect("contains");
        assert!(!found.is_empty(), "{}: contains {text:?}", b.name);
        let n = r.count(f.id.in_([*text, "' OR ''='"])).await.expect("in");
        assert_eq!(n, 1, "{}: in {text:?}", b.name);
    }
    // Wildcards in a `like` pattern's literal parts are escaped by `\`.
    let found = r.find(f.status.like("\\%\\_*?[")).await.expect("like");
    assert_eq!(found.len(), 1, "{}", b.name);
    let found = r.find(f.status.like("%DROP TABLE%")).await.expect("like");
    assert_eq!(found.len(), 1, "{}", b.name);
    assert_eq!(
        r.count(Query::new())
            .await
            .expect("the table is still there"),
        HOSTILE.len() as u64
    );
}
