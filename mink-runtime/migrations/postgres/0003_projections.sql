-- Where projections keep their place, beside the events in the store's
-- schema, so that a read model written in this database commits with its
-- checkpoint (docs/adr/013-checkpoints-and-leases.md).
--
-- Applied with `search_path` set to the store's schema, like the earlier
-- migrations. Times come from the database's clock (`now()`), so instances
-- whose clocks differ agree on them.
--
-- name              the projection's unique name.
-- checkpoint_*      the last position applied (transaction id, position);
--                   0/0 before the first event.
-- state             what the worker last reported: running, paused,
--                   rebuilding, faulted or stopped.
-- desired           what an operator asked for: running or paused.
-- rebuild_*         a rebuild request waiting or under way (id NULL: none);
--                   `to` NULL: run on to the head; started once the read
--                   model was cleared and the checkpoint moved to `from`.
-- owner             the instance holding the lease (kept after it expires).
-- generation        bumped each time the lease changes hands; every
--                   checkpoint write is fenced by it.
-- lease_expires_at  NULL when released.
-- events_processed  events applied since the record was created.
-- last_error        the worker's last error, NULL once it recovers.
CREATE TABLE projections (
    name                text        PRIMARY KEY,
    checkpoint_commit   bigint      NOT NULL DEFAULT 0,
    checkpoint_event    bigint      NOT NULL DEFAULT 0,
    state               text        NOT NULL DEFAULT 'stopped',
    desired             text        NOT NULL DEFAULT 'running',
    rebuild_id          bigint,
    rebuild_from_commit bigint,
    rebuild_from_event  bigint,
    rebuild_to_commit   bigint,
    rebuild_to_event    bigint,
    rebuild_started     boolean     NOT NULL DEFAULT false,
    owner               text,
    generation          bigint      NOT NULL DEFAULT 0,
    lease_expires_at    timestamptz,
    heartbeat_at        timestamptz,
    events_processed    bigint      NOT NULL DEFAULT 0,
    last_error          text,
    updated_at          timestamptz NOT NULL DEFAULT now()
);

-- Events a projection could not apply and parked, with the error, until
-- replayed or removed. One row per projection and position.
CREATE TABLE projection_dead_letters (
    projection      text        NOT NULL,
    position_commit bigint      NOT NULL,
    position_event  bigint      NOT NULL,
    event_id        uuid        NOT NULL,
    stream_id       text        NOT NULL,
    version         bigint      NOT NULL,
    event_type      text        NOT NULL,
    error           text        NOT NULL,
    attempts        bigint      NOT NULL,
    parked_at       timestamptz NOT NULL,
    PRIMARY KEY (projection, position_commit, position_event)
);

-- Numbers rebuild requests.
CREATE SEQUENCE projection_rebuild_ids;
