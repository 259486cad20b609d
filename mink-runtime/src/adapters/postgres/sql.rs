//! The SQL text of the PostgreSQL store, qualified with the store's schema.
//!
//! Names are qualified rather than left to `search_path`, so the statements
//! also work on a connection the caller opened (for example a transaction
//! that writes a read model next to the events).

use std::sync::Arc;

/// The columns every read returns, in the order `rows::decode_event` expects.
/// The transaction id is read as `xid8` itself (eight bytes in the binary
/// format): it holds all of `u64`, more than `bigint` does.
const EVENT_COLUMNS: &str = "event_id, stream_id, version, transaction_id AS commit, \
     position, event_type, schema_version, payload::text, metadata, created_at, payload_bytes, \
     content_type";

/// Only rows of transactions older than every running *writer* are readable
/// in the global log: their set can no longer grow
/// (docs/adr/004-global-ordering.md).
///
/// A running transaction is left out of "every running writer" only when
/// the lock manager shows it alive and holding no lock on this table. Every
/// append takes its lock on the table before its transaction gets an id
/// (the append statement locks the table before it writes, and
/// `append_to_streams_in` refuses a transaction that got its id elsewhere
/// first), so such a transaction cannot add rows with that id later.
/// Transactions on other tables or in other databases then do not hold
/// readers back. A running id `pg_locks` does not show alive, and a
/// prepared transaction, is waited for.
///
/// `pg_locks` is not one atomic view: it gathers each backend's fast-path
/// locks (where a writer's lock on this table lives) before the main lock
/// table (where its transaction id lock lives), and a committing writer
/// releases the first before the second. A writer that committed after the
/// reader's snapshot was taken can therefore show as "alive, without a lock
/// on the table" while its rows are invisible to that snapshot. So a
/// transaction is only left out when `pg_xact_status` still says it is in
/// progress *after* the lock view was read: a transaction in progress then
/// was in progress while its locks were gathered, and holds every lock it
/// took until it ends. On a hot standby, where the snapshot lists no running
/// transactions, the horizon is the cluster-wide `pg_snapshot_xmin`, which
/// never skips.
fn visible(events: &str) -> String {
    format!(
        "transaction_id < (WITH l AS MATERIALIZED \
             (SELECT locktype, relation, transactionid, virtualtransaction, pid FROM pg_locks) \
         SELECT CASE \
         WHEN pg_is_in_recovery() THEN pg_snapshot_xmin(h.snap) \
         ELSE COALESCE((SELECT min(x) FROM pg_snapshot_xip(h.snap) AS x \
             WHERE NOT CASE WHEN EXISTS (SELECT 1 FROM l t \
                 WHERE t.locktype = 'transactionid' AND t.pid IS NOT NULL \
                   AND t.transactionid::text::bigint = x::text::bigint % 4294967296 \
                   AND NOT EXISTS (SELECT 1 FROM l r \
                       WHERE r.locktype = 'relation' AND r.relation = '{events}'::regclass \
                         AND r.virtualtransaction = t.virtualtransaction)) \
               THEN pg_xact_status(x) IS NOT DISTINCT FROM 'in progress' \
               ELSE false END), \
             pg_snapshot_xmax(h.snap)) \
         END FROM (SELECT pg_current_snapshot() AS snap) AS h)"
    )
}

/// Every statement the store runs, built once per store.
#[derive(Debug)]
pub(crate) struct Statements {
    pub(crate) append: Arc<str>,
    pub(crate) append_known_versions: Arc<str>,
    pub(crate) stream_versions: Arc<str>,
    pub(crate) existing_event_ids: Arc<str>,
    pub(crate) read_stream: Arc<str>,
    pub(crate) read_all: Arc<str>,
    pub(crate) stream_info: Arc<str>,
    pub(crate) head_position: Arc<str>,
    pub(crate) claim_key: Arc<str>,
    pub(crate) key_result: Arc<str>,
    pub(crate) complete_key: Arc<str>,
    pub(crate) release_key: Arc<str>,
    pub(crate) transaction_writes_first: Arc<str>,
}

