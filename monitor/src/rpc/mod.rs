//! Chain RPC clients: JSON-RPC over HTTP with weighted endpoints, failover, timeouts,
//! retries with backoff, and strict decoding of what comes back (a malformed, null or
//! wrongly-typed response is a clear error, never a panic).

pub mod evm;
pub mod stellar;
mod transport;

pub use transport::{Endpoint, RpcError, Transport, TransportOptions};
