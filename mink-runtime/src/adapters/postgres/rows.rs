//! Turning rows of the `events` table into [`RecordedEvent`]s.
//!
//! Each row is decoded on its own, and no column value can make decoding
//! panic: a row that cannot be decoded (a column written by hand with an
//! unexpected shape or value) becomes [`Error::Undecodable`] naming its
//! stream, version and position. What a read does with it is
//! `store::rules::decode_log_page`'s and `decode_stream_page`'s rule
//! (docs/adr/011-undecodable-rows.md).

use chrono::{DateTime, Utc};
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgRow, PgTypeInfo, PgValueFormat, PgValueRef, Postgres};
use sqlx::types::Json;
use sqlx::{Decode, Row, Type};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::event::{ContentType, Position, RecordedEvent};
use crate::store::StreamInfo;
use crate::store::rules::stored_metadata;

/// The columns of `sql::EVENT_COLUMNS`, by index.
mod column {
    pub(super) const EVENT_ID: usize = 0;
    pub(super) const STREAM_ID: usize = 1;
    pub(super) const VERSION: usize = 2;
    pub(super) const COMMIT: usize = 3;
    pub(super) const POSITION: usize = 4;
    pub(super) const EVENT_TYPE: usize = 5;
    pub(super) const SCHEMA_VERSION: usize = 6;
    pub(super) const PAYLOAD: usize = 7;
    pub(super) const METADATA: usize = 8;
    pub(super) const CREATED_AT: usize = 9;
    pub(super) const PAYLOAD_BYTES: usize = 10;
    pub(super) const CONTENT_TYPE: usize = 11;
}

/// Decodes a row selected with `sql::EVENT_COLUMNS`.
///
/// A payload kept as bytes comes back exactly. A JSON payload comes back as
/// `jsonb`'s text with the whitespace between
/// tokens removed: equal as JSON to what was appended, numbers spelled as
/// given, but not byte for byte (PostgreSQL drops insignificant whitespace
/// and orders object keys).
pub(super) fn decode_event(row: &PgRow) -> Result<RecordedEvent> {
    // The row's place is read again only on failure, so that an error about
    // a row names it without slowing down rows that decode.
    decode_columns(row).map_err(|reason| RowPlace::of_event(row).undecodable(reason))
}

fn decode_columns(row: &PgRow) -> Result<RecordedEvent, String> {
    let event_id: Uuid = get(row, column::EVENT_ID, "event_id")?;
    let stream_id: String = get(row, column::STREAM_ID, "stream_id")?;
    let version = non_negative("version", get(row, column::VERSION, "version")?)?;
    let StoredXid8(commit) = get(row, column::COMMIT, "transaction_id")?;
    let position = non_negative("position", get(row, column::POSITION, "position")?)?;
    let event_type: String = get(row, column::EVENT_TYPE, "event_type")?;
    let schema_version: i32 = get(row, column::SCHEMA_VERSION, "schema_version")?;
    let schema_version = u32::try_from(schema_version)
        .map_err(|_| format!("schema_version {schema_version} is negative"))?;
    let json: Option<String> = get(row, column::PAYLOAD, "payload")?;
    let bytes: Option<Vec<u8>> = get(row, column::PAYLOAD_BYTES, "payload_bytes")?;
    let payload = match (json, bytes) {
        (_, Some(bytes)) => bytes,
        (Some(json), None) => compact_json(&json),
        (None, None) => return Err("neither payload nor payload_bytes is set".to_owned()),
    };
    let content_type: String = get(row, column::CONTENT_TYPE, "content_type")?;
    let StoredMetadata(metadata) = get(row, column::METADATA, "metadata")?;
    let created_at: StoredTimestamp = get(row, column::CREATED_AT, "created_at")?;
    Ok(RecordedEvent {
        event_id,
        stream_id,
        version,
        position: Position {
            commit,
            event: position,
        },
        event_type,
        schema_version,
        payload,
        content_type: ContentType::new(content_type),
        metadata,
        timestamp: created_at.to_utc()?,
    })
}

