//! The indexed matcher against monitor-by-monitor evaluation, tenant isolation, and
//! incremental updates.

use std::sync::Arc;

use proptest::prelude::*;

use super::*;
use crate::config::Monitor;
use crate::evm::{EvmBlockData, EvmMonitor};
use crate::loadgen;

/// What a match says, in a comparable form.
fn fingerprint(key: &MonitorKey, tx: usize, m: &crate::matches::MonitorMatch) -> String {
    format!(
        "{}/{}#{tx}:{}",
        key.tenant,
        key.monitor,
        serde_json::to_string(m).unwrap()
    )
}

fn naive(monitors: &[(MonitorKey, Monitor)], blocks: &[EvmBlockData]) -> Vec<String> {
    let mut out = Vec::new();
    for block in blocks {
        let mut per_block = Vec::new();
        for (key, monitor) in monitors {
            if monitor.paused {
                continue;
            }
            let compiled = EvmMonitor::compile(Arc::new(monitor.clone())).unwrap();
            for (t, tx) in block.block.transactions.iter().enumerate() {
                let receipt = block
                    .receipts
                    .iter()
                    .find(|r| r.transaction_hash == tx.hash);
                if let Some(m) =
                    compiled.evaluate_transaction(tx, receipt, &format!("slug-{}", key.tenant))
                {
                    per_block.push((t, key.clone(), fingerprint(key, t, &m)));
                }
            }
        }
        per_block.sort_by(|a, b| {
            (a.0, &a.1.tenant)
                .cmp(&(b.0, &b.1.tenant))
                .then(a.1.cmp(&b.1))
        });
        // Same order as the matcher: by tenant, then transaction, then monitor.
        per_block.sort_by(|a, b| {
            a.1.tenant
                .cmp(&b.1.tenant)
                .then(a.0.cmp(&b.0))
                .then(a.1.cmp(&b.1))
        });
        out.extend(per_block.into_iter().map(|(_, _, f)| f));
    }
    out
}

fn indexed(matcher: &EvmMatcher, blocks: &[EvmBlockData]) -> Vec<String> {
    blocks
        .iter()
        .flat_map(|b| {
            matcher
                .evaluate(b)
                .iter()
                .map(|k| fingerprint(&k.key, k.transaction_index, &k.matched))
                .collect::<Vec<_>>()
        })
        .collect()
}

fn matcher_of(monitors: &[(MonitorKey, Monitor)]) -> EvmMatcher {
    let mut m = EvmMatcher::new();
    for (key, monitor) in monitors {
        m.upsert(
            key.clone(),
            1,
            Arc::new(monitor.clone()),
            &format!("slug-{}", key.tenant),
        )
        .unwrap();
    }
    m
}

