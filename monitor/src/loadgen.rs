//! Synthetic but realistic load for benchmarks and property tests: EVM blocks shaped like
//! Ethereum mainnet (≈150–300 transactions, ≈500–1000 logs: token transfers, DEX swaps,
//! aggregator calls, plain transfers, some reverts) and monitor sets where many tenants
//! watch the same popular ERC-20 `Transfer` while others watch contracts of their own.
//! Deterministic for a given seed.

use alloy_primitives::{Address, B256, Bytes, U64, U256, keccak256};

use crate::config::Monitor;
use crate::evm::{EvmBlock, EvmBlockData, EvmLog, EvmReceipt, EvmTransaction};
use crate::matcher::MonitorKey;

/// A small deterministic generator (SplitMix64), so benchmarks need no RNG crate.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9e37_79b9_7f4a_7c15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A Zipf-like pick in `0..n`: low indices are much more likely (popular contracts).
    pub fn skewed(&mut self, n: u64) -> u64 {
        let a = self.below(n);
        self.below(a + 1)
    }
}

/// A deterministic address from a label.
pub fn address(label: &str) -> Address {
    Address::from_slice(&keccak256(label.as_bytes())[12..])
}

/// The popular ERC-20 tokens of the synthetic chain.
pub fn popular_tokens(n: usize) -> Vec<Address> {
    (0..n).map(|i| address(&format!("token-{i}"))).collect()
}

pub fn transfer_topic() -> B256 {
    keccak256("Transfer(address,address,uint256)")
}

fn word(a: Address) -> B256 {
    B256::left_padding_from(a.as_slice())
}

fn amount_word(v: U256) -> Bytes {
    B256::from(v).to_vec().into()
}

/// calldata of `transfer(to, value)`.
pub fn transfer_calldata(to: Address, value: U256) -> Bytes {
    let mut data = vec![0xa9, 0x05, 0x9c, 0xbb];
    data.extend_from_slice(word(to).as_slice());
    data.extend_from_slice(B256::from(value).as_slice());
    data.into()
}

fn log(address: Address, topics: Vec<B256>, data: Bytes, index: u64) -> EvmLog {
    EvmLog {
        address,
        topics,
        data,
        log_index: Some(U64::from(index)),
        transaction_hash: None,
        transaction_index: None,
        other: Default::default(),
    }
}

fn transfer_log(token: Address, from: Address, to: Address, value: U256, index: u64) -> EvmLog {
    log(
        token,
        vec![transfer_topic(), word(from), word(to)],
        amount_word(value),
        index,
    )
}

fn random_amount(rng: &mut Rng) -> U256 {
    // Amounts over many decades, small ones far more common, as real transfers are.
    U256::from(rng.below(1_000_000) + 1) * U256::from(10u64).pow(U256::from(rng.skewed(13)))
}

