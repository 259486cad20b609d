//! Turning rows of the `events` table into [`RecordedEvent`]s.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::event::{EventMetadata, Position, RecordedEvent};
use crate::store::rules::stored_u64;

/// Decodes a row selected with `sql::EVENT_COLUMNS`.
///
/// A payload kept as bytes comes back exactly. A JSON payload comes back as
/// `jsonb`'s text with the whitespace between
/// tokens removed: equal as JSON to what was appended, numbers spelled as
/// given, but not byte for byte (PostgreSQL drops insignificant whitespace
/// and orders object keys).
pub(crate) fn decode_event(row: &PgRow) -> Result<RecordedEvent> {
    let event_id: Uuid = row.try_get(0).map_err(Error::backend)?;
    let stream_id: String = row.try_get(1).map_err(Error::backend)?;
    let version: i64 = row.try_get(2).map_err(Error::backend)?;
    let commit: i64 = row.try_get(3).map_err(Error::backend)?;
    let position: i64 = row.try_get(4).map_err(Error::backend)?;
    let event_type: String = row.try_get(5).map_err(Error::backend)?;
    let schema_version: i32 = row.try_get(6).map_err(Error::backend)?;
    let json: Option<String> = row.try_get(7).map_err(Error::backend)?;
    let Json(metadata): Json<EventMetadata> = row.try_get(8).map_err(Error::backend)?;
    let timestamp: DateTime<Utc> = row.try_get(9).map_err(Error::backend)?;
    let bytes: Option<Vec<u8>> = row.try_get(10).map_err(Error::backend)?;
    let payload = match (json, bytes) {
        (_, Some(bytes)) => bytes,
        (Some(json), None) => compact_json(&json),
        (None, None) => {
            return Err(Error::backend(format!("event {event_id} has no payload")));
        }
    };
    Ok(RecordedEvent {
        event_id,
        version: stored_u64("version", version)?,
        position: Position {
            commit: stored_u64("transaction_id", commit)?,
            event: stored_u64("position", position)?,
        },
        stream_id,
        event_type,
        schema_version: u32::try_from(schema_version)
            .map_err(|_| Error::backend(format!("event {event_id}: negative schema version")))?,
        payload,
        metadata,
        timestamp,
    })
}

/// `json` without whitespace outside strings. The input is PostgreSQL's
/// rendering of a `jsonb` value, so it is valid JSON.
fn compact_json(json: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(json.len());
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

#[cfg(test)]
mod tests {
    use super::compact_json;

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
}
