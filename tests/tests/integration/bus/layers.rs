//! Tower layers on the bus: tower's own timeout layer bounds a dispatch,
//! and layers compose in the order added.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use mink::DispatchError;
use mink::prelude::*;

use super::{SlowStore, credit};

#[tokio::test]
async fn towers_timeout_layer_bounds_a_dispatch() {
    let app = Mink::builder()
        .store(SlowStore::memory(Duration::from_secs(5)))
        .layer(tower::timeout::TimeoutLayer::new(Duration::from_millis(50)))
        .build()
        .await
        .unwrap();
    let err = app.dispatch(credit("t1", 1)).await.unwrap_err();
    assert!(matches!(err, DispatchError::TimedOut), "{err:?}");
}

#[tokio::test]
async fn layers_compose_in_the_order_added() {
    use mink::bus::{BusService, CommandEnvelope};
    use tower::{Layer, ServiceExt};

    #[derive(Clone)]
    struct Mark(&'static str, Arc<Mutex<Vec<&'static str>>>);
    impl Layer<BusService> for Mark {
        type Service = BusService;
        fn layer(&self, inner: BusService) -> BusService {
            let (name, log) = (self.0, self.1.clone());
            BusService::new(tower::service_fn(move |env: CommandEnvelope| {
                log.lock().unwrap().push(name);
                inner.clone().oneshot(env)
            }))
        }
    }

    let log = Arc::new(Mutex::new(Vec::new()));
    let app = Mink::builder()
        .store(InMemoryStore::new())
        .layer(Mark("outer", log.clone()))
        .layer(Mark("middle", log.clone()))
        .layer(Mark("inner", log.clone()))
        .build()
        .await
        .unwrap();
    app.dispatch(credit("o1", 1)).await.unwrap();
    assert_eq!(*log.lock().unwrap(), ["outer", "middle", "inner"]);
}
