// The whole path: build a Mink on the in-memory store, dispatch commands,
// see the handler's refusal, load the folded state.
use mink::prelude::*;

#[event]
pub enum AccountEvent {
    Opened { owner: String },
    Deposited { cents: u64 },
}

#[derive(Aggregate, Default)]
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
    account_id: String,
    owner: String,
}

#[command(aggregate = Account)]
pub struct Deposit {
    #[command(id)]
    account_id: String,
    cents: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("the account is already open")]
    AlreadyOpen,
    #[error("the account is not open")]
    NotOpen,
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
        Ok(vec![AccountEvent::Deposited { cents: cmd.cents }])
    }

    fn apply(&mut self, event: &AccountEvent) {
        match event {
            AccountEvent::Opened { .. } => self.open = true,
            AccountEvent::Deposited { cents } => self.balance += cents,
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let app = Mink::builder().store(InMemoryStore::new()).build().await.unwrap();

    let refused = app
        .dispatch(Deposit { account_id: "a1".into(), cents: 5 })
        .await
        .unwrap_err();
    assert!(matches!(refused.rejected(), Some(AccountError::NotOpen)));

    let opened = app
        .dispatch(Open { account_id: "a1".into(), owner: "ann".into() })
        .await
        .unwrap();
    assert_eq!((opened.version, opened.stream_id.as_deref()), (Some(1), Some("account-a1")));
    let deposited = app
        .dispatch(Deposit { account_id: "a1".into(), cents: 250 })
        .await
        .unwrap();
    assert_eq!(deposited.version, Some(2));

    let account = app.load_aggregate::<Account>("a1").await.unwrap();
    assert_eq!(account.balance, 250);
    assert_eq!(account.version(), 2);
}
