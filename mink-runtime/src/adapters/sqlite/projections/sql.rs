//! The SQL of the SQLite projection store, on the tables of
//! `migrations/sqlite/20260301000000_projections.sql`. Times are SQLite's
//! clock in milliseconds since the Unix epoch.

/// SQLite's clock, in milliseconds since the Unix epoch; the same value
/// everywhere in one statement.
macro_rules! now_ms {
    () => {
        "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
    };
}

/// Selects the columns `decode_record` reads.
macro_rules! record_columns {
    () => {
        "name, checkpoint_commit, checkpoint_event, state, desired, rebuild_id, \
         rebuild_from_commit, rebuild_from_event, rebuild_to_commit, rebuild_to_event, \
         rebuild_started, owner, generation, lease_expires_at, heartbeat_at, \
         events_processed, last_error, updated_at"
    };
}

/// `?1` name → its record.
pub(super) const RECORD: &str = concat!(
    "SELECT ",
    record_columns!(),
    " FROM mink_projections WHERE name = ?1"
);

/// Every record, by name.
pub(super) const RECORDS: &str = concat!(
    "SELECT ",
    record_columns!(),
    " FROM mink_projections ORDER BY name"
);

/// `?1` name, `?2` owner, `?3` lease in ms: creates the record holding the
/// lease, or takes the lease when it is free, expired or `?2`'s already
/// (bumping the generation unless `?2` holds it live); returns the
/// generation, no row when another owner holds a live lease.
pub(super) const ACQUIRE: &str = concat!(
    "INSERT INTO mink_projections (name, owner, generation, lease_expires_at, heartbeat_at, \
     updated_at) VALUES (?1, ?2, 1, ",
    now_ms!(),
    " + ?3, ",
    now_ms!(),
    ", ",
    now_ms!(),
    ") ON CONFLICT (name) DO UPDATE SET \
     generation = CASE WHEN owner = ?2 AND lease_expires_at > ",
    now_ms!(),
    " THEN generation ELSE generation + 1 END, \
     owner = excluded.owner, lease_expires_at = excluded.lease_expires_at, \
     heartbeat_at = excluded.heartbeat_at, updated_at = excluded.updated_at \
     WHERE NOT (COALESCE(lease_expires_at > ",
    now_ms!(),
    ", 0) AND owner IS NOT ?2) \
     RETURNING generation"
);

/// `?1` name, `?2` generation, `?3` owner, `?4` lease in ms, `?5` state,
/// `?6` last error: extends a held lease; returns the record, no row when
/// the lease was lost.
pub(super) const RENEW: &str = concat!(
    "UPDATE mink_projections SET lease_expires_at = ",
    now_ms!(),
    " + ?4, heartbeat_at = ",
    now_ms!(),
    ", state = ?5, last_error = ?6, updated_at = ",
    now_ms!(),
    " WHERE name = ?1 AND generation = ?2 AND owner = ?3 RETURNING ",
    record_columns!()
);

/// `?1` name, `?2` generation, `?3` owner, `?4` state, `?5` last error.
pub(super) const RELEASE: &str = concat!(
    "UPDATE mink_projections SET lease_expires_at = NULL, state = ?4, last_error = ?5, \
     updated_at = ",
    now_ms!(),
    " WHERE name = ?1 AND generation = ?2 AND owner = ?3"
);

/// `?1` name, `?2` desired.
pub(super) const SET_DESIRED: &str = concat!(
    "INSERT INTO mink_projections (name, desired, updated_at) VALUES (?1, ?2, ",
    now_ms!(),
    ") ON CONFLICT (name) DO UPDATE SET desired = excluded.desired, \
     updated_at = excluded.updated_at"
);

/// The next rebuild request id.
pub(super) const NEXT_REBUILD_ID: &str = "INSERT INTO mink_projection_counters (name, value) \
     VALUES ('rebuild_request', 1) \
     ON CONFLICT (name) DO UPDATE SET value = value + 1 RETURNING value";

