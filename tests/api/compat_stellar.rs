//! The Stellar monitor of the compatibility corpus against its recorded ledgers,
//! transactions and events.

use std::collections::BTreeMap;
use std::sync::Arc;

use monitor::config::Monitor;
use monitor::stellar::{
    StellarBlockData, StellarEvent, StellarLedger, StellarMonitor, StellarTransaction,
};

use crate::compat;

/// Groups the recorded transactions and events into ledgers. The corpus holds three
/// full ledger headers; other ledgers its transactions belong to get a header with
/// only their sequence.
fn ledgers(dir: &std::path::Path) -> Vec<StellarBlockData> {
    let headers: Vec<StellarLedger> = compat::read_json(dir.join("chain/stellar/blocks.json"))
        .as_array()
        .unwrap()
        .iter()
        .map(|b| serde_json::from_value(b["Stellar"].clone()).unwrap())
        .collect();
    let txs: Vec<StellarTransaction> = serde_json::from_value(compat::read_json(
        dir.join("chain/stellar/transactions.json"),
    ))
    .unwrap();
    let events: Vec<StellarEvent> =
        serde_json::from_value(compat::read_json(dir.join("chain/stellar/events.json"))).unwrap();
    let mut by_ledger: BTreeMap<u32, StellarBlockData> = BTreeMap::new();
    let header = |sequence: u32| {
        headers
            .iter()
            .find(|h| h.sequence == sequence)
            .cloned()
            .unwrap_or(StellarLedger {
                hash: String::new(),
                sequence,
                other: Default::default(),
            })
    };
    for tx in txs {
        by_ledger
            .entry(tx.ledger)
            .or_insert_with(|| StellarBlockData {
                ledger: header(tx.ledger),
                transactions: vec![],
                events: vec![],
            })
            .transactions
            .push(tx);
    }
    for event in events {
        if let Some(block) = by_ledger.get_mut(&event.ledger) {
            block.events.push(event);
        }
    }
    by_ledger.into_values().collect()
}

fn run(
    monitor: &StellarMonitor,
    blocks: &[StellarBlockData],
) -> Vec<monitor::matches::MonitorMatch> {
    blocks
        .iter()
        .flat_map(|b| monitor.evaluate(b, "stellar_testnet"))
        .collect()
}

