//! The command path end to end: macros, `Mink::dispatch`, load and save.

use std::sync::Arc;

use mink::prelude::*;
use mink::testing::{AggregateFixture, assert_recorded, then_error_matches};
use mink::{DispatchError, Error, NewEvent, Tracked};

#[event]
#[derive(Debug, Clone, PartialEq)]
pub enum AccountEvent {
    #[event(name = "AccountOpened")]
    Opened { owner: String },
    #[event(name = "AccountDeposited", version = 2)]
    Deposited { amount: u64 },
    #[event(name = "AccountWithdrawn")]
    Withdrawn(u64),
    #[event(name = "AccountClosed")]
    Closed,
}

#[derive(Aggregate, Debug, Default)]
#[aggregate(events = AccountEvent, category = "account")]
pub struct Account {
    #[aggregate(id)]
    id: String,
    open: bool,
    balance: u64,
}

#[command(aggregate = Account)]
pub struct Open {
    #[command(id)]
    id: String,
    owner: String,
}

#[command(aggregate = Account)]
pub struct Deposit {
    #[command(id)]
    id: String,
    amount: u64,
}

#[command(aggregate = Account)]
pub struct Withdraw {
    #[command(id)]
    id: String,
    amount: u64,
}

#[command(aggregate = Account)]
pub struct Touch {
    #[command(id)]
    id: String,
}

#[derive(Debug, PartialEq, thiserror::Error)]
pub enum AccountError {
    #[error("account already open")]
    AlreadyOpen,
    #[error("account not open")]
    NotOpen,
    #[error("insufficient funds: balance {balance}, wanted {wanted}")]
    Insufficient { balance: u64, wanted: u64 },
}

#[command_handler]
impl Account {
    fn open(&self, cmd: Open) -> Result<Vec<AccountEvent>, AccountError> {
        if self.open {
            return Err(AccountError::AlreadyOpen);
        }
        Ok(vec![AccountEvent::Opened { owner: cmd.owner }])
    }

    fn deposit(&self, cmd: Deposit) -> Result<Vec<AccountEvent>, AccountError> {
        if !self.open {
            return Err(AccountError::NotOpen);
        }
        Ok(vec![AccountEvent::Deposited { amount: cmd.amount }])
    }

    fn withdraw(&self, cmd: Withdraw) -> Result<Vec<AccountEvent>, AccountError> {
        if cmd.amount > self.balance {
            return Err(AccountError::Insufficient {
                balance: self.balance,
                wanted: cmd.amount,
            });
        }
        Ok(vec![AccountEvent::Withdrawn(cmd.amount)])
    }

    fn touch(&self, _cmd: Touch) -> Result<Vec<AccountEvent>, AccountError> {
        Ok(Vec::new())
    }

    fn apply(&mut self, event: &AccountEvent) {
        match event {
            AccountEvent::Opened { .. } => self.open = true,
            AccountEvent::Deposited { amount } => self.balance += amount,
            AccountEvent::Withdrawn(amount) => self.balance -= amount,
            AccountEvent::Closed => self.open = false,
        }
    }
}

// ------------------------------------------- the handlers, without a store

#[test]
fn an_account_opens_once() {
    AggregateFixture::<Account>::given_nothing()
        .when(open("a1"))
        .then_events([AccountEvent::Opened {
            owner: "ada".into(),
        }])
        .then_state(|account| {
            assert!(account.open);
            assert_eq!(account.id, "a1");
        });
    AggregateFixture::<Account>::given([AccountEvent::Opened {
        owner: "ada".into(),
    }])
    .when(open("a1"))
    .then_error(|e| *e == AccountError::AlreadyOpen);
}

