//! What `#[saga]` registers through `inventory`: one entry per saga type,
//! so that the application builder and the command line can list the saga
//! types of a program and refuse two with one name.

use crate::error::{Error, Result};

/// One saga type declared with `#[saga]`.
#[derive(Debug, Clone, Copy)]
pub struct SagaRegistration {
    /// Its unique, stable name ([`Saga::NAME`](super::Saga::NAME)).
    pub name: &'static str,
    /// The Rust type of the saga's state, with its module path.
    pub rust_type: &'static str,
    /// Where it is declared, as `file:line`.
    pub declared_at: &'static str,
    /// The stable type names of the events its handlers take
    /// ([`Saga::event_types`](super::Saga::event_types)).
    pub event_types: fn() -> Vec<&'static str>,
}

inventory::collect!(SagaRegistration);

/// Every registered saga type, in no particular order.
pub fn registered() -> impl Iterator<Item = &'static SagaRegistration> {
    inventory::iter::<SagaRegistration>.into_iter()
}

/// Fails with [`Error::Configuration`] when two saga types share a name,
/// naming where each is declared. A name keys the sagas' state,
/// associations and lease, so two types under one name would read each
/// other's sagas.
///
/// A registration seen twice (the same type at the same place) is not a
/// clash.
pub fn check_unique_saga_names<'a>(
    registrations: impl IntoIterator<Item = &'a SagaRegistration>,
) -> Result<()> {
    let mut seen: std::collections::BTreeMap<&str, &SagaRegistration> =
        std::collections::BTreeMap::new();
    let mut clashes = Vec::new();
    for r in registrations {
        match seen.get(r.name) {
            Some(first) if first.rust_type != r.rust_type || first.declared_at != r.declared_at => {
                let (a, b) = if first.declared_at <= r.declared_at {
                    (*first, r)
                } else {
                    (r, *first)
                };
                clashes.push(format!(
                    "two sagas are named `{}`: `{}` at {} and `{}` at {}; rename one with #[saga(name = \"…\")]",
                    r.name, a.rust_type, a.declared_at, b.rust_type, b.declared_at
                ));
            }
            Some(_) => {}
            None => {
                seen.insert(r.name, r);
            }
        }
    }
    clashes.sort();
    match clashes.into_iter().next() {
        Some(message) => Err(Error::Configuration(message)),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration(
        name: &'static str,
        rust_type: &'static str,
        at: &'static str,
    ) -> SagaRegistration {
        SagaRegistration {
            name,
            rust_type,
            declared_at: at,
            event_types: Vec::new,
        }
    }

    #[test]
    fn a_duplicate_saga_name_names_both_places() {
        let a = registration("checkout", "shop::Checkout", "src/a.rs:10");
        let b = registration("checkout", "shop::Other", "src/b.rs:20");
        let c = registration("refund", "shop::Refund", "src/c.rs:1");
        let err = check_unique_saga_names([c, b, a].iter())
            .unwrap_err()
            .to_string();
        assert!(err.contains("two sagas are named `checkout`"), "{err}");
        assert!(err.contains("shop::Checkout` at src/a.rs:10"), "{err}");
        assert!(err.contains("shop::Other` at src/b.rs:20"), "{err}");
        assert!(err.contains("#[saga(name = "), "{err}");
    }

    #[test]
    fn distinct_names_and_repeated_registrations_pass() {
        let a = registration("checkout", "shop::Checkout", "src/a.rs:10");
        let c = registration("refund", "shop::Refund", "src/c.rs:1");
        assert!(check_unique_saga_names([a, c, a].iter()).is_ok());
    }
}
