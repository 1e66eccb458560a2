//! Procedural macros of the Phalanx contract SDK.
//!
//! `#[contract]` turns the public functions of an `impl` block into contract methods. Each
//! `pub fn` becomes a wasm export of the same name that decodes its JSON arguments (an object
//! whose fields are the parameter names), calls the function, and encodes its result as JSON.
//! A function returning `Result<T, E>` fails the call with `E`'s code and message when it
//! returns `Err`. The function marked `#[init]` is exported as `init` and runs once, when the
//! contract is instantiated; `#[query]` declares a method read-only. Functions that are not
//! `pub` are ordinary helpers.
//!
//! One `#[contract]` block per crate: it is the contract. It also builds the contract's ABI (JSON, embedded in the wasm as the `phalanx.abi` custom
//! section and returned by `Type::ABI`) and, for native code, a typed client `<Type>Client`.
//! Options: `#[contract(errors(MyError, ...), events(MyEvent, topic = DataType, ...))]` add
//! declared errors and events to the ABI; `no_client` skips the client.
//!
//! `#[event("topic")]` on a struct with named fields declares an event for the ABI.

mod abi;
mod client;
mod event;
mod method;

use crate::abi::{fields_json, json_str, type_name};
use proc_macro::TokenStream;
use proc_macro2::Span;
use quote::quote;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Ident, ItemImpl, ItemStruct, LitStr, Path, Token, Type, parse_macro_input};

/// Exports the public functions of an `impl` block as contract methods. See the crate docs.
#[proc_macro_attribute]
pub fn contract(attr: TokenStream, item: TokenStream) -> TokenStream {
    let options = parse_macro_input!(attr as Options);
    let input = parse_macro_input!(item as ItemImpl);
    match expand(options, input) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// Declares an event for the contract's ABI: `#[event("transfer")]` on a struct with named
/// fields implements `phalanx_sdk::abi::Event` (topic, ABI entry, `emit()`).
#[proc_macro_attribute]
pub fn event(attr: TokenStream, item: TokenStream) -> TokenStream {
    let topic = parse_macro_input!(attr as LitStr);
    let item = parse_macro_input!(item as ItemStruct);
    match event::expand(topic, item) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

/// An entry of `events(...)`.
enum EventDecl {
    /// A type implementing `Event` (from `#[event]`).
    Typed(Path),
    /// `topic = DataType`: an event whose data is not a struct.
    Topic(Ident, Type),
}

impl Parse for EventDecl {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(Ident) && input.peek2(Token![=]) {
            let topic: Ident = input.parse()?;
            input.parse::<Token![=]>()?;
            Ok(EventDecl::Topic(topic, input.parse()?))
        } else {
            Ok(EventDecl::Typed(input.parse()?))
        }
    }
}

#[derive(Default)]
struct Options {
    errors: Vec<Path>,
    events: Vec<EventDecl>,
    no_client: bool,
}

impl Parse for Options {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut o = Options::default();
        while !input.is_empty() {
            let key: Ident = input.parse()?;
            match key.to_string().as_str() {
                "errors" => {
                    let content;
                    syn::parenthesized!(content in input);
                    o.errors
                        .extend(Punctuated::<Path, Token![,]>::parse_terminated(&content)?);
                }
                "events" => {
                    let content;
                    syn::parenthesized!(content in input);
                    o.events
                        .extend(Punctuated::<EventDecl, Token![,]>::parse_terminated(
                            &content,
                        )?);
                }
                "no_client" => o.no_client = true,
                _ => {
                    return Err(syn::Error::new_spanned(
                        key,
                        "expected `errors(...)`, `events(...)` or `no_client`",
                    ));
                }
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(o)
    }
}

fn expand(options: Options, mut input: ItemImpl) -> syn::Result<proc_macro2::TokenStream> {
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
    let Type::Path(self_path) = &*input.self_ty else {
        return Err(syn::Error::new_spanned(
            &input.self_ty,
            "#[contract] goes on the impl block of a named type",
        ));
    };
    let Some(contract) = self_path.path.segments.last().map(|s| s.ident.clone()) else {
        return Err(syn::Error::new(Span::call_site(), "missing type name"));
    };
    let (methods, exports) = method::collect(&mut input)?;
    if !options.no_client
        && let Some(m) = methods.iter().find(|m| {
            m.kind != method::Kind::Init
                && client::RESERVED.contains(&m.fn_ident.to_string().as_str())
        })
    {
        return Err(syn::Error::new_spanned(
            &m.fn_ident,
            "this method name is used by the generated client: rename it or use #[contract(no_client)]",
        ));
    }
    let abi = abi_static(&contract, &methods, &options);
    let self_ty = &input.self_ty;
    let client = if options.no_client {
        quote! {}
    } else {
        client::expand(&contract, &methods)
    };
    Ok(quote! {
        #input
        #(#exports)*
        #abi
        impl #self_ty {
            /// The contract's ABI (JSON), as embedded in its wasm (custom section `phalanx.abi`).
            pub const ABI: &'static str = match ::core::str::from_utf8(&__PHALANX_ABI_JSON) {
                ::core::result::Result::Ok(s) => s,
                ::core::result::Result::Err(_) => panic!("the ABI is not UTF-8"),
            };
        }
        #client
    })
}