#[test]
fn withdrawals_are_limited_by_the_balance() {
    let history = [
        AccountEvent::Opened {
            owner: "ada".into(),
        },
        AccountEvent::Deposited { amount: 50 },
        AccountEvent::Withdrawn(20),
    ];
    let withdraw = |amount| Withdraw {
        id: "a1".into(),
        amount,
    };
    AggregateFixture::<Account>::given(history.clone())
        .when(withdraw(30))
        .then_events([AccountEvent::Withdrawn(30)])
        .then_state(|account| assert_eq!(account.balance, 0));
    then_error_matches!(
        AggregateFixture::<Account>::given(history).when(withdraw(31)),
        AccountError::Insufficient {
            balance: 30,
            wanted: 31
        }
    );
}

#[test]
fn a_command_may_produce_no_event() {
    AggregateFixture::<Account>::given([AccountEvent::Opened {
        owner: "ada".into(),
    }])
    .when(Touch { id: "a1".into() })
    .then_no_events()
    .then_event_count(0);
}

/// The message a failing fixture panics with.
fn failure_of(check: impl FnOnce() + std::panic::UnwindSafe) -> String {
    let payload = std::panic::catch_unwind(check).expect_err("the check must fail");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_default()
}

#[test]
fn a_failing_fixture_says_what_differs() {
    let deposited = || {
        AggregateFixture::<Account>::given([AccountEvent::Opened {
            owner: "ada".into(),
        }])
        .when(Deposit {
            id: "a1".into(),
            amount: 5,
        })
    };
    let wrong_field = failure_of(|| {
        deposited().then_events([AccountEvent::Deposited { amount: 6 }]);
    });
    assert!(
        wrong_field.contains("event #0 `AccountDeposited`: field `amount`: expected 6, got 5"),
        "{wrong_field}"
    );
    let wrong_type = failure_of(|| {
        deposited().then_events([AccountEvent::Withdrawn(5), AccountEvent::Closed]);
    });
    assert!(
        wrong_type.contains("expected 2 event(s), got 1")
            && wrong_type.contains("event #0: expected `AccountWithdrawn`, got `AccountDeposited`")
            && wrong_type.contains("event #1: missing `AccountClosed`"),
        "{wrong_type}"
    );
    let not_refused = failure_of(|| {
        then_error_matches!(deposited(), AccountError::NotOpen);
    });
    assert!(
        not_refused
            .contains("`Deposit` was expected to be refused, and produced [\"AccountDeposited\"]"),
        "{not_refused}"
    );
    let other_error = failure_of(|| {
        then_error_matches!(
            AggregateFixture::<Account>::given_nothing().when(Deposit {
                id: "a1".into(),
                amount: 5
            }),
            AccountError::AlreadyOpen
        );
    });
    assert!(
        other_error.contains("refused with NotOpen (`account not open`), which does not match `AccountError::AlreadyOpen`"),
        "{other_error}"
    );
}

async fn app() -> Mink {
    Mink::builder()
        .store(InMemoryStore::new())
        .build()
        .await
        .expect("build")
}

fn open(id: &str) -> Open {
    Open {
        id: id.into(),
        owner: "ada".into(),
    }
}

