//! EVM chains: JSON-RPC data types, ABI decoding, and monitors compiled for EVM.

pub mod abi;
pub mod monitor;
pub mod types;

pub use monitor::EvmMonitor;
pub use types::{EvmBlock, EvmBlockData, EvmLog, EvmReceipt, EvmTransaction};
