//! The write path: encoding an append call as the arrays of its one
//! statement, running it, and reading its outcome
//! (docs/adr/005-concurrency-control.md).

use std::collections::HashMap;
use std::sync::Arc;

use sqlx::postgres::{PgConnection, PgPool, PgRow};
use sqlx::{AssertSqlSafe, Row};
use uuid::Uuid;

use crate::error::{Error, Result};
use crate::event::Position;
use crate::store::rules::{ExpectationKind, check_expected, sql_i64, stored_u64};
use crate::store::{AppendResult, AppendedStream, StreamAppend, WrittenEvent};

use super::sql::Statements;

/// The name of the constraint that makes a racing writer lose.
const STREAM_VERSION_UNIQUE: &str = "events_stream_version_unique";
/// The name of the constraint that keeps event ids unique.
const EVENT_ID_UNIQUE: &str = "events_event_id_unique";

/// An append call as the parallel arrays the statement unnests.
#[derive(Debug, Default)]
pub(crate) struct EncodedAppend {
    stream_ids: Vec<String>,
    expected_kinds: Vec<i32>,
    expected_versions: Vec<i64>,
    event_streams: Vec<i64>,
    event_ids: Vec<Uuid>,
    event_types: Vec<String>,
    schema_versions: Vec<i32>,
    payloads: Vec<Option<String>>,
    payload_bytes: Vec<Option<Vec<u8>>>,
    content_types: Vec<String>,
    metadata: Vec<String>,
    /// Every stream expects an exact version (or none): each event's
    /// version is known before the statement runs.
    known_versions: bool,
    /// Per event, when `known_versions`: its stream and its version.
    event_stream_ids: Vec<String>,
    event_versions: Vec<i64>,
}

impl EncodedAppend {
    /// Encodes `appends`, refusing what this store cannot keep: schema
    /// versions beyond `i32::MAX`. Runs after `Limits::check_appends`, which
    /// refuses repeated event ids and NUL characters on every adapter.
    pub(crate) fn new(appends: &[StreamAppend]) -> Result<EncodedAppend> {
        let mut out = EncodedAppend {
            known_versions: true,
            ..EncodedAppend::default()
        };
        for (index, append) in appends.iter().enumerate() {
            let (kind, version) = ExpectationKind::of(append.expected);
            out.stream_ids.push(append.stream_id.clone());
            out.expected_kinds.push(kind as i32);
            out.expected_versions.push(version);
            let known = matches!(kind, ExpectationKind::NoStream | ExpectationKind::Exact)
                && version >= 0
                && version.checked_add(append.events.len() as i64).is_some();
            out.known_versions &= known;
            for (n, event) in append.events.iter().enumerate() {
                if out.known_versions {
                    out.event_stream_ids.push(append.stream_id.clone());
                    out.event_versions.push(version + n as i64 + 1);
                }
                let schema_version = i32::try_from(event.schema_version).map_err(|_| {
                    Error::invalid(
                        "schema_version",
                        format!(
                            "{} (event {}) is larger than {}",
                            event.schema_version,
                            event.event_id,
                            i32::MAX
                        ),
                    )
                })?;
                let metadata =
                    serde_json::to_string(&event.metadata).map_err(|e| Error::Serialization {
                        event_type: event.event_type.clone(),
                        source: Box::new(e),
                    })?;
                // Only JSON content goes to `jsonb`; a binary format whose
                // bytes happen to parse as JSON stays bytes.
                let json = event.content_type.is_json();
                match json.then(|| jsonb_text(&event.payload)).flatten() {
                    Some(text) => {
                        out.payloads.push(Some(text));
                        out.payload_bytes.push(None);
                    }
                    None => {
                        out.payloads.push(None);
                        out.payload_bytes.push(Some(event.payload.clone()));
                    }
                }
                out.event_streams.push(sql_i64(index as u64 + 1));
                out.event_ids.push(event.event_id);
                out.event_types.push(event.event_type.clone());
                out.schema_versions.push(schema_version);
                out.content_types.push(event.content_type.to_string());
                out.metadata.push(metadata);
            }
        }
        Ok(out)
    }
}

