//! Bad values in every kind of config file: each gives a problem at the right JSON
//! path with a clear reason, never a panic.

use serde_json::{Value, json};

use super::*;

fn network_problems(v: Value) -> Vec<(String, String)> {
    match from_value::<Network>("n.json", v) {
        Err(p) => vec![(p.path, p.message)],
        Ok(n) => {
            let mut problems = Problems::new("n.json");
            n.validate(&mut problems);
            problems
                .into_vec()
                .into_iter()
                .map(|p| (p.path, p.message))
                .collect()
        }
    }
}

fn evm_network() -> Value {
    json!({
        "network_type": "EVM", "slug": "eth", "name": "Ethereum",
        "rpc_urls": [{"type_": "rpc", "url": {"type": "plain", "value": "https://rpc.example"}, "weight": 100}],
        "chain_id": 1, "block_time_ms": 12000, "confirmation_blocks": 12, "cron_schedule": "0 */1 * * * *"
    })
}

fn with(mut base: Value, path: &[&str], value: Value) -> Value {
    let mut cur = &mut base;
    for (i, key) in path.iter().enumerate() {
        if i + 1 == path.len() {
            if value.is_null() {
                cur.as_object_mut().unwrap().remove(*key);
            } else {
                cur[*key] = value.clone();
            }
        } else if let Ok(index) = key.parse::<usize>() {
            cur = &mut cur[index];
        } else {
            cur = &mut cur[*key];
        }
    }
    base
}

fn assert_problem(problems: &[(String, String)], path: &str, needle: &str) {
    assert!(
        problems
            .iter()
            .any(|(p, m)| p == path && m.contains(needle)),
        "expected {path}: …{needle}… in {problems:#?}"
    );
}

#[test]
fn a_valid_network_has_no_problems() {
    assert!(network_problems(evm_network()).is_empty());
}

#[test]
fn bad_network_values() {
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            with(evm_network(), &["extra"], json!(1)),
            "$.extra",
            "unknown field `extra`",
        ),
        (
            with(evm_network(), &["slug"], json!("Bad-Slug")),
            "$.slug",
            "[a-z0-9_]+",
        ),
        (
            with(evm_network(), &["name"], json!(" ")),
            "$.name",
            "must not be empty",
        ),
        (
            with(evm_network(), &["rpc_urls", "0", "weight"], json!(101)),
            "$.rpc_urls[0].weight",
            "between 0 and 100",
        ),
        (
            with(evm_network(), &["rpc_urls", "0", "weight"], json!(0)),
            "$.rpc_urls",
            "weight 0",
        ),
        (
            with(
                evm_network(),
                &["rpc_urls", "0", "url", "value"],
                json!("ftp://x"),
            ),
            "$.rpc_urls[0].url.value",
            "not an http(s) URL",
        ),
        (
            with(
                evm_network(),
                &["rpc_urls", "0", "url", "type"],
                json!("aws"),
            ),
            "$.rpc_urls[0].url",
            "unknown secret type",
        ),
        (
            with(evm_network(), &["rpc_urls"], json!([])),
            "$.rpc_urls",
            "at least one",
        ),
        (
            with(evm_network(), &["chain_id"], Value::Null),
            "$.chain_id",
            "required for EVM",
        ),
        (
            with(evm_network(), &["network_passphrase"], json!("x")),
            "$.network_passphrase",
            "for Stellar",
        ),
        (
            with(evm_network(), &["block_time_ms"], json!(50)),
            "$.block_time_ms",
            "at least 100",
        ),
        (
            with(evm_network(), &["block_time_ms"], json!(-5)),
            "$.block_time_ms",
            "invalid value",
        ),
        (
            with(evm_network(), &["confirmation_blocks"], json!(0)),
            "$.confirmation_blocks",
            "greater than 0",
        ),
        (
            with(evm_network(), &["cron_schedule"], json!("* * *")),
            "$.cron_schedule",
            "3 fields",
        ),
        (
            with(
                evm_network(),
                &["cron_schedule"],
                json!("0 */1 * * * * * *"),
            ),
            "$.cron_schedule",
            "8 fields",
        ),
        (
            with(evm_network(), &["cron_schedule"], json!("0 99 * * * *")),
            "$.cron_schedule",
            "invalid cron",
        ),
        (
            with(evm_network(), &["max_past_blocks"], json!("lots")),
            "$.max_past_blocks",
            "\"unlimited\"",
        ),
        (
            with(evm_network(), &["max_past_blocks"], json!(0)),
            "$.max_past_blocks",
            "greater than 0",
        ),
        (
            with(evm_network(), &["network_type"], json!("evm")),
            "$.network_type",
            "unsupported network type \"evm\"",
        ),
        (
            with(
                evm_network(),
                &["recovery_config"],
                json!({"enabled": true}),
            ),
            "$.recovery_config",
            "missing field",
        ),
    ];
    for (value, path, needle) in cases {
        assert_problem(&network_problems(value), path, needle);
    }
    let stellar = with(
        with(evm_network(), &["network_type"], json!("Stellar")),
        &["chain_id"],
        Value::Null,
    );
    assert_problem(
        &network_problems(stellar),
        "$.network_passphrase",
        "required for Stellar",
    );
}