/// A random monitor over what the blocks contain: popular tokens, their users, other
/// contracts; with or without addresses; every kind of condition and status.
fn random_monitor(
    rng: &mut loadgen::Rng,
    tokens: &[alloy_primitives::Address],
    blocks: &[EvmBlockData],
) -> Monitor {
    let tx_pool: Vec<&crate::evm::EvmTransaction> =
        blocks.iter().flat_map(|b| &b.block.transactions).collect();
    let pick_tx = |rng: &mut loadgen::Rng| tx_pool[rng.below(tx_pool.len() as u64) as usize];
    let mut addresses = Vec::new();
    for _ in 0..rng.below(3) {
        let a = match rng.below(4) {
            0 => tokens[rng.skewed(tokens.len() as u64) as usize],
            1 => pick_tx(rng).from,
            2 => pick_tx(rng).to.unwrap_or_default(),
            _ => loadgen::address(&format!("nowhere-{}", rng.below(10))),
        };
        let spec = if rng.chance(80) {
            Some(loadgen::erc20_abi())
        } else {
            None
        };
        addresses.push(serde_json::json!({"address": format!("{a:#x}"), "contract_spec": spec}));
    }
    let has_abi = addresses.iter().any(|a| !a["contract_spec"].is_null());
    let threshold = 10u64.pow(rng.below(12) as u32);
    let expr = |rng: &mut loadgen::Rng, opts: &[String]| -> serde_json::Value {
        if rng.chance(30) {
            serde_json::Value::Null
        } else {
            opts[rng.below(opts.len() as u64) as usize].clone().into()
        }
    };
    let user = format!("{:#x}", pick_tx(rng).from);
    let mut functions = Vec::new();
    if rng.chance(40) {
        let e = expr(
            rng,
            &[
                format!("value > {threshold}"),
                format!("to == {user}"),
                "1 >= 1000".into(),
                "value > 1 AND 1 contains 5 OR 1 > 7".into(),
            ],
        );
        let e = if !has_abi
            && e.as_str()
                .is_some_and(|s| s.contains("value") || s.contains("to =="))
        {
            serde_json::Value::Null
        } else {
            e
        };
        functions
            .push(serde_json::json!({"signature": "transfer(address,uint256)", "expression": e}));
    }
    let mut events = Vec::new();
    if has_abi && rng.chance(60) {
        let e = expr(
            rng,
            &[
                format!("value > {threshold}"),
                format!("from == {user} OR to == {user}"),
                format!("value < {threshold} AND from != {user}"),
            ],
        );
        events.push(
            serde_json::json!({"signature": "Transfer(address,address,uint256)", "expression": e}),
        );
    }
    let mut transactions = Vec::new();
    if rng.chance(50) {
        let status = ["Any", "Success", "Failure"][rng.below(3) as usize];
        let e = expr(
            rng,
            &[
                format!("value > {threshold}"),
                format!("from == {user}"),
                "gas_used > 100000".into(),
                "input starts_with 0xa9059cbb".into(),
            ],
        );
        transactions.push(serde_json::json!({"status": status, "expression": e}));
    }
    serde_json::from_value(serde_json::json!({
        "name": format!("m{}", rng.next_u64()), "networks": ["n"], "paused": rng.chance(5),
        "addresses": addresses,
        "match_conditions": {"functions": functions, "events": events, "transactions": transactions},
        "trigger_conditions": [], "triggers": []
    }))
    .unwrap()
}

fn synthetic_blocks(seed: u64, count: u64) -> (Vec<alloy_primitives::Address>, Vec<EvmBlockData>) {
    let tokens = loadgen::popular_tokens(8);
    let blocks = (0..count)
        .map(|n| loadgen::block(seed, 100 + n, &tokens))
        .collect();
    (tokens, blocks)
}

/// The real EVM blocks of the compatibility corpus, when it is present.
fn real_blocks() -> Vec<EvmBlockData> {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/compat/chain/evm");
    let (Ok(blocks), Ok(receipts)) = (
        std::fs::read_to_string(dir.join("blocks.json")),
        std::fs::read_to_string(dir.join("transaction_receipts.json")),
    ) else {
        eprintln!("compatibility corpus absent: equivalence runs on synthetic blocks only");
        return Vec::new();
    };
    let blocks: Vec<serde_json::Value> = serde_json::from_str(&blocks).unwrap();
    let receipts: Vec<crate::evm::EvmReceipt> = serde_json::from_str(&receipts).unwrap();
    blocks
        .iter()
        .map(|b| {
            let block: crate::evm::EvmBlock = serde_json::from_value(b["EVM"].clone()).unwrap();
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
            EvmBlockData { block, receipts }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::robustness::cases(16)))]

    /// For random monitor sets, on synthetic mainnet-shaped blocks and the corpus's real
    /// blocks, the indexed matcher finds exactly what evaluating each monitor alone finds.
    #[test]
    fn indexed_matching_equals_monitor_by_monitor(seed in any::<u64>(), count in 1usize..60) {
        let (tokens, mut blocks) = synthetic_blocks(seed, 2);
        blocks.extend(real_blocks());
        let mut rng = loadgen::Rng::new(seed);
        let monitors: Vec<(MonitorKey, Monitor)> = (0..count)
            .map(|i| {
                let tenant = format!("t{}", rng.below(4));
                (MonitorKey::new(tenant, format!("m{i}")), random_monitor(&mut rng, &tokens, &blocks))
            })
            .collect();
        let expected = naive(&monitors, &blocks);
        let found = indexed(&matcher_of(&monitors), &blocks);
        prop_assert_eq!(found, expected);
    }
}

