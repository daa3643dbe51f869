//! `stellar-monitor bench ...`: load harnesses that print one JSON line of figures.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use monitor::evm::{EvmBlock, EvmBlockData, EvmReceipt};

use crate::config::BenchCommand;
use crate::database::Target;

pub async fn run(command: BenchCommand) -> Result<String> {
    match command {
        BenchCommand::E2e {
            rpc_url,
            bench_database_url,
            redis_url,
            tenants,
            workers,
            blocks,
            transfers_per_block,
            block_interval_ms,
            kill_worker,
        } => {
            crate::bench_e2e::e2e(crate::bench_e2e::E2eSettings {
                rpc_url,
                database_url: bench_database_url,
                redis_url,
                tenants,
                workers,
                blocks,
                transfers_per_block,
                block_interval: std::time::Duration::from_millis(block_interval_ms),
                kill_worker,
            })
            .await
        }
        BenchCommand::Live {
            bench_database_url,
            redis_url,
            tenants,
            subscribers,
            replicas,
            rounds,
            interval_ms,
        } => {
            crate::bench_live::live(crate::bench_live::LiveSettings {
                database_url: bench_database_url,
                redis_url,
                tenants,
                subscribers,
                replicas,
                rounds,
                interval: std::time::Duration::from_millis(interval_ms),
            })
            .await
        }
        BenchCommand::Watcher {
            rpc_url,
            blocks,
            populate,
            txs_per_block,
            concurrency,
            batch,
        } => {
            watcher_bench(
                &rpc_url,
                blocks,
                populate,
                txs_per_block,
                concurrency,
                batch,
            )
            .await
        }
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

/// The test token, to populate a node.
const TOKEN: &str = include_str!("../tests/fixtures/token.json");

pub(crate) async fn rpc(
    http: &reqwest::Client,
    url: &str,
    method: &str,
    params: serde_json::Value,
) -> Result<serde_json::Value> {
    let r: serde_json::Value = http
        .post(url)
        .json(&serde_json::json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}))
        .send()
        .await?
        .json()
        .await?;
    if let Some(e) = r.get("error").filter(|e| !e.is_null()) {
        anyhow::bail!("{method}: {e}");
    }
    Ok(r["result"].clone())
}

/// Fills an Anvil node with `blocks` blocks of `per_block` token transfers (one in ten
/// reverting).
async fn populate(url: &str, blocks: u64, per_block: u64) -> Result<()> {
    let http = reqwest::Client::new();
    let accounts: Vec<String> =
        serde_json::from_value(rpc(&http, url, "eth_accounts", serde_json::json!([])).await?)?;
    let address = deploy_token(&http, url, &accounts[0]).await?;
    rpc(&http, url, "evm_setAutomine", serde_json::json!([false])).await?;
    for _ in 0..blocks {
        for i in 0..per_block {
            let from = if i % 10 == 9 {
                &accounts[9]
            } else {
                &accounts[0]
            };
            let to = accounts[1 + (i as usize) % 5]
                .trim_start_matches("0x")
                .to_owned();
            let call = format!("0xa9059cbb{to:0>64}{:064x}", 1 + i);
            rpc(
                &http,
                url,
                "eth_sendTransaction",
                serde_json::json!([{"from": from, "to": address, "data": call, "gas": "0x30000"}]),
            )
            .await?;
        }
        rpc(&http, url, "evm_mine", serde_json::json!([])).await?;
    }
    Ok(())
}