/// `?1` name, `?2` request id, `?3`/`?4` from, `?5`/`?6` to (NULL: none).
pub(super) const REQUEST_REBUILD: &str = concat!(
    "INSERT INTO mink_projections (name, rebuild_id, rebuild_from_commit, rebuild_from_event, \
     rebuild_to_commit, rebuild_to_event, rebuild_started, updated_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0, ",
    now_ms!(),
    ") ON CONFLICT (name) DO UPDATE SET rebuild_id = excluded.rebuild_id, \
     rebuild_from_commit = excluded.rebuild_from_commit, \
     rebuild_from_event = excluded.rebuild_from_event, \
     rebuild_to_commit = excluded.rebuild_to_commit, \
     rebuild_to_event = excluded.rebuild_to_event, \
     rebuild_started = 0, updated_at = excluded.updated_at"
);

/// `?1` name: withdraws its rebuild request.
pub(super) const CANCEL_REBUILD: &str = concat!(
    "UPDATE mink_projections SET rebuild_id = NULL, rebuild_from_commit = NULL, \
     rebuild_from_event = NULL, rebuild_to_commit = NULL, rebuild_to_event = NULL, \
     rebuild_started = 0, updated_at = ",
    now_ms!(),
    " WHERE name = ?1"
);

/// `?1` name, `?2` generation, `?3` owner, `?4`/`?5` the checkpoint the
/// batch started from, `?6`/`?7` the new one, `?8` events applied: moves
/// the checkpoint only while the lease holds and the checkpoint is where
/// the batch found it.
pub(super) const MOVE_CHECKPOINT: &str = concat!(
    "UPDATE mink_projections SET checkpoint_commit = ?6, checkpoint_event = ?7, \
     events_processed = events_processed + ?8, updated_at = ",
    now_ms!(),
    " WHERE name = ?1 AND generation = ?2 AND owner = ?3 \
     AND checkpoint_commit = ?4 AND checkpoint_event = ?5"
);

/// `?1` name, `?2` request id: marks the request started.
pub(super) const REBUILD_STARTED: &str =
    "UPDATE mink_projections SET rebuild_started = 1 WHERE name = ?1 AND rebuild_id = ?2";

/// `?1` name, `?2` request id: clears the finished request, pausing the
/// projection when the request had an upper bound.
pub(super) const REBUILD_FINISHED: &str = "UPDATE mink_projections SET \
     desired = CASE WHEN rebuild_to_commit IS NOT NULL THEN 'paused' ELSE desired END, \
     rebuild_id = NULL, rebuild_from_commit = NULL, rebuild_from_event = NULL, \
     rebuild_to_commit = NULL, rebuild_to_event = NULL, rebuild_started = 0 \
     WHERE name = ?1 AND rebuild_id = ?2";

/// Parks one event: `?1` projection, `?2`/`?3` position, `?4` event id,
/// `?5` stream, `?6` version, `?7` type, `?8` error, `?9` attempts, `?10`
/// parked at (ms). Parking the same position again replaces the row.
pub(super) const PARK: &str = "INSERT INTO mink_projection_dead_letters (projection, position_commit, \
     position_event, event_id, stream_id, version, event_type, error, attempts, parked_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
     ON CONFLICT (projection, position_commit, position_event) DO UPDATE SET \
     event_id = excluded.event_id, stream_id = excluded.stream_id, version = excluded.version, \
     event_type = excluded.event_type, error = excluded.error, attempts = excluded.attempts, \
     parked_at = excluded.parked_at";

/// `?1` projection → its parked events, in log order.
pub(super) const DEAD_LETTERS: &str = "SELECT projection, position_commit, position_event, event_id, \
     stream_id, version, event_type, error, attempts, parked_at \
     FROM mink_projection_dead_letters WHERE projection = ?1 \
     ORDER BY position_commit, position_event";

/// `?1` projection, `?2`/`?3` position.
pub(super) const REMOVE_DEAD_LETTER: &str = "DELETE FROM mink_projection_dead_letters \
     WHERE projection = ?1 AND position_commit = ?2 AND position_event = ?3";
