//! Snapshots of what each macro generates for representative inputs.
//!
//! A change to generated code shows up here as a diff to review. Accept new
//! output with `INSTA_UPDATE=always cargo test -p mink-macros` (or
//! `cargo insta review`) and read the `.snap` files before committing.

use proc_macro2::TokenStream;
use quote::quote;

use crate::expand;

/// Pretty-prints generated items the way a reader would see them.
fn pretty(tokens: TokenStream) -> String {
    let file: syn::File = syn::parse2(tokens).expect("the expansion is a list of items");
    prettyplease::unparse(&file)
}

/// The expansion, or the `compile_error!`s a failed expansion turns into.
fn expansion(result: syn::Result<TokenStream>) -> String {
    pretty(result.unwrap_or_else(syn::Error::into_compile_error))
}

#[test]
fn event_enum_with_every_shape() {
    let out = expand::event::expand(
        quote!(),
        quote! {
            #[derive(Debug, Clone)]
            pub enum OrderEvent {
                Created {
                    #[serde(rename = "customer")]
                    customer_id: String,
                    #[serde(default)]
                    note: Option<String>,
                },
                AddressChanged(Address),
                Weighed(u32, u32),
                #[event(name = "OrderShipped", version = 2)]
                Shipped,
            }
        },
    );
    insta::assert_snapshot!(expansion(out));
}

#[test]
fn event_struct_with_name_and_version() {
    let out = expand::event::expand(
        quote!(name = "OrderAudited", version = 3),
        quote! {
            #[derive(Debug)]
            pub struct Audited {
                pub by: String,
            }
        },
    );
    insta::assert_snapshot!(expansion(out));
}

#[test]
fn aggregate() {
    let out = expand::aggregate::expand(quote! {
        #[derive(Aggregate, Default)]
        #[aggregate(events = OrderEvent, category = "order")]
        pub struct Order {
            #[aggregate(id)]
            id: String,
            items: Vec<Item>,
        }
    });
    insta::assert_snapshot!(expansion(out));
}

#[test]
fn command_with_name() {
    let out = expand::command::expand(
        quote!(aggregate = Order, name = "order.add_item"),
        quote! {
            pub struct AddItem {
                #[command(id)]
                order_id: String,
                sku: String,
            }
        },
    );
    insta::assert_snapshot!(expansion(out));
}

#[test]
fn command_handler_block() {
    let out = expand::handler::expand(
        quote!(),
        quote! {
            impl Order {
                fn create(&self, cmd: Create) -> Result<Vec<OrderEvent>, OrderError> {
                    Ok(vec![OrderEvent::Created { customer_id: cmd.customer_id }])
                }

                fn add_item(&self, cmd: AddItem) -> Result<Vec<OrderEvent>, OrderError> {
                    self.check_open()?;
                    Ok(vec![])
                }

                #[command_handler(skip)]
                fn check_open(&self, _now: Instant) -> Result<(), OrderError> {
                    Ok(())
                }

                fn apply(&mut self, event: &OrderEvent) {}
            }
        },
    );
    insta::assert_snapshot!(expansion(out));
}

#[test]
fn plain_command_and_its_handler_function() {
    let command = expand::command::expand(
        quote!(),
        quote! {
            pub struct SendReceipt {
                order_id: String,
            }
        },
    );
    let handler = expand::handler::expand(
        quote!(),
        quote! {
            async fn send_receipt(cmd: SendReceipt, ctx: HandlerContext) -> Result<(), MailDown> {
                Ok(())
            }
        },
    );
    insta::assert_snapshot!(format!("{}\n{}", expansion(command), expansion(handler)));
}

#[test]
fn aggregate_errors_are_reported_together() {
    let out = expand::aggregate::expand(quote! {
        #[derive(Aggregate, Default)]
        #[aggregate(events = OrderEvent, categroy = "order", category = "order-line")]
        pub struct Order {
            #[aggregate(id)]
            id: String,
            #[aggregate(id)]
            number: u64,
        }
    });
    insta::assert_snapshot!(expansion(out));
}

#[test]
fn command_errors_keep_the_item() {
    let out = expand::command::expand(
        quote!(),
        quote! {
            pub struct AddItem {
                order_id: String,
            }
        },
    );
    insta::assert_snapshot!(expansion(out));
}

#[test]
fn event_protobuf_enum_and_struct() {
    let enum_out = expand::event::expand(
        quote!(protobuf),
        quote! {
            #[derive(Debug, Clone, PartialEq)]
            pub enum ShopEvent {
                #[event(name = "OrderPlaced")]
                Placed(pb::OrderPlaced),
                #[event(version = 2)]
                Shipped(pb::OrderShipped),
                Closed,
            }
        },
    );
    let struct_out = expand::event::expand(
        quote!(protobuf, name = "ParcelWeighed"),
        quote! {
            #[derive(Clone, PartialEq, ::prost::Message)]
            pub struct Weighed {
                #[prost(double, tag = "1")]
                pub kilograms: f64,
            }
        },
    );
    insta::assert_snapshot!(format!(
        "{}\n{}",
        expansion(enum_out),
        expansion(struct_out)
    ));
}

#[test]
fn event_protobuf_errors_are_reported_together() {
    let out = expand::event::expand(
        quote!(protobuf, protobuf),
        quote! {
            pub enum ShopEvent {
                Placed { order_id: String },
                Pair(pb::A, pb::B),
                #[event(protobuf)]
                Shipped(pb::OrderShipped),
            }
        },
    );
    insta::assert_snapshot!(expansion(out));
}
