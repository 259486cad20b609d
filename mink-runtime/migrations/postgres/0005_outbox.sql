-- The transactional outbox: messages written in the append's transaction,
-- beside the events in the store's schema, then claimed and sent by relays
-- (docs/adr/017-outbox.md). Times come from the database's clock.
--
-- seq              write order: per key, messages go out in this order.
-- id               the message id (UUIDv5 of event id and route).
-- msg_key          the ordering key (the event's stream by default).
-- headers          a JSON object of strings.
-- status           pending, delivered or dead.
-- next_attempt_at  not claimed before this time.
-- claim_token      the claim of the relay sending it; with claimed_until,
--                  a claim another relay may take once it has expired.
--                  Relays claim with FOR UPDATE SKIP LOCKED and never wait
--                  for each other.
-- attempts         failed attempts so far; last_error the last one's error.
CREATE TABLE outbox (
    seq             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id              uuid        NOT NULL UNIQUE,
    route           text        NOT NULL,
    publisher       text        NOT NULL,
    destination     text        NOT NULL,
    msg_key         text        NOT NULL,
    event_id        uuid        NOT NULL,
    event_type      text        NOT NULL,
    stream_id       text        NOT NULL,
    position_commit bigint      NOT NULL,
    position_event  bigint      NOT NULL,
    payload         bytea       NOT NULL,
    content_type    text        NOT NULL,
    headers         jsonb       NOT NULL,
    status          text        NOT NULL DEFAULT 'pending',
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    claim_token     uuid,
    claimed_until   timestamptz,
    last_error      text,
    created_at      timestamptz NOT NULL,
    delivered_at    timestamptz
);

-- The pending messages in write order (what relays scan), and per key
-- (the check that no earlier message of a key is still pending).
CREATE INDEX outbox_pending ON outbox (seq) WHERE status = 'pending';
CREATE INDEX outbox_pending_keys ON outbox (msg_key, seq) WHERE status = 'pending';
CREATE INDEX outbox_delivered ON outbox (delivered_at) WHERE status = 'delivered';