/// One mainnet-shaped block.
pub fn block(seed: u64, number: u64, tokens: &[Address]) -> EvmBlockData {
    let mut rng = Rng::new(seed.wrapping_mul(31).wrapping_add(number));
    let tx_count = 150 + rng.below(151) as usize;
    let mut transactions = Vec::with_capacity(tx_count);
    let mut receipts = Vec::with_capacity(tx_count);
    let mut log_index = 0u64;
    let user = |rng: &mut Rng| address(&format!("user-{}", rng.below(50_000)));
    for i in 0..tx_count {
        let hash = keccak256(format!("{seed}-{number}-{i}"));
        let from = user(&mut rng);
        let kind = rng.below(100);
        let mut logs = Vec::new();
        let (to, input, value) = if kind < 40 {
            // ERC-20 transfer on a (mostly popular) token.
            let token = tokens[rng.skewed(tokens.len() as u64) as usize];
            let recipient = user(&mut rng);
            let amount = random_amount(&mut rng);
            logs.push(transfer_log(token, from, recipient, amount, log_index));
            log_index += 1;
            (
                Some(token),
                transfer_calldata(recipient, amount),
                U256::ZERO,
            )
        } else if kind < 70 {
            // DEX swap through a router: token in, token out, swap and sync on the pair.
            let router = address(&format!("router-{}", rng.below(5)));
            let pair = address(&format!("pair-{}", rng.below(300)));
            for _ in 0..2 {
                let token = tokens[rng.skewed(tokens.len() as u64) as usize];
                logs.push(transfer_log(
                    token,
                    from,
                    pair,
                    random_amount(&mut rng),
                    log_index,
                ));
                log_index += 1;
            }
            for topic in [
                "Swap(address,uint256,uint256,uint256,uint256,address)",
                "Sync(uint112,uint112)",
            ] {
                logs.push(log(
                    pair,
                    vec![keccak256(topic)],
                    Bytes::from(vec![0u8; 64]),
                    log_index,
                ));
                log_index += 1;
            }
            let mut input = vec![0x38, 0xed, 0x17, 0x39];
            input.extend_from_slice(&[0u8; 160]);
            (Some(router), input.into(), U256::ZERO)
        } else if kind < 85 {
            // Aggregator / NFT / bridge call with many logs on many contracts.
            let target = address(&format!("app-{}", rng.below(2_000)));
            for _ in 0..(4 + rng.below(9)) {
                if rng.chance(60) {
                    let token = tokens[rng.skewed(tokens.len() as u64) as usize];
                    logs.push(transfer_log(
                        token,
                        user(&mut rng),
                        user(&mut rng),
                        random_amount(&mut rng),
                        log_index,
                    ));
                } else {
                    let emitter = address(&format!("app-{}", rng.below(2_000)));
                    let topic = keccak256(format!("Event{}()", rng.below(50)));
                    logs.push(log(
                        emitter,
                        vec![topic, word(user(&mut rng))],
                        Bytes::from(vec![1u8; 32]),
                        log_index,
                    ));
                }
                log_index += 1;
            }
            (
                Some(target),
                Bytes::from(vec![0x12, 0x34, 0x56, 0x78, 0, 0, 0, 1]),
                U256::ZERO,
            )
        } else {
            // Plain ETH transfer.
            (Some(user(&mut rng)), Bytes::new(), random_amount(&mut rng))
        };
        let reverted = rng.chance(3);
        if reverted {
            log_index -= logs.len() as u64;
            logs.clear();
        }
        transactions.push(EvmTransaction {
            hash,
            nonce: U256::from(rng.below(1_000)),
            block_hash: None,
            block_number: Some(U64::from(number)),
            transaction_index: Some(U64::from(i)),
            from,
            to,
            value,
            gas_price: Some(U256::from(20_000_000_000u64)),
            max_fee_per_gas: Some(U256::from(30_000_000_000u64)),
            max_priority_fee_per_gas: Some(U256::from(1_000_000_000u64)),
            gas: U256::from(200_000),
            input,
            other: Default::default(),
        });
        receipts.push(EvmReceipt {
            transaction_hash: hash,
            transaction_index: Some(U64::from(i)),
            status: Some(U64::from(u64::from(!reverted))),
            gas_used: Some(U256::from(50_000 + rng.below(150_000))),
            logs,
            other: Default::default(),
        });
    }
    EvmBlockData {
        block: EvmBlock {
            number: U64::from(number),
            hash: keccak256(format!("block-{seed}-{number}")),
            parent_hash: keccak256(format!("block-{seed}-{}", number.saturating_sub(1))),
            timestamp: U64::from(1_700_000_000 + number * 12),
            transactions,
            other: Default::default(),
        },
        receipts,
    }
}

/// The ERC-20 ABI monitors carry (OZ's example monitors carry the same two items).
pub fn erc20_abi() -> serde_json::Value {
    serde_json::json!([
        {"type": "event", "name": "Transfer", "anonymous": false, "inputs": [
            {"name": "from", "type": "address", "indexed": true},
            {"name": "to", "type": "address", "indexed": true},
            {"name": "value", "type": "uint256", "indexed": false}]},
        {"type": "function", "name": "transfer", "stateMutability": "nonpayable",
         "inputs": [{"name": "to", "type": "address"}, {"name": "value", "type": "uint256"}],
         "outputs": [{"name": "", "type": "bool"}]}
    ])
}

/// `tenants × per_tenant` monitors: 70% on one of the popular tokens (large Transfer
/// events, large transfer calls, or transfers to or from one wallet; half also require
/// success), 30% on a contract of the tenant's own.
pub fn monitors(
    seed: u64,
    tenants: usize,
    per_tenant: usize,
    tokens: &[Address],
) -> Vec<(MonitorKey, Monitor)> {
    let mut rng = Rng::new(seed);
    let abi = erc20_abi();
    let mut out = Vec::with_capacity(tenants * per_tenant);
    for t in 0..tenants {
        for m in 0..per_tenant {
            let popular = rng.chance(70);
            let contract = if popular {
                tokens[rng.skewed(tokens.len() as u64) as usize]
            } else {
                address(&format!("tenant-{t}-contract-{m}"))
            };
            // "Large transfer" thresholds: each fires on well under 1% of its token's
            // transfers, as alerting monitors do.
            let threshold = U256::from(10u64).pow(U256::from(16 + rng.below(3)));
            let (functions, events) = match rng.below(3) {
                0 => (
                    vec![],
                    vec![
                        serde_json::json!({"signature": "Transfer(address,address,uint256)", "expression": format!("value > {threshold}")}),
                    ],
                ),
                1 => (
                    vec![
                        serde_json::json!({"signature": "transfer(address,uint256)", "expression": format!("value >= {threshold}")}),
                    ],
                    vec![],
                ),
                _ => {
                    let watched = address(&format!("user-{}", rng.below(50_000)));
                    (
                        vec![],
                        vec![
                            serde_json::json!({"signature": "Transfer(address,address,uint256)", "expression": format!("to == {watched:#x} OR from == {watched:#x}")}),
                        ],
                    )
                }
            };
            let transactions = if rng.chance(50) {
                vec![serde_json::json!({"status": "Success", "expression": null})]
            } else {
                vec![]
            };
            let monitor: Monitor = serde_json::from_value(serde_json::json!({
                "name": format!("monitor {m}"),
                "networks": ["ethereum_mainnet"],
                "paused": false,
                "addresses": [{"address": format!("{contract:#x}"), "contract_spec": abi}],
                "match_conditions": {"functions": functions, "events": events, "transactions": transactions},
                "trigger_conditions": [],
                "triggers": []
            }))
            .expect("generated monitors are valid");
            out.push((
                MonitorKey::new(format!("tenant-{t}"), format!("monitor-{m}")),
                monitor,
            ));
        }
    }
    out
}

