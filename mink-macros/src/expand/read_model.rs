//! `#[derive(ReadModel)]`: the typed field handles and the `ReadModel`
//! impl (table, columns, conversion to and from rows).

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::DeriveInput;

use crate::ast::read_model::{FieldRole, ReadModel, named_fields};
use crate::ctxt::Ctxt;

/// Expands `#[derive(ReadModel)]` on `input`.
pub(crate) fn expand(input: TokenStream) -> syn::Result<TokenStream> {
    let input: DeriveInput = syn::parse2(input)?;
    let mut cx = Ctxt::new();
    let model = ReadModel::from_ast(&mut cx, &input);
    match cx.finish(model) {
        Ok(model) => Ok(model_impl(&model)),
        Err(errors) => {
            let fallback = fallback_impl(&input);
            Ok(quote!(#fallback #errors))
        }
    }
}

/// The field handles struct: one public handle per field.
fn fields_struct(
    model: &syn::Ident,
    vis: &syn::Visibility,
    fields: &[(&syn::Ident, &syn::Type)],
) -> TokenStream {
    let name = format_ident!("{}Fields", model);
    let doc = format!(
        "Typed field handles of [`{model}`], from `<{model} as ReadModel>::fields()`: build queries with them."
    );
    let decls = fields.iter().map(|(ident, ty)| {
        let name = ident.to_string();
        let doc = format!("The `{}` field.", name.trim_start_matches("r#"));
        quote! {
            #[doc = #doc]
            pub #ident: ::mink::__private::read_model::Field<#model, #ty>
        }
    });
    quote! {
        #[doc = #doc]
        #[derive(::core::clone::Clone, ::core::marker::Copy, ::core::fmt::Debug)]
        #vis struct #name {
            #(#decls,)*
        }
    }
}

/// The handles struct and the `ReadModel` impl of a valid read model.
fn model_impl(model: &ReadModel<'_>) -> TokenStream {
    let ty = model.ident;
    let fields_name = format_ident!("{}Fields", ty);
    let model_name = ty.to_string();
    let table = &model.table;
    let id_index = model.id;
    let id_ty = model.fields[model.id].ty;
    let pairs: Vec<_> = model.fields.iter().map(|f| (f.ident, f.ty)).collect();
    let handles_struct = fields_struct(ty, model.vis, &pairs);

    let columns = model.fields.iter().map(|f| {
        let column = &f.column;
        let fty = f.ty;
        let index = match f.role {
            FieldRole::Plain => quote!(None),
            FieldRole::Id => quote!(PrimaryKey),
            FieldRole::Index => quote!(Index),
            FieldRole::Unique => quote!(Unique),
        };
        quote! {
            ::mink::__private::read_model::column(
                #column,
                (&&::mink::__private::read_model::KindProbe::<#fty>::new()).__mink_kind(),
                ::mink::__private::read_model::IndexKind::#index,
            )
        }
    });
    let handles = model.fields.iter().enumerate().map(|(i, f)| {
        let ident = f.ident;
        let column = &f.column;
        quote!(#ident: ::mink::__private::read_model::Field::new(#i, #column))
    });
    let encode = model.fields.iter().enumerate().map(|(i, f)| {
        let ident = f.ident;
        quote!(__schema.encode_field(#i, &self.#ident)?)
    });
    let decode = model.fields.iter().enumerate().map(|(i, f)| {
        let ident = f.ident;
        let fty = f.ty;
        quote!(#ident: __schema.decode_field::<#fty>(#i, __values.next())?)
    });

    quote! {
        #handles_struct

        const _: () = {
            #[allow(unused_imports, reason = "one of the two probes applies")]
            use ::mink::__private::read_model::{KindViaColumn as _, KindViaJson as _};

            #[automatically_derived]
            impl ::mink::__private::read_model::ReadModel for #ty {
                type Id = #id_ty;
                type Fields = #fields_name;

                fn schema() -> &'static ::mink::__private::read_model::ModelSchema {
                    ::mink::__private::read_model::assert_id::<#id_ty>();
                    static __MINK_SCHEMA: ::std::sync::OnceLock<
                        ::mink::__private::read_model::ModelSchema,
                    > = ::std::sync::OnceLock::new();
                    __MINK_SCHEMA.get_or_init(|| {
                        ::mink::__private::read_model::ModelSchema::new(
                            #model_name,
                            #table,
                            ::std::vec![#(#columns),*],
                            #id_index,
                        )
                    })
                }

                fn fields() -> #fields_name {
                    #fields_name { #(#handles),* }
                }

                fn to_row(
                    &self,
                ) -> ::core::result::Result<
                    ::mink::__private::read_model::Row,
                    ::mink::__private::read_model::ReadModelError,
                > {
                    let __schema = <Self as ::mink::__private::read_model::ReadModel>::schema();
                    __schema.encode_row(::std::vec![#(#encode),*])
                }

                fn from_row(
                    __row: ::mink::__private::read_model::Row,
                ) -> ::core::result::Result<Self, ::mink::__private::read_model::ReadModelError> {
                    let __schema = <Self as ::mink::__private::read_model::ReadModel>::schema();
                    let mut __values = ::core::iter::IntoIterator::into_iter(__row);
                    ::core::result::Result::Ok(#ty { #(#decode),* })
                }
            }
        };
    }
}

/// After an error: the handles and an impl that is never called, so uses
/// of the model elsewhere do not add errors of their own.
fn fallback_impl(input: &DeriveInput) -> TokenStream {
    let Some(named) = named_fields(input) else {
        return TokenStream::new();
    };
    let ty = &input.ident;
    let fields_name = format_ident!("{}Fields", ty);
    let pairs: Vec<_> = named
        .named
        .iter()
        .filter_map(|f| Some((f.ident.as_ref()?, &f.ty)))
        .collect();
    let handles_struct = fields_struct(ty, &input.vis, &pairs);
    let handles = pairs.iter().enumerate().map(|(i, (ident, _))| {
        let column = ident.to_string();
        quote!(#ident: ::mink::__private::read_model::Field::new(#i, #column))
    });
    quote! {
        #handles_struct

        const _: () = {
            impl ::mink::__private::read_model::ReadModel for #ty {
                type Id = ::std::string::String;
                type Fields = #fields_name;
                fn schema() -> &'static ::mink::__private::read_model::ModelSchema {
                    ::core::unreachable!()
                }
                fn fields() -> #fields_name {
                    #fields_name { #(#handles),* }
                }
                fn to_row(&self) -> ::core::result::Result<
                    ::mink::__private::read_model::Row,
                    ::mink::__private::read_model::ReadModelError,
                > {
                    ::core::unreachable!()
                }
                fn from_row(
                    _: ::mink::__private::read_model::Row,
                ) -> ::core::result::Result<Self, ::mink::__private::read_model::ReadModelError> {
                    ::core::unreachable!()
                }
            }
        };
    }
}

#[cfg(test)]
mod tests {
    //! Snapshots of the expansion; accept new output with
    //! `INSTA_UPDATE=always cargo test -p mink-macros` and review it.

    use quote::quote;

    /// Keeps the snapshots beside the other macros' in `src/snapshots`.
    macro_rules! snapshot {
        ($value:expr) => {
            insta::with_settings!({ snapshot_path => "../snapshots" }, {
                insta::assert_snapshot!($value);
            })
        };
    }

    fn expansion(tokens: proc_macro2::TokenStream) -> String {
        let out = super::expand(tokens).unwrap_or_else(syn::Error::into_compile_error);
        let file: syn::File = syn::parse2(out).expect("the expansion is a list of items");
        prettyplease::unparse(&file)
    }

    #[test]
    fn read_model_with_every_role() {
        snapshot!(expansion(quote! {
            #[derive(ReadModel)]
            pub struct OrderSummary {
                #[read_model(id)]
                pub id: String,
                #[read_model(index)]
                pub status: String,
                #[read_model(unique)]
                pub number: i64,
                pub total_cents: i64,
                pub note: Option<String>,
                pub lines: Vec<Line>,
            }
        }));
    }

    #[test]
    fn read_model_with_table_name() {
        snapshot!(expansion(quote! {
            #[read_model(table = "people")]
            struct Person {
                #[read_model(id)]
                r#id: u64,
                name: String,
            }
        }));
    }

    #[test]
    fn read_model_errors_are_reported_together() {
        snapshot!(expansion(quote! {
            #[read_model(tabel = "x")]
            pub struct Broken {
                #[read_model(idx)]
                pub id: String,
                pub name: String,
            }
        }));
    }

    #[test]
    fn default_table_names() {
        use crate::ast::read_model::default_table;
        let cases = [
            ("OrderSummary", "order_summaries"),
            ("Box", "boxes"),
            ("Day", "days"),
            ("Customer", "customers"),
            ("Match", "matches"),
        ];
        for (model, table) in cases {
            let ident = syn::Ident::new(model, proc_macro2::Span::call_site());
            assert_eq!(default_table(&ident), table);
        }
    }
}
