-- What sagas keep beside the events, in the store's schema, so that a
-- batch of events commits the sagas' new state, their associations,
-- deadlines and commands with the saga type's cursor (the `projections`
-- row named `saga:<NAME>`) in one transaction (docs/adr/016-sagas.md).
--
-- Applied with `search_path` set to the store's schema, like the earlier
-- migrations. Times come from the saga manager's clock (injectable in
-- tests). No column holds a log position: only the cursor does, so a
-- repair that renumbers positions leaves these tables alone.

-- One row per saga. status: running, compensating, completed, failed,
-- compensated or compensation_failed. version: bumped by every write,
-- which is compare-and-set on it. commands_issued: the sequence number of
-- its next command.
CREATE TABLE sagas (
    id              uuid        PRIMARY KEY,
    saga_type       text        NOT NULL,
    state           jsonb       NOT NULL,
    status          text        NOT NULL,
    version         bigint      NOT NULL,
    commands_issued bigint      NOT NULL,
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    last_error      text
);
CREATE INDEX sagas_by_type ON sagas (saga_type, status, updated_at);

-- How events find their saga: (saga_type, key, value) names at most one
-- saga among those that have not ended (active).
CREATE TABLE saga_associations (
    saga_type text    NOT NULL,
    key       text    NOT NULL,
    value     text    NOT NULL,
    saga_id   uuid    NOT NULL,
    active    boolean NOT NULL,
    PRIMARY KEY (saga_id, saga_type, key, value)
);
CREATE UNIQUE INDEX saga_associations_active
    ON saga_associations (saga_type, key, value) WHERE active;

-- The commands sagas emit, sent after the transaction that stored them,
-- with an idempotency key derived from message_id. kind: step or
-- compensation; status: pending, sent, failed or cancelled.
CREATE TABLE saga_commands (
    message_id      uuid        PRIMARY KEY,
    saga_id         uuid        NOT NULL,
    saga_type       text        NOT NULL,
    seq             bigint      NOT NULL,
    kind            text        NOT NULL,
    compensates     uuid,
    name            text        NOT NULL,
    payload         bytea       NOT NULL,
    aggregate_id    text,
    correlation_id  text,
    causation_id    text,
    user_id         text,
    tenant_id       text,
    status          text        NOT NULL,
    attempts        bigint      NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    last_error      text,
    result          text,
    created_at      timestamptz NOT NULL,
    UNIQUE (saga_id, seq)
);
CREATE INDEX saga_commands_pending
    ON saga_commands (saga_type, saga_id, seq) WHERE status = 'pending';

-- Durable timers, one per saga and name.
CREATE TABLE saga_deadlines (
    id             uuid        PRIMARY KEY,
    saga_id        uuid        NOT NULL,
    saga_type      text        NOT NULL,
    name           text        NOT NULL,
    due            timestamptz NOT NULL,
    event_type     text        NOT NULL,
    schema_version bigint      NOT NULL,
    payload        bytea       NOT NULL,
    UNIQUE (saga_id, name)
);
CREATE INDEX saga_deadlines_due ON saga_deadlines (saga_type, due);

-- What happened to each saga, for operators.
CREATE TABLE saga_history (
    seq     bigserial   PRIMARY KEY,
    saga_id uuid        NOT NULL,
    at      timestamptz NOT NULL,
    kind    text        NOT NULL,
    detail  text        NOT NULL
);
CREATE INDEX saga_history_by_saga ON saga_history (saga_id, seq);