/// The payload of a JSON content type as text for the `jsonb` column, when
/// it is one JSON value that `jsonb` can hold; `None` keeps it as bytes
/// (docs/adr/009-payload-storage.md, docs/adr/019-payload-formats.md).
///
/// `jsonb` refuses the escape `\\u0000`, lone UTF-16 surrogate escapes and
/// numbers beyond its range, which a syntax check lets through. Payloads
/// that could hold one of those (a `\\u` escape, an exponent) are checked
/// by building the value, which refuses surrogates and numbers beyond `f64`;
/// the rest take the fast syntax check only.
fn jsonb_text(payload: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(payload).ok()?;
    if text.contains("\\u0000") {
        return None;
    }
    if may_need_full_check(payload) {
        serde_json::from_str::<serde_json::Value>(text).ok()?;
    } else {
        serde_json::from_str::<serde::de::IgnoredAny>(text).ok()?;
    }
    Some(text.to_owned())
}

/// Whether `json` has a `\\u` escape, or an `e`/`E` right after a digit or
/// a point (an exponent, or text that looks like one).
fn may_need_full_check(json: &[u8]) -> bool {
    json.windows(2).any(|w| {
        (w[0] == b'\\' && w[1] == b'u')
            || ((w[0].is_ascii_digit() || w[0] == b'.') && (w[1] == b'e' || w[1] == b'E'))
    })
}

/// How one run of the append statement ended.
pub(crate) enum Attempt {
    /// Written (or refused up front, which is reported as an error).
    Done(Result<AppendResult>),
    /// Another writer took a version this call wanted: look again.
    LostRace,
    /// An event id of the call is already stored.
    DuplicateEventId,
}

impl EncodedAppend {
    /// Whether [`run_known_versions`] can write this call.
    pub(crate) fn has_known_versions(&self) -> bool {
        self.known_versions && !self.event_ids.is_empty()
    }
}

/// Runs the statement for calls whose every stream expects an exact version
/// (or none), on `conn`: each event's version is known, so the rows are
/// inserted as they are, after two index lookups per stream (its expected
/// version is stored, the next one is not). `LostRace` means nothing was
/// written: a stream is not at its expected version (a lookup failed), or a
/// writer raced ahead (the unique `(stream_id, version)` constraint); the
/// caller then tells which with the general statement.
pub(crate) async fn run_known_versions(
    conn: &mut PgConnection,
    statements: &Statements,
    appends: &[StreamAppend],
    encoded: &EncodedAppend,
) -> Attempt {
    let query = sqlx::query(AssertSqlSafe(Arc::clone(&statements.append_known_versions)))
        .bind(&encoded.stream_ids)
        .bind(&encoded.expected_versions)
        .bind(&encoded.event_stream_ids)
        .bind(&encoded.event_versions);
    let row = match bind_events(query, encoded).fetch_one(conn).await {
        Ok(row) => row,
        Err(e) => return failed(e),
    };
    let written = row
        .try_get::<Option<Vec<i64>>, _>(0)
        .and_then(|positions| Ok((positions, row.try_get::<i64, _>(1)?)))
        .map_err(Error::backend);
    match written {
        Ok((None, _)) => Attempt::LostRace,
        Ok((Some(positions), commit)) => {
            Attempt::Done(known_outcome(appends, encoded, &positions, commit))
        }
        Err(e) => Attempt::Done(Err(e)),
    }
}

/// The result of a call written by [`run_known_versions`]: its positions
/// come in the order of its events, stream after stream.
fn known_outcome(
    appends: &[StreamAppend],
    encoded: &EncodedAppend,
    positions: &[i64],
    commit: i64,
) -> Result<AppendResult> {
    let commit = stored_u64("transaction_id", commit)?;
    let mut positions = positions.iter().copied();
    let streams = appends
        .iter()
        .zip(&encoded.expected_versions)
        .map(|(append, &before)| {
            let before = stored_u64("version", before)?;
            appended(append, before, commit, positions.by_ref())
        })
        .collect::<Result<_>>()?;
    if positions.next().is_some() {
        return Err(Error::backend(
            "the append statement wrote more events than the call holds",
        ));
    }
    Ok(AppendResult { streams })
}

