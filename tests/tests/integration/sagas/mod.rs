//! Sagas run by the saga manager on every store: exactly-once effects,
//! association lookup, deadlines, compensation, operators, leases.
