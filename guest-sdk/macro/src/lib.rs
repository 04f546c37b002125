//! The attribute macros behind `fdo-sdk`: `#[fdo_sdk::function]` and `#[fdo_sdk::functions]`.
//!
//! Both turn plain Rust functions into the methods of the `fdo:function/rpc` export. They keep
//! the author's code as written and add, next to it, an implementation of the generated
//! `rpc::Guest` trait that decodes the JSON parameters by name or position, calls the function
//! and encodes its result; then they invoke the SDK's `export!` macro. Signatures that cannot
//! work (async, generic, `self` by value, references other than `&str`, ...) are compile errors
//! pointing at the offending part of the author's code.
//!
//! This crate is an implementation detail of `fdo-sdk`: depend on `fdo-sdk` and use the macros
//! through it (their documentation lives there).

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{
    Attribute, FnArg, ImplItem, ImplItemFn, ItemFn, ItemImpl, LitStr, Pat, ReturnType, Signature,
    Type, Visibility,
};

/// The helper attribute that renames a method inside `#[functions]`: `#[rpc(name = "x")]`.
const RPC_ATTRIBUTE: &str = "rpc";

/// Turns one free function into an fdo function whose only RPC method is that function.
///
/// See `fdo_sdk::function` for the documentation.
#[proc_macro_attribute]
pub fn function(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item2: TokenStream2 = item.clone().into();
    let result = syn::parse::<ItemFn>(item).and_then(|func| {
        let options = parse_options(attr.into())?;
        expand_function(options, func)
    });
    match result {
        Ok(tokens) => tokens.into(),
        // Keep the author's item so the one error we report does not cascade into many.
        Err(error) => {
            let error = error.to_compile_error();
            quote!(#item2 #error).into()
        }
    }
}

/// Turns every `pub` method of an inherent impl block into an RPC method of the function.
///
/// See `fdo_sdk::functions` for the documentation.
#[proc_macro_attribute]
pub fn functions(attr: TokenStream, item: TokenStream) -> TokenStream {
    if !attr.is_empty() {
        let item2: TokenStream2 = item.into();
        let attr: TokenStream2 = attr.into();
        let error =
            syn::Error::new_spanned(attr, "`#[functions]` takes no arguments").to_compile_error();
        return quote!(#item2 #error).into();
    }
    let parsed = match syn::parse::<ItemImpl>(item.clone()) {
        Ok(parsed) => parsed,
        Err(error) => {
            let item: TokenStream2 = item.into();
            let error = error.to_compile_error();
            return quote!(#item #error).into();
        }
    };
    match expand_functions(parsed.clone()) {
        Ok(tokens) => tokens.into(),
        Err(error) => {
            // Keep the author's impl, minus our helper attributes, which would otherwise each
            // add an "unknown attribute" error to the one that matters.
            let mut parsed = parsed;
            for impl_item in &mut parsed.items {
                if let ImplItem::Fn(func) = impl_item {
                    func.attrs
                        .retain(|attr| !attr.path().is_ident(RPC_ATTRIBUTE));
                }
            }
            let error = error.to_compile_error();
            quote!(#parsed #error).into()
        }
    }
}

/// Options of `#[function(...)]` and `#[rpc(...)]`.
#[derive(Default)]
struct Options {
    /// The RPC method name, when it is not the Rust name.
    name: Option<LitStr>,
}

/// Parses `name = "..."` (the only option) from an attribute's arguments.
fn parse_options(tokens: TokenStream2) -> syn::Result<Options> {
    let mut options = Options::default();
    if tokens.is_empty() {
        return Ok(options);
    }
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("name") {
            let name: LitStr = meta.value()?.parse()?;
            if name.value().is_empty() {
                return Err(syn::Error::new_spanned(
                    name,
                    "the RPC method name cannot be empty",
                ));
            }
            options.name = Some(name);
            Ok(())
        } else {
            Err(meta.error("unknown option: the only option is `name = \"method\"`"))
        }
    });
    syn::parse::Parser::parse2(parser, tokens)?;
    Ok(options)
}

/// How the generated code obtains the value to call a method on.
enum Receiver {
    /// An associated function or free function: no receiver.
    None,
    /// `&self` or `&mut self`: a `Default` instance made for the call (the span is the receiver's).
    Default { mutable: bool, span: Span },
}

/// What the method returns, which decides how the result becomes JSON.
enum Output {
    /// Nothing: the JSON result is `null`.
    Unit,
    /// A `Result<T, E>`: `Ok` serializes, `Err` becomes a call error (the span is the type's).
    Result(Span),
    /// Any other value: it serializes (the span is the type's).
    Value(Span),
}

/// One RPC method, checked and ready to generate its dispatch arm.
struct Method {
    /// The name callers use.
    rpc_name: String,
    /// The Rust function's identifier.
    ident: syn::Ident,
    /// How to get a receiver for the call.
    receiver: Receiver,
    /// The parameter names (the JSON keys) and types, in order.
    params: Vec<(String, Type)>,
    /// The kind of return value.
    output: Output,
}

/// Expands `#[function]` on a free function.
fn expand_function(options: Options, func: ItemFn) -> syn::Result<TokenStream2> {
    let method = analyse(&func.sig, options.name, false)?;
    let arm = dispatch_arm(&method, &TokenStream2::new())?;
    let guest = guest_impl(&quote!(__FdoSdkFunction), &[arm]);
    // The type has a fixed name on purpose: a second `#[function]` in the module is then a
    // "defined multiple times" error instead of a clash of exported symbols at link time.
    Ok(quote! {
        #func

        /// The RPC export generated by `#[fdo_sdk::function]`.
        #[doc(hidden)]
        pub struct __FdoSdkFunction;

        const _: () = {
            #guest
            ::fdo_sdk::export!(__FdoSdkFunction);
        };
    })
}

/// Expands `#[functions]` on an inherent impl block.
fn expand_functions(mut item: ItemImpl) -> syn::Result<TokenStream2> {
    if let Some((_, path, _)) = &item.trait_ {
        return Err(syn::Error::new_spanned(
            path,
            "`#[functions]` goes on an inherent impl block (`impl MyFunction { ... }`), not a trait impl",
        ));
    }
    if !item.generics.params.is_empty() || item.generics.where_clause.is_some() {
        return Err(syn::Error::new_spanned(
            &item.generics,
            "`#[functions]` cannot export a generic impl block: the exported type must be concrete",
        ));
    }
    if let Some(unsafety) = &item.unsafety {
        return Err(syn::Error::new_spanned(
            unsafety,
            "`#[functions]` cannot export an unsafe impl",
        ));
    }

    let mut methods = Vec::new();
    let mut errors: Option<syn::Error> = None;
    let mut push_error = |error: syn::Error| match &mut errors {
        Some(errors) => errors.combine(error),
        None => errors = Some(error),
    };
    for impl_item in &mut item.items {
        let ImplItem::Fn(func) = impl_item else {
            continue;
        };
        let options = match take_rpc_options(&mut func.attrs) {
            Ok(options) => options,
            Err(error) => {
                push_error(error);
                continue;
            }
        };
        if !matches!(func.vis, Visibility::Public(_)) {
            if let Some((span, _)) = &options {
                push_error(syn::Error::new(
                    *span,
                    "`#[rpc]` on a method that is not `pub`: only `pub` methods are RPC methods",
                ));
            }
            continue;
        }
        let name = options.and_then(|(_, options)| options.name);
        match analyse_method(func, name) {
            Ok(method) => methods.push(method),
            Err(error) => push_error(error),
        }
    }
    if let Some(errors) = errors {
        return Err(errors);
    }
    if methods.is_empty() {
        return Err(syn::Error::new_spanned(
            &item.self_ty,
            "`#[functions]` found no `pub` method to export: make the RPC methods `pub`",
        ));
    }
    for (index, method) in methods.iter().enumerate() {
        if let Some(first) = methods[..index]
            .iter()
            .find(|m| m.rpc_name == method.rpc_name)
        {
            return Err(syn::Error::new_spanned(
                &method.ident,
                format!(
                    "two methods are exported as RPC method `{}` (`{}` and `{}`)",
                    method.rpc_name, first.ident, method.ident
                ),
            ));
        }
    }

    let arms = methods
        .iter()
        .map(|method| dispatch_arm(method, &quote!(Self::)))
        .collect::<syn::Result<Vec<_>>>()?;
    let self_ty = &item.self_ty;
    let guest = guest_impl(&quote!(#self_ty), &arms);
    Ok(quote! {
        #item

        const _: () = {
            #guest
            #[doc(hidden)]
            type __FdoSdkExport = #self_ty;
            ::fdo_sdk::export!(__FdoSdkExport);
        };
    })
}

/// Removes the `#[rpc(...)]` helper attributes of a method and returns their options.
fn take_rpc_options(attrs: &mut Vec<Attribute>) -> syn::Result<Option<(Span, Options)>> {
    let mut found = None;
    let mut kept = Vec::with_capacity(attrs.len());
    for attr in attrs.drain(..) {
        if !attr.path().is_ident(RPC_ATTRIBUTE) {
            kept.push(attr);
            continue;
        }
        if found.is_some() {
            return Err(syn::Error::new_spanned(
                attr,
                "only one `#[rpc(...)]` per method",
            ));
        }
        let options = match &attr.meta {
            syn::Meta::Path(_) => Options::default(),
            syn::Meta::List(list) => parse_options(list.tokens.clone())?,
            syn::Meta::NameValue(_) => {
                return Err(syn::Error::new_spanned(
                    attr,
                    "write `#[rpc(name = \"method\")]`",
                ));
            }
        };
        found = Some((attr.span(), options));
    }
    *attrs = kept;
    Ok(found)
}

/// Checks a method of an impl block.
fn analyse_method(func: &ImplItemFn, name: Option<LitStr>) -> syn::Result<Method> {
    analyse(&func.sig, name, true)
}

/// Checks a signature and extracts what the dispatch code needs; errors point at the author's
/// code.
fn analyse(sig: &Signature, name: Option<LitStr>, in_impl: bool) -> syn::Result<Method> {
    if let Some(asyncness) = &sig.asyncness {
        return Err(syn::Error::new_spanned(
            asyncness,
            "RPC methods cannot be `async`: fdo calls are synchronous (the SDK's HTTP client blocks)",
        ));
    }
    if let Some(unsafety) = &sig.unsafety {
        return Err(syn::Error::new_spanned(
            unsafety,
            "RPC methods cannot be `unsafe fn`",
        ));
    }
    if let Some(abi) = &sig.abi {
        return Err(syn::Error::new_spanned(
            abi,
            "RPC methods cannot declare an `extern` ABI",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new_spanned(
            &sig.generics,
            "RPC methods cannot be generic: each parameter needs a concrete type to be decoded from JSON",
        ));
    }
    if let Some(variadic) = &sig.variadic {
        return Err(syn::Error::new_spanned(
            variadic,
            "RPC methods cannot be variadic",
        ));
    }

    let mut receiver = Receiver::None;
    let mut params = Vec::new();
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(recv) => {
                if !in_impl {
                    return Err(syn::Error::new_spanned(
                        recv,
                        "a free function has no `self`",
                    ));
                }
                if recv.reference.is_none() || recv.colon_token.is_some() {
                    return Err(syn::Error::new_spanned(
                        recv,
                        "RPC methods take `&self`, `&mut self` or no receiver; `self` by value \
                         (or a typed `self`) is not supported",
                    ));
                }
                receiver = Receiver::Default {
                    mutable: recv.mutability.is_some(),
                    span: recv.span(),
                };
            }
            FnArg::Typed(typed) => {
                let name = param_name(&typed.pat)?;
                check_param_type(&typed.ty)?;
                params.push((name, (*typed.ty).clone()));
            }
        }
    }

    let output = match &sig.output {
        ReturnType::Default => Output::Unit,
        ReturnType::Type(_, ty) => match &**ty {
            Type::ImplTrait(_) => {
                return Err(syn::Error::new_spanned(
                    ty,
                    "RPC methods must return a concrete type (it is serialized to JSON), not `impl Trait`",
                ));
            }
            Type::Tuple(tuple) if tuple.elems.is_empty() => Output::Unit,
            ty if is_result(ty) => Output::Result(ty.span()),
            ty => Output::Value(ty.span()),
        },
    };

    let rpc_name = match name {
        Some(name) => name.value(),
        None => unraw(&sig.ident),
    };
    Ok(Method {
        rpc_name,
        ident: sig.ident.clone(),
        receiver,
        params,
        output,
    })
}

/// The JSON name of a parameter: its identifier (a plain `name` or `mut name`).
fn param_name(pat: &Pat) -> syn::Result<String> {
    match pat {
        Pat::Ident(ident) if ident.by_ref.is_none() && ident.subpat.is_none() => {
            Ok(unraw(&ident.ident))
        }
        other => Err(syn::Error::new_spanned(
            other,
            "RPC method parameters must be plain names (`name: Type`): the names are the JSON keys \
             of the parameters",
        )),
    }
}

/// Rejects parameter types that cannot be decoded from the call's JSON.
fn check_param_type(ty: &Type) -> syn::Result<()> {
    match ty {
        Type::Reference(reference) => {
            let is_str = matches!(&*reference.elem, Type::Path(p) if p.qself.is_none() && p.path.is_ident("str"));
            if !is_str || reference.mutability.is_some() {
                return Err(syn::Error::new_spanned(
                    ty,
                    "the only reference parameter type supported is `&str`: take the value by value \
                     (`T` instead of `&T`)",
                ));
            }
            if let Some(lifetime) = &reference.lifetime {
                return Err(syn::Error::new_spanned(
                    lifetime,
                    "write `&str` without a lifetime: the string borrows from the call's parameters",
                ));
            }
            Ok(())
        }
        Type::ImplTrait(_) => Err(syn::Error::new_spanned(
            ty,
            "`impl Trait` parameters are generic: RPC parameters need a concrete type",
        )),
        Type::Paren(inner) => check_param_type(&inner.elem),
        Type::Group(inner) => check_param_type(&inner.elem),
        _ => Ok(()),
    }
}

/// Whether a return type is spelled `Result<..>` (any path ending in `Result`, so aliases such as
/// `anyhow::Result<T>` and `io::Result<T>` count).
fn is_result(ty: &Type) -> bool {
    match ty {
        Type::Path(path) => path
            .path
            .segments
            .last()
            .is_some_and(|segment| segment.ident == "Result"),
        Type::Paren(inner) => is_result(&inner.elem),
        Type::Group(inner) => is_result(&inner.elem),
        _ => false,
    }
}

/// An identifier as text, without a leading `r#`.
fn unraw(ident: &syn::Ident) -> String {
    let text = ident.to_string();
    match text.strip_prefix("r#") {
        Some(stripped) => stripped.to_owned(),
        None => text,
    }
}

/// The `match` arm that decodes the parameters, calls the method and encodes its result.
fn dispatch_arm(method: &Method, path: &TokenStream2) -> syn::Result<TokenStream2> {
    let rpc_name = &method.rpc_name;
    let ident = &method.ident;
    let names = method.params.iter().map(|(name, _)| name);
    let args: Vec<_> = (0..method.params.len())
        .map(|index| format_ident!("__fdo_arg{}", index))
        .collect();
    let decode = method.params.iter().enumerate().map(|(index, (_, ty))| {
        let arg = &args[index];
        quote_spanned! {ty.span()=>
            let #arg: #ty = __fdo_params.get(#index)?;
        }
    });
    let call = match &method.receiver {
        Receiver::None => quote!(#path #ident(#(#args),*)),
        Receiver::Default { mutable, span } => {
            let binding = if *mutable {
                quote!(mut __fdo_self)
            } else {
                quote!(__fdo_self)
            };
            let make = quote_spanned! {*span=>
                let #binding: Self = ::core::default::Default::default();
            };
            quote!({ #make __fdo_self.#ident(#(#args),*) })
        }
    };
    let encode = match &method.output {
        Output::Unit => quote! {
            let () = __fdo_out;
            ::fdo_sdk::rpc::to_json(&())
        },
        Output::Value(span) => quote_spanned! {*span=>
            ::fdo_sdk::rpc::to_json(&__fdo_out)
        },
        Output::Result(span) => quote_spanned! {*span=>
            match __fdo_out {
                ::core::result::Result::Ok(__fdo_value) => ::fdo_sdk::rpc::to_json(&__fdo_value),
                ::core::result::Result::Err(__fdo_error) => {
                    #[allow(unused_imports)]
                    use ::fdo_sdk::rpc::__private::{ViaCallError as _, ViaDisplay as _};
                    ::core::result::Result::Err(
                        ::fdo_sdk::rpc::__private::ErrorWrap(__fdo_error).into_call_error(),
                    )
                }
            }
        },
    };
    Ok(quote! {
        #rpc_name => {
            let __fdo_params = ::fdo_sdk::rpc::Params::parse(&__fdo_params_json, &[#(#names),*])?;
            #(#decode)*
            let __fdo_out = #call;
            #encode
        }
    })
}

/// The implementation of the generated `rpc::Guest` trait for `ty`, dispatching on the method.
fn guest_impl(ty: &TokenStream2, arms: &[TokenStream2]) -> TokenStream2 {
    quote! {
        impl ::fdo_sdk::rpc::__private::Guest for #ty {
            fn call(
                __fdo_method: ::std::string::String,
                __fdo_params_json: ::std::string::String,
            ) -> ::core::result::Result<::std::string::String, ::fdo_sdk::rpc::CallError> {
                match __fdo_method.as_str() {
                    #(#arms)*
                    _ => ::core::result::Result::Err(
                        ::fdo_sdk::rpc::CallError::UnknownMethod(__fdo_method),
                    ),
                }
            }
        }
    }
}
