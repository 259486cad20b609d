//! Command validation rules: the [`Validate`] trait and the violations it
//! reports. `bus::ValidationLayer` enforces them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One broken rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The field at fault (or `""` for the whole command).
    pub field: String,
    /// What is wrong, in words a user can act on.
    pub message: String,
}

/// Every rule a command breaks, reported together.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidationErrors {
    /// The violations, in the order found.
    pub violations: Vec<Violation>,
}

impl ValidationErrors {
    /// No violation yet.
    pub fn new() -> Self {
        ValidationErrors::default()
    }

    /// Records a violation.
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.violations.push(Violation {
            field: field.into(),
            message: message.into(),
        });
    }

    /// Records a violation when `broken` holds.
    pub fn check(&mut self, broken: bool, field: &str, message: &str) {
        if broken {
            self.add(field, message);
        }
    }

    /// `Ok(())` without violations, `Err(self)` with some.
    pub fn into_result(self) -> Result<(), ValidationErrors> {
        if self.violations.is_empty() {
            Ok(())
        } else {
            Err(self)
        }
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid command:")?;
        for (i, v) in self.violations.iter().enumerate() {
            let sep = if i == 0 { " " } else { "; " };
            if v.field.is_empty() {
                write!(f, "{sep}{}", v.message)?;
            } else {
                write!(f, "{sep}{}: {}", v.field, v.message)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}

/// Rules a command checks about itself before it reaches its handler.
///
/// Implement it for a `#[command]` type; the command's generated code finds
/// the implementation, and `bus::ValidationLayer` enforces it.
pub trait Validate {
    /// Every violation, or `Ok(())`.
    fn validate(&self) -> Result<(), ValidationErrors>;
}
