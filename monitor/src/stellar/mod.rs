//! Stellar: RPC data types, XDR decoding, contract specs, monitors compiled for Stellar.

pub mod decode;
pub mod monitor;
pub mod spec;
pub mod types;

pub use monitor::StellarMonitor;
pub use types::{StellarBlockData, StellarEvent, StellarLedger, StellarTransaction};
