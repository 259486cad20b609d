//! Failures of a command: one readable paragraph saying what failed, and
//! the fix when there is one.

use std::fmt;

/// A failed command. Printed as `error: <message>` followed by the fix;
/// the process exits with [`code`](Self::code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CliError {
    /// What failed, with the ids and values involved.
    pub message: String,
    /// How to fix it, when known.
    pub hint: Option<String>,
    /// The exit code (1 for failures; 2 is clap's for usage errors).
    pub code: u8,
}

/// What every command returns.
pub type CliResult<T = ()> = std::result::Result<T, CliError>;

impl CliError {
    /// A failure without a known fix.
    pub fn new(message: impl Into<String>) -> Self {
        CliError {
            message: message.into(),
            hint: None,
            code: 1,
        }
    }

    /// Adds the fix.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// A store error, with a fix chosen by its kind.
    pub fn store(context: &str, error: mink_runtime::Error) -> Self {
        use mink_runtime::Error;
        let hint = match &error {
            Error::Unavailable(_) => Some(
                "check that the database server is running and that the URL given with \
                 -D/--database-url, DATABASE_URL or .env is right",
            ),
            Error::Configuration(_) => Some("check the database URL and the `--schema` option"),
            _ => None,
        };
        let message = format!("{context}: {}", chain(&error));
        let mut err = CliError::new(message);
        err.hint = hint.map(str::to_owned);
        err
    }

    /// A failed database statement the CLI ran itself.
    pub fn sql(context: &str, error: sqlx::Error) -> Self {
        let unreachable = matches!(
            &error,
            sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
        );
        let err = CliError::new(format!("{context}: {}", chain(&error)));
        if unreachable {
            err.hint(
                "check that the database server is running and that the URL given with \
                 -D/--database-url, DATABASE_URL or .env is right",
            )
        } else {
            err
        }
    }

    /// A file that could not be read or written.
    pub fn io(context: &str, error: std::io::Error) -> Self {
        CliError::new(format!("{context}: {error}"))
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, "\n\nhint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for CliError {}

/// An error and its sources on one line, without repeating a source that
/// its parent already quotes.
pub fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(inner) = source {
        let part = inner.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = inner.source();
    }
    text
}
