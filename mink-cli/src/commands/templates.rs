//! The files `mink init` and `mink generate` write. Placeholders in
//! `{{…}}` are replaced by [`fill`].

/// Replaces each `{{key}}` by its value.
pub(crate) fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut text = template.to_owned();
    for (key, value) in values {
        text = text.replace(&format!("{{{{{key}}}}}"), value);
    }
    text
}

pub(crate) const CARGO_TOML: &str = r#"[package]
name = "{{name}}"
version = "0.1.0"
edition = "2024"
publish = false

[dependencies]
mink = { path = "{{mink_path}}", features = ["{{store}}"] }
thiserror = "2"
tokio = { version = "1", features = ["rt-multi-thread", "macros"] }

[dev-dependencies]
# The same mink with its test fixtures (`mink::testing`).
mink = { path = "{{mink_path}}", features = ["{{store}}", "testing"] }

# A workspace of its own, so the application builds wherever it is put.
[workspace]
"#;

pub(crate) const GITIGNORE: &str = "/target\n*.db\n*.db-shm\n*.db-wal\n.env\n";

pub(crate) const ENV: &str = "DATABASE_URL={{url}}\n";

pub(crate) const README: &str = r#"# {{name}}

An event-sourced application built with [mink](https://example.invalid/mink).

- `src/account.rs`: the `Account` aggregate, its events and commands.
- `src/balances.rs`: an inline projection keeping a `balances` read model
  in the append's transaction.
- `src/account.rs` ends with its tests: given / when / then fixtures from
  `mink::testing`, with no store and no runtime.
- `tests/account.rs`: dispatches commands and reads the read model.

```sh
cargo test                 # in memory, no database needed
cargo run                  # against DATABASE_URL (see .env)
mink stream list           # look at the events it stored
mink events --category account
mink projection list
mink diagnose
```

Add code with `mink generate aggregate|event|command|projection <Name>`.
"#;

pub(crate) const LIB: &str = r#"//! {{name}}: an event-sourced application built with mink.

pub mod account;
pub mod balances;

use mink::adapters::AnyStore;
use mink::prelude::*;

/// Any error while starting the application.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Opens the store `url` names (`memory:`, `sqlite://…`, `postgres://…`)
/// and builds the application, with the balances read model.
pub async fn app(url: &str) -> Result<(Mink, ReadModelRepository<balances::Balance>), BoxError> {
    let store = AnyStore::open(url).await?;
    let balances =
        ReadModelRepository::<balances::Balance>::open_shared(store.read_models()).await?;
    let app = Mink::builder()
        .store(store)
        .projection(balances::Balances {
            repo: balances.clone(),
        })
        .build()
        .await?;
    Ok((app, balances))
}
"#;

pub(crate) const MAIN: &str = r#"//! Opens an account, deposits into it and prints its balance.

use {{crate}}::account::{Deposit, OpenAccount};

#[tokio::main]
async fn main() -> Result<(), {{crate}}::BoxError> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "{{url}}".to_owned());
    let (app, balances) = {{crate}}::app(&url).await?;
    let id = format!("{}", std::process::id());
    app.dispatch(OpenAccount {
        account_id: id.clone(),
        owner: "ada".into(),
    })
    .await?;
    app.dispatch(Deposit {
        account_id: id.clone(),
        cents: 1_250,
    })
    .await?;
    if let Some(balance) = balances.find_by_id(id.as_str()).await? {
        println!("account {} of {}: {} cents", balance.id, balance.owner, balance.cents);
    }
    app.shutdown().await;
    Ok(())
}
"#;

pub(crate) const ACCOUNT: &str = r#"//! The `Account` aggregate: its events, commands and rules.

use mink::prelude::*;

/// What can happen to an account.
#[event]
#[derive(Debug, Clone, PartialEq)]
pub enum AccountEvent {
    /// The account was opened.
    #[event(name = "AccountOpened")]
    Opened {
        /// Who holds it.
        owner: String,
    },
    /// Money was paid in.
    #[event(name = "MoneyDeposited")]
    Deposited {
        /// How much.
        cents: u64,
    },
}

/// An account, rebuilt from its events.
#[derive(Aggregate, Debug, Default)]
#[aggregate(events = AccountEvent, category = "account")]
pub struct Account {
    #[aggregate(id)]
    id: String,
    opened: bool,
    balance_cents: u64,
}

/// Opens an account.
#[command(aggregate = Account)]
pub struct OpenAccount {
    /// The account's id.
    #[command(id)]
    pub account_id: String,
    /// Who holds it.
    pub owner: String,
}

/// Pays money in.
#[command(aggregate = Account)]
pub struct Deposit {
    /// The account's id.
    #[command(id)]
    pub account_id: String,
    /// How much.
    pub cents: u64,
}

