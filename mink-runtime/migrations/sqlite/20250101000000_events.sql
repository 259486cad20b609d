-- The event log of mink's SQLite store: one row per event, readable with
-- `sqlite3 mink.db 'select * from events'`.
--
-- position   the global log order. AUTOINCREMENT: a number is never handed
--            out twice, even after the last rows are deleted by hand. A
--            single writer allocates and commits positions in one order
--            (docs/adr/006-sqlite-embedded-default.md).
-- payload    the serialized event: TEXT when the bytes are valid UTF-8
--            without NUL (JSON, the default), a BLOB otherwise; the store
--            reads back exactly the bytes it was given.
-- metadata   EventMetadata as JSON text ('{}' when empty).
-- created_at when the store accepted the event: RFC 3339, UTC,
--            microseconds, fixed width (so text order is time order).
-- category   the part of stream_id before the first '-', for category
--            reads; computed, never written.
CREATE TABLE events (
    position       INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id       TEXT    NOT NULL,
    stream_id      TEXT    NOT NULL,
    version        INTEGER NOT NULL CHECK (version >= 1),
    event_type     TEXT    NOT NULL,
    schema_version INTEGER NOT NULL,
    payload        TEXT    NOT NULL,
    metadata       TEXT    NOT NULL DEFAULT '{}',
    created_at     TEXT    NOT NULL,
    category       TEXT    GENERATED ALWAYS AS (
        CASE WHEN instr(stream_id, '-') > 0
             THEN substr(stream_id, 1, instr(stream_id, '-') - 1)
             ELSE stream_id
        END
    ) VIRTUAL,
    UNIQUE (stream_id, version)
);

CREATE INDEX events_by_type ON events (event_type, position);
CREATE INDEX events_by_category ON events (category, position);
