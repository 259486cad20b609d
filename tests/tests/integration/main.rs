//! Integration tests of mink, in one binary (one link, many modules).

mod bus;
mod conformance_memory;
mod conformance_sqlite;
mod dispatch;
mod hygiene;
mod postgres;
mod unit_of_work;