impl Statements {
    /// Statements on the tables of `schema`, a name already checked by
    /// `builder::check_schema_name` (so it needs no quoting).
    pub(crate) fn new(schema: &str) -> Statements {
        let events = format!("{schema}.events");
        let visible = visible(&events);
        let idempotency = format!("{schema}.idempotency");
        Statements {
            append: append(&events).into(),
            append_known_versions: append_known_versions(&events).into(),
            stream_versions: format!(
                "SELECT stream_id, max(version) FROM {events} \
                 WHERE stream_id = ANY($1::text[]) GROUP BY stream_id"
            )
            .into(),
            existing_event_ids: format!(
                "SELECT event_id FROM {events} WHERE event_id = ANY($1::uuid[]) LIMIT 1"
            )
            .into(),
            read_stream: format!(
                "SELECT {EVENT_COLUMNS} FROM {events} \
                 WHERE stream_id = $1 AND version >= $2 ORDER BY version LIMIT $3"
            )
            .into(),
            read_all: format!(
                "SELECT {EVENT_COLUMNS} FROM {events} \
                 WHERE {visible} \
                   AND (transaction_id, position) > ($1::text::xid8, $2::bigint) \
                   AND (cardinality($3::text[]) = 0 OR event_type = ANY($3::text[])) \
                   AND (cardinality($4::text[]) = 0 OR split_part(stream_id, '-', 1) = ANY($4::text[])) \
                   AND (cardinality($5::text[]) = 0 OR stream_id = ANY($5::text[])) \
                 ORDER BY transaction_id, position LIMIT $6"
            )
            .into(),
            // The last row, then the first: version, transaction id, position
            // and time of each (`rows::decode_stream_info`).
            stream_info: format!(
                "SELECT last.version, last.transaction_id::text, last.position, last.created_at, \
                        first.version, first.transaction_id::text, first.position, first.created_at \
                 FROM \
                 (SELECT version, transaction_id, position, created_at FROM {events} \
                  WHERE stream_id = $1 ORDER BY version DESC LIMIT 1) AS last, \
                 (SELECT version, transaction_id, position, created_at FROM {events} \
                  WHERE stream_id = $1 ORDER BY version LIMIT 1) AS first"
            )
            .into(),
            // Ordered by the table's columns: an output column named
            // `transaction_id` (the text of the id) would sort as text, and
            // by a sort of the whole log instead of the index.
            head_position: format!(
                "SELECT transaction_id::text AS commit, position FROM {events} \
                 WHERE {visible} ORDER BY {events}.transaction_id DESC, {events}.position DESC \
                 LIMIT 1"
            )
            .into(),
            // Inserts a claim, or takes over an expired record; returns a
            // row only when this call now holds the key.
            claim_key: format!(
                "INSERT INTO {idempotency} (key, result, expires_at) \
                 VALUES ($1, NULL, now() + make_interval(secs => $2)) \
                 ON CONFLICT (key) DO UPDATE SET result = NULL, expires_at = excluded.expires_at \
                 WHERE {idempotency}.expires_at <= now() \
                 RETURNING key"
            )
            .into(),
            key_result: format!("SELECT result FROM {idempotency} WHERE key = $1").into(),
            complete_key: format!(
                "UPDATE {idempotency} SET result = $2, expires_at = now() + make_interval(secs => $3) \
                 WHERE key = $1"
            )
            .into(),
            release_key: format!("DELETE FROM {idempotency} WHERE key = $1 AND result IS NULL")
                .into(),
            // Whether the caller's transaction got its id before it locked
            // the events table (see `visible`).
            transaction_writes_first: format!(
                "SELECT pg_current_xact_id_if_assigned() IS NOT NULL AND NOT EXISTS \
                 (SELECT 1 FROM pg_locks WHERE locktype = 'relation' \
                    AND relation = '{events}'::regclass AND pid = pg_backend_pid())"
            )
            .into(),
        }
    }
}

/// The statement of an append call whose every stream expects an exact
/// version, or none (`NoStream` is version 0), so that each event's version
/// is known in advance (docs/adr/005-concurrency-control.md).
///
/// Parameters: `$1` stream ids and `$2` their expected versions, one
/// element per stream; then one element per event: `$3` its stream, `$4`
/// its version, `$5` id, `$6` type, `$7` schema version, `$8` payload as
/// JSON text (NULL when kept as bytes), `$9` metadata (JSON text), `$10`
/// payload bytes, `$11` content type.
///
/// Two index lookups per stream check that its expected version is stored
/// (0: nothing to check) and the next one is not, so each stream is at
/// exactly its expected version (versions are stored gap-free); if any is
/// not, nothing is inserted and the positions come back NULL. A writer that
/// races past the check makes the insert hit
/// `events_stream_version_unique`. The result is one row: the positions written, in the
/// order of the events, and the writing transaction's id.
fn append_known_versions(events: &str) -> String {
    format!(
        "WITH expected AS (
    SELECT bool_and((x.version = 0 OR EXISTS (
                        SELECT 1 FROM {events} e
                        WHERE e.stream_id = x.stream_id AND e.version = x.version))
                    AND NOT EXISTS (
                        SELECT 1 FROM {events} e
                        WHERE e.stream_id = x.stream_id AND e.version = x.version + 1))
           AS met
    FROM unnest($1::text[], $2::bigint[]) AS x(stream_id, version)
),
written AS (
    INSERT INTO {events} (event_id, stream_id, version, event_type, schema_version, payload, metadata,
                          payload_bytes, content_type)
    SELECT n.event_id, n.stream_id, n.version, n.event_type, n.schema_version, n.payload::jsonb,
           n.metadata::jsonb, n.payload_bytes, n.content_type
    FROM unnest($3::text[], $4::bigint[], $5::uuid[], $6::text[], $7::int[], $8::text[], $9::text[],
                $10::bytea[], $11::text[])
         WITH ORDINALITY AS n(stream_id, version, event_id, event_type, schema_version, payload,
                              metadata, payload_bytes, content_type, ord)
    WHERE (SELECT met FROM expected)
    ORDER BY n.ord
    RETURNING position
)
SELECT (SELECT array_agg(w.position ORDER BY w.position) FROM written w) AS positions,
       pg_current_xact_id()::text::bigint AS commit"
    )
}

