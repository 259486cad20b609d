//! Conversions between mink's event model and the columns of `events`.

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::event::{EventMetadata, Position, RecordedEvent};
use crate::store::rules::stored_u64;

/// A payload as it is bound: text when it reads as text, bytes otherwise.
pub(super) enum PayloadColumn<'a> {
    /// Valid UTF-8 without NUL: stored as TEXT, readable in `sqlite3`.
    Text(&'a str),
    /// Anything else: stored as a BLOB, byte for byte.
    Blob(&'a [u8]),
}

impl<'a> PayloadColumn<'a> {
    /// Chooses the storage class of `payload`. Text with NUL is kept as a
    /// blob: SQLite's text functions stop at the first NUL.
    pub(super) fn from_bytes(payload: &'a [u8]) -> Self {
        match std::str::from_utf8(payload) {
            Ok(text) if !payload.contains(&0) => PayloadColumn::Text(text),
            _ => PayloadColumn::Blob(payload),
        }
    }
}

/// Formats a timestamp as stored: RFC 3339, UTC, fixed microseconds, so
/// that text order is time order.
pub(super) fn timestamp_text(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// Parses a stored timestamp.
pub(super) fn parse_timestamp(text: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| Error::backend(format!("stored timestamp `{text}` is not RFC 3339: {e}")))
}

/// The metadata column's text.
pub(super) fn metadata_text(metadata: &EventMetadata) -> Result<String> {
    serde_json::to_string(metadata).map_err(Error::backend)
}

/// Reads a non-negative integer column.
fn unsigned(row: &SqliteRow, column: &'static str) -> Result<u64> {
    let n: i64 = row.try_get(column).map_err(Error::backend)?;
    stored_u64(column, n)
}

/// Rebuilds a [`RecordedEvent`] from a row selected with
/// [`super::sql::SELECT_EVENTS`]'s columns.
pub(super) fn recorded_event(row: &SqliteRow) -> Result<RecordedEvent> {
    let event_id: String = row.try_get("event_id").map_err(Error::backend)?;
    let event_id = Uuid::parse_str(&event_id)
        .map_err(|e| Error::backend(format!("stored event id `{event_id}`: {e}")))?;
    let schema_version = u32::try_from(unsigned(row, "schema_version")?)
        .map_err(|_| Error::backend(format!("event {event_id}: schema version out of range")))?;
    let metadata: String = row.try_get("metadata").map_err(Error::backend)?;
    let metadata: EventMetadata = serde_json::from_str(&metadata)
        .map_err(|e| Error::backend(format!("event {event_id}: stored metadata: {e}")))?;
    let created_at: String = row.try_get("created_at").map_err(Error::backend)?;
    Ok(RecordedEvent {
        event_id,
        stream_id: row.try_get("stream_id").map_err(Error::backend)?,
        version: unsigned(row, "version")?,
        position: Position::sequential(unsigned(row, "position")?),
        event_type: row.try_get("event_type").map_err(Error::backend)?,
        schema_version,
        // TEXT and BLOB both read back as their exact bytes.
        payload: row.try_get("payload").map_err(Error::backend)?,
        metadata,
        timestamp: parse_timestamp(&created_at)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_storage_class() {
        assert!(
            matches!(PayloadColumn::from_bytes(b"{\"a\":1}"), PayloadColumn::Text(t) if t == "{\"a\":1}")
        );
        assert!(
            matches!(PayloadColumn::from_bytes(&[0xff, 0xfe]), PayloadColumn::Blob(b) if b == [0xff, 0xfe])
        );
        assert!(
            matches!(PayloadColumn::from_bytes(b"a\0b"), PayloadColumn::Blob(b) if b == b"a\0b")
        );
    }

    #[test]
    fn timestamps_are_fixed_width_and_round_trip_to_the_microsecond() {
        let early = DateTime::parse_from_rfc3339("2025-01-02T03:04:05Z")
            .unwrap()
            .with_timezone(&Utc);
        let late = DateTime::parse_from_rfc3339("2025-01-02T03:04:05.123456Z")
            .unwrap()
            .with_timezone(&Utc);
        let (a, b) = (timestamp_text(early), timestamp_text(late));
        assert_eq!(a.len(), b.len());
        assert!(a < b);
        assert_eq!(parse_timestamp(&b).unwrap(), late);
    }
}
