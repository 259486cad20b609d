//! Code generation, one module per macro.

pub(crate) mod aggregate;
pub(crate) mod command;
pub(crate) mod event;
pub(crate) mod handler;
pub(crate) mod plain_handler;
