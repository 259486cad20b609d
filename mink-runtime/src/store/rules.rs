//! Rules every adapter applies the same way: checking an expected version,
//! spelling an expectation for SQL, and converting database integers.

use crate::error::{Error, Result};
use serde::Deserialize;

use crate::event::{EventMetadata, ExpectedVersion, RecordedEvent};

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

/// Decodes a page of the global log, in order, up to the first row that
/// cannot be decoded: the rows before it, so that the reader advances to
/// just before it; or, when it is the first row, its
/// [`Error::Undecodable`], so that the reader can report it and read on
/// after it (docs/adr/011-undecodable-rows.md).
pub fn decode_log_page<R>(
    rows: &[R],
    decode: impl Fn(&R) -> Result<RecordedEvent>,
) -> Result<Vec<RecordedEvent>> {
    let mut page = LogPage::with_capacity(rows.len());
    for row in rows {
        if !page.push(decode(row))? {
            break;
        }
    }
    Ok(page.finish())
}

/// [`decode_log_page`]'s rule applied one row at a time, for rows decoded
/// as they arrive from the database.
#[derive(Debug, Default)]
pub struct LogPage {
    events: Vec<RecordedEvent>,
}

impl LogPage {
    /// An empty page with room for `rows` events.
    pub fn with_capacity(rows: usize) -> Self {
        LogPage {
            events: Vec::with_capacity(rows),
        }
    }

    /// Takes the next row's decoding. `Ok(true)`: read on. `Ok(false)`: the
    /// page ends before this row (it could not be decoded and is not the
    /// first). `Err`: the first row could not be decoded.
    pub fn push(&mut self, decoded: Result<RecordedEvent>) -> Result<bool> {
        match decoded {
            Ok(event) => {
                self.events.push(event);
                Ok(true)
            }
            Err(e) if self.events.is_empty() => Err(e),
            Err(_) => Ok(false),
        }
    }

    /// The events of the page.
    pub fn finish(self) -> Vec<RecordedEvent> {
        self.events
    }
}

/// Decodes a page of one stream read from `from_version`: every row must
/// decode, and each version must follow the one before it (the first is
/// `from_version`). Otherwise [`Error::Undecodable`] names the first row
/// out of place; a stream read has nothing to skip to.
pub fn decode_stream_page<R>(
    rows: &[R],
    from_version: u64,
    decode: impl Fn(&R) -> Result<RecordedEvent>,
) -> Result<Vec<RecordedEvent>> {
    let mut page = StreamPage::new(from_version, rows.len());
    for row in rows {
        page.push(decode(row))?;
    }
    Ok(page.finish())
}

/// [`decode_stream_page`]'s rule applied one row at a time, for rows
/// decoded as they arrive from the database.
#[derive(Debug)]
pub struct StreamPage {
    expected: u64,
    events: Vec<RecordedEvent>,
}

impl StreamPage {
    /// An empty page of a stream read from `from_version`, with room for
    /// `rows` events.
    pub fn new(from_version: u64, rows: usize) -> Self {
        StreamPage {
            expected: from_version.max(1),
            events: Vec::with_capacity(rows),
        }
    }

    /// Takes the next row's decoding: an error when it could not be
    /// decoded or its version does not follow the one before.
    pub fn push(&mut self, decoded: Result<RecordedEvent>) -> Result<()> {
        let event = decoded?;
        if event.version != self.expected {
            return Err(Error::Undecodable {
                reason: format!(
                    "version {} where version {} belongs: the stream's versions \
                     do not follow each other",
                    event.version, self.expected
                ),
                stream: event.stream_id,
                version: event.version,
                position: event.position,
            });
        }
        self.expected = self.expected.saturating_add(1);
        self.events.push(event);
        Ok(())
    }

    /// The events of the page.
    pub fn finish(self) -> Vec<RecordedEvent> {
        self.events
    }
}

/// The fields of [`EventMetadata`] as stored.
const METADATA_FIELDS: [&str; 5] = [
    "correlation_id",
    "causation_id",
    "user_id",
    "tenant_id",
    "custom",
];

/// Rebuilds metadata from its stored JSON: an object of the fields of
/// [`EventMetadata`] only. serde would drop any other field without a
/// word, so one makes the row undecodable rather than lose what it holds.
/// The error is the reason to put in [`Error::Undecodable`].
pub fn stored_metadata(value: serde_json::Value) -> std::result::Result<EventMetadata, String> {
    let serde_json::Value::Object(fields) = &value else {
        return Err(format!("metadata {value} is not a JSON object"));
    };
    if let Some(field) = fields
        .keys()
        .find(|field| !METADATA_FIELDS.contains(&field.as_str()))
    {
        return Err(format!(
            "metadata field `{field}` is not one of {METADATA_FIELDS:?}"
        ));
    }
    EventMetadata::deserialize(value).map_err(|e| format!("metadata: {e}"))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

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

    #[test]
    fn metadata_is_an_object_of_known_fields() {
        let full = EventMetadata {
            correlation_id: Some("c".into()),
            causation_id: Some("k".into()),
            user_id: Some("u".into()),
            tenant_id: Some("t".into()),
            custom: BTreeMap::from([("a".to_owned(), "b".to_owned())]),
        };
        // Every field EventMetadata writes is one this module reads: a field
        // added to it without being listed here fails this test.
        let written = serde_json::to_value(&full).unwrap();
        let names: Vec<&str> = written
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut known = METADATA_FIELDS.to_vec();
        known.sort_unstable();
        assert_eq!(names, known);
        assert_eq!(stored_metadata(written).unwrap(), full);

        for ok in [json!({}), json!({"custom": {}}), json!({"user_id": null})] {
            assert!(stored_metadata(ok.clone()).is_ok(), "{ok}");
        }
        for bad in [
            json!(null),
            json!([1, 2, 3]),
            json!(["c", "k", "u", "t", {}]),
            json!("x"),
            json!({"custom": {"k": 5}}),
            json!({"source": "import"}),
        ] {
            assert!(stored_metadata(bad.clone()).is_err(), "{bad}");
        }
    }
}
