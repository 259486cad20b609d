-- The transactional outbox: messages written in the append's transaction,
-- beside the events, then claimed and sent by relays
-- (docs/adr/017-outbox.md). Written through the store's one writer
-- connection; several processes may share the file.
--
-- Times are milliseconds since the Unix epoch by SQLite's own clock.
--
-- seq              write order: per key, messages go out in this order.
-- id               the message id (UUIDv5 of event id and route), as text.
-- msg_key          the ordering key (the event's stream by default).
-- headers          a JSON object of strings.
-- status           pending, delivered or dead.
-- next_attempt_at  not claimed before this time.
-- claim_token      the claim of the relay sending it; with claimed_until,
--                  a claim another relay may take once it has expired.
-- attempts         failed attempts so far; last_error the last one's error.
CREATE TABLE mink_outbox (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              TEXT    NOT NULL UNIQUE,
    route           TEXT    NOT NULL,
    publisher       TEXT    NOT NULL,
    destination     TEXT    NOT NULL,
    msg_key         TEXT    NOT NULL,
    event_id        TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    stream_id       TEXT    NOT NULL,
    position_commit INTEGER NOT NULL,
    position_event  INTEGER NOT NULL,
    payload         BLOB    NOT NULL,
    content_type    TEXT    NOT NULL,
    headers         TEXT    NOT NULL,
    status          TEXT    NOT NULL DEFAULT 'pending',
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    claim_token     TEXT,
    claimed_until   INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER
);

-- The pending messages in write order (what relays scan), and per key
-- (the check that no earlier message of a key is still pending).
CREATE INDEX mink_outbox_pending ON mink_outbox (seq) WHERE status = 'pending';
CREATE INDEX mink_outbox_pending_keys ON mink_outbox (msg_key, seq) WHERE status = 'pending';
CREATE INDEX mink_outbox_delivered ON mink_outbox (delivered_at) WHERE status = 'delivered';
