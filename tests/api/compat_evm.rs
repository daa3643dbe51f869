//! The EVM monitor of the compatibility corpus against its real blocks and receipts.

use std::sync::Arc;

use monitor::config::Monitor;
use monitor::evm::{EvmBlock, EvmBlockData, EvmMonitor, EvmReceipt};
use monitor::matches::MonitorMatch;

use crate::compat;

/// The corpus's blocks, each with the receipts recorded for it.
fn blocks(dir: &std::path::Path) -> Vec<EvmBlockData> {
    let raw = compat::read_json(dir.join("chain/evm/blocks.json"));
    let receipts: Vec<EvmReceipt> = serde_json::from_value(compat::read_json(
        dir.join("chain/evm/transaction_receipts.json"),
    ))
    .unwrap();
    raw.as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let block: EvmBlock = serde_json::from_value(b["EVM"].clone()).unwrap();
            let hashes: Vec<_> = block.transactions.iter().map(|t| t.hash).collect();
            let receipts = receipts
                .iter()
                .filter(|r| hashes.contains(&r.transaction_hash))
                .cloned()
                .collect();
            EvmBlockData { block, receipts }
        })
        .collect()
}

fn evaluate(monitor: &EvmMonitor, blocks: &[EvmBlockData]) -> Vec<(u64, String, MonitorMatch)> {
    blocks
        .iter()
        .flat_map(|b| {
            monitor
                .evaluate(b, "ethereum_mainnet")
                .into_iter()
                .map(move |m| (b.block.number.to::<u64>(), m.transaction_hash(), m))
        })
        .collect()
}

#[test]
fn the_usdc_monitor_matches_exactly_the_expected_transactions() {
    let Some(dir) = compat::dir("the_usdc_monitor_matches_exactly_the_expected_transactions")
    else {
        return;
    };
    let config: Monitor = serde_json::from_value(compat::read_json(
        dir.join("chain/evm/monitors/monitor.json"),
    ))
    .unwrap();
    let monitor = EvmMonitor::compile(Arc::new(config)).unwrap();
    let blocks = blocks(&dir);
    assert_eq!(blocks.len(), 5);
    let matches = evaluate(&monitor, &blocks);

    // How the expectation was read off the data:
    // - the monitor needs (a call or an event) AND a Success transaction with value >= 0;
    // - only two transactions have a successful receipt and touch a monitored address:
    //   0xd5069b… in block 21306058 calls USDC's transfer (input 0xa9059cbb, recipient
    //   word 0xf423d9c1…, amount word 0x1e7aafcb0 = 8181710000) and its receipt's one log
    //   is USDC's Transfer from 0x58b70406… to 0xf423d9c1… of 0x1e7aafcb0, which passes
    //   the event expression (> 8000000000); 0x6fb716… in Sepolia block 8219488 calls
    //   increment() (input 0xd09de08a) on 0xf18206b2…;
    // - the other USDC calls (blocks 21306059–60) have no receipt, so no Success status.
    let found: Vec<(u64, String)> = matches.iter().map(|(n, h, _)| (*n, h.clone())).collect();
    assert_eq!(
        found,
        [
            (
                21306058,
                "0xd5069b22a3a89a36d592d5a1f72a281bc5d11d6d0bac6f0a878c13abb764b6d8".to_owned()
            ),
            (
                8219488,
                "0x6fb716f3fc4e2edec31f01c8bb67e565e3efacba965090a38835d3f297232bf6".to_owned()
            ),
        ]
    );

    let transfer = &matches[0].2;
    let on = transfer.matched_on();
    assert_eq!(on.functions.len(), 1);
    assert_eq!(on.functions[0].signature, "transfer(address, uint256)");
    assert_eq!(on.events.len(), 1);
    assert_eq!(on.transactions.len(), 1);
    let args = transfer.matched_on_args().unwrap();
    let call = &args.functions.as_ref().unwrap()[0];
    assert_eq!(call.signature, "transfer(address,uint256)");
    assert_eq!(call.hex_signature.as_deref(), Some("a9059cbb"));
    assert_eq!(
        call.arg("to"),
        Some("0xf423d9c1ffeb6386639d024f3b241dab2331b635")
    );
    assert_eq!(call.arg("value"), Some("8181710000"));
    let event = &args.events.as_ref().unwrap()[0];
    assert_eq!(event.signature, "Transfer(address,address,uint256)");
    assert_eq!(
        event.hex_signature.as_deref(),
        Some("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")
    );
    let entries = event.args.as_ref().unwrap();
    let rendered: Vec<(&str, &str, &str, bool)> = entries
        .iter()
        .map(|a| {
            (
                a.name.as_str(),
                a.value.as_str(),
                a.kind.as_str(),
                a.indexed,
            )
        })
        .collect();
    assert_eq!(
        rendered,
        [
            (
                "from",
                "0x58b704065b7aff3ed351052f8560019e05925023",
                "address",
                true
            ),
            (
                "to",
                "0xf423d9c1ffeb6386639d024f3b241dab2331b635",
                "address",
                true
            ),
            ("value", "8181710000", "uint256", false),
        ]
    );

    let increment = &matches[1].2;
    assert_eq!(increment.matched_on().functions[0].signature, "increment()");
    assert!(increment.matched_on().events.is_empty());

    // The OZ match shape.
    let json = serde_json::to_value(transfer).unwrap();
    let evm = &json["EVM"];
    for key in [
        "monitor",
        "transaction",
        "receipt",
        "logs",
        "network_slug",
        "matched_on",
        "matched_on_args",
    ] {
        assert!(evm.get(key).is_some(), "{key} missing from {evm}");
    }
    assert_eq!(evm["monitor"]["name"], "Mint USDC Token");
    assert_eq!(
        evm["matched_on_args"]["events"][0]["args"][2]["value"],
        "8181710000"
    );
    let back: MonitorMatch = serde_json::from_value(json).unwrap();
    assert_eq!(&back, transfer);
}

