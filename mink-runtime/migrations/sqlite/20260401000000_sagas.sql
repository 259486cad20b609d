-- What sagas keep beside the events, in the same file, so that a batch of
-- events commits the sagas' new state, their associations, deadlines and
-- commands with the saga type's cursor (the `mink_projections` row named
-- `saga:<NAME>`) in one transaction (docs/adr/016-sagas.md).
--
-- Times are milliseconds since the Unix epoch by the saga manager's clock
-- (injectable in tests); ids are UUIDs as text.

-- One row per saga. status: running, compensating, completed, failed,
-- compensated or compensation_failed. version: bumped by every write,
-- which is compare-and-set on it. commands_issued: the sequence number of
-- its next command.
CREATE TABLE mink_sagas (
    id              TEXT    PRIMARY KEY,
    saga_type       TEXT    NOT NULL,
    state           BLOB    NOT NULL,
    status          TEXT    NOT NULL,
    version         INTEGER NOT NULL,
    commands_issued INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    last_error      TEXT
);
CREATE INDEX mink_sagas_by_type ON mink_sagas (saga_type, status, updated_at);

-- How events find their saga: (saga_type, key, value) names at most one
-- saga among those that have not ended (active = 1).
CREATE TABLE mink_saga_associations (
    saga_type TEXT    NOT NULL,
    key       TEXT    NOT NULL,
    value     TEXT    NOT NULL,
    saga_id   TEXT    NOT NULL,
    active    INTEGER NOT NULL,
    PRIMARY KEY (saga_id, saga_type, key, value)
);
CREATE UNIQUE INDEX mink_saga_associations_active
    ON mink_saga_associations (saga_type, key, value) WHERE active = 1;

-- The commands sagas emit, sent after the transaction that stored them,
-- with an idempotency key derived from message_id. kind: step or
-- compensation; status: pending, sent, failed or cancelled.
CREATE TABLE mink_saga_commands (
    message_id      TEXT    PRIMARY KEY,
    saga_id         TEXT    NOT NULL,
    saga_type       TEXT    NOT NULL,
    seq             INTEGER NOT NULL,
    kind            TEXT    NOT NULL,
    compensates     TEXT,
    name            TEXT    NOT NULL,
    payload         BLOB    NOT NULL,
    aggregate_id    TEXT,
    correlation_id  TEXT,
    causation_id    TEXT,
    user_id         TEXT,
    tenant_id       TEXT,
    status          TEXT    NOT NULL,
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    result          TEXT,
    created_at      INTEGER NOT NULL,
    UNIQUE (saga_id, seq)
);
CREATE INDEX mink_saga_commands_pending
    ON mink_saga_commands (saga_type, saga_id, seq) WHERE status = 'pending';

-- Durable timers, one per saga and name.
CREATE TABLE mink_saga_deadlines (
    id             TEXT    PRIMARY KEY,
    saga_id        TEXT    NOT NULL,
    saga_type      TEXT    NOT NULL,
    name           TEXT    NOT NULL,
    due            INTEGER NOT NULL,
    event_type     TEXT    NOT NULL,
    schema_version INTEGER NOT NULL,
    payload        BLOB    NOT NULL,
    UNIQUE (saga_id, name)
);
CREATE INDEX mink_saga_deadlines_due ON mink_saga_deadlines (saga_type, due);

-- What happened to each saga, for operators.
CREATE TABLE mink_saga_history (
    seq     INTEGER PRIMARY KEY AUTOINCREMENT,
    saga_id TEXT    NOT NULL,
    at      INTEGER NOT NULL,
    kind    TEXT    NOT NULL,
    detail  TEXT    NOT NULL
);
CREATE INDEX mink_saga_history_by_saga ON mink_saga_history (saga_id, seq);
