//! `testMonitor` and `stellar-monitor test-monitor`: what would have fired over a block
//! range, from a real node, with nothing stored or sent.

use serde_json::json;

use crate::anvil::Anvil;
use crate::gql::code;
use crate::helpers::spawn_app_sqlite;

/// A monitor on the test token's transfers above 500.
fn token_monitor(token: &str) -> serde_json::Value {
    json!({
        "name": "large", "networks": ["anvil"], "paused": false,
        "addresses": [{"address": token, "contract_spec": crate::anvil::token_artifact()["abi"]}],
        "match_conditions": {"functions": [], "events": [{"signature": "Transfer(address,address,uint256)", "expression": "value > 500"}], "transactions": [{"status": "Success"}]},
        "trigger_conditions": [], "triggers": []
    })
}

#[tokio::test]
async fn test_monitor_reports_what_would_fire_over_a_range() {
    let Some(anvil) = Anvil::start("test_monitor_reports_what_would_fire_over_a_range").await
    else {
        return;
    };
    let accounts = anvil.accounts().await;
    let token = anvil.deploy_token(&accounts[0], 1_000_000).await;
    anvil.automine(false).await;
    let from = anvil.block_number().await + 1;
    // Blocks: [700, 10], [600 from an empty account (reverts)], [900, 501, 500].
    let mut expected = Vec::new();
    for (amounts, sender) in [
        (vec![700u64, 10], 0usize),
        (vec![600], 9),
        (vec![900, 501, 500], 0),
    ] {
        for amount in amounts {
            let tx = anvil
                .transfer(&token, &accounts[sender], &accounts[1], amount)
                .await;
            if amount > 500 && sender == 0 {
                expected.push(tx);
            }
        }
        anvil.mine().await;
    }
    let to = anvil.block_number().await;

    let app = spawn_app_sqlite().await;
    let owner = app.owner("dry").await;
    app.network_at(&owner, "anvil", &[(&anvil.url, 100)], 1)
        .await;
    let query = "mutation($d: JSON!, $f: String!, $t: String) { testMonitor(input: {draft: {ozJson: $d}, network: \"anvil\", fromBlock: $f, toBlock: $t}) { matches userErrors { field message } } }";
    let r = app
        .gql(
            &owner,
            query,
            json!({"d": token_monitor(&token), "f": from.to_string(), "t": to.to_string()}),
        )
        .await;
    let matches = r["data"]["testMonitor"]["matches"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"));
    let mut found: Vec<String> = matches
        .iter()
        .map(|m| m["EVM"]["transaction"]["hash"].as_str().unwrap().to_owned())
        .collect();
    found.sort();
    expected.sort();
    assert_eq!(
        found, expected,
        "the three transfers above 500 that succeeded"
    );
    assert_eq!(
        matches[0]["EVM"]["matched_on_args"]["events"][0]["args"][2]["name"],
        "value"
    );
    // Nothing was stored.
    let r = app
        .gql(
            &owner,
            "{ monitors { edges { node { id } } } alerts { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        r["data"],
        json!({"monitors": {"edges": []}, "alerts": {"edges": []}})
    );

    // Saved monitors work the same.
    let r = app.create_monitor(&owner, token_monitor(&token)).await;
    let id = r["data"]["createMonitor"]["monitor"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app
        .gql(&owner, "mutation($id: ID!, $f: String!) { testMonitor(input: {monitorId: $id, network: \"anvil\", fromBlock: $f}) { matches } }", json!({"id": id, "f": from.to_string()}))
        .await;
    assert_eq!(
        r["data"]["testMonitor"]["matches"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "{r}"
    );

    // Bad ranges and a draft with errors.
    for (f, t, needle) in [
        ("9", "3", "empty or reversed"),
        ("1", "5000", "at most 1000"),
        ("x", "1", "not a block number"),
    ] {
        let r = app
            .gql(
                &owner,
                query,
                json!({"d": token_monitor(&token), "f": f, "t": t}),
            )
            .await;
        assert_eq!(code(&r), Some("BAD_USER_INPUT"), "{r}");
        assert!(r.to_string().contains(needle), "{r}");
    }
    let mut broken = token_monitor(&token);
    broken["match_conditions"]["events"][0]["expression"] = "value >".into();
    let r = app
        .gql(
            &owner,
            query,
            json!({"d": broken, "f": from.to_string(), "t": to.to_string()}),
        )
        .await;
    assert!(
        r["data"]["testMonitor"]["userErrors"]
            .to_string()
            .contains("column"),
        "{r}"
    );

    // The CLI, OZ style: a monitor file and a network file.
    let dir = tempfile::tempdir().unwrap();
    let mut network = crate::gql::evm_network("anvil");
    network["rpc_urls"][0]["url"]["value"] = anvil.url.clone().into();
    std::fs::write(dir.path().join("network.json"), network.to_string()).unwrap();
    std::fs::write(
        dir.path().join("monitor.json"),
        token_monitor(&token).to_string(),
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stellar-monitor"))
        .args([
            "test-monitor",
            "--monitor",
            "monitor.json",
            "--network",
            "network.json",
            "--block",
            &from.to_string(),
            "--to",
            &to.to_string(),
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("3 match(es)"), "{stdout}");
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("{\"EVM\"")).count(),
        3
    );
}
