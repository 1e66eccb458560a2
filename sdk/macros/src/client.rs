//! The typed client `#[contract]` generates for native code (tests, tools): one Rust method per
//! contract method, with the contract's own parameter and result types.

use crate::method::{Kind, Method};
use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Ident, Type};

/// Names the client itself uses; a contract method with one of them needs `no_client`.
pub const RESERVED: &[&str] = &["new", "deploy", "contract_address", "with_sender"];

fn args_struct(params: &[(Ident, Type)]) -> (TokenStream, TokenStream) {
    let fields = params.iter().map(|(i, t)| quote! { #i: #t });
    let names = params.iter().map(|(i, _)| i);
    (
        quote! {
            #[derive(::phalanx_sdk::serde::Serialize)]
            #[serde(crate = "::phalanx_sdk::serde")]
            struct __Args { #(#fields),* }
        },
        quote! { __Args { #(#names),* } },
    )
}

/// `<Type>Client<'a, T: Transport>` and its methods.
pub fn expand(contract: &Ident, methods: &[Method]) -> TokenStream {
    let client = format_ident!("{}Client", contract);
    let doc = format!(
        "A typed client of [`{contract}`] over any [`Transport`](::phalanx_sdk::client::Transport) \
         (the test harness's `TestEnv`, for one): calls are sent as `sender`."
    );
    let mut fns = Vec::new();
    let mut deploy = None;
    for m in methods {
        let params: Vec<_> = m.params.iter().map(|(i, t)| quote! { #i: #t }).collect();
        let (def, value) = args_struct(&m.params);
        let name = &m.name;
        let result = &m.result;
        let ident = &m.fn_ident;
        let doc = &m.doc;
        match m.kind {
            Kind::Init => {
                deploy = Some(quote! {
                    /// Deploys `code` as `sender`, running `init` with these arguments.
                    pub fn deploy(
                        __transport: &'a mut T,
                        __sender: ::phalanx_sdk::Address,
                        __code: &[u8],
                        #(#params),*
                    ) -> ::core::result::Result<Self, ::phalanx_sdk::ContractError> {
                        #def
                        let contract = __transport.deploy_contract(__sender, __code, &#value)?;
                        ::core::result::Result::Ok(Self { transport: __transport, contract, sender: __sender })
                    }
                });
            }
            Kind::Call => fns.push(quote! {
                #[doc = #doc]
                pub fn #ident(&mut self, #(#params),*) -> T::Receipt<#result> {
                    #def
                    self.transport.call_contract(self.sender, self.contract, #name, &#value)
                }
            }),
            Kind::Migrate => fns.push(quote! {
                /// Migrates the contract to `__code` (this contract's code), running its
                /// `migrate` with these arguments; sent as `sender`, who must be the admin.
                pub fn #ident(&mut self, __code: &[u8], #(#params),*) -> T::Receipt<#result> {
                    #def
                    self.transport.migrate_contract(self.sender, self.contract, __code, &#value)
                }
            }),
            Kind::Query => fns.push(quote! {
                #[doc = #doc]
                pub fn #ident(&self, #(#params),*) -> ::core::result::Result<#result, ::phalanx_sdk::ContractError> {
                    #def
                    self.transport.query_contract(self.contract, #name, &#value)
                }
            }),
        }
    }
    let deploy = deploy.unwrap_or_else(|| {
        quote! {
            /// Deploys `code` as `sender` (the contract has no `init`).
            pub fn deploy(
                transport: &'a mut T,
                sender: ::phalanx_sdk::Address,
                code: &[u8],
            ) -> ::core::result::Result<Self, ::phalanx_sdk::ContractError> {
                let contract = transport.deploy_contract(sender, code, &())?;
                ::core::result::Result::Ok(Self { transport, contract, sender })
            }
        }
    });
    quote! {
        #[cfg(not(target_arch = "wasm32"))]
        #[doc = #doc]
        pub struct #client<'a, T: ::phalanx_sdk::client::Transport> {
            transport: &'a mut T,
            contract: ::phalanx_sdk::Address,
            sender: ::phalanx_sdk::Address,
        }

        #[cfg(not(target_arch = "wasm32"))]
        impl<'a, T: ::phalanx_sdk::client::Transport> #client<'a, T> {
            /// A client of the contract at `contract`, sending calls as `sender`.
            pub fn new(transport: &'a mut T, contract: ::phalanx_sdk::Address, sender: ::phalanx_sdk::Address) -> Self {
                Self { transport, contract, sender }
            }

            #deploy

            /// The contract's address.
            pub fn contract_address(&self) -> ::phalanx_sdk::Address {
                self.contract
            }

            /// The same client, sending calls as `sender`.
            pub fn with_sender(self, sender: ::phalanx_sdk::Address) -> Self {
                Self { sender, ..self }
            }

            #(#fns)*
        }
    }
}
