//! Property tests: external input (RPC data, XDR, config JSON) never panics the decoders
//! and parsers, whatever the bytes.

use proptest::prelude::*;
use std::sync::Arc;

use crate::config::{Monitor, Network, Trigger};
use crate::evm::EvmLog;
use crate::evm::abi::{EventItem, FunctionItem};

/// Cases per property: `PROPTEST_CASES` when set (for long runs), else `default`.
pub(crate) fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn transfer() -> EventItem {
    EventItem::new(
        alloy_json_abi::Event::parse(
            "event Transfer(address indexed from, address indexed to, uint256 value)",
        )
        .unwrap(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(crate::robustness::cases(1024)))]

    #[test]
    fn evm_decoding_never_panics(
        topics in proptest::collection::vec(any::<[u8; 32]>(), 0..5),
        data in proptest::collection::vec(any::<u8>(), 0..200),
        input in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let item = transfer();
        let mut topics: Vec<_> = topics.into_iter().map(alloy_primitives::B256::from).collect();
        if !topics.is_empty() {
            topics[0] = item.topic0;
        }
        let log = EvmLog {
            address: alloy_primitives::Address::ZERO,
            topics,
            data: data.into(),
            log_index: None,
            transaction_hash: None,
            transaction_index: None,
            other: Default::default(),
        };
        let _ = item.decode(&log);
        let f = FunctionItem::parse("f(uint24,bytes,(address,string)[],int8[3])").unwrap();
        let _ = f.decode(&input);
    }

    #[test]
    fn xdr_decoding_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
        let _ = crate::stellar::decode::scval_from_base64(&b64);
        if let Ok(env) = crate::stellar::decode::envelope_from_base64(&b64) {
            let _ = crate::stellar::decode::decode_envelope(&env);
        }
        let _ = crate::stellar::decode::decode_event(&[b64.clone(), b64.clone()], &b64);
    }

    #[test]
    fn config_parsing_never_panics(text in "\\PC{0,200}") {
        let _ = crate::config::parse_json::<Network>("n", &text);
        let _ = crate::config::parse_json::<Monitor>("m", &text);
        let _ = crate::config::parse_json::<std::collections::BTreeMap<String, Trigger>>("t", &text);
    }

    #[test]
    fn monitor_compilation_never_panics(
        address in "(0x)?[0-9a-fA-FGCX]{0,56}",
        signature in "[a-zA-Z_]{0,8}\\(([a-z0-9\\[\\]]{0,10},?){0,3}\\)",
        expression in "\\PC{0,40}",
    ) {
        let monitor: Monitor = serde_json::from_value(serde_json::json!({
            "name": "m", "networks": ["n"], "paused": false,
            "addresses": [{"address": address}],
            "match_conditions": {"functions": [{"signature": signature, "expression": expression}],
                                 "events": [], "transactions": [{"status": "Any", "expression": expression}]},
            "trigger_conditions": [], "triggers": []
        })).unwrap();
        let shared = Arc::new(monitor);
        let _ = crate::evm::EvmMonitor::compile(shared.clone());
        let _ = crate::stellar::StellarMonitor::compile(shared);
    }
}