/// What `stellar-monitor bench matcher` reports.
#[derive(Clone, Debug, serde::Serialize)]
pub struct MatcherReport {
    pub naive: bool,
    pub tenants: usize,
    pub monitors: usize,
    pub blocks: usize,
    pub transactions_per_block: f64,
    pub logs_per_block: f64,
    pub matches_per_block: f64,
    /// Median wall time of one block on one thread.
    pub ms_per_block: f64,
    pub p90_ms_per_block: f64,
    /// Process CPU time per block (user + system), averaged over the run.
    pub cpu_ms_per_block: f64,
    pub build_ms: f64,
    /// Resident memory the monitors added, per monitor.
    pub bytes_per_monitor: f64,
    pub peak_rss_mb: f64,
}

/// Reads a `/proc/self/status` field in kB (0 where unavailable).
pub fn proc_status_kb(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Process CPU time so far, in milliseconds (Linux; 0 elsewhere).
fn cpu_ms() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0.0;
    };
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = [11, 12]
        .iter()
        .filter_map(|i| fields.get(*i)?.parse::<f64>().ok())
        .sum();
    ticks * 10.0 // USER_HZ is 100 on Linux.
}

/// Builds `tenants × per_tenant` monitors over popular and unique contracts, evaluates
/// them on `blocks` mainnet-shaped blocks plus `extra` (real blocks), and measures.
pub fn bench_matcher(
    tenants: usize,
    per_tenant: usize,
    blocks: usize,
    naive: bool,
    extra: Vec<EvmBlockData>,
) -> MatcherReport {
    use std::sync::Arc;
    use std::time::Instant;

    let tokens = popular_tokens(20);
    let mut all_blocks: Vec<EvmBlockData> = (0..blocks as u64)
        .map(|n| block(42, 21_000_000 + n, &tokens))
        .collect();
    all_blocks.extend(extra);
    let rss_before = proc_status_kb("VmRSS:");
    let started = Instant::now();
    let generated = monitors(7, tenants, per_tenant, &tokens);
    let count = generated.len();
    let mut matcher = crate::matcher::EvmMatcher::new();
    let mut compiled = Vec::new();
    for (key, monitor) in generated {
        let monitor = Arc::new(monitor);
        if naive {
            compiled.push(
                crate::evm::EvmMonitor::compile(monitor).expect("generated monitors compile"),
            );
        } else {
            matcher
                .upsert(key, 1, monitor, "ethereum_mainnet")
                .expect("generated monitors compile");
        }
    }
    let build_ms = started.elapsed().as_secs_f64() * 1e3;
    let rss_after = proc_status_kb("VmRSS:");

    let mut times = Vec::with_capacity(all_blocks.len());
    let mut matches = 0usize;
    let cpu_start = cpu_ms();
    for b in &all_blocks {
        let t = Instant::now();
        let found = if naive {
            compiled
                .iter()
                .map(|m| m.evaluate(b, "ethereum_mainnet").len())
                .sum()
        } else {
            matcher.evaluate(b).len()
        };
        times.push(t.elapsed().as_secs_f64() * 1e3);
        matches += found;
    }
    let cpu = cpu_ms() - cpu_start;
    times.sort_by(f64::total_cmp);
    let n = all_blocks.len().max(1) as f64;
    let percentile = |p: f64| {
        times
            .get(((times.len() as f64 - 1.0) * p).round() as usize)
            .copied()
            .unwrap_or(0.0)
    };
    MatcherReport {
        naive,
        tenants,
        monitors: count,
        blocks: all_blocks.len(),
        transactions_per_block: all_blocks
            .iter()
            .map(|b| b.block.transactions.len())
            .sum::<usize>() as f64
            / n,
        logs_per_block: all_blocks
            .iter()
            .map(|b| b.receipts.iter().map(|r| r.logs.len()).sum::<usize>())
            .sum::<usize>() as f64
            / n,
        matches_per_block: matches as f64 / n,
        ms_per_block: percentile(0.5),
        p90_ms_per_block: percentile(0.9),
        cpu_ms_per_block: cpu / n,
        build_ms,
        bytes_per_monitor: (rss_after.saturating_sub(rss_before) as f64 * 1024.0)
            / count.max(1) as f64,
        peak_rss_mb: proc_status_kb("VmHWM:") as f64 / 1024.0,
    }
}
