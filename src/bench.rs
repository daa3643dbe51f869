//! `stellar-monitor bench ...`: load harnesses that print one JSON line of figures.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use monitor::evm::{EvmBlock, EvmBlockData, EvmReceipt};

use crate::config::BenchCommand;

pub fn run(command: BenchCommand) -> Result<String> {
    match command {
        BenchCommand::Matcher {
            tenants,
            monitors_per_tenant,
            blocks,
            naive,
            compat_dir,
        } => {
            let dir = compat_dir.unwrap_or_else(|| PathBuf::from("../shared/compat"));
            let real = real_evm_blocks(&dir).unwrap_or_default();
            let report =
                monitor::loadgen::bench_matcher(tenants, monitors_per_tenant, blocks, naive, real);
            serde_json::to_string(&report).context("serializing the report")
        }
    }
}

/// The corpus's real EVM blocks, each with the receipts recorded for it; `None` when
/// the corpus is absent.
fn real_evm_blocks(dir: &Path) -> Option<Vec<EvmBlockData>> {
    let blocks: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(dir.join("chain/evm/blocks.json")).ok()?)
            .ok()?;
    let receipts: Vec<EvmReceipt> = serde_json::from_str(
        &std::fs::read_to_string(dir.join("chain/evm/transaction_receipts.json")).ok()?,
    )
    .ok()?;
    blocks
        .iter()
        .map(|b| {
            let block: EvmBlock = serde_json::from_value(b["EVM"].clone()).ok()?;
            let receipts = receipts
                .iter()
                .filter(|r| {
                    block
                        .transactions
                        .iter()
                        .any(|t| t.hash == r.transaction_hash)
                })
                .cloned()
                .collect();
            Some(EvmBlockData { block, receipts })
        })
        .collect()
}