#[test]
fn equivalence_covers_matches_of_every_kind() {
    // Guard against a vacuous property: the generated sets do produce matches, through
    // calls, events, transaction-only and address-less monitors.
    let (tokens, blocks) = synthetic_blocks(7, 2);
    let mut rng = loadgen::Rng::new(7);
    let monitors: Vec<(MonitorKey, Monitor)> = (0..300)
        .map(|i| {
            (
                MonitorKey::new("t", format!("m{i}")),
                random_monitor(&mut rng, &tokens, &blocks),
            )
        })
        .collect();
    let found = indexed(&matcher_of(&monitors), &blocks);
    assert_eq!(found, naive(&monitors, &blocks));
    assert!(
        found
            .iter()
            .any(|f| f.contains(r#""functions":[{"signature":"transfer(address,uint256)""#))
    );
    assert!(
        found
            .iter()
            .any(|f| f.contains(r#""events":[{"signature":"Transfer"#))
    );
    assert!(
        found
            .iter()
            .any(|f| f.contains(r#""matched_on":{"functions":[],"events":[],"transactions":[{"#))
    );
    assert!(found.iter().any(|f| f.contains(r#""addresses":[]"#)));
    assert!(found.len() > 100, "{}", found.len());
}

#[test]
fn a_tenants_matches_never_contain_another_tenants_monitors() {
    let tokens = loadgen::popular_tokens(3);
    let block = loadgen::block(1, 1, &tokens);
    // Identical monitor names, addresses and network slugs in two tenants; only the
    // threshold differs, so their matches differ.
    let monitor = |threshold: &str| -> Monitor {
        serde_json::from_value(serde_json::json!({
            "name": "Large transfers", "networks": ["ethereum_mainnet"], "paused": false,
            "addresses": [{"address": format!("{:#x}", tokens[0]), "contract_spec": loadgen::erc20_abi()}],
            "match_conditions": {"functions": [], "events": [
                {"signature": "Transfer(address,address,uint256)", "expression": format!("value > {threshold}")}],
                "transactions": []},
            "trigger_conditions": [], "triggers": []
        }))
        .unwrap()
    };
    let mut m = EvmMatcher::new();
    m.upsert(
        MonitorKey::new("a", "large"),
        1,
        Arc::new(monitor("0")),
        "ethereum_mainnet",
    )
    .unwrap();
    m.upsert(
        MonitorKey::new("b", "large"),
        1,
        Arc::new(monitor("1000000000")),
        "ethereum_mainnet",
    )
    .unwrap();
    let result = m.evaluate(&block);
    let a = &result.by_tenant["a"];
    let b = result.by_tenant.get("b").map(Vec::as_slice).unwrap_or(&[]);
    assert!(!a.is_empty());
    assert!(a.len() > b.len(), "the lower threshold matches more");
    assert!(a.iter().all(|k| k.key.tenant == "a"));
    assert!(b.iter().all(|k| k.key.tenant == "b"));
    // Each tenant's matches are exactly what its own monitor finds alone.
    for (tenant, threshold) in [("a", "0"), ("b", "1000000000")] {
        let alone = EvmMonitor::compile(Arc::new(monitor(threshold)))
            .unwrap()
            .evaluate(&block, "ethereum_mainnet");
        let mine: Vec<_> = result
            .by_tenant
            .get(tenant)
            .into_iter()
            .flatten()
            .map(|k| k.matched.clone())
            .collect();
        assert_eq!(mine, alone);
    }
}

#[test]
fn updates_are_incremental() {
    let tokens = loadgen::popular_tokens(4);
    let block = loadgen::block(3, 9, &tokens);
    let monitors = loadgen::monitors(5, 20, 5, &tokens);
    let mut m = matcher_of(&monitors);
    let before = m.evaluate(&block);
    assert!(!before.is_empty());
    let addresses_before = m.watched_addresses().count();

    // Re-upserting the same version is a no-op.
    let (key, monitor) = &monitors[0];
    m.upsert(key.clone(), 1, Arc::new(monitor.clone()), "x")
        .unwrap();
    assert_eq!(m.evaluate(&block), before);

    // Removing every monitor of one tenant removes exactly that tenant's matches.
    let victim = before.by_tenant.keys().next().unwrap().clone();
    for (k, _) in monitors.iter().filter(|(k, _)| k.tenant == victim) {
        assert!(m.remove(k));
    }
    let after = m.evaluate(&block);
    assert!(!after.by_tenant.contains_key(&victim));
    for (tenant, matches) in &after.by_tenant {
        assert_eq!(matches, &before.by_tenant[tenant]);
    }
    assert!(m.watched_addresses().count() <= addresses_before);

    // A new version replaces the old one; a failing compile keeps the old one.
    let (key, monitor) = monitors.iter().find(|(k, _)| k.tenant != victim).unwrap();
    let mut changed = monitor.clone();
    changed.match_conditions.events = vec![];
    changed.match_conditions.functions = vec![];
    changed.match_conditions.transactions = vec![];
    m.upsert(key.clone(), 2, Arc::new(changed.clone()), "x")
        .unwrap();
    assert_eq!(m.version(key), Some(2));
    let mut broken = changed;
    broken.addresses[0].address = "not an address".into();
    assert!(m.upsert(key.clone(), 3, Arc::new(broken), "x").is_err());
    assert_eq!(m.version(key), Some(2));

    // Paused monitors are not held; removing everything leaves an empty index.
    let mut paused = monitor.clone();
    paused.paused = true;
    m.upsert(key.clone(), 4, Arc::new(paused), "x").unwrap();
    assert_eq!(m.version(key), None);
    for (k, _) in &monitors {
        m.remove(k);
    }
    assert!(m.is_empty());
    assert_eq!(m.watched_addresses().count(), 0);
    assert!(m.evaluate(&block).is_empty());
}

/// The corpus's Stellar ledgers, grouped as a watcher would publish them.
fn real_ledgers() -> Vec<crate::stellar::StellarBlockData> {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/compat/chain/stellar");
    let (Ok(txs), Ok(events)) = (
        std::fs::read_to_string(dir.join("transactions.json")),
        std::fs::read_to_string(dir.join("events.json")),
    ) else {
        eprintln!("compatibility corpus absent: skipping the Stellar equivalence check");
        return Vec::new();
    };
    let txs: Vec<crate::stellar::StellarTransaction> = serde_json::from_str(&txs).unwrap();
    let events: Vec<crate::stellar::StellarEvent> = serde_json::from_str(&events).unwrap();
    let mut ledgers: std::collections::BTreeMap<u32, crate::stellar::StellarBlockData> =
        Default::default();
    for tx in txs {
        ledgers
            .entry(tx.ledger)
            .or_insert_with(|| crate::stellar::StellarBlockData {
                ledger: crate::stellar::StellarLedger {
                    hash: String::new(),
                    sequence: tx.ledger,
                    other: Default::default(),
                },
                transactions: vec![],
                events: vec![],
            })
            .transactions
            .push(tx);
    }
    for e in events {
        if let Some(l) = ledgers.get_mut(&e.ledger) {
            l.events.push(e);
        }
    }
    ledgers.into_values().collect()
}

#[test]
fn the_stellar_matcher_equals_monitor_by_monitor_on_real_ledgers() {
    let ledgers = real_ledgers();
    if ledgers.is_empty() {
        return;
    }
    let contracts = [
        "CBIELTK6YBZJU5UP2WWQEUCYKLPU6AUNZ2BQ4WWFEIE3USCIHMXQDAMA",
        "CBWRWC2IFNRXKAW2HG5473V5U25OMUKVIE3BFZBIWOOD3VLEIBUIOQG6",
        "CDMZ6LU66KEMLKI3EJBIGXTZ4KZ2CRTSHZETMY3QQZBWRKVKB5EIOHTX",
        "CAVLP5DH2GJPZMVO7IJY4CVOD5MWEFTJFVPD2YY2FQXOQHRGHK4D6HLP",
        "GCHTFFIG3GG7SWIKKH4NXF3SARDCOAOPCUTP4EOTNULDSAU75NOZ27LR",
    ];
    let variants = [
        serde_json::json!({"functions": [{"signature": "transfer(Address,Address,I128)", "expression": "2 > 1000"}], "events": [], "transactions": []}),
        serde_json::json!({"functions": [], "events": [{"signature": "transfer(Address,Address,String,I128)", "expression": "3 >= 2240"}], "transactions": [{"status": "Success"}]}),
        serde_json::json!({"functions": [], "events": [], "transactions": [{"status": "Failure"}]}),
        serde_json::json!({"functions": [], "events": [], "transactions": []}),
        serde_json::json!({"functions": [{"signature": "increment()"}], "events": [], "transactions": [{"status": "Any", "expression": "ledger > 800000"}]}),
    ];
    let mut monitors = Vec::new();
    for (i, variant) in variants.iter().enumerate() {
        for (j, contract) in contracts.iter().enumerate() {
            let addresses = if (i + j) % 4 == 0 {
                vec![]
            } else {
                vec![serde_json::json!({"address": contract})]
            };
            let monitor: Monitor = serde_json::from_value(serde_json::json!({
                "name": format!("m{i}-{j}"), "networks": ["stellar_testnet"], "paused": false,
                "addresses": addresses, "match_conditions": variant, "trigger_conditions": [], "triggers": []
            }))
            .unwrap();
            monitors.push((
                MonitorKey::new(format!("t{}", j % 2), format!("m{i}-{j}")),
                monitor,
            ));
        }
    }
    let mut matcher = StellarMatcher::new();
    for (key, monitor) in &monitors {
        matcher
            .upsert(key.clone(), 1, Arc::new(monitor.clone()), "stellar_testnet")
            .unwrap();
    }
    let mut total = 0;
    for ledger in &ledgers {
        let mut expected: Vec<(String, usize, String)> = Vec::new();
        for (key, monitor) in &monitors {
            let compiled =
                crate::stellar::StellarMonitor::compile(Arc::new(monitor.clone())).unwrap();
            for (t, tx) in ledger.transactions.iter().enumerate() {
                let events: Vec<&crate::stellar::StellarEvent> = ledger
                    .events
                    .iter()
                    .filter(|e| e.tx_hash == tx.tx_hash)
                    .collect();
                if let Some(m) =
                    compiled.evaluate_transaction(ledger, tx, &events, "stellar_testnet")
                {
                    expected.push((key.tenant.clone(), t, fingerprint(key, t, &m)));
                }
            }
        }
        expected.sort_by(|a, b| (&a.0, a.1, &a.2).cmp(&(&b.0, b.1, &b.2)));
        let found: Vec<String> = matcher
            .evaluate(ledger)
            .iter()
            .map(|k| fingerprint(&k.key, k.transaction_index, &k.matched))
            .collect();
        let expected: Vec<String> = expected.into_iter().map(|(_, _, f)| f).collect();
        assert_eq!(found, expected);
        total += found.len();
    }
    assert!(total >= 10, "the variants do match: {total}");
}
