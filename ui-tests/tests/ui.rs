//! Compile-pass and compile-fail cases of mink's macros.
//!
//! Each file under `ui/<macro>/fail/` holds one mistake, named after it, and
//! the compiler output it must produce in the `.stderr` beside it. Pass
//! cases are built and run, so their `main` can assert behaviour.
//!
//! After a deliberate change to a message, regenerate the `.stderr` files
//! and review the diff:
//!
//! ```text
//! TRYBUILD=overwrite cargo test -p mink-ui-tests
//! ```

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/*/pass/*.rs");
    t.compile_fail("ui/*/fail/*.rs");
}
