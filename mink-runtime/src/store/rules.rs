//! Rules every adapter applies the same way: checking an expected version,
//! spelling an expectation for SQL, and converting database integers.

use crate::error::{Error, Result};
use crate::event::ExpectedVersion;

/// Checks `expected` against a stream's `actual` version (0: no stream),
/// returning the typed conflict when it does not hold.
pub fn check_expected(stream_id: &str, expected: ExpectedVersion, actual: u64) -> Result<()> {
    if expected.accepts(actual) {
        Ok(())
    } else {
        Err(Error::conflict(stream_id, expected, actual))
    }
}

/// An [`ExpectedVersion`] as SQL adapters send it: a kind and, for
/// [`ExpectationKind::Exact`], a version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i32)]
pub enum ExpectationKind {
    /// [`ExpectedVersion::Any`].
    Any = 0,
    /// [`ExpectedVersion::NoStream`].
    NoStream = 1,
    /// [`ExpectedVersion::StreamExists`].
    StreamExists = 2,
    /// [`ExpectedVersion::Exact`].
    Exact = 3,
}

impl ExpectationKind {
    /// The kind and version of `expected`. A version beyond `i64::MAX` can
    /// never be a stored version, so it is sent as -1, which matches none
    /// either, and the store reports the real version.
    pub fn of(expected: ExpectedVersion) -> (ExpectationKind, i64) {
        match expected {
            ExpectedVersion::Any => (ExpectationKind::Any, 0),
            ExpectedVersion::NoStream => (ExpectationKind::NoStream, 0),
            ExpectedVersion::StreamExists => (ExpectationKind::StreamExists, 0),
            ExpectedVersion::Exact(v) => (ExpectationKind::Exact, i64::try_from(v).unwrap_or(-1)),
        }
    }
}

/// A database integer that must not be negative (versions, positions,
/// transaction ids, counts), read as `u64`. A negative value is a typed
/// backend error on every adapter, never a silent 0.
pub fn stored_u64(column: &'static str, value: i64) -> Result<u64> {
    u64::try_from(value).map_err(|_| {
        Error::backend(format!(
            "column `{column}` holds the negative value {value}"
        ))
    })
}

/// A `u64` bound from the runtime as a signed 64-bit database integer,
/// saturating: a version, position or limit beyond `i64::MAX` cannot exist
/// in a table, so the largest value compares the same way.
pub fn sql_i64(value: impl TryInto<i64>) -> i64 {
    value.try_into().unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectation_kinds_and_integers() {
        assert_eq!(
            ExpectationKind::of(ExpectedVersion::Exact(7)),
            (ExpectationKind::Exact, 7)
        );
        assert_eq!(
            ExpectationKind::of(ExpectedVersion::Exact(u64::MAX)),
            (ExpectationKind::Exact, -1)
        );
        assert_eq!(ExpectationKind::NoStream as i32, 1);
        assert_eq!(stored_u64("version", 3).unwrap(), 3);
        assert!(matches!(stored_u64("version", -1), Err(Error::Backend(_))));
        assert_eq!(sql_i64(u64::MAX), i64::MAX);
        assert_eq!(sql_i64(usize::MAX), i64::MAX);
        assert_eq!(sql_i64(9u64), 9);
        assert!(check_expected("s", ExpectedVersion::NoStream, 0).is_ok());
        assert!(matches!(
            check_expected("s", ExpectedVersion::Exact(2), 3),
            Err(Error::ConcurrencyConflict { actual: 3, .. })
        ));
    }
}