#[test]
fn max_past_blocks_defaults_from_the_cron_interval() {
    let n: Network = serde_json::from_value(evm_network()).unwrap();
    // One minute of 12 s blocks (5) + 12 confirmations + 1.
    assert_eq!(n.effective_max_past_blocks(), Some(18));
    let unlimited: Network = serde_json::from_value(with(
        evm_network(),
        &["max_past_blocks"],
        json!("unlimited"),
    ))
    .unwrap();
    assert_eq!(unlimited.effective_max_past_blocks(), None);
}

fn evm_monitor() -> Value {
    json!({
        "name": "m", "networks": ["eth"], "paused": false,
        "addresses": [{"address": "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48", "contract_spec": [
            {"type": "event", "name": "Transfer", "anonymous": false, "inputs": [
                {"name": "from", "type": "address", "indexed": true},
                {"name": "to", "type": "address", "indexed": true},
                {"name": "value", "type": "uint256", "indexed": false}]},
            {"type": "function", "name": "transfer", "stateMutability": "nonpayable", "outputs": [],
             "inputs": [{"name": "to", "type": "address"}, {"name": "value", "type": "uint256"}]}
        ]}],
        "match_conditions": {
            "functions": [{"signature": "transfer(address,uint256)", "expression": "value > 1"}],
            "events": [{"signature": "Transfer(address,address,uint256)", "expression": null}],
            "transactions": [{"status": "Success", "expression": "value >= 0"}]
        },
        "trigger_conditions": [],
        "triggers": []
    })
}

fn monitor_problems(v: Value, kind: NetworkType) -> Vec<(String, String)> {
    match from_value::<Monitor>("m.json", v) {
        Err(p) => vec![(p.path, p.message)],
        Ok(m) => {
            let mut problems = Problems::new("m.json");
            validate_monitor(
                &m,
                &|s| {
                    if s == "eth" {
                        Ok(kind)
                    } else {
                        Err(format!("no {s}"))
                    }
                },
                None,
                &mut problems,
            );
            problems
                .into_vec()
                .into_iter()
                .map(|p| (p.path, p.message))
                .collect()
        }
    }
}

#[test]
fn a_valid_monitor_has_no_problems() {
    assert!(monitor_problems(evm_monitor(), NetworkType::Evm).is_empty());
}

