//! {{name}}: an fdo function. Every `#[fdo_sdk::function]` is an RPC method, its parameters
//! and result JSON:
//!
//! ```text
//! fdo invoke {{name}} hello world
//! curl -H "X-API-Key: $FDO_API_KEY" -d '{"method": "hello", "params": ["world"]}' \
//!     "$FDO_URL/v1/functions/{{name}}"
//! ```

/// Greets `name`.
#[fdo_sdk::function]
pub fn hello(name: String) -> String {
    fdo_sdk::info!("greeting {name}");
    format!("Hello, {name}!")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greets_by_name() {
        assert_eq!(hello("world".into()), "Hello, world!");
    }
}
