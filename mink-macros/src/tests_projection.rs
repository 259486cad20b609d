//! Snapshots of what `#[projection]` generates for representative inputs.
//! Accept new output as described in `tests.rs`, and read the `.snap`
//! files before committing.

use proc_macro2::TokenStream;
use quote::quote;

use crate::expand;

/// The expansion, pretty-printed, or the `compile_error!`s a failed
/// expansion turns into.
fn expansion(result: syn::Result<TokenStream>) -> String {
    let tokens = result.unwrap_or_else(syn::Error::into_compile_error);
    let file: syn::File = syn::parse2(tokens).expect("the expansion is a list of items");
    prettyplease::unparse(&file)
}

#[test]
fn inline_projection_with_every_parameter_shape_and_reset() {
    let out = expand::projection::expand(
        quote!(name = "order-summary", kind = inline),
        quote! {
            impl OrderSummaries {
                pub fn new() -> Self {
                    Self::default()
                }

                async fn placed(
                    &self,
                    event: &OrderPlaced,
                    envelope: &RecordedEvent,
                    ctx: &mut ProjectionContext<'_>,
                ) -> Result<(), SummaryError> {
                    Ok(())
                }

                fn changed(&self, event: OrderEvent, ctx: &mut ProjectionContext<'_>) {}

                #[projection(skip)]
                fn total(&self) -> u64 {
                    0
                }

                #[projection(reset)]
                async fn clear(&self, ctx: &mut ProjectionContext<'_>) -> Result<(), SummaryError> {
                    Ok(())
                }
            }
        },
    );
    insta::assert_snapshot!(expansion(out));
}

#[test]
fn async_projection_with_options_and_default_name() {
    let out = expand::projection::expand(
        quote!(
            kind = async,
            batch_size = 100,
            batch_timeout_ms = 250,
            max_attempts = 3,
            on_poison = pause,
            lease_ttl_ms = 30000,
        ),
        quote! {
            impl HTTPOrderStats {
                fn placed(&self, event: &OrderPlaced) -> Result<(), StatsError> {
                    Ok(())
                }
            }
        },
    );
    insta::assert_snapshot!(expansion(out));
}

#[test]
fn projection_errors_are_reported_together_and_keep_the_block() {
    let out = expand::projection::expand(
        quote!(kind = live, batch_size = 10, batchsize = 3),
        quote! {
            impl Dashboard {
                fn placed(&self, event: &OrderPlaced) {}
                fn placed_again(&self, event: &OrderPlaced) {}
                fn shipped(&mut self, event: &OrderShipped) {}
                fn nothing(&self) {}
            }
        },
    );
    insta::assert_snapshot!(expansion(out));
}

#[test]
fn default_names_are_kebab_case() {
    use crate::ast::projection::kebab_case;
    for (rust, name) in [
        ("OrderSummaries", "order-summaries"),
        ("Orders", "orders"),
        ("HTTPStats", "http-stats"),
        ("OrderV2Summary", "order-v2-summary"),
        ("Orders_V2", "orders-v2"),
        ("order_totals", "order-totals"),
        ("ABC", "abc"),
    ] {
        assert_eq!(kebab_case(rust), name, "{rust}");
    }
}
