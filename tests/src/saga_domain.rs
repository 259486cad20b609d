//! The sagas the saga tests run (in the integration tests and in the
//! `saga-worker` processes), written by hand as `#[saga]` generates them,
//! and the ledger aggregate their commands go to: every command that runs
//! appends one event to the ledger stream of its account, so a command run
//! twice shows as two events.
//!
//! - `sagas.checkout` starts on [`OrderPlaced`] (association `order_id`),
//!   records one ledger entry per step, may schedule a `timeout` deadline,
//!   takes a second association from [`PaymentLinked`] (`payment_id`),
//!   reacts to [`PaymentReceived`] through it, and completes on
//!   [`OrderShipped`]. Each recorded step is compensated by an undo.
//! - `sagas.audit` starts on the same [`OrderPlaced`], with the same
//!   association key and value, and records one audit entry: two saga types
//!   never see each other's sagas.
//!
//! A ledger note starting with `reject` is refused (a permanent failure)
//! unless [`allow`]ed; an undo of a note containing `badundo` is refused.

use std::collections::HashSet;
use std::sync::Mutex;

use futures::FutureExt;
use mink::command::{Command, Context};
use mink::prelude::*;
use mink::saga::{
    Association, OutgoingCommand, Routed, Saga, SagaCommandError, SagaContext, SagaDispatchFuture,
    SagaExecutor,
};
use mink::{BoxError, RecordedEvent};
use serde::{Deserialize, Serialize};

// ----- the events sagas react to -----

/// An order was placed: starts a checkout and an audit.
#[event(name = "sagas.OrderPlaced")]
#[derive(Debug, Clone, PartialEq)]
pub struct OrderPlaced {
    /// The order.
    pub order_id: String,
    /// One ledger entry is recorded per step, in order.
    pub steps: Vec<String>,
    /// Schedules the `timeout` deadline this many seconds later.
    pub timeout_secs: Option<u64>,
}

/// Links a payment to an order: the checkout then also answers to it.
#[event(name = "sagas.PaymentLinked")]
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentLinked {
    /// The order.
    pub order_id: String,
    /// The payment.
    pub payment_id: String,
}

/// A payment came in: reaches the checkout through its payment id.
#[event(name = "sagas.PaymentReceived")]
#[derive(Debug, Clone, PartialEq)]
pub struct PaymentReceived {
    /// The payment.
    pub payment_id: String,
}

/// The order shipped: completes the checkout.
#[event(name = "sagas.OrderShipped")]
#[derive(Debug, Clone, PartialEq)]
pub struct OrderShipped {
    /// The order.
    pub order_id: String,
    /// Cancels the `timeout` deadline first.
    pub cancel_timeout: bool,
}

/// The checkout's deadline.
#[event(name = "sagas.CheckoutTimedOut")]
#[derive(Debug, Clone, PartialEq)]
pub struct CheckoutTimedOut {
    /// The order.
    pub order_id: String,
}

// ----- the ledger the commands go to -----

/// What the ledger records.
#[event]
#[derive(Debug, Clone, PartialEq)]
pub enum LedgerEvent {
    /// A step ran.
    #[event(name = "sagas.Recorded")]
    Recorded {
        /// The step's note.
        note: String,
    },
    /// A step was undone.
    #[event(name = "sagas.Undone")]
    Undone {
        /// The undo's note.
        note: String,
    },
}

/// One account's ledger: stream `sagas_ledger-<account>`.
#[derive(Aggregate, Default)]
#[aggregate(events = LedgerEvent, category = "sagas_ledger")]
pub struct Ledger {
    /// The account.
    #[aggregate(id)]
    pub account: String,
    /// Entries so far.
    pub entries: u32,
}

/// Records one entry.
#[command(aggregate = Ledger, name = "sagas.Record")]
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// The account.
    #[command(id)]
    pub account: String,
    /// The note.
    pub note: String,
}

/// Undoes one entry.
#[command(aggregate = Ledger, name = "sagas.Undo")]
#[derive(Debug, Clone, PartialEq)]
pub struct Undo {
    /// The account.
    #[command(id)]
    pub account: String,
    /// The note.
    pub note: String,
}

/// Why the ledger refused.
#[derive(Debug, thiserror::Error)]
#[error("the ledger refuses `{0}`")]
pub struct Refused(pub String);

static ALLOWED: Mutex<Option<HashSet<String>>> = Mutex::new(None);

/// Lets the ledger accept `note` even though it starts with `reject`.
pub fn allow(note: &str) {
    ALLOWED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get_or_insert_with(HashSet::new)
        .insert(note.to_owned());
}

