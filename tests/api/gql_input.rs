//! Bad input everywhere: clear errors (with field paths and positions), never a panic,
//! nothing stored half-way.

use serde_json::{Value, json};

use crate::gql::{Client, code, monitor};
use crate::helpers::{TestApp, spawn_app_sqlite};

fn user_errors(r: &Value) -> Vec<(String, String)> {
    r["data"]["createMonitor"]["userErrors"]
        .as_array()
        .unwrap_or(&vec![])
        .iter()
        .map(|e| {
            let field: Vec<&str> = e["field"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f.as_str().unwrap())
                .collect();
            (field.join("."), e["message"].as_str().unwrap().to_owned())
        })
        .collect()
}

async fn monitor_count(app: &TestApp, c: &Client) -> usize {
    app.gql(c, "{ monitors { edges { node { id } } } }", json!({}))
        .await["data"]["monitors"]["edges"]
        .as_array()
        .unwrap()
        .len()
}

#[tokio::test]
async fn invalid_monitors_are_refused_with_paths_and_nothing_is_stored() {
    let app = spawn_app_sqlite().await;
    let owner = app.owner("inputs").await;
    app.network(&owner, "eth").await;
    let with = |f: &dyn Fn(&mut Value)| {
        let mut m = monitor("bad", "eth", &[]);
        f(&mut m);
        m
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            with(&|m| m["addresses"][0]["address"] = "0x123".into()),
            "input.draft.ozJson.addresses.0.address",
            "not an EVM address",
        ),
        (
            with(&|m| m["networks"] = json!(["polygon"])),
            "input.draft.ozJson.networks.0",
            "no network \"polygon\"",
        ),
        (
            with(&|m| m["match_conditions"]["events"][0]["expression"] = "value > ".into()),
            "input.draft.ozJson.match_conditions.events.0.expression",
            "column 9",
        ),
        (
            with(&|m| m["match_conditions"]["events"][0]["expression"] = "amount > 5".into()),
            "input.draft.ozJson.match_conditions.events.0.expression",
            "unknown parameter 'amount'",
        ),
        (
            with(&|m| m["triggers"] = json!(["nope"])),
            "input.draft.ozJson.triggers.0",
            "no trigger",
        ),
        (
            with(&|m| m["surprise"] = json!(1)),
            "input.draft.ozJson.surprise",
            "unknown field",
        ),
        (
            with(&|m| m["name"] = json!("x".repeat(201))),
            "input.draft.ozJson.name",
            "at most 200",
        ),
        (
            with(&|m| {
                m["trigger_conditions"] =
                    json!([{"script_path": "/etc/passwd", "language": "Bash", "timeout_ms": 10}])
            }),
            "input.draft.ozJson.trigger_conditions.0.script",
            "inline",
        ),
        (
            with(&|m| {
                m["trigger_conditions"] =
                    json!([{"script": "cat /etc/passwd", "language": "Bash", "timeout_ms": 10}])
            }),
            "input.draft.ozJson.trigger_conditions.0.language",
            "host processes",
        ),
    ];
    for (draft, path, needle) in cases {
        let r = app.create_monitor(&owner, draft).await;
        assert!(r["data"]["createMonitor"]["monitor"].is_null(), "{r}");
        let errors = user_errors(&r);
        assert!(
            errors.iter().any(|(p, m)| p == path && m.contains(needle)),
            "expected {path}: {needle} in {errors:?}"
        );
    }
    // Typed input reports under its own path.
    let r = app
        .gql(&owner, "mutation { createMonitor(input: {draft: {monitor: {name: \"t\", networks: [\"eth\"], addresses: [{address: \"G-not-evm\"}], matchConditions: {transactions: [{status: SUCCESS, expression: \"value >> 1\"}]}}}}) { monitor { id } userErrors { field message } } }", json!({}))
        .await;
    let errors = user_errors(&r);
    assert!(
        errors
            .iter()
            .any(|(p, _)| p == "input.draft.monitor.addresses.0.address"),
        "{errors:?}"
    );
    assert!(
        errors.iter().any(|(p, m)| p
            == "input.draft.monitor.match_conditions.transactions.0.expression"
            && m.contains("column")),
        "{errors:?}"
    );
    // Both or neither of monitor and ozJson.
    let r = app
        .gql(
            &owner,
            "mutation { createMonitor(input: {draft: {}}) { monitor { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"));
    assert_eq!(monitor_count(&app, &owner).await, 0, "nothing stored");

    // A duplicate name (any case) is a user error, the first stays.
    let r = app.create_monitor(&owner, monitor("Dup", "eth", &[])).await;
    assert!(r["data"]["createMonitor"]["monitor"].is_object(), "{r}");
    let r = app.create_monitor(&owner, monitor("DUP", "eth", &[])).await;
    assert!(
        user_errors(&r)
            .iter()
            .any(|(p, _)| p == "input.draft.ozJson.name"),
        "{r}"
    );
    assert_eq!(monitor_count(&app, &owner).await, 1);
}