#[tokio::test]
async fn dispatch_loads_handles_and_appends() {
    let app = app().await;
    let r = app.dispatch(open("a1")).await.unwrap();
    assert_eq!(r.command, "Open");
    assert_eq!(r.aggregate_id.as_deref(), Some("a1"));
    assert_eq!(r.stream_id.as_deref(), Some("account-a1"));
    assert_eq!(r.version, Some(1));
    assert_eq!(r.event_ids.len(), 1);

    let r = app
        .dispatch(Deposit {
            id: "a1".into(),
            amount: 50,
        })
        .await
        .unwrap();
    assert_eq!(r.version, Some(2));
    let r = app
        .dispatch(Withdraw {
            id: "a1".into(),
            amount: 20,
        })
        .await
        .unwrap();
    assert_eq!(r.version, Some(3));

    let account = app.load_aggregate::<Account>("a1").await.unwrap();
    assert_eq!(account.version(), 3);
    assert_eq!(account.balance, 30);
    assert_eq!(account.id, "a1");
    assert!(account.uncommitted().is_empty());

    let stored = app
        .store()
        .read_stream_forward("account-a1", 1, 10)
        .await
        .unwrap();
    assert_recorded(&stored)
        .types(["AccountOpened", "AccountDeposited", "AccountWithdrawn"])
        .events([
            AccountEvent::Opened {
                owner: "ada".into(),
            },
            AccountEvent::Deposited { amount: 50 },
            AccountEvent::Withdrawn(20),
        ]);
    assert_eq!(stored[1].schema_version, 2);
    assert_eq!(stored[0].payload, br#"{"owner":"ada"}"#);
    assert_eq!(stored[2].payload, b"20");
    let ids: Vec<_> = stored.iter().map(|e| e.event_id).collect();
    assert_eq!(ids[2], r.event_ids[0]);
}

#[tokio::test]
async fn a_rejected_command_writes_nothing() {
    let app = app().await;
    app.dispatch(open("a2")).await.unwrap();
    let err = app
        .dispatch(Withdraw {
            id: "a2".into(),
            amount: 5,
        })
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        DispatchError::Rejected(AccountError::Insufficient {
            balance: 0,
            wanted: 5
        })
    ));
    let err = app.dispatch(open("a2")).await.unwrap_err();
    assert_eq!(err.rejected(), Some(&AccountError::AlreadyOpen));
    let info = app
        .store()
        .stream_info("account-a2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.version, 1);
}

#[tokio::test]
async fn a_command_producing_no_event_leaves_the_version() {
    let app = app().await;
    app.dispatch(open("a3")).await.unwrap();
    let r = app.dispatch(Touch { id: "a3".into() }).await.unwrap();
    assert_eq!(r.version, Some(1));
    assert!(r.event_ids.is_empty());
    assert_eq!(
        app.store().head_position().await.unwrap(),
        mink::Position::sequential(1)
    );
}

#[tokio::test]
async fn loading_a_missing_aggregate_is_a_typed_error() {
    let app = app().await;
    match app.load_aggregate::<Account>("nobody").await {
        Err(Error::StreamNotFound { stream }) => assert_eq!(stream, "account-nobody"),
        other => panic!("expected StreamNotFound, got {other:?}"),
    }
    let fresh = app.load_or_new::<Account>("nobody").await.unwrap();
    assert_eq!(fresh.version(), 0);
    assert_eq!(fresh.id, "nobody");
}