#[test]
fn the_stellar_monitor_matches_exactly_the_expected_transactions() {
    let Some(dir) = compat::dir("the_stellar_monitor_matches_exactly_the_expected_transactions")
    else {
        return;
    };
    let mut config = compat::read_json(dir.join("chain/stellar/monitors/monitor.json"));
    // The corpus keeps the contracts' SEP-48 spec beside the monitor (as our watcher
    // would fetch it on chain); it describes transfer, upsert_data and increment, the
    // functions of CBIELTK6…, CBWRWC2I… and CDMZ6LU6….
    let spec = compat::read_json(dir.join("chain/stellar/contract_specs/contract_spec.json"));
    for address in config["addresses"].as_array_mut().unwrap() {
        let a = address["address"].as_str().unwrap();
        if ["CBIELTK6", "CBWRWC2I", "CDMZ6LU6"]
            .iter()
            .any(|p| a.starts_with(p))
        {
            address["contract_spec"] = spec.clone();
        }
    }
    let config: Monitor = serde_json::from_value(config).unwrap();
    let monitor = StellarMonitor::compile(Arc::new(config)).unwrap();
    let blocks = ledgers(&dir);
    let matches = run(&monitor, &blocks);

    // How the expectation was read off the data (envelopes decoded with the Python
    // stellar-sdk 16, an independent XDR implementation: `TransactionEnvelope.from_xdr`):
    // - 2c89fc33… (ledger 317598, SUCCESS) calls transfer(GDF32CQI…, CC7YMFMY…, 2240 i128)
    //   on the monitored CBIELTK6…: 2240 > 1000; its event in events.json is transfer with
    //   topics [GDF32CQI…, CC7YMFMY…, "USDC:GBBD47IF…"] and data 2240 (i128), which passes
    //   `0 == GDF32… AND 3 >= 2240`;
    // - FAKE5a3a91… (ledger 777826, SUCCESS) calls upsert_data({myKey1: 1234 u32,
    //   myKey2: "Hello, world!"}) on the monitored CBWRWC2I…;
    // - every other transaction either touches no monitored contract, or (80fec04b…
    //   increment, 77b923f3… set_price) calls a function no condition names.
    let found: Vec<(u32, String)> = matches
        .iter()
        .map(|m| match m {
            monitor::matches::MonitorMatch::Stellar(s) => {
                (s.ledger.sequence, s.transaction.tx_hash.clone())
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        found,
        [
            (
                317598,
                "2c89fc3311bc275415ed6a764c77d7b0349cb9f4ce37fd2bbfc6604920811503".to_owned()
            ),
            (
                777826,
                "FAKE5a3a9153e19002517935a5df291b81a341b98ccd80f0919d78cea5ed29d8".to_owned()
            ),
        ]
    );

    let transfer = matches[0].matched_on_args().unwrap();
    let call = &transfer.functions.as_ref().unwrap()[0];
    assert_eq!(call.signature, "transfer(Address,Address,I128)");
    assert_eq!(
        call.arg("from"),
        Some("GDF32CQINROD3E2LMCGZUDVMWTXCJFR5SBYVRJ7WAAIAS3P7DCVWZEFY")
    );
    assert_eq!(
        call.arg("to"),
        Some("CC7YMFMYZM2HE6O3JT5CNTFBHVXCZTV7CEYT56IGBHR4XFNTGTN62CPT")
    );
    assert_eq!(call.arg("amount"), Some("2240"));
    let event = &transfer.events.as_ref().unwrap()[0];
    assert_eq!(event.signature, "transfer(Address,Address,String,I128)");
    let args: Vec<(&str, &str, &str, bool)> = event
        .args
        .as_ref()
        .unwrap()
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
        args,
        [
            (
                "0",
                "GDF32CQINROD3E2LMCGZUDVMWTXCJFR5SBYVRJ7WAAIAS3P7DCVWZEFY",
                "Address",
                true
            ),
            (
                "1",
                "CC7YMFMYZM2HE6O3JT5CNTFBHVXCZTV7CEYT56IGBHR4XFNTGTN62CPT",
                "Address",
                true
            ),
            (
                "2",
                "USDC:GBBD47IF6LWK7P7MDEVSCWR7DPUWV3NY3DTQEVFL4NAT4AQH3ZLLFLA5",
                "String",
                true
            ),
            ("3", "2240", "I128", false),
        ]
    );
    assert_eq!(matches[0].matched_on().events.len(), 1);
    assert_eq!(matches[0].matched_on().transactions.len(), 1);

    let upsert = matches[1].matched_on_args().unwrap();
    let call = &upsert.functions.as_ref().unwrap()[0];
    assert_eq!(call.signature, "upsert_data(Map<String,String>)");
    assert_eq!(
        call.arg("data"),
        Some(r#"{"myKey1":1234,"myKey2":"Hello, world!"}"#)
    );

    let json = serde_json::to_value(&matches[0]).unwrap();
    for key in [
        "monitor",
        "transaction",
        "ledger",
        "events",
        "network_slug",
        "matched_on",
        "matched_on_args",
    ] {
        assert!(json["Stellar"].get(key).is_some(), "{key} missing");
    }
}

#[test]
fn failed_transactions_match_failure_conditions_only() {
    let Some(dir) = compat::dir("failed_transactions_match_failure_conditions_only") else {
        return;
    };
    let blocks = ledgers(&dir);
    let monitor = |status: &str| {
        let config: Monitor = serde_json::from_value(serde_json::json!({
            "name": "Failures of one account",
            "networks": ["stellar_testnet"],
            "paused": false,
            "addresses": [{"address": "GCHTFFIG3GG7SWIKKH4NXF3SARDCOAOPCUTP4EOTNULDSAU75NOZ27LR"}],
            "match_conditions": {"functions": [], "events": [], "transactions": [{"status": status}]},
            "trigger_conditions": [],
            "triggers": []
        }))
        .unwrap();
        StellarMonitor::compile(Arc::new(config)).unwrap()
    };
    // The three transactions whose source is GCHTFFIG… are all FAILED (read with the
    // Python stellar-sdk as above).
    let failed: Vec<String> = run(&monitor("Failure"), &blocks)
        .iter()
        .map(|m| m.transaction_hash())
        .collect();
    assert_eq!(
        failed,
        [
            "5dc68f8a0fa6ee5b3d81a950378d1504da03d21f68d133440a81172650951be4",
            "ee0c376af2c24835befc41714d5da09b29bab4b28f387f95090ac4976c98d5a5",
            "a7d386b9642663d7cdcc7b2bba3dd0be6f5bdcbef08a1a047f257c26b0af5ac7",
        ]
    );
    assert!(run(&monitor("Success"), &blocks).is_empty());
    assert_eq!(run(&monitor("Any"), &blocks).len(), 3);
}