/// Why the account refused a command.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum AccountError {
    /// It is open already.
    #[error("account {0} is open already")]
    AlreadyOpen(String),
    /// It was never opened.
    #[error("account {0} is not open")]
    NotOpen(String),
    /// Deposits are positive.
    #[error("a deposit must be more than zero")]
    ZeroDeposit,
}

#[command_handler]
impl Account {
    fn open(&self, cmd: OpenAccount) -> Result<Vec<AccountEvent>, AccountError> {
        if self.opened {
            return Err(AccountError::AlreadyOpen(self.id.clone()));
        }
        Ok(vec![AccountEvent::Opened { owner: cmd.owner }])
    }

    fn deposit(&self, cmd: Deposit) -> Result<Vec<AccountEvent>, AccountError> {
        if !self.opened {
            return Err(AccountError::NotOpen(self.id.clone()));
        }
        if cmd.cents == 0 {
            return Err(AccountError::ZeroDeposit);
        }
        Ok(vec![AccountEvent::Deposited { cents: cmd.cents }])
    }

    fn apply(&mut self, event: &AccountEvent) {
        match event {
            AccountEvent::Opened { .. } => self.opened = true,
            AccountEvent::Deposited { cents } => self.balance_cents += cents,
        }
    }
}

impl Account {
    /// The money in the account.
    pub fn balance_cents(&self) -> u64 {
        self.balance_cents
    }
}

#[cfg(test)]
mod tests {
    use mink::testing::AggregateFixture;

    use super::*;

    fn opened() -> AccountEvent {
        AccountEvent::Opened {
            owner: "ada".into(),
        }
    }

    #[test]
    fn a_deposit_into_an_open_account_is_recorded() {
        AggregateFixture::<Account>::given([opened()])
            .when(Deposit {
                account_id: "a1".into(),
                cents: 250,
            })
            .then_events([AccountEvent::Deposited { cents: 250 }])
            .then_state(|account| assert_eq!(account.balance_cents(), 250));
    }

    #[test]
    fn an_account_opens_once() {
        AggregateFixture::<Account>::given([opened()])
            .when(OpenAccount {
                account_id: "a1".into(),
                owner: "bob".into(),
            })
            .then_error(|e| matches!(e, AccountError::AlreadyOpen(_)));
    }

    #[test]
    fn deposits_need_an_open_account_and_money() {
        AggregateFixture::<Account>::given_nothing()
            .when(Deposit {
                account_id: "a1".into(),
                cents: 5,
            })
            .then_error(|e| matches!(e, AccountError::NotOpen(_)));
        AggregateFixture::<Account>::given([opened()])
            .when(Deposit {
                account_id: "a1".into(),
                cents: 0,
            })
            .then_error_message("a deposit must be more than zero");
    }
}
"#;

pub(crate) const BALANCES: &str = r#"//! The `balances` read model, kept by an inline projection in the append's
//! transaction: a command's caller reads the new balance as soon as the
//! command returns.

use mink::prelude::*;
use mink::projection::ProjectionContext;
use mink::{BoxError, RecordedEvent};

use crate::account::AccountEvent;

/// One row per account.
#[derive(ReadModel, Debug, Clone, PartialEq)]
#[read_model(table = "balances")]
pub struct Balance {
    /// The account's id.
    #[read_model(id)]
    pub id: String,
    /// Who holds it.
    #[read_model(index)]
    pub owner: String,
    /// The money in it.
    pub cents: i64,
}

/// Keeps [`Balance`] rows.
pub struct Balances {
    /// Where the rows live.
    pub repo: ReadModelRepository<Balance>,
}

#[projection(name = "balances", kind = inline)]
impl Balances {
    async fn on_account(
        &self,
        event: &AccountEvent,
        envelope: &RecordedEvent,
        ctx: &mut ProjectionContext<'_>,
    ) -> Result<(), BoxError> {
        let id = envelope.stream_id.trim_start_matches("account-").to_owned();
        let tx = ctx
            .transaction()
            .ok_or("an inline projection runs in a transaction")?;
        let mut balances = self.repo.in_tx(tx);
        match event {
            AccountEvent::Opened { owner } => {
                balances
                    .insert(&Balance {
                        id,
                        owner: owner.clone(),
                        cents: 0,
                    })
                    .await?
            }
            AccountEvent::Deposited { cents } => {
                let cents = i64::try_from(*cents).unwrap_or(i64::MAX);
                balances
                    .update(id.as_str(), |b| b.cents += cents)
                    .await
                    .map(drop)?
            }
        }
        Ok(())
    }
}
"#;

pub(crate) const TEST: &str = r#"//! The application end to end, on the in-memory store.

use {{crate}}::account::{Deposit, OpenAccount};

