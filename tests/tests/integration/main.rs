//! Integration tests of mink, in one binary (one link, many modules).

mod aggregate_cache;
mod bad_rows;
mod bus;
mod coalesced;
mod conformance_memory;
mod conformance_sqlite;
mod dispatch;
mod hygiene;
mod idempotency_faults;
mod observability;
mod outbox;
mod postgres;
mod projection_macro;
mod projections;
mod publishers;
mod read_model;
mod saga_macro;
mod sagas;
mod serializers;
mod unit_of_work;