#[tokio::test]
async fn save_aggregate_checks_the_loaded_version() {
    let app = app().await;
    let mut first: Tracked<Account> = app.new_aggregate("a4").unwrap();
    first.record(AccountEvent::Opened {
        owner: "ada".into(),
    });
    first.record(AccountEvent::Deposited { amount: 7 });
    assert_eq!(first.balance, 7);
    let r = app.save_aggregate(&mut first).await.unwrap();
    assert_eq!(r.streams[0].last_version, 2);
    assert_eq!(first.version(), 2);
    assert!(first.uncommitted().is_empty());

    // Two copies loaded at version 2: the second save must conflict.
    let mut a = app.load_aggregate::<Account>("a4").await.unwrap();
    let mut b = app.load_aggregate::<Account>("a4").await.unwrap();
    a.record(AccountEvent::Deposited { amount: 1 });
    b.record(AccountEvent::Withdrawn(1));
    app.save_aggregate(&mut a).await.unwrap();
    match app.save_aggregate(&mut b).await {
        Err(Error::ConcurrencyConflict {
            stream,
            expected,
            actual,
        }) => {
            assert_eq!(stream, "account-a4");
            assert_eq!(expected, ExpectedVersion::Exact(2));
            assert_eq!(actual, 3);
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    // The refused events are still there to retry or inspect.
    assert_eq!(b.uncommitted(), &[AccountEvent::Withdrawn(1)]);
    let reloaded = app.load_aggregate::<Account>("a4").await.unwrap();
    assert_eq!(reloaded.balance, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_dispatches_never_lose_an_update() {
    let app = app().await;
    app.dispatch(open("hot")).await.unwrap();
    let tasks: Vec<_> = (0..32)
        .map(|_| {
            let app = app.clone();
            tokio::spawn(async move {
                app.dispatch(Deposit {
                    id: "hot".into(),
                    amount: 1,
                })
                .await
            })
        })
        .collect();
    let mut ok_versions = Vec::new();
    let mut conflicts = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(r) => ok_versions.push(r.version.expect("an aggregate command")),
            Err(DispatchError::Store(e)) if e.is_concurrency_conflict() => conflicts += 1,
            Err(other) => panic!("unexpected {other}"),
        }
    }
    ok_versions.sort_unstable();
    let expected: Vec<u64> = (2..2 + ok_versions.len() as u64).collect();
    assert_eq!(ok_versions, expected, "each success took the next version");
    assert_eq!(ok_versions.len() + conflicts, 32);
    let account = app.load_aggregate::<Account>("hot").await.unwrap();
    assert_eq!(account.balance, ok_versions.len() as u64);
}

#[tokio::test]
async fn a_stored_event_of_an_unknown_type_fails_loading_with_its_name() {
    let store = Arc::new(InMemoryStore::new());
    store
        .append_to_stream(
            "account-x",
            ExpectedVersion::NoStream,
            vec![NewEvent::new("AccountFrozen", b"{}".to_vec())],
        )
        .await
        .unwrap();
    let app = Mink::builder().shared_store(store).build().await.unwrap();
    match app.load_aggregate::<Account>("x").await {
        Err(Error::UnknownEventType {
            event_type,
            stream,
            version,
        }) => {
            assert_eq!(event_type, "AccountFrozen");
            assert_eq!(stream, "account-x");
            assert_eq!(version, 1);
        }
        other => panic!("expected UnknownEventType, got {other:?}"),
    }
}

#[tokio::test]
async fn a_payload_that_no_longer_fits_fails_loading_with_a_typed_error() {
    let store = Arc::new(InMemoryStore::new());
    let bad = NewEvent::new("AccountDeposited", br#"{"amount":"lots"}"#.to_vec());
    let bad_id = bad.event_id;
    store
        .append_to_stream("account-y", ExpectedVersion::NoStream, vec![bad])
        .await
        .unwrap();
    let app = Mink::builder().shared_store(store).build().await.unwrap();
    match app.load_aggregate::<Account>("y").await {
        Err(Error::Deserialization {
            event_type,
            stream,
            version,
            event_id,
            ..
        }) => {
            assert_eq!(event_type, "AccountDeposited");
            assert_eq!(stream, "account-y");
            assert_eq!(version, 1);
            assert_eq!(event_id, bad_id);
        }
        other => panic!("expected Deserialization, got {other:?}"),
    }
}

#[tokio::test]
async fn the_builder_discovers_events_and_handlers() {
    let app = app().await;
    let reg = app.registry();
    let opened = reg.event("AccountOpened").expect("registered");
    assert!(
        opened.rust_type.ends_with("dispatch::AccountEvent::Opened"),
        "{}",
        opened.rust_type
    );
    assert_eq!(reg.event("AccountDeposited").unwrap().schema_version, 2);
    let handled: Vec<_> = reg
        .handlers()
        .iter()
        .filter(|h| h.aggregate.ends_with("dispatch::Account"))
        .map(|h| (h.command, h.method))
        .collect();
    assert_eq!(
        handled,
        [
            ("Deposit", "deposit"),
            ("Open", "open"),
            ("Touch", "touch"),
            ("Withdraw", "withdraw")
        ]
    );
}

#[tokio::test]
async fn building_without_a_store_is_a_configuration_error() {
    let err = Mink::builder().build().await.unwrap_err();
    assert!(matches!(err, Error::Configuration(_)), "{err:?}");
}

#[test]
fn events_round_trip_through_the_serializer() {
    use mink::{Event, JsonSerializer};
    let cases = [
        AccountEvent::Opened { owner: "ö".into() },
        AccountEvent::Deposited { amount: 3 },
        AccountEvent::Withdrawn(9),
        AccountEvent::Closed,
    ];
    for e in cases {
        let bytes = e.encode(&JsonSerializer).unwrap();
        let back =
            AccountEvent::decode(e.event_type(), e.schema_version(), &bytes, &JsonSerializer)
                .unwrap()
                .unwrap();
        assert_eq!(back, e);
    }
    assert!(
        AccountEvent::decode("Nope", 1, b"{}", &JsonSerializer)
            .unwrap()
            .is_none()
    );
    assert_eq!(
        AccountEvent::EVENT_TYPES,
        [
            "AccountOpened",
            "AccountDeposited",
            "AccountWithdrawn",
            "AccountClosed"
        ]
    );
}

// ------------------------------------------------------ plain commands

/// A command no aggregate owns: handled by a plain async function.
#[command]
pub struct SendStatement {
    account: String,
    fail: bool,
}

#[derive(Debug, PartialEq, thiserror::Error)]
#[error("mail server unavailable")]
pub struct MailDown;

#[command_handler]
async fn send_statement(cmd: SendStatement, ctx: mink::HandlerContext) -> Result<(), MailDown> {
    if cmd.fail {
        return Err(MailDown);
    }
    let event = NewEvent::json(
        "StatementSent",
        &serde_json::json!({ "account": cmd.account }),
    )
    .expect("json")
    .with_metadata(ctx.event_metadata());
    ctx.store
        .append_to_stream("statements-2026", ExpectedVersion::Any, vec![event])
        .await
        .map_err(|_| MailDown)?;
    Ok(())
}

/// A plain command with an id field, handled without a context.
#[command(name = "Ping")]
pub struct PingAccount {
    #[command(id)]
    account: String,
}

#[command_handler]
async fn ping(_cmd: PingAccount) -> Result<(), std::convert::Infallible> {
    Ok(())
}

#[tokio::test]
async fn plain_commands_run_their_handler_function() {
    let app = app().await;
    let ctx = mink::Context::new().with_correlation_id("batch-7");
    let command_id = ctx.command_id;
    let r = app
        .dispatch_with(
            SendStatement {
                account: "a1".into(),
                fail: false,
            },
            ctx,
        )
        .await
        .unwrap();
    assert_eq!(r.command, "SendStatement");
    assert_eq!(r.aggregate_id, None);
    let stored = app
        .store()
        .read_stream_forward("statements-2026", 1, 10)
        .await
        .unwrap();
    assert_recorded(&stored)
        .count(1)
        .metadata_eq(&mink::EventMetadata {
            correlation_id: Some("batch-7".into()),
            causation_id: Some(command_id.to_string()),
            ..Default::default()
        });

    let err = app
        .dispatch(SendStatement {
            account: "a1".into(),
            fail: true,
        })
        .await
        .unwrap_err();
    assert_eq!(err.rejected(), Some(&MailDown));

    let r = app
        .dispatch(PingAccount {
            account: "a9".into(),
        })
        .await
        .unwrap();
    assert_eq!(
        (r.command.as_str(), r.aggregate_id.as_deref().unwrap_or("")),
        ("Ping", "a9")
    );

    let plain: Vec<_> = app
        .registry()
        .handlers()
        .iter()
        .filter(|h| h.aggregate.is_empty())
        .map(|h| h.command)
        .collect();
    assert!(
        plain.contains(&"SendStatement") && plain.contains(&"PingAccount"),
        "{plain:?}"
    );
}
