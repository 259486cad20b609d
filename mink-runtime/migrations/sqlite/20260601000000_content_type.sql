-- The format of each event's payload (docs/adr/019-payload-formats.md):
-- application/json, application/msgpack, application/protobuf, or a user
-- format's media type. Reads decode each event with the format it names,
-- so events of several formats live in one log. Rows written before this
-- column existed were JSON, which the default says. Adding a column with a
-- constant default rewrites no row.
ALTER TABLE events ADD COLUMN content_type TEXT NOT NULL DEFAULT 'application/json';
