//! Conversions between mink's event model and the columns of `events`.
//!
//! Reads decode each row on its own, and no column value can make decoding
//! panic: a row that cannot be decoded (a column written by hand with an
//! unexpected storage class or value) becomes [`Error::Undecodable`] naming
//! its stream, version and position. What a read does with it is
//! `store::rules::decode_log_page`'s and `decode_stream_page`'s rule
//! (docs/adr/011-undecodable-rows.md).

use chrono::{DateTime, SecondsFormat, Utc};
use sqlx::sqlite::SqliteRow;
use sqlx::{Decode, Row, Sqlite, Type};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::event::{ContentType, EventMetadata, Position, RecordedEvent};
use crate::store::StreamInfo;
use crate::store::rules::stored_metadata;

/// A payload as it is bound: text when it is text, bytes otherwise.
pub(super) enum PayloadColumn<'a> {
    /// A textual format (JSON, `text/…`), valid UTF-8 without NUL: stored
    /// as TEXT, readable in `sqlite3`.
    Text(&'a str),
    /// Anything else (binary formats, text with NUL): stored as a BLOB,
    /// byte for byte.
    Blob(&'a [u8]),
}

impl<'a> PayloadColumn<'a> {
    /// Chooses the storage class of `payload`, whose format is
    /// `content_type`. Text with NUL is kept as a blob: SQLite's text
    /// functions stop at the first NUL. A binary format is a blob even when
    /// its bytes happen to be UTF-8.
    pub(super) fn of(payload: &'a [u8], content_type: &ContentType) -> Self {
        if !content_type.is_text() {
            return PayloadColumn::Blob(payload);
        }
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
fn parse_timestamp(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("created_at `{text}` is not RFC 3339: {e}"))
}

/// The metadata column's text.
pub(super) fn metadata_text(metadata: &EventMetadata) -> Result<String> {
    serde_json::to_string(metadata).map_err(Error::backend)
}

/// Rebuilds a [`RecordedEvent`] from a row selected with
/// [`super::sql::READ_STREAM`]'s columns.
pub(super) fn decode_event(row: &SqliteRow) -> Result<RecordedEvent> {
    // The row's place is read again only on failure, so that an error about
    // a row names it without slowing down rows that decode.
    decode_columns(row).map_err(|reason| RowPlace::of(row, None, "").undecodable(reason))
}

fn decode_columns(row: &SqliteRow) -> Result<RecordedEvent, String> {
    let event_id: String = get(row, "event_id")?;
    let event_id = Uuid::parse_str(&event_id)
        .map_err(|e| format!("event_id `{event_id}` is not a UUID: {e}"))?;
    let schema_version = get::<i64>(row, "schema_version")?;
    let schema_version = u32::try_from(schema_version)
        .map_err(|_| format!("schema_version {schema_version} is out of range"))?;
    let metadata = get::<String>(row, "metadata")?;
    let metadata = serde_json::from_str(&metadata)
        .map_err(|e| format!("metadata is not JSON: {e}"))
        .and_then(stored_metadata)?;
    Ok(RecordedEvent {
        event_id,
        stream_id: get(row, "stream_id")?,
        version: non_negative(row, "version")?,
        position: Position::sequential(non_negative(row, "position")?),
        event_type: get(row, "event_type")?,
        schema_version,
        // TEXT and BLOB both read back as their exact bytes.
        payload: get(row, "payload")?,
        content_type: ContentType::new(get::<String>(row, "content_type")?),
        metadata,
        timestamp: parse_timestamp(&get::<String>(row, "created_at")?)?,
    })
}

/// Describes `stream_id` from the row of [`super::sql::STREAM_INFO`]: its
/// last and first rows' positions, versions and times. Either row's bad
/// value is [`Error::Undecodable`] naming it.
pub(super) fn decode_stream_info(row: &SqliteRow, stream_id: &str) -> Result<StreamInfo> {
    let last = RowPlace::of(row, Some(stream_id), "last_");
    let first = RowPlace::of(row, Some(stream_id), "first_");
    let version = non_negative(row, "last_version").map_err(|e| last.undecodable(e))?;
    let time = |place: &RowPlace, column: &str| {
        get::<String>(row, column)
            .and_then(|text| parse_timestamp(&text))
            .map_err(|e| place.undecodable(e))
    };
    Ok(StreamInfo {
        stream_id: stream_id.to_owned(),
        version,
        updated_at: time(&last, "last_created_at")?,
        created_at: time(&first, "first_created_at")?,
    })
}

/// Where a row sits, for an error that names it. Each part falls back
/// instead of failing: naming a bad row must not fail in turn.
struct RowPlace {
    stream: String,
    version: u64,
    position: Position,
}

impl RowPlace {
    /// The place of the row whose columns are named `prefix` + `version`
    /// and `position`, in `stream`, or else in the row's own `stream_id`
    /// (lossily: it may be a blob, or not UTF-8). A position below 0 is
    /// outside the log and named as [`Position::START`].
    fn of(row: &SqliteRow, stream: Option<&str>, prefix: &str) -> RowPlace {
        let stream = match stream {
            Some(stream) => stream.to_owned(),
            None => row
                .try_get::<Vec<u8>, _>("stream_id")
                .map(|id| String::from_utf8_lossy(&id).into_owned())
                .unwrap_or_default(),
        };
        let unsigned = |column: &str| {
            row.try_get::<i64, _>(format!("{prefix}{column}").as_str())
                .ok()
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0)
        };
        RowPlace {
            stream,
            version: unsigned("version"),
            position: Position::sequential(unsigned("position")),
        }
    }

    fn undecodable(&self, reason: impl Into<String>) -> Error {
        Error::Undecodable {
            stream: self.stream.clone(),
            version: self.version,
            position: self.position,
            reason: reason.into(),
        }
    }
}

/// Reads `column`. SQLite keeps whatever storage class a hand-written value
/// has; one that is not the type asked for is an error here.
fn get<'r, T>(row: &'r SqliteRow, column: &str) -> Result<T, String>
where
    T: Decode<'r, Sqlite> + Type<Sqlite>,
{
    row.try_get(column).map_err(|e| match e {
        sqlx::Error::ColumnDecode { source, .. } => format!("{column}: {source}"),
        other => format!("{column}: {other}"),
    })
}

/// Reads a non-negative integer column.
fn non_negative(row: &SqliteRow, column: &str) -> Result<u64, String> {
    let n: i64 = get(row, column)?;
    u64::try_from(n).map_err(|_| format!("{column} {n} is negative"))
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn payload_storage_class() {
        let json = &ContentType::JSON;
        assert!(
            matches!(PayloadColumn::of(b"{\"a\":1}", json), PayloadColumn::Text(t) if t == "{\"a\":1}")
        );
        assert!(
            matches!(PayloadColumn::of(&[0xff, 0xfe], json), PayloadColumn::Blob(b) if b == [0xff, 0xfe])
        );
        assert!(matches!(PayloadColumn::of(b"a\0b", json), PayloadColumn::Blob(b) if b == b"a\0b"));
        // The MessagePack integer 49 is the byte `1`: a binary format is a
        // blob even when its bytes are UTF-8.
        let msgpack = &ContentType::MSGPACK;
        assert!(matches!(PayloadColumn::of(b"1", msgpack), PayloadColumn::Blob(b) if b == b"1"));
        let plain = &ContentType::new("text/plain");
        assert!(matches!(
            PayloadColumn::of(b"hi", plain),
            PayloadColumn::Text("hi")
        ));
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
