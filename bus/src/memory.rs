//! The in-process bus, for `serve` on the embedded default: every role runs in one
//! process, so the transport is shared memory.

use crate::{Bus, BusError};

/// In-process transport.
#[derive(Debug, Default)]
pub struct MemoryBus {}

impl MemoryBus {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait::async_trait]
impl Bus for MemoryBus {
    fn kind(&self) -> &'static str {
        "memory"
    }

    async fn ping(&self) -> Result<(), BusError> {
        Ok(())
    }
}
