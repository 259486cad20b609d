//! Reading the global log as it grows: catch-up from a position, then live
//! delivery, with no gap and no duplicate at the hand-off.
//!
//! Layer: above [`crate::store`]; below [`crate::projection`].