/// Deploys the test token (supply to `from`) with automine on; returns its address.
pub(crate) async fn deploy_token(http: &reqwest::Client, url: &str, from: &str) -> Result<String> {
    let token: serde_json::Value = serde_json::from_str(TOKEN)?;
    let data = format!(
        "{}{:064x}",
        token["bytecode"].as_str().unwrap_or_default(),
        1u64 << 60
    );
    rpc(http, url, "evm_setAutomine", serde_json::json!([true])).await?;
    let hash = rpc(
        http,
        url,
        "eth_sendTransaction",
        serde_json::json!([{"from": from, "data": data, "gas": "0x2dc6c0"}]),
    )
    .await?;
    // Anvil may mine a moment after answering.
    let mut receipt = serde_json::Value::Null;
    for _ in 0..100 {
        receipt = rpc(
            http,
            url,
            "eth_getTransactionReceipt",
            serde_json::json!([hash]),
        )
        .await?;
        if !receipt.is_null() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let address = receipt["contractAddress"]
        .as_str()
        .context("no contract address")?
        .to_owned();
    Ok(address)
}

/// What `bench watcher` reports.
#[derive(serde::Serialize)]
struct WatcherReport {
    blocks: u64,
    seconds: f64,
    blocks_per_second: f64,
    transactions_per_block: f64,
    logs_per_block: f64,
    concurrency: usize,
    batch: usize,
}

pub async fn watcher_bench(
    url: &str,
    blocks: u64,
    fill: bool,
    per_block: u64,
    concurrency: usize,
    batch: usize,
) -> Result<String> {
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    if fill {
        populate(url, blocks, per_block)
            .await
            .context("populating the node")?;
    }
    let dir = tempfile_dir()?;
    let target = Target::Sqlite(dir.join("bench.db"));
    let db = crate::database::connect(&target, 4).await?;
    crate::database::migrate(&db).await?;
    let bus: Arc<dyn bus::Bus> =
        Arc::new(bus::memory::MemoryBus::new(bus::keys::Keys::new("bench")));
    let network: monitor::config::Network = serde_json::from_value(serde_json::json!({
        "network_type": "EVM", "slug": "bench", "name": "bench",
        "rpc_urls": [{"type_": "rpc", "url": {"type": "plain", "value": url}, "weight": 100}],
        "chain_id": 31337, "block_time_ms": 100, "confirmation_blocks": 1, "cron_schedule": "*/5 * * * * *"
    }))?;
    let client = monitor::rpc::evm::EvmClient::new(
        vec![monitor::rpc::Endpoint {
            url: url.to_owned(),
            weight: 100,
        }],
        Default::default(),
        "bench",
    )?;
    let head = client.block_number().await?;
    let options = watcher::WatcherOptions {
        batch,
        concurrency,
        initial_backfill: blocks.saturating_sub(1),
        ..Default::default()
    };
    let ctx = watcher::WatcherContext {
        db,
        bus: bus.clone(),
        sealer: Arc::new(entities::secrets::Sealer::new(&[7u8; 32])?),
        options,
    };
    let watched = watcher::discovery::WatchedNetwork {
        key: "bench".into(),
        network,
        fingerprint: "bench".into(),
    };
    let stop = tokio_util::sync::CancellationToken::new();
    let started = Instant::now();
    let task = tokio::spawn(watcher::network::watch(ctx, watched, stop.clone()));
    let stream = bus.keys().blocks("bench");
    let last_wanted = head.saturating_sub(1);
    loop {
        let last = bus.stream_last(&stream).await?;
        if last
            .as_ref()
            .and_then(|e| bus::blocks::BlockMessage::decode(&e.payload).ok())
            .is_some_and(|m| m.number >= last_wanted)
        {
            break;
        }
        anyhow::ensure!(
            started.elapsed() < Duration::from_secs(3600),
            "catch-up did not finish"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    stop.cancel();
    let _ = task.await;
    let entries = bus
        .stream_read(&stream, 0, usize::MAX, Duration::ZERO)
        .await?;
    let (mut txs, mut logs) = (0usize, 0usize);
    for e in &entries {
        if let Ok(m) = bus::blocks::BlockMessage::decode(&e.payload)
            && let Some(bus::blocks::ChainBlock::Evm(b)) = m.block
        {
            txs += b.block.transactions.len();
            logs += b.receipts.iter().map(|r| r.logs.len()).sum::<usize>();
        }
    }
    let n = entries.len().max(1) as f64;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(serde_json::to_string(&WatcherReport {
        blocks: entries.len() as u64,
        seconds,
        blocks_per_second: entries.len() as f64 / seconds,
        transactions_per_block: txs as f64 / n,
        logs_per_block: logs as f64 / n,
        concurrency,
        batch,
    })?)
}

fn tempfile_dir() -> Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("sm-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
