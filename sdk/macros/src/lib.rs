//! `#[contract]`: turns the public functions of an `impl` block into contract methods.
//!
//! Each `pub fn` becomes a wasm export of the same name that decodes its JSON arguments (an
//! object whose fields are the parameter names), calls the function, and encodes its result
//! as JSON. A function returning `Result<T, E>` fails the call with `E`'s code and message
//! when it returns `Err`. The function marked `#[init]` is exported as `init` and runs once,
//! when the contract is instantiated. Functions that are not `pub` are ordinary helpers.

use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::{format_ident, quote};
use syn::{FnArg, ImplItem, ItemImpl, Pat, ReturnType, Type, Visibility, parse_macro_input};

/// Exports the public functions of an `impl` block as contract methods. See the crate docs.
#[proc_macro_attribute]
pub fn contract(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        return syn::Error::new(Span::call_site(), "#[contract] takes no arguments")
            .to_compile_error()
            .into();
    }
    let input = parse_macro_input!(item as ItemImpl);
    match expand(input) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn is_result(ty: &Type) -> bool {
    match ty {
        Type::Path(p) => p.path.segments.last().is_some_and(|s| s.ident == "Result"),
        _ => false,
    }
}

fn expand(mut input: ItemImpl) -> syn::Result<proc_macro2::TokenStream> {
    if !input.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "a contract impl cannot be generic",
        ));
    }
    if input.trait_.is_some() {
        return Err(syn::Error::new_spanned(
            &input.self_ty,
            "#[contract] goes on an inherent impl block, not a trait impl",
        ));
    }
    let self_ty = input.self_ty.clone();
    let mut exports = Vec::new();
    let mut init_seen: Option<Span> = None;
    for item in &mut input.items {
        let ImplItem::Fn(f) = item else { continue };
        let init_pos = f.attrs.iter().position(|a| a.path().is_ident("init"));
        let is_init = init_pos.is_some();
        if let Some(i) = init_pos {
            f.attrs.remove(i);
        }
        if !matches!(f.vis, Visibility::Public(_)) {
            if is_init {
                return Err(syn::Error::new_spanned(
                    &f.sig.ident,
                    "the #[init] function must be `pub`",
                ));
            }
            continue;
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
        if name == "memory" || name.starts_with("__") {
            return Err(syn::Error::new_spanned(
                &sig.ident,
                "this method name is reserved",
            ));
        }
        let mut fields = Vec::new();
        let mut args = Vec::new();
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
                    let ident = &id.ident;
                    let ty = &pt.ty;
                    fields.push(quote! { #ident: #ty });
                    args.push(quote! { __args.#ident });
                }
            }
        }
        let fn_ident = &sig.ident;
        let export_name = if is_init {
            "init".to_string()
        } else {
            name.clone()
        };
        let wrapper = format_ident!("__phalanx_export_{}", export_name);
        let call = quote! { <#self_ty>::#fn_ident(#(#args),*) };
        let body = match &sig.output {
            ReturnType::Type(_, ty) if is_result(ty) => quote! { #call },
            _ => quote! { ::core::result::Result::<_, ::phalanx_sdk::ContractError>::Ok(#call) },
        };
        exports.push(quote! {
            #[cfg(target_arch = "wasm32")]
            #[doc(hidden)]
            #[unsafe(export_name = #export_name)]
            pub extern "C" fn #wrapper(len: i32) {
                #[derive(::phalanx_sdk::serde::Deserialize)]
                #[serde(crate = "::phalanx_sdk::serde", deny_unknown_fields)]
                struct __Args { #(#fields),* }
                ::phalanx_sdk::__private::dispatch(len, |__args: __Args| #body);
            }
        });
    }
    Ok(quote! {
        #input
        #(#exports)*
    })
}
