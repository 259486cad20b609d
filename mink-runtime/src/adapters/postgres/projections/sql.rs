//! The SQL of the PostgreSQL projection store, on the tables of
//! `migrations/postgres/0003_projections.sql`, qualified with the store's
//! schema (see the adapter's `sql.rs`). Times come from the database's clock.

use std::sync::Arc;

/// The columns `decode_record` reads.
pub(super) const RECORD_COLUMNS: &str = "name, checkpoint_commit, checkpoint_event, state, desired, \
     rebuild_id, rebuild_from_commit, rebuild_from_event, rebuild_to_commit, rebuild_to_event, \
     rebuild_started, owner, generation, lease_expires_at, heartbeat_at, events_processed, \
     last_error, updated_at";

/// The columns `decode_dead_letter` reads.
pub(super) const DEAD_LETTER_COLUMNS: &str = "projection, position_commit, position_event, event_id, \
     stream_id, version, event_type, error, attempts, parked_at";

/// The statements of the projection store, qualified with the store's
/// schema (see `sql.rs`).
#[derive(Debug)]
pub(super) struct Statements {
    pub(super) record: Arc<str>,
    pub(super) records: Arc<str>,
    pub(super) acquire: Arc<str>,
    pub(super) renew: Arc<str>,
    pub(super) release: Arc<str>,
    pub(super) set_desired: Arc<str>,
    pub(super) request_rebuild: Arc<str>,
    pub(super) cancel_rebuild: Arc<str>,
    pub(super) move_checkpoint: Arc<str>,
    pub(super) rebuild_started: Arc<str>,
    pub(super) rebuild_finished: Arc<str>,
    pub(super) park: Arc<str>,
    pub(super) dead_letters: Arc<str>,
    pub(super) remove_dead_letter: Arc<str>,
}

