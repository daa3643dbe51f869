//! OZ configuration in and out: the CLI on the embedded default, and the API's
//! all-or-nothing import.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::compat;
use crate::gql::code;
use crate::helpers::spawn_app_sqlite;

const BIN: &str = env!("CARGO_BIN_EXE_stellar-monitor");

/// The EVM and Stellar part of OZ's examples, without what a tenant cannot hold (host
/// scripts) and the malformed example Telegram token.
fn cleaned_examples(compat: &Path, into: &Path) {
    compat::copy_tree(&compat.join("oz-config"), into);
    for file in [
        "networks/solana_devnet.json",
        "networks/solana_mainnet.json",
        "networks/midnight_testnet.json",
        "monitors/solana_kamino_deposit.json",
        "monitors/solana_upgrade.json",
        "monitors/midnight_testnet_bulletin_post.json",
        "triggers/script_notifications.json",
        "triggers/telegram_notifications.json",
    ] {
        std::fs::remove_file(into.join(file)).unwrap();
    }
    for entry in std::fs::read_dir(into.join("monitors")).unwrap() {
        let path = entry.unwrap().path();
        let mut m = compat::read_json(path.clone());
        m["trigger_conditions"] = json!([]);
        let triggers: Vec<serde_json::Value> = m["triggers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| *t != "evm_large_transfer_usdc_script")
            .cloned()
            .collect();
        m["triggers"] = triggers.into();
        std::fs::write(&path, serde_json::to_vec_pretty(&m).unwrap()).unwrap();
    }
}

fn run(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .output()
        .unwrap()
}

#[test]
fn importing_the_oz_examples_and_exporting_them_gives_equivalent_config() {
    let Some(compat) =
        compat::dir("importing_the_oz_examples_and_exporting_them_gives_equivalent_config")
    else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("config");
    cleaned_examples(&compat, &source);

    // Import on the embedded default, creating the tenant.
    let out = run(
        work.path(),
        &["import", "config", "--tenant", "oz-examples"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("created tenant oz-examples"), "{stdout}");
    assert!(
        stdout.lines().filter(|l| l.starts_with("created")).count() >= 40,
        "{stdout}"
    );

    // Importing again is refused whole: everything exists.
    let again = run(
        work.path(),
        &["import", "config", "--tenant", "oz-examples"],
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stdout).contains("already has"));

    let out = run(
        work.path(),
        &["export", "--tenant", "oz-examples", "exported"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Equivalent: the same networks, triggers and monitors, field by field.
    let before = monitor::config::load_dir(&source);
    let after = monitor::config::load_dir(&work.path().join("exported"));
    assert!(
        before.is_valid(),
        "{:?}",
        before.problems().collect::<Vec<_>>()
    );
    assert!(
        after.is_valid(),
        "{:?}",
        after.problems().collect::<Vec<_>>()
    );
    assert_eq!(after.networks, before.networks);
    assert_eq!(after.triggers, before.triggers);
    let names = |set: &monitor::config::ConfigSet| {
        let mut m: Vec<monitor::config::Monitor> =
            set.monitors.iter().map(|(_, m)| m.clone()).collect();
        m.sort_by(|a, b| a.name.cmp(&b.name));
        m
    };
    assert_eq!(names(&after), names(&before));
    assert_eq!(before.networks.len(), 32);
    assert_eq!(before.monitors.len(), 3);

    // Secrets were sealed at rest: the database file never holds them in clear.
    let db = std::fs::read(work.path().join("data/stellar-monitor.db")).unwrap();
    let text = String::from_utf8_lossy(&db);
    assert!(
        !text.contains("hooks.slack.com/services/A/B/C"),
        "a webhook URL is stored in clear"
    );
    assert!(
        !text.contains("your_password"),
        "an SMTP password is stored in clear"
    );
}

#[tokio::test]
async fn the_api_import_is_all_or_nothing_with_a_report() {
    let app = spawn_app_sqlite().await;
    let owner = app.owner("importer").await;
    let network = crate::gql::evm_network("eth");
    let good = crate::gql::monitor("good", "eth", &["ops"]);
    let mut bad = crate::gql::monitor("bad", "eth", &[]);
    bad["match_conditions"]["events"][0]["expression"] = "value >".into();
    let triggers = json!({"ops": crate::gql::webhook_trigger("https://hooks.example/x")});
    let query = "mutation($n: JSON!, $g: JSON!, $b: JSON!, $t: JSON!) { importOzConfig(input: {networks: [{name: \"networks/eth.json\", content: $n}], monitors: [{name: \"monitors/good.json\", content: $g}, {name: \"monitors/bad.json\", content: $b}], triggers: [{name: \"triggers/t.json\", content: $t}]}) { ok items { kind key status userErrors { field message } } } }";
    let r = app
        .gql(
            &owner,
            query,
            json!({"n": network, "g": good, "b": bad, "t": triggers}),
        )
        .await;
    let payload = &r["data"]["importOzConfig"];
    assert_eq!(payload["ok"], false, "{r}");
    let statuses: Vec<(String, String)> = payload["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                i["key"].as_str().unwrap().to_owned(),
                i["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        statuses.contains(&("bad".into(), "invalid".into())),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&("good".into(), "not_created".into())),
        "{statuses:?}"
    );
    let bad_item = payload["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == "bad")
        .unwrap();
    assert_eq!(
        bad_item["userErrors"][0]["field"],
        json!([
            "monitors",
            "monitors/bad.json",
            "match_conditions",
            "events",
            "0",
            "expression"
        ])
    );
    let r = app
        .gql(
            &owner,
            "{ networks { id } triggers { id } monitors { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        r["data"],
        json!({"networks": [], "triggers": [], "monitors": {"edges": []}}),
        "nothing stored"
    );

    // Fixed, it all goes in.
    let r = app.gql(&owner, query, json!({"n": network, "g": good, "b": crate::gql::monitor("fixed", "eth", &[]), "t": triggers})).await;
    assert_eq!(r["data"]["importOzConfig"]["ok"], true, "{r}");
    // Environment secrets cannot be resolved on the server.
    let mut env_network = crate::gql::evm_network("env_net");
    env_network["rpc_urls"][0]["url"] = json!({"type": "Environment", "value": "HOME"});
    let r = app
        .gql(&owner, "mutation($n: JSON!) { importOzConfig(input: {networks: [{name: \"n.json\", content: $n}]}) { ok items { userErrors { message } } } }", json!({"n": env_network}))
        .await;
    assert_eq!(r["data"]["importOzConfig"]["ok"], false);
    assert!(
        r.to_string().contains("cannot be resolved on the server"),
        "{r}"
    );
    assert!(code(&r).is_none());
}