/// Binds the per-event columns both append statements end with, in their
/// order: id, type, schema version, payload, metadata, payload bytes,
/// content type.
fn bind_events<'q>(
    query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    encoded: &'q EncodedAppend,
) -> sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments> {
    query
        .bind(&encoded.event_ids)
        .bind(&encoded.event_types)
        .bind(&encoded.schema_versions)
        .bind(&encoded.payloads)
        .bind(&encoded.metadata)
        .bind(&encoded.payload_bytes)
        .bind(&encoded.content_types)
}

/// How a failed append statement ended: a lost race, a stored event id,
/// or an error.
fn failed(e: sqlx::Error) -> Attempt {
    if violates(&e, STREAM_VERSION_UNIQUE) {
        Attempt::LostRace
    } else if violates(&e, EVENT_ID_UNIQUE) {
        Attempt::DuplicateEventId
    } else {
        Attempt::Done(Err(map_error(e)))
    }
}

/// `append`'s outcome: its events numbered after version `before` and
/// placed at the next of `positions`, all in transaction `commit`; an error
/// when fewer positions than events are left.
fn appended(
    append: &StreamAppend,
    before: u64,
    commit: u64,
    positions: impl Iterator<Item = i64>,
) -> Result<AppendedStream> {
    let written = append
        .events
        .iter()
        .zip(before + 1..)
        .zip(positions)
        .map(|((event, version), position)| {
            Ok(WrittenEvent {
                event_id: event.event_id,
                version,
                position: Position {
                    commit,
                    event: stored_u64("position", position)?,
                },
            })
        })
        .collect::<Result<Vec<_>>>()?;
    if written.len() != append.events.len() {
        return Err(Error::backend(format!(
            "the append statement wrote {} of {} events to `{}`",
            written.len(),
            append.events.len(),
            append.stream_id
        )));
    }
    Ok(AppendedStream::after(&append.stream_id, before, written))
}

/// Runs the append statement once on `conn`.
pub(crate) async fn run_once(
    conn: &mut PgConnection,
    statements: &Statements,
    appends: &[StreamAppend],
    encoded: &EncodedAppend,
) -> Attempt {
    let query = sqlx::query(AssertSqlSafe(Arc::clone(&statements.append)))
        .bind(&encoded.stream_ids)
        .bind(&encoded.expected_kinds)
        .bind(&encoded.expected_versions)
        .bind(&encoded.event_streams);
    match bind_events(query, encoded).fetch_all(conn).await {
        Ok(rows) => Attempt::Done(outcome(appends, &rows)),
        Err(e) => failed(e),
    }
}

/// Reads the statement's per-stream rows into the call's result, or the
/// conflict of the first refused stream.
fn outcome(appends: &[StreamAppend], rows: &[PgRow]) -> Result<AppendResult> {
    let mut result = AppendResult {
        streams: Vec::with_capacity(appends.len()),
    };
    if rows.len() != appends.len() {
        return Err(Error::backend(format!(
            "the append statement returned {} rows for {} streams",
            rows.len(),
            appends.len()
        )));
    }
    let mut actuals = Vec::with_capacity(rows.len());
    for row in rows {
        let actual: i64 = row.try_get(1).map_err(Error::backend)?;
        let refused: bool = row.try_get(2).map_err(Error::backend)?;
        actuals.push((stored_u64("version", actual)?, refused));
    }
    // A refusal anywhere means nothing was written anywhere: report the
    // first refused stream's conflict.
    for (append, &(actual, refused)) in appends.iter().zip(&actuals) {
        if refused {
            check_expected(&append.stream_id, append.expected, actual)?;
            return Err(Error::backend(format!(
                "the append statement refused stream `{}` at version {actual}, which meets {}",
                append.stream_id, append.expected
            )));
        }
    }
    for ((append, row), (actual, _)) in appends.iter().zip(rows).zip(actuals) {
        let positions: Vec<i64> = row.try_get(3).map_err(Error::backend)?;
        let commit: i64 = row.try_get(4).map_err(Error::backend)?;
        let commit = stored_u64("transaction_id", commit)?;
        result
            .streams
            .push(appended(append, actual, commit, positions.into_iter())?);
    }
    Ok(result)
}