fn refuses(note: &str) -> bool {
    let allowed = ALLOWED
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .is_some_and(|a| a.contains(note));
    note.starts_with("reject") && !allowed
}

#[command_handler]
impl Ledger {
    fn record(&self, cmd: Record) -> Result<Vec<LedgerEvent>, Refused> {
        if refuses(&cmd.note) {
            return Err(Refused(cmd.note));
        }
        Ok(vec![LedgerEvent::Recorded { note: cmd.note }])
    }

    fn undo(&self, cmd: Undo) -> Result<Vec<LedgerEvent>, Refused> {
        if cmd.note.contains("badundo") {
            return Err(Refused(cmd.note));
        }
        Ok(vec![LedgerEvent::Undone { note: cmd.note }])
    }

    fn apply(&mut self, _event: &LedgerEvent) {
        self.entries += 1;
    }
}

/// The ledger stream of `account`.
pub fn ledger_stream(account: &str) -> String {
    format!("sagas_ledger-{account}")
}

// ----- the sagas -----

/// The checkout's events.
#[derive(Debug)]
pub enum CheckoutEvent {
    /// See [`OrderPlaced`].
    Placed(OrderPlaced),
    /// See [`PaymentLinked`].
    Linked(PaymentLinked),
    /// See [`PaymentReceived`].
    Received(PaymentReceived),
    /// See [`OrderShipped`].
    Shipped(OrderShipped),
    /// See [`CheckoutTimedOut`].
    TimedOut(CheckoutTimedOut),
}

/// The checkout saga's state.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Checkout {
    /// Its order.
    pub order_id: String,
    /// Events handled.
    pub handled: u32,
}

fn decode<T: serde::de::DeserializeOwned, S: mink::Serializer>(
    event: &RecordedEvent,
    serializer: &S,
) -> mink::Result<T> {
    serializer
        .deserialize(&event.payload)
        .map_err(|source| mink::Error::Deserialization {
            event_type: event.event_type.clone(),
            stream: event.stream_id.clone(),
            version: event.version,
            event_id: event.event_id,
            source,
        })
}

fn record(account: &str, note: String) -> Result<OutgoingCommand, BoxError> {
    Ok(OutgoingCommand::new(&Record {
        account: account.to_owned(),
        note,
    })?)
}

/// Sends a stored ledger command by its name.
fn dispatch_ledger<X: SagaExecutor>(
    executor: &X,
    command: &OutgoingCommand,
    context: Context,
) -> SagaDispatchFuture {
    fn decode_command<C: Command>(command: &OutgoingCommand) -> Result<C, SagaCommandError> {
        serde_json::from_slice(&command.payload).map_err(|e| SagaCommandError::Permanent {
            command: command.name.clone(),
            source: Box::new(e),
        })
    }
    match command.name.as_str() {
        n if n == Record::NAME => match decode_command::<Record>(command) {
            Ok(c) => executor.send(c, context),
            Err(e) => futures::future::ready(Err(e)).boxed(),
        },
        n if n == Undo::NAME => match decode_command::<Undo>(command) {
            Ok(c) => executor.send(c, context),
            Err(e) => futures::future::ready(Err(e)).boxed(),
        },
        other => futures::future::ready(Err(SagaCommandError::Permanent {
            command: other.to_owned(),
            source: format!("no command named `{other}`").into(),
        }))
        .boxed(),
    }
}

impl Saga for Checkout {
    const NAME: &'static str = "sagas.checkout";
    type Event = CheckoutEvent;