/// The one statement of an append call, whatever the number of streams and
/// events (docs/adr/005-concurrency-control.md).
///
/// Parameters, one array element per stream:
/// `$1` stream ids, `$2` expectation kind (`store::rules::ExpectationKind`),
/// `$3` expected version (for `Exact`);
/// and one element per event: `$4` 1-based index of its stream in `$1`,
/// `$5` event id, `$6` type, `$7` schema version, `$8` payload as JSON text
/// (NULL when it is kept as bytes), `$9` metadata (JSON text), `$10`
/// payload bytes (NULL when it is JSON), `$11` content type.
///
/// It reads each stream's version, refuses the whole call when any
/// expectation fails (nothing is inserted), and otherwise numbers the events
/// after each stream's version. A writer that raced ahead makes the insert
/// hit `events_stream_version_unique`. The result has one row per stream, in
/// request order: id, version before the call, whether it was refused, the
/// positions of the events written to it (in version order), and the
/// writing transaction's id.
fn append(events: &str) -> String {
    format!(
        "WITH request AS (
    SELECT r.stream_id, r.expected_kind, r.expected_version, r.ord
    FROM unnest($1::text[], $2::int[], $3::bigint[])
         WITH ORDINALITY AS r(stream_id, expected_kind, expected_version, ord)
),
stream_state AS (
    SELECT q.stream_id, q.expected_kind, q.expected_version, q.ord,
           COALESCE((SELECT max(e.version) FROM {events} e WHERE e.stream_id = q.stream_id), 0)
               AS actual
    FROM request q
),
refused AS (
    SELECT s.ord FROM stream_state s
    WHERE NOT CASE s.expected_kind
        WHEN 0 THEN true
        WHEN 1 THEN s.actual = 0
        WHEN 2 THEN s.actual > 0
        ELSE s.actual = s.expected_version
    END
),
incoming AS (
    SELECT n.stream_ord, n.event_id, n.event_type, n.schema_version, n.payload, n.metadata,
           n.payload_bytes, n.content_type, n.ord
    FROM unnest($4::bigint[], $5::uuid[], $6::text[], $7::int[], $8::text[], $9::text[], $10::bytea[],
                $11::text[])
         WITH ORDINALITY AS n(stream_ord, event_id, event_type, schema_version, payload, metadata,
                              payload_bytes, content_type, ord)
),
written AS (
    INSERT INTO {events} (event_id, stream_id, version, event_type, schema_version, payload, metadata,
                          payload_bytes, content_type)
    SELECT i.event_id, s.stream_id,
           s.actual + row_number() OVER (PARTITION BY i.stream_ord ORDER BY i.ord),
           i.event_type, i.schema_version, i.payload::jsonb, i.metadata::jsonb, i.payload_bytes,
           i.content_type
    FROM incoming i JOIN stream_state s ON s.ord = i.stream_ord
    WHERE NOT EXISTS (SELECT 1 FROM refused)
    ORDER BY i.ord
    RETURNING stream_id, version, position
)
SELECT s.stream_id,
       s.actual,
       EXISTS (SELECT 1 FROM refused f WHERE f.ord = s.ord) AS refused,
       COALESCE((SELECT array_agg(w.position ORDER BY w.version) FROM written w
                 WHERE w.stream_id = s.stream_id), '{{}}') AS positions,
       pg_current_xact_id()::text::bigint AS commit
FROM stream_state s
ORDER BY s.ord"
    )
}