/// Describes `stream_id` from a row of `sql::Statements::stream_info`: its
/// last row's version, transaction, position and time, then its first
/// row's. Either row's bad value is [`Error::Undecodable`] naming it.
pub(crate) fn decode_stream_info(row: &PgRow, stream_id: &str) -> Result<StreamInfo> {
    let last = RowPlace::at(row, stream_id, 0);
    let first = RowPlace::at(row, stream_id, 4);
    let version: i64 = get(row, 0, "version").map_err(|e| last.undecodable(e))?;
    let version = non_negative("version", version).map_err(|e| last.undecodable(e))?;
    let time = |place: &RowPlace, index: usize| {
        get::<StoredTimestamp>(row, index, "created_at")
            .and_then(|t| t.to_utc())
            .map_err(|e| place.undecodable(e))
    };
    Ok(StreamInfo {
        stream_id: stream_id.to_owned(),
        version,
        updated_at: time(&last, 3)?,
        created_at: time(&first, 7)?,
    })
}

/// The position of the newest row readable in the log, from a row of
/// `sql::Statements::head_position`: its transaction and position.
pub(crate) fn decode_head(row: &PgRow) -> Result<Position> {
    let commit = get::<String>(row, 0, "transaction_id")
        .and_then(|c| transaction_id(&c))
        .map_err(Error::backend)?;
    let event: i64 = get(row, 1, "position").map_err(Error::backend)?;
    Ok(Position {
        commit,
        // Named as an undecodable row at a position below 0 is.
        event: u64::try_from(event).unwrap_or(0),
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
    /// The place of a row selected with `sql::EVENT_COLUMNS`, which has the
    /// version, transaction and position side by side.
    fn of_event(row: &PgRow) -> RowPlace {
        let stream: String = row.try_get(column::STREAM_ID).unwrap_or_default();
        RowPlace::at(row, stream, column::VERSION)
    }

    /// The place of a row of `stream` whose version, transaction id (as
    /// text) and position are the columns from `first` on. A position below
    /// 0, which a [`Position`] cannot hold, is named as 0 in its
    /// transaction: that sorts just after it, so reading after the name
    /// skips it.
    fn at(row: &PgRow, stream: impl Into<String>, first: usize) -> RowPlace {
        let unsigned = |index: usize| {
            row.try_get::<i64, _>(index)
                .ok()
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(0)
        };
        // Event rows carry the transaction id as `xid8`, the other
        // statements as its text.
        let commit = match row.try_get::<StoredXid8, _>(first + 1) {
            Ok(StoredXid8(commit)) => commit,
            Err(_) => row
                .try_get::<String, _>(first + 1)
                .ok()
                .and_then(|c| c.parse().ok())
                .unwrap_or(0),
        };
        RowPlace {
            stream: stream.into(),
            version: unsigned(first),
            position: Position {
                commit,
                event: unsigned(first + 2),
            },
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

/// Reads column `index` (named `name` in errors).
fn get<'r, T>(row: &'r PgRow, index: usize, name: &str) -> Result<T, String>
where
    T: Decode<'r, Postgres> + Type<Postgres>,
{
    row.try_get(index).map_err(|e| match e {
        sqlx::Error::ColumnDecode { source, .. } => format!("{name}: {source}"),
        other => format!("{name}: {other}"),
    })
}

fn non_negative(name: &str, value: i64) -> Result<u64, String> {
    u64::try_from(value).map_err(|_| format!("{name} {value} is negative"))
}

/// A transaction id, selected as text: `xid8` holds all of `u64`, more than
/// `bigint` does.
fn transaction_id(text: &str) -> Result<u64, String> {
    text.parse()
        .map_err(|e| format!("transaction_id `{text}` is not a number: {e}"))
}

/// A `timestamptz` as PostgreSQL sends it: microseconds from 2000-01-01
/// UTC, with `i64::MAX` and `i64::MIN` standing for `infinity` and
/// `-infinity`.
///
/// sqlx's own decoding into `DateTime<Utc>` adds the microseconds to its
/// epoch unchecked (`sqlx-postgres` 0.9, `types/chrono/datetime.rs`), which
/// panics on `±infinity` and on years beyond what chrono holds (about
/// ±262,000); this type converts with checked arithmetic instead.
struct StoredTimestamp(i64);

/// Microseconds from the Unix epoch to PostgreSQL's, 2000-01-01 UTC.
const UNIX_MICROS_AT_2000: i64 = 946_684_800_000_000;

impl StoredTimestamp {
    fn to_utc(&self) -> Result<DateTime<Utc>, String> {
        match self.0 {
            i64::MAX => Err("created_at is infinity".to_owned()),
            i64::MIN => Err("created_at is -infinity".to_owned()),
            micros => micros
                .checked_add(UNIX_MICROS_AT_2000)
                .and_then(DateTime::from_timestamp_micros)
                .ok_or_else(|| {
                    format!(
                        "created_at ({micros} µs from 2000-01-01) is beyond the years a timestamp holds"
                    )
                }),
        }
    }
}

/// The type of a `DateTime<Utc>`, `timestamptz`; only the decoding differs.
impl Type<Postgres> for StoredTimestamp {
    fn type_info() -> PgTypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <DateTime<Utc> as Type<Postgres>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Postgres> for StoredTimestamp {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        match value.format() {
            PgValueFormat::Binary => <i64 as Decode<'r, Postgres>>::decode(value).map(Self),
            // The store's statements are prepared, so results come in the
            // binary format.
            PgValueFormat::Text => {
                Err(format!("timestamptz in the text format: {:?}", value.as_str()?).into())
            }
        }
    }
}

/// An `xid8` (a transaction id as PostgreSQL 13 and later keep it: all of
/// `u64`), read in the binary format as eight big-endian bytes. Reading it
/// directly spares the server a cast to text per row and the client a
/// parse.
struct StoredXid8(u64);

/// The fixed OID of `xid8` (`pg_type.oid`).
const XID8_OID: sqlx::postgres::types::Oid = sqlx::postgres::types::Oid(5069);

impl Type<Postgres> for StoredXid8 {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(XID8_OID)
    }
}

impl<'r> Decode<'r, Postgres> for StoredXid8 {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        match value.format() {
            PgValueFormat::Binary => {
                let bytes: [u8; 8] = value
                    .as_bytes()?
                    .try_into()
                    .map_err(|_| "xid8 is not eight bytes")?;
                Ok(StoredXid8(u64::from_be_bytes(bytes)))
            }
            PgValueFormat::Text => Ok(StoredXid8(transaction_id(value.as_str()?)?)),
        }
    }
}

/// An event's `metadata` (`jsonb`). Most events carry none: the stored
/// `{}` becomes the default metadata without building a JSON tree; any
/// other value goes through `stored_metadata`'s checks.
struct StoredMetadata(crate::event::EventMetadata);

impl Type<Postgres> for StoredMetadata {
    fn type_info() -> PgTypeInfo {
        <Json<serde_json::Value> as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <Json<serde_json::Value> as Type<Postgres>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Postgres> for StoredMetadata {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        // `jsonb` in the binary format is a version byte (1) and the text.
        let empty = match value.format() {
            PgValueFormat::Binary => value.as_bytes()? == b"\x01{}",
            PgValueFormat::Text => value.as_bytes()? == b"{}",
        };
        if empty {
            return Ok(StoredMetadata(crate::event::EventMetadata::default()));
        }
        let Json(json) = <Json<serde_json::Value> as Decode<'r, Postgres>>::decode(value)?;
        Ok(StoredMetadata(stored_metadata(json)?))
    }
}

/// `json` without whitespace outside strings. The input is PostgreSQL's
/// rendering of a `jsonb` value, so it is valid JSON.
///
/// Copies runs of bytes rather than byte after byte: outside strings up to
/// the next quote or whitespace, inside them up to the next quote or
/// backslash (this runs for every event of every page read).
fn compact_json(json: &str) -> Vec<u8> {
    let bytes = json.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let run = bytes[i..]
            .iter()
            .position(|&b| matches!(b, b'"' | b' ' | b'\n' | b'\r' | b'\t'))
            .unwrap_or(bytes.len() - i);
        out.extend_from_slice(&bytes[i..i + run]);
        i += run;
        if i >= bytes.len() {
            break;
        }
        if bytes[i] != b'"' {
            // Whitespace between tokens.
            i += 1;
            continue;
        }
        // A string: through its closing quote, stepping over escapes.
        let start = i;
        i += 1;
        loop {
            let rest = &bytes[i.min(bytes.len())..];
            match rest.iter().position(|&b| b == b'"' || b == b'\\') {
                Some(p) if rest[p] == b'\\' => i += p + 2,
                Some(p) => {
                    i += p + 1;
                    break;
                }
                None => {
                    i = bytes.len();
                    break;
                }
            }
        }
        i = i.min(bytes.len());
        out.extend_from_slice(&bytes[start..i]);
    }
    out
}

#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn compaction_keeps_strings_and_numbers() {
        let cases = [
            (
                r#"{"a": 1, "b": [1, 2.50, "x y"]}"#,
                r#"{"a":1,"b":[1,2.50,"x y"]}"#,
            ),
            (
                r#"{"q": "say \"hi\" ", "e": "\\"}"#,
                r#"{"q":"say \"hi\" ","e":"\\"}"#,
            ),
            ("7777777777777777777777", "7777777777777777777777"),
            (r#""""#, r#""""#),
        ];
        for (jsonb, compact) in cases {
            assert_eq!(String::from_utf8(compact_json(jsonb)).unwrap(), compact);
        }
    }

    /// The byte-at-a-time definition `compact_json` must agree with.
    fn compact_byte_by_byte(json: &str) -> Vec<u8> {
        let mut out = Vec::new();
        let (mut in_string, mut escaped) = (false, false);
        for &b in json.as_bytes() {
            if in_string {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_string = false;
                }
            } else if b == b'"' {
                in_string = true;
            } else if matches!(b, b' ' | b'\n' | b'\r' | b'\t') {
                continue;
            }
            out.push(b);
        }
        out
    }

    #[test]
    fn compaction_agrees_with_the_byte_by_byte_definition() {
        let values = [
            serde_json::json!({"a": [1, 2, {"b": "c d"}], "e": null, "f": true}),
            serde_json::json!({"quote": "say \"hi\"", "slash": "a\\b", "tail\\": "\\"}),
            serde_json::json!(["", " ", "\\\"", "\t\n", "é ü 😀", {"": {"": []}}]),
            serde_json::json!("just a string with \\\\ and \" inside"),
            serde_json::json!(12.5e-3),
        ];
        for value in values {
            // PostgreSQL's style: a space after every `,` and `:`.
            let spaced = serde_json::to_string_pretty(&value).unwrap();
            for text in [spaced.as_str(), &value.to_string()] {
                assert_eq!(compact_json(text), compact_byte_by_byte(text), "{text}");
                let back: serde_json::Value = serde_json::from_slice(&compact_json(text)).unwrap();
                assert_eq!(back, value);
            }
        }
    }

    #[test]
    fn empty_stored_metadata_is_the_default() {
        // `StoredMetadata` skips the checks for `{}` on this ground.
        assert_eq!(
            stored_metadata(serde_json::json!({})).unwrap(),
            crate::event::EventMetadata::default()
        );
    }

    #[test]
    fn timestamps_beyond_chrono_are_errors_not_panics() {
        let at = |micros: i64| StoredTimestamp(micros).to_utc();
        assert_eq!(at(0).unwrap().to_rfc3339(), "2000-01-01T00:00:00+00:00");
        assert_eq!(
            at(-1).unwrap().to_rfc3339(),
            "1999-12-31T23:59:59.999999+00:00"
        );
        for micros in [i64::MAX, i64::MIN, i64::MAX - 1, i64::MIN + 1] {
            assert!(at(micros).is_err(), "{micros}");
        }
        // PostgreSQL's latest timestamptz, 294276-12-31, is past chrono's.
        let latest = 9_223_371_331_199_999_999_i64;
        assert!(at(latest).is_err());
    }
}
