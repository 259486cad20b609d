-- Where projections keep their place, beside the events in the same file,
-- so that a read model written in this file commits with its checkpoint
-- (docs/adr/013-checkpoints-and-leases.md). Written through the store's one
-- writer connection, in `BEGIN IMMEDIATE` transactions, so several
-- processes may share the file.
--
-- Times are milliseconds since the Unix epoch by SQLite's own clock, as in
-- `mink_idempotency`: instances whose clocks differ agree on them. Read
-- them with `datetime(lease_expires_at / 1000, 'unixepoch')`.
--
-- name              the projection's unique name.
-- checkpoint_*      the last position applied (commit, event); 0/0 before
--                   the first event.
-- state             what the worker last reported: running, paused,
--                   rebuilding, faulted or stopped.
-- desired           what an operator asked for: running or paused.
-- rebuild_*         a rebuild request waiting or under way (id NULL: none);
--                   `to` NULL: run on to the head; started 1 once the read
--                   model was cleared and the checkpoint moved to `from`.
-- owner             the instance holding the lease (kept after it expires).
-- generation        bumped each time the lease changes hands; every
--                   checkpoint write is fenced by it.
-- lease_expires_at  NULL when released.
-- events_processed  events applied since the record was created.
-- last_error        the worker's last error, NULL once it recovers.
CREATE TABLE mink_projections (
    name                TEXT    PRIMARY KEY,
    checkpoint_commit   INTEGER NOT NULL DEFAULT 0,
    checkpoint_event    INTEGER NOT NULL DEFAULT 0,
    state               TEXT    NOT NULL DEFAULT 'stopped',
    desired             TEXT    NOT NULL DEFAULT 'running',
    rebuild_id          INTEGER,
    rebuild_from_commit INTEGER,
    rebuild_from_event  INTEGER,
    rebuild_to_commit   INTEGER,
    rebuild_to_event    INTEGER,
    rebuild_started     INTEGER NOT NULL DEFAULT 0,
    owner               TEXT,
    generation          INTEGER NOT NULL DEFAULT 0,
    lease_expires_at    INTEGER,
    heartbeat_at        INTEGER,
    events_processed    INTEGER NOT NULL DEFAULT 0,
    last_error          TEXT,
    updated_at          INTEGER NOT NULL
);

-- Events a projection could not apply and parked, with the error, until
-- replayed or removed. One row per projection and position.
CREATE TABLE mink_projection_dead_letters (
    projection      TEXT    NOT NULL,
    position_commit INTEGER NOT NULL,
    position_event  INTEGER NOT NULL,
    event_id        TEXT    NOT NULL,
    stream_id       TEXT    NOT NULL,
    version         INTEGER NOT NULL,
    event_type      TEXT    NOT NULL,
    error           TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    parked_at       INTEGER NOT NULL,
    PRIMARY KEY (projection, position_commit, position_event)
);

-- Counters that SQLite has no sequences for: `rebuild_request` numbers
-- rebuild requests, never handing out an id twice.
CREATE TABLE mink_projection_counters (
    name  TEXT    PRIMARY KEY,
    value INTEGER NOT NULL
);
