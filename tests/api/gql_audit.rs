//! The audit log is written with every mutation, keeps secrets out, and detects tampering.

use sea_orm::ConnectionTrait;
use serde_json::json;

use crate::gql::{Client, monitor};
use crate::helpers::{TestApp, spawn_app};

async fn actions(app: &TestApp, c: &Client) -> Vec<String> {
    let r = app
        .gql(
            c,
            "{ auditLogs(first: 100) { edges { node { action details } } } }",
            json!({}),
        )
        .await;
    r["data"]["auditLogs"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["action"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn mutations_are_audited_without_secrets_and_tampering_is_detected() {
    let app = spawn_app().await;
    let owner = app.owner("audited").await;
    app.network(&owner, "eth").await;
    app.trigger(&owner, "ops").await;
    let r = app
        .create_monitor(&owner, monitor("m", "eth", &["ops"]))
        .await;
    let id = r["data"]["createMonitor"]["monitor"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.gql(
        &owner,
        "mutation($id: ID!) { pauseMonitor(input: {id: $id, paused: true}) { monitor { id } } }",
        json!({"id": id}),
    )
    .await;
    app.gql(
        &owner,
        "mutation($id: ID!) { deleteMonitor(input: {id: $id}) { id } }",
        json!({"id": id}),
    )
    .await;
    let found = actions(&app, &owner).await;
    for expected in [
        "auth.register",
        "network.create",
        "trigger.create",
        "monitor.create",
        "monitor.pause",
        "monitor.delete",
    ] {
        assert!(
            found.iter().any(|a| a == expected),
            "{expected} not in {found:?}"
        );
    }
    let all = app
        .gql(
            &owner,
            "{ auditLogs(first: 100) { edges { node { details } } } }",
            json!({}),
        )
        .await
        .to_string();
    for secret in ["hmac-secret-value", "secret-path", "key=private"] {
        assert!(!all.contains(secret), "audit details leak {secret}");
    }

    let r = app
        .gql(
            &owner,
            "{ verifyAuditChain { ok checked brokenAt } }",
            json!({}),
        )
        .await;
    assert_eq!(r["data"]["verifyAuditChain"]["ok"], true, "{r}");
    assert_eq!(
        r["data"]["verifyAuditChain"]["checked"],
        found.len().to_string()
    );

    // Unbound, the application does not even see the rows; in system scope, where it
    // sees them all, the database refuses the change.
    let hidden = app
        .db
        .execute_unprepared("UPDATE audit_logs SET action = 'x'")
        .await
        .unwrap();
    assert_eq!(hidden.rows_affected(), 0);
    let txn = entities::SystemTxn::begin(&app.db).await.unwrap();
    let err = txn
        .conn()
        .execute_unprepared("UPDATE audit_logs SET action = 'x'")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("append-only"), "{err}");
    txn.rollback().await.unwrap();

    // Someone with the power to drop the guard edits a row: the chain breaks there.
    app.db
        .execute_unprepared(
            "ALTER TABLE audit_logs DISABLE TRIGGER audit_logs_no_change;
             SET app.scope = 'system';
             UPDATE audit_logs SET details = '{\"name\": \"innocent\"}' WHERE seq = 3;
             RESET app.scope;
             ALTER TABLE audit_logs ENABLE TRIGGER audit_logs_no_change;",
        )
        .await
        .unwrap();
    let r = app
        .gql(&owner, "{ verifyAuditChain { ok brokenAt } }", json!({}))
        .await;
    assert_eq!(
        r["data"]["verifyAuditChain"],
        json!({"ok": false, "brokenAt": "3"}),
        "{r}"
    );
}