#[tokio::test]
async fn deposits_add_up_in_the_balance() {
    let (app, balances) = {{crate}}::app("memory:").await.expect("the application starts");
    app.dispatch(OpenAccount {
        account_id: "a1".into(),
        owner: "ada".into(),
    })
    .await
    .expect("the account opens");
    for cents in [100, 50] {
        app.dispatch(Deposit {
            account_id: "a1".into(),
            cents,
        })
        .await
        .expect("the deposit is accepted");
    }
    let balance = balances
        .find_by_id("a1")
        .await
        .expect("the read model answers")
        .expect("the account has a balance row");
    assert_eq!(balance.cents, 150);
    assert!(app
        .dispatch(Deposit {
            account_id: "a2".into(),
            cents: 1,
        })
        .await
        .is_err());
}
"#;

pub(crate) const GEN_AGGREGATE: &str = r#"//! The `{{Name}}` aggregate: its events, a command and its rules.

use mink::prelude::*;

/// What can happen to a {{snake}}.
#[event]
#[derive(Debug, Clone, PartialEq)]
pub enum {{Name}}Event {
{{variants}}}

/// A {{snake}}, rebuilt from its events.
#[derive(Aggregate, Debug, Default)]
#[aggregate(events = {{Name}}Event, category = "{{category}}")]
pub struct {{Name}} {
    #[aggregate(id)]
    id: String,
    /// Events applied so far.
    pub events_applied: u64,
}

/// Records `{{Name}}{{First}}`.
#[command(aggregate = {{Name}})]
pub struct Record{{Name}}{{First}} {
    /// The {{snake}}'s id.
    #[command(id)]
    pub {{snake}}_id: String,
}

/// Why a {{snake}} refused a command.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum {{Name}}Error {
    /// The command does not apply now.
    #[error("{{snake}} {0} refuses this command")]
    Refused(String),
}

#[command_handler]
impl {{Name}} {
    fn record_{{snake}}_{{first_snake}}(&self, cmd: Record{{Name}}{{First}}) -> Result<Vec<{{Name}}Event>, {{Name}}Error> {
        let _ = cmd;
        Ok(vec![{{Name}}Event::{{First}} { note: String::new() }])
    }

    fn apply(&mut self, event: &{{Name}}Event) {
        let _ = event;
        self.events_applied += 1;
    }
}
"#;

pub(crate) const GEN_EVENT: &str = r#"//! The `{{Name}}` events.

use mink::prelude::*;

/// What can happen.
#[event]
#[derive(Debug, Clone, PartialEq)]
pub enum {{Name}} {
{{variants}}}
"#;

pub(crate) const GEN_VARIANT: &str = r#"    /// {{Variant}}.
    #[event(name = "{{Prefix}}{{Variant}}")]
    {{Variant}} {
        /// What to record with it.
        note: String,
    },
"#;

pub(crate) const GEN_COMMAND: &str = r#"//! The `{{Name}}` command of [`{{Aggregate}}`].

use mink::prelude::*;

use crate::{{agg_snake}}::{ {{Aggregate}}, {{Aggregate}}Error, {{Aggregate}}Event };

/// {{Name}}.
#[command(aggregate = {{Aggregate}})]
pub struct {{Name}} {
    /// The {{agg_snake}}'s id.
    #[command(id)]
    pub {{agg_snake}}_id: String,
}

#[command_handler]
impl {{Aggregate}} {
    fn {{snake}}(&self, cmd: {{Name}}) -> Result<Vec<{{Aggregate}}Event>, {{Aggregate}}Error> {
        // Decide here: check the aggregate's state, return the events.
        let _ = cmd;
        Ok(Vec::new())
    }
}
"#;

pub(crate) const GEN_PROJECTION: &str = r#"//! The `{{kebab}}` projection over [`{{Events}}`].

use std::sync::atomic::{AtomicU64, Ordering};

use mink::prelude::*;
use mink::BoxError;

use crate::{{events_module}}::{{Events}};

/// An async projection: a background worker applies the events after
/// they are stored, with a checkpoint (`mink projection status {{kebab}}`).
#[derive(Debug, Default)]
pub struct {{Name}} {
    /// Events applied in this process.
    pub applied: AtomicU64,
}

#[projection(name = "{{kebab}}", kind = async)]
impl {{Name}} {
    async fn on_event(&self, event: &{{Events}}) -> Result<(), BoxError> {
        // Write a read model here (see docs/guide/read-models.md).
        let _ = event;
        self.applied.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}
"#;

#[cfg(test)]
mod tests {
    use super::fill;

    #[test]
    fn placeholders() {
        assert_eq!(
            fill("a {{x}} {{x}} {{y}}", &[("x", "1"), ("y", "2")]),
            "a 1 1 2"
        );
    }
}