#[tokio::test]
async fn bad_networks_triggers_keys_and_ids() {
    let app = spawn_app_sqlite().await;
    let owner = app.owner("more-inputs").await;
    let mut network = crate::gql::evm_network("eth");
    network["rpc_urls"][0]["url"]["value"] = "ftp://nope".into();
    network["chain_id"] = Value::Null;
    let r = app.gql(&owner, "mutation($n: JSON!) { createPrivateNetwork(input: {ozJson: $n}) { network { id } userErrors { field message } } }", json!({"n": network})).await;
    let errors = r["data"]["createPrivateNetwork"]["userErrors"].to_string();
    assert!(
        errors.contains("not an http(s) URL") && errors.contains("chain_id"),
        "{r}"
    );
    let r = app.gql(&owner, "mutation($t: JSON!) { createTrigger(input: {slug: \"Bad Slug\", ozJson: $t}) { trigger { id } userErrors { field message } } }", json!({"t": {"name": "x", "trigger_type": "sms", "config": {}}})).await;
    let errors = r["data"]["createTrigger"]["userErrors"].to_string();
    assert!(
        errors.contains("slug") && errors.contains("unknown variant `sms`"),
        "{r}"
    );
    let r = app
        .gql(
            &owner,
            "mutation { createApiKey(input: {name: \"k\", scopes: [\"rockets:launch\"]}) { key } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"));
    let r = app.gql(&owner, "mutation { createApiKey(input: {name: \"k\", scopes: [\"*\"], expiresAt: \"2001-01-01T00:00:00Z\"}) { key } }", json!({})).await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"));
    for id in ["not-a-uuid", "", "'; DROP TABLE tenant_monitors; --"] {
        let r = app
            .gql(
                &owner,
                "query($id: ID!) { monitor(id: $id) { id } }",
                json!({"id": id}),
            )
            .await;
        assert_eq!(code(&r), Some("NOT_FOUND"), "{id}: {r}");
    }
    let r = app
        .gql(
            &owner,
            "{ monitors(first: 101) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"));
    let r = app
        .gql(
            &owner,
            "{ monitors(after: \"garbage\") { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"));
    let r = app.gql(&Client::default(), "mutation { register(input: {email: \"not-an-email\", password: \"correct horse battery\", tenantName: \"x\", tenantSlug: \"xx\"}) { accessToken } }", json!({})).await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"));
    let r = app.gql(&Client::default(), "mutation { register(input: {email: \"a@b.co\", password: \"short\", tenantName: \"x\", tenantSlug: \"xx\"}) { accessToken } }", json!({})).await;
    assert_eq!(code(&r), Some("BAD_USER_INPUT"));
}

#[tokio::test]
async fn deep_wide_and_huge_requests_are_refused() {
    let app = spawn_app_sqlite().await;
    let owner = app.owner("limits").await;
    let deep = format!(
        "{{ {} }}",
        "__schema { types { fields { type { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { ofType { name } } } } } } } } } } } } } } } }"
    );
    let r = app.gql(&owner, &deep, json!({})).await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nested too deep"),
        "{r}"
    );
    assert_eq!(code(&r), Some("GRAPHQL_VALIDATION_FAILED"));
    let wide = format!(
        "{{ {} }}",
        (0..200)
            .map(|i| format!(
                "a{i}: monitors(first: 100) {{ edges {{ node {{ id name definition }} }} }}"
            ))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let r = app.gql(&owner, &wide, json!({})).await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("complex"),
        "{r}"
    );
    let syntax = app.gql(&owner, "{ monitors { ", json!({})).await;
    assert_eq!(code(&syntax), Some("GRAPHQL_VALIDATION_FAILED"));
    let huge = app
        .create_monitor(&owner, monitor(&"n".repeat(900_000), "eth", &[]))
        .await;
    assert!(huge["data"]["createMonitor"]["monitor"].is_null(), "{huge}");
    // Every error carries a code.
    for r in [&r, &syntax] {
        assert!(
            r["errors"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["extensions"]["code"].is_string())
        );
    }
    // The server is fine.
    let r = app.gql(&owner, "{ tenant { slug } }", json!({})).await;
    assert_eq!(r["data"]["tenant"]["slug"], "limits");
}