    fn event_types() -> Vec<&'static str> {
        vec![
            "sagas.OrderPlaced",
            "sagas.PaymentLinked",
            "sagas.PaymentReceived",
            "sagas.OrderShipped",
            "sagas.CheckoutTimedOut",
        ]
    }

    fn route<S: mink::Serializer>(
        event: &RecordedEvent,
        serializer: &S,
    ) -> mink::Result<Option<Routed<CheckoutEvent>>> {
        let by_order = |order_id: &str| Association {
            key: "order_id",
            value: order_id.to_owned(),
        };
        Ok(Some(match event.event_type.as_str() {
            "sagas.OrderPlaced" => {
                let e: OrderPlaced = decode(event, serializer)?;
                Routed {
                    association: by_order(&e.order_id),
                    event: CheckoutEvent::Placed(e),
                    starts: true,
                }
            }
            "sagas.PaymentLinked" => {
                let e: PaymentLinked = decode(event, serializer)?;
                Routed {
                    association: by_order(&e.order_id),
                    event: CheckoutEvent::Linked(e),
                    starts: false,
                }
            }
            "sagas.PaymentReceived" => {
                let e: PaymentReceived = decode(event, serializer)?;
                Routed {
                    association: Association {
                        key: "payment_id",
                        value: e.payment_id.clone(),
                    },
                    event: CheckoutEvent::Received(e),
                    starts: false,
                }
            }
            "sagas.OrderShipped" => {
                let e: OrderShipped = decode(event, serializer)?;
                Routed {
                    association: by_order(&e.order_id),
                    event: CheckoutEvent::Shipped(e),
                    starts: false,
                }
            }
            "sagas.CheckoutTimedOut" => {
                let e: CheckoutTimedOut = decode(event, serializer)?;
                Routed {
                    association: by_order(&e.order_id),
                    event: CheckoutEvent::TimedOut(e),
                    starts: false,
                }
            }
            _ => return Ok(None),
        }))
    }

    fn handle(
        &mut self,
        event: CheckoutEvent,
        _envelope: &RecordedEvent,
        context: &mut SagaContext,
    ) -> Result<Vec<OutgoingCommand>, BoxError> {
        self.handled += 1;
        match event {
            CheckoutEvent::Placed(e) => {
                self.order_id = e.order_id.clone();
                if let Some(secs) = e.timeout_secs {
                    context.schedule_in(
                        "timeout",
                        std::time::Duration::from_secs(secs),
                        &CheckoutTimedOut {
                            order_id: e.order_id.clone(),
                        },
                    )?;
                }
                e.steps
                    .iter()
                    .map(|step| record(&e.order_id, step.clone()))
                    .collect()
            }
            CheckoutEvent::Linked(e) => {
                context.associate("payment_id", &e.payment_id);
                Ok(Vec::new())
            }
            CheckoutEvent::Received(e) => Ok(vec![record(
                &self.order_id,
                format!("paid-{}", e.payment_id),
            )?]),
            CheckoutEvent::Shipped(e) => {
                if e.cancel_timeout {
                    context.cancel("timeout");
                }
                context.complete();
                Ok(vec![record(
                    &e.order_id,
                    format!("shipped-{}", e.order_id),
                )?])
            }
            CheckoutEvent::TimedOut(e) => Ok(vec![record(
                &e.order_id,
                format!("timeout-{}", e.order_id),
            )?]),
        }
    }

    fn compensate(&self, done: &OutgoingCommand) -> Result<Option<OutgoingCommand>, BoxError> {
        if done.name != Record::NAME {
            return Ok(None);
        }
        let step: Record = serde_json::from_slice(&done.payload)?;
        Ok(Some(OutgoingCommand::new(&Undo {
            account: step.account,
            note: format!("undo-{}", step.note),
        })?))
    }

    fn dispatch<X: SagaExecutor>(
        executor: &X,
        command: &OutgoingCommand,
        context: Context,
    ) -> SagaDispatchFuture {
        dispatch_ledger(executor, command, context)
    }
}

/// The audit saga's state.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Audit {
    /// Orders seen.
    pub seen: u32,
}

impl Saga for Audit {
    const NAME: &'static str = "sagas.audit";
    type Event = OrderPlaced;

    fn event_types() -> Vec<&'static str> {
        vec!["sagas.OrderPlaced"]
    }

    fn route<S: mink::Serializer>(
        event: &RecordedEvent,
        serializer: &S,
    ) -> mink::Result<Option<Routed<OrderPlaced>>> {
        if event.event_type != "sagas.OrderPlaced" {
            return Ok(None);
        }
        let e: OrderPlaced = decode(event, serializer)?;
        Ok(Some(Routed {
            association: Association {
                key: "order_id",
                value: e.order_id.clone(),
            },
            event: e,
            starts: true,
        }))
    }

    fn handle(
        &mut self,
        event: OrderPlaced,
        _envelope: &RecordedEvent,
        _context: &mut SagaContext,
    ) -> Result<Vec<OutgoingCommand>, BoxError> {
        self.seen += 1;
        Ok(vec![record(
            &format!("audit-{}", event.order_id),
            format!("audited-{}", event.order_id),
        )?])
    }

    fn compensate(&self, _done: &OutgoingCommand) -> Result<Option<OutgoingCommand>, BoxError> {
        Ok(None)
    }

    fn dispatch<X: SagaExecutor>(
        executor: &X,
        command: &OutgoingCommand,
        context: Context,
    ) -> SagaDispatchFuture {
        dispatch_ledger(executor, command, context)
    }
}
