-- The event log of mink's PostgreSQL store.
--
-- Applied with `search_path` set to the store's schema (default `mink`), so
-- every name below lands in that schema. One row per event.
--
-- `position` is allocated when the row is written; `transaction_id` is the
-- writing transaction. Readers of the global log order by
-- (transaction_id, position) and only read below the oldest running
-- transaction, so they never skip an event that commits late
-- (docs/adr/004-global-ordering.md). The unique (stream_id, version)
-- constraint is the optimistic concurrency check
-- (docs/adr/005-concurrency-control.md).
CREATE TABLE events (
    position        bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    transaction_id  xid8        NOT NULL DEFAULT pg_current_xact_id(),
    event_id        uuid        NOT NULL,
    stream_id       text        NOT NULL,
    version         bigint      NOT NULL,
    event_type      text        NOT NULL,
    schema_version  integer     NOT NULL,
    payload         jsonb       NOT NULL,
    metadata        jsonb       NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_stream_version_unique UNIQUE (stream_id, version),
    CONSTRAINT events_event_id_unique UNIQUE (event_id),
    CONSTRAINT events_version_positive CHECK (version > 0)
);

-- The global log's reading order.
CREATE INDEX events_log_order ON events (transaction_id, position);