/// The ABI document's parts, the constant they make, and the static in the custom section.
fn abi_static(
    contract: &Ident,
    methods: &[method::Method],
    options: &Options,
) -> proc_macro2::TokenStream {
    let methods_json: Vec<String> = methods
        .iter()
        .map(|m| {
            let mut s = format!(
                "{{\"name\":{},\"kind\":\"{}\",\"params\":{},\"returns\":{}",
                json_str(&m.name),
                m.kind.as_str(),
                fields_json(
                    m.params
                        .iter()
                        .map(|(i, t)| (i.to_string(), t, String::new()))
                ),
                json_str(&type_name(&m.result)),
            );
            if !m.doc.is_empty() {
                s.push_str(&format!(",\"doc\":{}", json_str(&m.doc)));
            }
            s.push('}');
            s
        })
        .collect();
    let head = format!(
        "{{\"phalanx_abi\":1,\"contract\":{},\"methods\":[{}],\"errors\":[",
        json_str(&contract.to_string()),
        methods_json.join(",")
    );
    let errors = options.errors.iter().map(|p| quote! { <#p>::ABI, });
    let mut events = Vec::new();
    for (i, e) in options.events.iter().enumerate() {
        if i > 0 {
            events.push(quote! { &[::phalanx_sdk::abi::Part::Raw(",")], });
        }
        events.push(match e {
            EventDecl::Typed(p) => quote! { <#p as ::phalanx_sdk::abi::Event>::ABI, },
            EventDecl::Topic(topic, ty) => {
                let json = format!(
                    "{{\"topic\":{},\"type\":{}}}",
                    json_str(&topic.to_string()),
                    json_str(&type_name(ty))
                );
                quote! { &[::phalanx_sdk::abi::Part::Raw(#json)], }
            }
        });
    }
    quote! {
        #[doc(hidden)]
        const __PHALANX_ABI_PARTS: &[&[::phalanx_sdk::abi::Part]] = &[
            &[::phalanx_sdk::abi::Part::Raw(#head)],
            ::phalanx_sdk::ContractError::ABI,
            #(#errors)*
            &[::phalanx_sdk::abi::Part::Raw("],\"events\":[")],
            #(#events)*
            &[::phalanx_sdk::abi::Part::Raw("]}")],
        ];
        #[doc(hidden)]
        const __PHALANX_ABI_JSON: [u8; ::phalanx_sdk::abi::len(__PHALANX_ABI_PARTS)] =
            ::phalanx_sdk::abi::bytes(__PHALANX_ABI_PARTS);
        const _: () = assert!(
            ::phalanx_sdk::abi::len(__PHALANX_ABI_PARTS) <= ::phalanx_sdk::abi::MAX_BYTES,
            "the contract's ABI is over 64 KiB (long doc comments?): a deploy would refuse it"
        );
        const _: () = {
            #[cfg(target_arch = "wasm32")]
            #[unsafe(link_section = "phalanx.abi")]
            #[used]
            static __PHALANX_ABI: [u8; ::phalanx_sdk::abi::len(__PHALANX_ABI_PARTS)] = __PHALANX_ABI_JSON;
        };
    }
}
