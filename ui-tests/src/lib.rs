//! Compile-pass and compile-fail cases live in `ui/`; see `tests/ui.rs`.