#[test]
fn without_receipts_status_any_still_matches_calls_by_their_arguments() {
    let Some(dir) =
        compat::dir("without_receipts_status_any_still_matches_calls_by_their_arguments")
    else {
        return;
    };
    let blocks = blocks(&dir);
    let monitor: Monitor = serde_json::from_value(serde_json::json!({
        "name": "USDC transfers over 500",
        "networks": ["ethereum_mainnet"],
        "paused": false,
        "addresses": [{"address": "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48",
                       "contract_spec": compat::read_json(dir.join("chain/evm/contract_specs/contract_spec.json"))}],
        "match_conditions": {
            "functions": [{"signature": "transfer(address,uint256)", "expression": "value > 500000000"}],
            "events": [],
            "transactions": [{"status": "Any"}]
        },
        "trigger_conditions": [],
        "triggers": []
    }))
    .unwrap();
    let monitor = EvmMonitor::compile(Arc::new(monitor)).unwrap();

    // Expected, computed independently of the ABI decoder: every transaction to USDC
    // whose input starts with transfer's selector, reading the amount straight from the
    // second 32-byte word of the calldata.
    let usdc = "0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48";
    let raw = compat::read_json(dir.join("chain/evm/blocks.json"));
    let mut expected = Vec::new();
    for block in raw.as_array().unwrap() {
        for tx in block["EVM"]["transactions"].as_array().unwrap() {
            let input = tx["input"].as_str().unwrap();
            let to = tx["to"].as_str().unwrap_or_default().to_lowercase();
            if to == usdc && input.starts_with("0xa9059cbb") {
                let amount = u128::from_str_radix(&input[10 + 64..10 + 128], 16).unwrap();
                if amount > 500_000_000 {
                    expected.push(tx["hash"].as_str().unwrap().to_owned());
                }
            }
        }
    }
    assert_eq!(expected.len(), 4, "the data has four such transfers");
    let found: Vec<String> = evaluate(&monitor, &blocks)
        .into_iter()
        .map(|(_, h, _)| h)
        .collect();
    assert_eq!(found, expected);
}
