//! The SQL the SQLite store runs. Every statement is a fixed string, so
//! SQLite prepares each one once per connection; filters travel as JSON
//! arrays read with `json_each` instead of a variable number of `?`.

/// Selects the columns `rows::decode_event` reads.
macro_rules! select_events {
    ($($rest:literal),*) => {
        concat!(
            "SELECT position, event_id, stream_id, version, event_type, schema_version, \
             payload, metadata, created_at, content_type FROM events ",
            $($rest),*
        )
    };
}

/// `?1` stream id → its version, 0 when it has no events.
pub(super) const STREAM_VERSION: &str =
    "SELECT COALESCE(MAX(version), 0) FROM events WHERE stream_id = ?1";

/// Writes one event and returns its position.
pub(super) const INSERT_EVENT: &str = "INSERT INTO events \
     (event_id, stream_id, version, event_type, schema_version, payload, metadata, created_at, \
      content_type) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING position";

/// `?1` event ids as a JSON array → one of them that is already stored.
pub(super) const STORED_EVENT_ID: &str =
    "SELECT event_id FROM events WHERE event_id IN (SELECT value FROM json_each(?1)) LIMIT 1";

/// SQLite's clock, in milliseconds since the Unix epoch.
macro_rules! now_ms {
    () => {
        "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
    };
}

/// `?1` key, `?2` lease in ms: inserts a claim, or takes over an expired
/// record; returns a row only when this call now holds the key.
pub(super) const CLAIM_KEY: &str = concat!(
    "INSERT INTO mink_idempotency (key, result, expires_at) VALUES (?1, NULL, ",
    now_ms!(),
    " + ?2) ON CONFLICT (key) DO UPDATE SET result = NULL, expires_at = excluded.expires_at \
     WHERE mink_idempotency.expires_at <= ",
    now_ms!(),
    " RETURNING key"
);

/// `?1` key → the stored result, NULL while a claim runs.
/// (Read as a BLOB, so a TEXT result left by an earlier version decodes too.)
pub(super) const KEY_RESULT: &str =
    "SELECT CAST(result AS BLOB) FROM mink_idempotency WHERE key = ?1";

/// `?1` key, `?2` result, `?3` time to live in ms.
pub(super) const COMPLETE_KEY: &str = concat!(
    "UPDATE mink_idempotency SET result = ?2, expires_at = ",
    now_ms!(),
    " + ?3 WHERE key = ?1"
);

/// `?1` key: drops a claim that has no result.
pub(super) const RELEASE_KEY: &str =
    "DELETE FROM mink_idempotency WHERE key = ?1 AND result IS NULL";

/// `?1` stream id, `?2` first version, `?3` limit.
pub(super) const READ_STREAM: &str =
    select_events!("WHERE stream_id = ?1 AND version >= ?2 ORDER BY version LIMIT ?3");

/// `?1` after this position; `?2`, `?3`, `?4` JSON arrays of accepted event
/// types, categories and stream ids, NULL for "all"; `?5` limit.
pub(super) const READ_ALL: &str = select_events!(
    "WHERE position > ?1 ",
    "AND (?2 IS NULL OR event_type IN (SELECT value FROM json_each(?2))) ",
    "AND (?3 IS NULL OR category IN (SELECT value FROM json_each(?3))) ",
    "AND (?4 IS NULL OR stream_id IN (SELECT value FROM json_each(?4))) ",
    "ORDER BY position LIMIT ?5"
);

/// `?1` stream id → the position, version and time of its last event and
/// of its first (`rows::decode_stream_info`), no row when the stream has no
/// events.
pub(super) const STREAM_INFO: &str = "SELECT \
     last.position AS last_position, last.version AS last_version, \
     last.created_at AS last_created_at, \
     first.position AS first_position, first.version AS first_version, \
     first.created_at AS first_created_at \
     FROM (SELECT position, version, created_at FROM events WHERE stream_id = ?1 \
           ORDER BY version DESC LIMIT 1) AS last, \
          (SELECT position, version, created_at FROM events WHERE stream_id = ?1 \
           ORDER BY version LIMIT 1) AS first";

/// The last position written, 0 when the log is empty.
pub(super) const HEAD_POSITION: &str = "SELECT COALESCE(MAX(position), 0) FROM events";
