-- Payloads that are not JSON (docs/adr/009-payload-storage.md).
--
-- A payload that is one JSON value stays in `payload` (jsonb, readable with
-- psql); any other payload (MessagePack, Protocol Buffers, or JSON that
-- jsonb cannot hold, such as text with \u0000) is kept byte for byte in
-- `payload_bytes`. Exactly one of the two is set.
ALTER TABLE events ALTER COLUMN payload DROP NOT NULL;
ALTER TABLE events ADD COLUMN payload_bytes bytea;
ALTER TABLE events ADD CONSTRAINT events_one_payload
    CHECK ((payload IS NULL) <> (payload_bytes IS NULL));

-- Idempotency records of commands, beside the events, by the database's
-- clock.
--
-- key        the command's idempotency key (prefixed with its name).
-- result     the stored result (JSON bytes), NULL while the claim runs.
-- expires_at after it, the record may be claimed again.
CREATE TABLE idempotency (
    key        text        PRIMARY KEY,
    result     bytea,
    expires_at timestamptz NOT NULL
);