#[test]
fn bad_monitor_values() {
    let f = |path: &[&str], v: Value| with(evm_monitor(), path, v);
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            f(&["match_conditions", "transactions"], Value::Null),
            "$.match_conditions",
            "missing field `transactions`",
        ),
        (f(&["paused"], json!("no")), "$.paused", "invalid type"),
        (f(&["name"], json!("")), "$.name", "must not be empty"),
        (f(&["networks"], json!([])), "$.networks", "at least one"),
        (
            f(&["networks"], json!(["nope"])),
            "$.networks[0]",
            "no nope",
        ),
        (
            f(&["addresses", "0", "address"], json!("0x1234")),
            "$.addresses[0].address",
            "not an EVM address",
        ),
        (
            f(&["addresses", "0", "contract_spec"], json!({"abi": []})),
            "$.addresses[0].contract_spec",
            "JSON ABI array",
        ),
        (
            f(
                &["addresses", "0", "contract_spec"],
                json!([{"type": "event"}]),
            ),
            "$.addresses[0].contract_spec",
            "invalid ABI",
        ),
        (
            f(
                &["match_conditions", "functions", "0", "signature"],
                json!("approve(address,uint256)"),
            ),
            "$.match_conditions.functions[0].signature",
            "not in the contract_spec",
        ),
        (
            f(
                &["match_conditions", "functions", "0", "signature"],
                json!("transfer"),
            ),
            "$.match_conditions.functions[0].signature",
            "must be name(...)",
        ),
        (
            f(
                &["match_conditions", "functions", "0", "expression"],
                json!("value >"),
            ),
            "$.match_conditions.functions[0].expression",
            "column 8: expected a value",
        ),
        (
            f(
                &["match_conditions", "functions", "0", "expression"],
                json!("amount > 1"),
            ),
            "$.match_conditions.functions[0].expression",
            "unknown parameter 'amount'",
        ),
        (
            f(
                &["match_conditions", "functions", "0", "expression"],
                json!("5 > 1"),
            ),
            "$.match_conditions.functions[0].expression",
            "no parameter at position 5",
        ),
        (
            f(
                &["match_conditions", "events", "0", "expression"],
                json!("(from == 0x1"),
            ),
            "$.match_conditions.events[0].expression",
            "column 13: expected ')'",
        ),
        (
            f(
                &["match_conditions", "transactions", "0", "expression"],
                json!("gas > 1"),
            ),
            "$.match_conditions.transactions[0].expression",
            "unknown parameter 'gas'",
        ),
        (
            f(
                &["match_conditions", "transactions", "0", "status"],
                json!("Pending"),
            ),
            "$.match_conditions.transactions[0].status",
            "unknown variant `Pending`",
        ),
        (
            f(
                &["trigger_conditions"],
                json!([{"script_path": "x.py", "language": "Ruby", "timeout_ms": 1}]),
            ),
            "$.trigger_conditions[0].language",
            "unknown variant `Ruby`",
        ),
    ];
    for (value, path, needle) in cases {
        assert_problem(&monitor_problems(value, NetworkType::Evm), path, needle);
    }
    // An event with no ABI cannot be decoded (which parameters are indexed is unknown).
    let no_abi = f(&["addresses", "0", "contract_spec"], Value::Null);
    assert_problem(
        &monitor_problems(no_abi, NetworkType::Evm),
        "$.match_conditions.events[0].signature",
        "needs a contract_spec",
    );
    // On Stellar, the same addresses and specs are wrong.
    let problems = monitor_problems(evm_monitor(), NetworkType::Stellar);
    assert_problem(
        &problems,
        "$.addresses[0].address",
        "not a Stellar account or contract address",
    );
}

#[test]
fn bad_trigger_values() {
    let webhook = json!({"name": "w", "trigger_type": "webhook", "config": {
        "url": {"type": "plain", "value": "https://h.example"}, "message": {"title": "t", "body": "b"}}});
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            with(webhook.clone(), &["trigger_type"], json!("sms")),
            "$.k.trigger_type",
            "unknown variant `sms`",
        ),
        (
            with(webhook.clone(), &["config", "message"], Value::Null),
            "$.k.config.message",
            "required in template",
        ),
        (
            with(webhook.clone(), &["config", "method"], json!("PATCH")),
            "$.k.config.method",
            "GET, POST, PUT or DELETE",
        ),
        (
            with(
                webhook.clone(),
                &["config", "headers"],
                json!({"X-A": "1\r\nX-B: 2"}),
            ),
            "$.k.config.headers.X-A",
            "one line",
        ),
        (
            with(
                webhook.clone(),
                &["config", "headers"],
                json!({"Bad Header": "1"}),
            ),
            "$.k.config.headers",
            "not a valid header name",
        ),
        (
            with(
                webhook.clone(),
                &["config", "url", "value"],
                json!("not a url"),
            ),
            "$.k.config.url.value",
            "http(s)",
        ),
        (
            with(
                webhook,
                &["config", "retry_policy"],
                json!({"initial_backoff": 9000, "max_backoff": 10}),
            ),
            "$.k.config.retry_policy.initial_backoff",
            "must not exceed",
        ),
        (
            json!({"name": "d", "trigger_type": "discord", "config": {"discord_url": {"type": "plain", "value": "https://d.example"},
                "message": {"title": "t", "body": "x".repeat(2001)}}}),
            "$.k.config.message.body",
            "at most 2000",
        ),
        (
            json!({"name": "e", "trigger_type": "email", "config": {"host": "smtp.example", "username": {"type": "plain", "value": "u"},
                "password": {"type": "plain", "value": "p"}, "sender": "not-an-email", "recipients": ["ok@x.example", "bad"],
                "message": {"title": "t\nBcc: evil@x", "body": "b"}}}),
            "$.k.config.recipients[1]",
            "not an email address",
        ),
    ];
    for (value, path, needle) in cases {
        let problems: Vec<(String, String)> = match from_value::<
            std::collections::BTreeMap<String, Trigger>,
        >("t.json", json!({"k": value}))
        {
            Err(p) => vec![(p.path, p.message)],
            Ok(map) => {
                let mut problems = Problems::new("t.json");
                map["k"].validate("$.k", None, &mut problems);
                problems
                    .into_vec()
                    .into_iter()
                    .map(|p| (p.path, p.message))
                    .collect()
            }
        };
        assert_problem(&problems, path, needle);
    }
}
