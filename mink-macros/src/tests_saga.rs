//! Snapshots of what `#[saga]` generates for representative inputs.
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
fn saga_with_every_return_shape_and_a_compensation() {
    let out = expand::saga::expand(
        quote!(name = "checkout"),
        quote! {
            impl Checkout {
                pub fn new() -> Self {
                    Self::default()
                }

                #[saga(start, associate = order_id)]
                fn placed(&mut self, event: &OrderPlaced) -> ReserveStock {
                    todo!()
                }

                #[saga(associate = order_id)]
                fn reserved(
                    &mut self,
                    event: StockReserved,
                    cx: &mut SagaContext,
                ) -> Option<RequestPayment> {
                    todo!()
                }

                #[saga(associate(key = "payment", with = payment_of))]
                fn paid(
                    &mut self,
                    event: &PaymentEvent,
                    envelope: &RecordedEvent,
                    cx: &mut SagaContext,
                ) -> Result<Vec<ShipOrder>, CheckoutError> {
                    todo!()
                }

                #[saga(associate(key = "order", field = 0))]
                fn cancelled(&self, event: &OrderCancelled) -> (ReleaseStock, Option<RefundPayment>) {
                    todo!()
                }

                #[saga(associate = order_id)]
                fn shipped(&mut self, event: &OrderShipped, cx: &mut SagaContext) {}

                #[saga(compensate)]
                fn release(&self, done: &ReserveStock) -> ReleaseStock {
                    todo!()
                }

                #[saga(compensate)]
                fn refund(&self, done: RequestPayment) -> Result<Option<RefundPayment>, CheckoutError> {
                    todo!()
                }

                #[saga(skip)]
                fn total(&self) -> u64 {
                    0
                }
            }
        },
    );
    insta::assert_snapshot!(expansion(out));
}

#[test]
fn saga_with_default_name() {
    let out = expand::saga::expand(
        quote!(),
        quote! {
            impl HTTPCheckoutSaga {
                #[saga(start, associate = order_id)]
                fn placed(&mut self, event: &OrderPlaced) -> Result<(), CheckoutError> {
                    Ok(())
                }
            }
        },
    );
    insta::assert_snapshot!(expansion(out));
}

#[test]
fn saga_errors_are_reported_together_and_keep_the_block() {
    let out = expand::saga::expand(
        quote!(nmae = "checkout"),
        quote! {
            impl Checkout {
                #[saga(associate = order_id)]
                fn placed(&mut self, event: &OrderPlaced) -> ReserveStock {
                    todo!()
                }

                #[saga(associate = order_id)]
                fn placed_again(&mut self, event: &OrderPlaced) {}

                fn reserved(self, event: &StockReserved) {}

                #[saga(compensate, start)]
                fn release(&mut self, done: &ReserveStock) -> Vec<ReleaseStock> {
                    todo!()
                }

                #[saga(associate = order_id, strat)]
                fn misspelt(&mut self, event: &OrderShipped) {}

                #[saga(associate(key = "payment"))]
                async fn paid(&mut self, event: &PaymentAccepted) {}
            }
        },
    );
    insta::assert_snapshot!(expansion(out));
}

#[test]
fn a_saga_without_a_starting_event_is_refused_at_its_type() {
    let out = expand::saga::expand(
        quote!(),
        quote! {
            impl Checkout {
                #[saga(associate = order_id)]
                fn placed(&mut self, event: &OrderPlaced) -> ReserveStock {
                    todo!()
                }
            }
        },
    );
    let text = expansion(out);
    assert!(text.contains("this saga has no starting event"), "{text}");
    // The block and a fallback impl stay, so the rest of the program
    // type-checks.
    assert!(text.contains("fn placed(&mut self"), "{text}");
    assert!(
        text.contains("impl ::mink::__private::Saga for Checkout"),
        "{text}"
    );
}

#[test]
fn the_macro_goes_on_inherent_impl_blocks_only() {
    for input in [
        quote!(
            pub struct Checkout;
        ),
        quote!(impl Saga for Checkout {}),
    ] {
        let text = expansion(expand::saga::expand(quote!(), input));
        assert!(
            text.contains("#[saga] goes on an inherent impl block"),
            "{text}"
        );
    }
}

#[test]
fn return_types_are_read_into_the_commands_they_send() {
    use crate::ast::saga::Returns;
    use crate::ctxt::Ctxt;
    use crate::tokens;

    // (written return type, fallible, command types, at most one)
    let table: [(TokenStream, bool, &[&str], bool); 10] = [
        (quote!(), false, &[], false),
        (quote!(-> ()), false, &[], false),
        (quote!(-> ReserveStock), false, &["ReserveStock"], true),
        (
            quote!(-> crate::cmds::Ship),
            false,
            &["crate::cmds::Ship"],
            true,
        ),
        (quote!(-> Option<Pay>), false, &["Pay"], true),
        (quote!(-> Vec<Ship>), false, &["Ship"], false),
        (
            quote!(-> (Release, Option<Refund>)),
            false,
            &["Release", "Refund"],
            false,
        ),
        (
            quote!(-> Result<Vec<Ship>, CheckoutError>),
            true,
            &["Ship"],
            false,
        ),
        (quote!(-> anyhow::Result<Option<Pay>>), true, &["Pay"], true),
        (quote!(-> Result<(), CheckoutError>), true, &[], false),
    ];
    for (written, fallible, types, at_most_one) in table {
        let output: syn::ReturnType = syn::parse2(written.clone()).expect("a return type");
        let mut cx = Ctxt::new();
        let returns = Returns::read(&mut cx, &output).expect("readable");
        assert!(cx.is_ok(), "{written}");
        let mut found = Vec::new();
        returns.commands.types(&mut found);
        let found: Vec<String> = found.iter().map(tokens::compact).collect();
        assert_eq!(found, types, "{written}");
        assert_eq!(returns.fallible, fallible, "{written}");
        assert_eq!(returns.at_most_one(), at_most_one, "{written}");
    }
    for written in [quote!(-> impl Iterator<Item = Ship>), quote!(-> _)] {
        let output: syn::ReturnType = syn::parse2(written.clone()).expect("a return type");
        let mut cx = Ctxt::new();
        assert!(Returns::read(&mut cx, &output).is_none(), "{written}");
        let errors = cx.into_compile_errors().to_string();
        assert!(
            errors.contains("a saga method returns the commands it sends"),
            "{errors}"
        );
    }
}
