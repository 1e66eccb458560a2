//! `#[event("topic")]`: an event's ABI entry, from its struct.

use crate::abi::{doc, fields_json, json_str};
use proc_macro2::TokenStream;
use quote::quote;
use syn::{Fields, ItemStruct, LitStr};

/// Keeps the struct and implements `phalanx_sdk::abi::Event` for it.
pub fn expand(topic: LitStr, item: ItemStruct) -> syn::Result<TokenStream> {
    if !item.generics.params.is_empty() {
        return Err(syn::Error::new_spanned(
            &item.generics,
            "an event struct cannot be generic",
        ));
    }
    let topic_value = topic.value();
    if topic_value.starts_with("phalanx.") {
        return Err(syn::Error::new_spanned(
            &topic,
            "topics starting with `phalanx.` are the runtime's own; emitting one fails",
        ));
    }
    if topic_value.is_empty() || topic_value.len() > 64 {
        return Err(syn::Error::new_spanned(
            &topic,
            "an event topic is 1 to 64 bytes",
        ));
    }
    let Fields::Named(named) = &item.fields else {
        return Err(syn::Error::new_spanned(
            &item.ident,
            "#[event] goes on a struct with named fields (they are the JSON fields)",
        ));
    };
    let fields = fields_json(named.named.iter().map(|f| {
        let name = f
            .ident
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        (name, &f.ty, doc(&f.attrs))
    }));
    let ident = &item.ident;
    let mut json = format!(
        "{{\"topic\":{},\"type\":{},\"fields\":{fields}",
        json_str(&topic_value),
        json_str(&ident.to_string())
    );
    let d = doc(&item.attrs);
    if !d.is_empty() {
        json.push_str(&format!(",\"doc\":{}", json_str(&d)));
    }
    json.push('}');
    Ok(quote! {
        #item
        impl ::phalanx_sdk::abi::Event for #ident {
            const TOPIC: &'static str = #topic;
            const ABI: &'static [::phalanx_sdk::abi::Part] = &[::phalanx_sdk::abi::Part::Raw(#json)];
        }
    })
}
