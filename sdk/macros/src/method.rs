//! Reading the methods of a `#[contract]` impl block and exporting them as wasm functions.

use crate::abi::{doc, result_type};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::{FnArg, Ident, ImplItem, ItemImpl, Pat, ReturnType, Type, Visibility};

/// What a method is for (the ABI's `kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `#[init]`: runs once, when the contract is instantiated.
    Init,
    /// A method called by transactions.
    Call,
    /// `#[query]`: declared read-only (clients read it without a transaction).
    Query,
    /// `#[migrate]`: runs once on the new code when the contract's admin migrates to it.
    Migrate,
}

impl Kind {
    /// The ABI's name for it.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Init => "init",
            Kind::Call => "call",
            Kind::Query => "query",
            Kind::Migrate => "migrate",
        }
    }
}

/// One exported method.
pub struct Method {
    /// Export name (`init` for the `#[init]` function).
    pub name: String,
    /// The Rust function.
    pub fn_ident: Ident,
    /// Init, call or query.
    pub kind: Kind,
    /// Its doc comment.
    pub doc: String,
    /// Parameters (the JSON fields of its arguments).
    pub params: Vec<(Ident, Type)>,
    /// What its JSON result decodes to.
    pub result: Type,
}

fn is_result(ty: &Type) -> bool {
    crate::abi::ok_type(ty).is_some()
}

fn take_marker(attrs: &mut Vec<syn::Attribute>, name: &str) -> bool {
    match attrs.iter().position(|a| a.path().is_ident(name)) {
        Some(i) => {
            attrs.remove(i);
            true
        }
        None => false,
    }
}

/// The methods of `input` (markers removed from it) and their wasm exports.
pub fn collect(input: &mut ItemImpl) -> syn::Result<(Vec<Method>, Vec<TokenStream>)> {
    let self_ty = input.self_ty.clone();
    let mut methods = Vec::new();
    let mut exports = Vec::new();
    let mut init_seen: Option<Span> = None;
    let mut migrate_seen = false;
    for item in &mut input.items {
        let ImplItem::Fn(f) = item else { continue };
        let is_init = take_marker(&mut f.attrs, "init");
        let is_query = take_marker(&mut f.attrs, "query");
        let is_migrate = take_marker(&mut f.attrs, "migrate");
        if !matches!(f.vis, Visibility::Public(_)) {
            if is_init || is_query || is_migrate {
                return Err(syn::Error::new_spanned(
                    &f.sig.ident,
                    "an #[init], #[query] or #[migrate] function must be `pub`",
                ));
            }
            continue;
        }
        if usize::from(is_init) + usize::from(is_query) + usize::from(is_migrate) > 1 {
            return Err(syn::Error::new_spanned(
                &f.sig.ident,
                "a function takes at most one of #[init], #[query] and #[migrate]",
            ));
        }
        let sig = &f.sig;
        if sig.asyncness.is_some() {
            return Err(syn::Error::new_spanned(
                sig.asyncness,
                "contract methods cannot be async",
            ));
        }
        if !sig.generics.params.is_empty() {
            return Err(syn::Error::new_spanned(
                &sig.generics,
                "contract methods cannot be generic",
            ));
        }
        let name = sig.ident.to_string();
        if is_init {
            if init_seen.is_some() {
                return Err(syn::Error::new_spanned(
                    &sig.ident,
                    "only one function may be #[init]",
                ));
            }
            init_seen = Some(sig.ident.span());
        } else if name == "init" {
            return Err(syn::Error::new_spanned(
                &sig.ident,
                "a method named `init` must be marked #[init]",
            ));
        }
        if is_migrate {
            if migrate_seen {
                return Err(syn::Error::new_spanned(
                    &sig.ident,
                    "only one function may be #[migrate]",
                ));
            }
            migrate_seen = true;
        } else if name == "migrate" {
            return Err(syn::Error::new_spanned(
                &sig.ident,
                "a method named `migrate` must be marked #[migrate]",
            ));
        }
        if name == "memory" || name.starts_with("__") {
            return Err(syn::Error::new_spanned(
                &sig.ident,
                "this method name is reserved",
            ));
        }
        let mut params = Vec::new();
        for input in &sig.inputs {
            match input {
                FnArg::Receiver(r) => {
                    return Err(syn::Error::new_spanned(
                        r,
                        "contract methods take no `self`: keep state in storage (Item, Map)",
                    ));
                }
                FnArg::Typed(pt) => {
                    let Pat::Ident(id) = &*pt.pat else {
                        return Err(syn::Error::new_spanned(
                            &pt.pat,
                            "contract method parameters must be plain names (they are the JSON field names)",
                        ));
                    };
                    params.push((id.ident.clone(), (*pt.ty).clone()));
                }
            }
        }
        let kind = if is_init {
            Kind::Init
        } else if is_query {
            Kind::Query
        } else if is_migrate {
            Kind::Migrate
        } else {
            Kind::Call
        };
        let export_name = match kind {
            Kind::Init => "init".to_string(),
            Kind::Migrate => "migrate".to_string(),
            Kind::Call | Kind::Query => name,
        };
        exports.push(export(
            &self_ty,
            &export_name,
            &sig.ident,
            &params,
            &sig.output,
        ));
        methods.push(Method {
            name: export_name,
            fn_ident: sig.ident.clone(),
            kind,
            doc: doc(&f.attrs),
            params,
            result: result_type(&sig.output),
        });
    }
    Ok((methods, exports))
}

fn export(
    self_ty: &Type,
    export_name: &str,
    fn_ident: &Ident,
    params: &[(Ident, Type)],
    output: &ReturnType,
) -> TokenStream {
    let fields = params.iter().map(|(i, t)| quote! { #i: #t });
    let args = params.iter().map(|(i, _)| quote! { __args.#i });
    let wrapper = format_ident!("__phalanx_export_{}", export_name);
    let call = quote! { <#self_ty>::#fn_ident(#(#args),*) };
    let body = match output {
        ReturnType::Type(_, ty) if is_result(ty) => quote! { #call },
        _ => quote! { ::core::result::Result::<_, ::phalanx_sdk::ContractError>::Ok(#call) },
    };
    quote! {
        const _: () = {
            #[cfg(target_arch = "wasm32")]
            #[doc(hidden)]
            #[unsafe(export_name = #export_name)]
            pub extern "C" fn #wrapper(len: i32) {
                #[derive(::phalanx_sdk::serde::Deserialize)]
                #[serde(crate = "::phalanx_sdk::serde", deny_unknown_fields)]
                struct __Args { #(#fields),* }
                ::phalanx_sdk::__private::dispatch(len, |__args: __Args| #body);
            }
        };
    }
}