/// The current version of each stream of `appends` (0: none), in request
/// order, read outside any transaction of the caller. Used after a lost race
/// to tell a real conflict from a call that may simply run again.
pub(crate) async fn current_versions(
    pool: &PgPool,
    statements: &Statements,
    appends: &[StreamAppend],
) -> Result<Vec<u64>> {
    let ids: Vec<&str> = appends.iter().map(|a| a.stream_id.as_str()).collect();
    let rows: Vec<(String, i64)> =
        sqlx::query_as(AssertSqlSafe(Arc::clone(&statements.stream_versions)))
            .bind(&ids)
            .fetch_all(pool)
            .await
            .map_err(map_error)?;
    let versions: HashMap<String, i64> = rows.into_iter().collect();
    appends
        .iter()
        .map(|a| {
            versions
                .get(&a.stream_id)
                .map_or(Ok(0), |&v| stored_u64("version", v))
        })
        .collect()
}

/// The conflict of the first stream whose expectation `versions` no longer
/// meets, if any.
pub(crate) fn first_conflict(appends: &[StreamAppend], versions: &[u64]) -> Option<Error> {
    appends
        .iter()
        .zip(versions)
        .find_map(|(a, &actual)| check_expected(&a.stream_id, a.expected, actual).err())
}

/// The id of an event of `encoded` that is already stored, if any; used to
/// name the event in the error.
pub(crate) async fn stored_event_id(
    pool: &PgPool,
    statements: &Statements,
    encoded: &EncodedAppend,
) -> Result<Option<Uuid>> {
    sqlx::query_scalar(AssertSqlSafe(Arc::clone(&statements.existing_event_ids)))
        .bind(&encoded.event_ids)
        .fetch_optional(pool)
        .await
        .map_err(map_error)
}

/// Whether `err` is a unique violation of `constraint`.
fn violates(err: &sqlx::Error, constraint: &str) -> bool {
    match err {
        sqlx::Error::Database(db) => {
            db.code().as_deref() == Some("23505") && db.constraint() == Some(constraint)
        }
        _ => false,
    }
}

/// Maps a sqlx error to the runtime's, for every call of the store:
///
/// - no server to talk to (see [`is_unavailable`]) is
///   [`Error::Unavailable`]: worth a retry with the same event ids;
/// - data PostgreSQL refuses to store (SQLSTATE class 22, e.g. a NUL
///   character in text or `\u0000` in jsonb) or that is beyond one of its
///   sizes (54000, e.g. an index row or a jsonb value too large) is invalid
///   input;
/// - the rest is a backend failure.
pub(crate) fn map_error(err: sqlx::Error) -> Error {
    if is_unavailable(&err) {
        return Error::Unavailable(Box::new(err));
    }
    if let sqlx::Error::Database(db) = &err
        && db
            .code()
            .is_some_and(|c| c.starts_with("22") || c == "54000")
    {
        return Error::invalid("input", format!("PostgreSQL refused it: {}", db.message()));
    }
    Error::backend(err)
}

/// Whether `err` means the server could not be reached: no connection
/// within the pool's `acquire_timeout` (which also bounds connecting while
/// the server is down), a connection lost (an I/O error, SQLSTATE class
/// 08), or a server shutting down or starting up (57P01, 57P02, 57P03).
pub(crate) fn is_unavailable(err: &sqlx::Error) -> bool {
    match err {
        sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || matches!(&*c, "57P01" | "57P02" | "57P03")),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::jsonb_text;

    #[test]
    fn what_jsonb_keeps_and_what_stays_bytes() {
        let jsonb = [
            r#"{"a":1}"#,
            r#""caf\u00e9""#,
            r#""\ud83d\ude00""#,
            "1.5e10",
            r#"["the 1e3 text"]"#,
        ];
        for text in jsonb {
            assert_eq!(jsonb_text(text.as_bytes()).as_deref(), Some(text), "{text}");
        }
        let bytes = [
            r#""\u0000""#,
            r#""\ud800""#,
            r#""\udc00x""#,
            "1e200000",
            "not json",
            "",
        ];
        for text in bytes {
            assert_eq!(jsonb_text(text.as_bytes()), None, "{text}");
        }
        assert_eq!(jsonb_text(&[0xff, 0xfe]), None);
    }
}