impl Statements {
    /// Statements on the tables of `schema`, a name already checked by
    /// `builder::check_schema_name` (so it needs no quoting).
    pub(super) fn new(schema: &str) -> Statements {
        let p = format!("{schema}.projections");
        let d = format!("{schema}.projection_dead_letters");
        let ttl = |param: u8| format!("now() + make_interval(secs => ${param})");
        let clear_rebuild = "rebuild_id = NULL, rebuild_from_commit = NULL, \
             rebuild_from_event = NULL, rebuild_to_commit = NULL, rebuild_to_event = NULL, \
             rebuild_started = false";
        Statements {
            record: format!("SELECT {RECORD_COLUMNS} FROM {p} WHERE name = $1").into(),
            records: format!("SELECT {RECORD_COLUMNS} FROM {p} ORDER BY name").into(),
            // `$1` name, `$2` owner, `$3` lease in seconds: creates the
            // record holding the lease, or takes the lease when it is free,
            // expired or `$2`'s already (bumping the generation unless `$2`
            // holds it live); no row when another owner holds a live lease.
            acquire: format!(
                "INSERT INTO {p} AS p (name, owner, generation, lease_expires_at, heartbeat_at, \
                 updated_at) VALUES ($1, $2, 1, {}, now(), now()) \
                 ON CONFLICT (name) DO UPDATE SET \
                 generation = CASE WHEN p.owner = $2 AND p.lease_expires_at > now() \
                     THEN p.generation ELSE p.generation + 1 END, \
                 owner = excluded.owner, lease_expires_at = excluded.lease_expires_at, \
                 heartbeat_at = excluded.heartbeat_at, updated_at = excluded.updated_at \
                 WHERE NOT (COALESCE(p.lease_expires_at > now(), false) \
                     AND p.owner IS DISTINCT FROM $2) \
                 RETURNING generation",
                ttl(3)
            )
            .into(),
            // `$1` name, `$2` generation, `$3` owner, `$4` lease in seconds,
            // `$5` state, `$6` last error.
            renew: format!(
                "UPDATE {p} SET lease_expires_at = {}, heartbeat_at = now(), \
                 state = $5, last_error = $6, updated_at = now() \
                 WHERE name = $1 AND generation = $2 AND owner = $3 \
                 RETURNING {RECORD_COLUMNS}",
                ttl(4)
            )
            .into(),
            // `$1` name, `$2` generation, `$3` owner, `$4` state, `$5` last
            // error.
            release: format!(
                "UPDATE {p} SET lease_expires_at = NULL, state = $4, last_error = $5, \
                 updated_at = now() WHERE name = $1 AND generation = $2 AND owner = $3"
            )
            .into(),
            set_desired: format!(
                "INSERT INTO {p} AS p (name, desired, updated_at) VALUES ($1, $2, now()) \
                 ON CONFLICT (name) DO UPDATE SET desired = excluded.desired, \
                 updated_at = excluded.updated_at"
            )
            .into(),
            // `$1` name, `$2`/`$3` from, `$4`/`$5` to (NULL: none).
            request_rebuild: format!(
                "INSERT INTO {p} AS p (name, rebuild_id, rebuild_from_commit, rebuild_from_event, \
                 rebuild_to_commit, rebuild_to_event, rebuild_started, updated_at) \
                 VALUES ($1, nextval('{schema}.projection_rebuild_ids'), $2, $3, $4, $5, false, \
                 now()) \
                 ON CONFLICT (name) DO UPDATE SET rebuild_id = excluded.rebuild_id, \
                 rebuild_from_commit = excluded.rebuild_from_commit, \
                 rebuild_from_event = excluded.rebuild_from_event, \
                 rebuild_to_commit = excluded.rebuild_to_commit, \
                 rebuild_to_event = excluded.rebuild_to_event, \
                 rebuild_started = false, updated_at = excluded.updated_at \
                 RETURNING rebuild_id"
            )
            .into(),
            cancel_rebuild: format!(
                "UPDATE {p} SET {clear_rebuild}, updated_at = now() WHERE name = $1"
            )
            .into(),
            // `$1` name, `$2` generation, `$3` owner, `$4`/`$5` the
            // checkpoint the batch started from, `$6`/`$7` the new one, `$8`
            // events applied. Runs in the batch's transaction, whose `now()`
            // is when the batch began: the record shows when it committed.
            move_checkpoint: format!(
                "UPDATE {p} SET checkpoint_commit = $6, checkpoint_event = $7, \
                 events_processed = events_processed + $8, updated_at = clock_timestamp() \
                 WHERE name = $1 AND generation = $2 AND owner = $3 \
                   AND checkpoint_commit = $4 AND checkpoint_event = $5"
            )
            .into(),
            rebuild_started: format!(
                "UPDATE {p} SET rebuild_started = true WHERE name = $1 AND rebuild_id = $2"
            )
            .into(),
            // Clears the finished request, pausing the projection when the
            // request had an upper bound.
            rebuild_finished: format!(
                "UPDATE {p} SET \
                 desired = CASE WHEN rebuild_to_commit IS NOT NULL THEN 'paused' ELSE desired END, \
                 {clear_rebuild} WHERE name = $1 AND rebuild_id = $2"
            )
            .into(),
            // Parking the same position again replaces the row.
            park: format!(
                "INSERT INTO {d} ({DEAD_LETTER_COLUMNS}) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT (projection, position_commit, position_event) DO UPDATE SET \
                 event_id = excluded.event_id, stream_id = excluded.stream_id, \
                 version = excluded.version, event_type = excluded.event_type, \
                 error = excluded.error, attempts = excluded.attempts, \
                 parked_at = excluded.parked_at"
            )
            .into(),
            dead_letters: format!(
                "SELECT {DEAD_LETTER_COLUMNS} FROM {d} WHERE projection = $1 \
                 ORDER BY position_commit, position_event"
            )
            .into(),
            remove_dead_letter: format!(
                "DELETE FROM {d} \
                 WHERE projection = $1 AND position_commit = $2 AND position_event = $3"
            )
            .into(),
        }
    }
}
