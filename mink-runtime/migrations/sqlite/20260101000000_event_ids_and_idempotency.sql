-- Event ids are unique, as on every adapter: an append that repeats a
-- stored id is refused whole.
CREATE UNIQUE INDEX events_event_id_unique ON events (event_id);

-- Idempotency records of commands, kept beside the events and written
-- through the store's one writer connection.
--
-- key        the command's idempotency key (prefixed with its name).
-- result     the stored result (JSON bytes), NULL while the claim runs.
-- expires_at milliseconds since the Unix epoch, by SQLite's own clock;
--            after it, the record may be claimed again.
-- IF NOT EXISTS adopts the same table that earlier versions created by hand.
CREATE TABLE IF NOT EXISTS mink_idempotency (
    key        TEXT    PRIMARY KEY,
    result     BLOB,
    expires_at INTEGER NOT NULL
);
