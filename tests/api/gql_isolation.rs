//! Tenant isolation: tenant A, using tenant B's ids in every query and mutation that
//! takes one, gets NOT_FOUND or FORBIDDEN, learns nothing, and changes nothing; and the
//! database alone (RLS, no application filter) shows A none of B's rows.

use chrono::Utc;
use entities::{
    TenantTxn, alerts, api_keys, deliveries, tenant_monitors, tenant_networks, tenant_triggers,
    tenant_users,
};
use sea_orm::{ActiveValue::Set, EntityTrait, NotSet};
use serde_json::json;
use uuid::Uuid;

use crate::gql::{Client, code, monitor};
use crate::helpers::spawn_app;

struct TenantData {
    client: Client,
    id: Uuid,
    network: String,
    trigger: String,
    monitor: String,
    key: String,
    member: String,
    alert: i64,
    delivery: Uuid,
}

async fn populate(app: &crate::helpers::TestApp, slug: &str) -> TenantData {
    let client = app.owner(slug).await;
    let id: Uuid = app.gql(&client, "{ tenant { id } }", json!({})).await["data"]["tenant"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let network = app.network(&client, "eth").await;
    let trigger = app.trigger(&client, "ops").await;
    let r = app
        .create_monitor(&client, monitor("Large transfers", "eth", &["ops"]))
        .await;
    let monitor = r["data"]["createMonitor"]["monitor"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_owned();
    let r = app
        .gql(
            &client,
            "mutation { createApiKey(input: {name: \"ci\", scopes: [\"*\"]}) { apiKey { id } } }",
            json!({}),
        )
        .await;
    let key = r["data"]["createApiKey"]["apiKey"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let r = app.gql(&client, &format!("mutation {{ inviteMember(input: {{email: \"m@{slug}.example\", role: \"viewer\"}}) {{ token }} }}"), json!({})).await;
    let token = r["data"]["inviteMember"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    app.gql(&Client::default(), "mutation($t: String!) { acceptInvitation(input: {token: $t, password: \"member password 1\"}) { accessToken } }", json!({"t": token})).await;
    let members = app
        .gql(&client, "{ members { userId role } }", json!({}))
        .await;
    let member = members["data"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["role"] == "viewer")
        .unwrap()["userId"]
        .as_str()
        .unwrap()
        .to_owned();
    // An alert and a delivery, as a worker would write them.
    let txn = TenantTxn::begin(&app.db, id).await.unwrap();
    let alert = txn
        .insert(alerts::ActiveModel {
            id: NotSet,
            tenant_id: Set(id),
            monitor_id: Set(monitor.parse().unwrap()),
            monitor_version: Set(1),
            network_slug: Set("eth".into()),
            block_number: Set(1),
            block_hash: Set("0x01".into()),
            transaction_hash: Set(Some("0x02".into())),
            event_index: Set(None),
            idempotency_key: Set(format!("{slug}-k")),
            payload: Set(json!({"EVM": {}})),
            created_at: Set(Utc::now()),
            severity: Set("warning".into()),
        })
        .await
        .unwrap();
    let delivery = Uuid::now_v7();
    txn.insert(deliveries::ActiveModel {
        id: Set(delivery),
        tenant_id: Set(id),
        alert_id: Set(alert.id),
        trigger_id: Set(trigger.parse().unwrap()),
        status: Set("dead".into()),
        attempts: Set(5),
        next_attempt_at: Set(Utc::now()),
        locked_until: Set(None),
        last_error: Set(Some("HTTP 500".into())),
        last_status_code: Set(Some(500)),
        delivered_at: Set(None),
        created_at: Set(Utc::now()),
        updated_at: Set(Utc::now()),
    })
    .await
    .unwrap();
    txn.commit().await.unwrap();
    TenantData {
        client,
        id,
        network,
        trigger,
        monitor,
        key,
        member,
        alert: alert.id,
        delivery,
    }
}

#[tokio::test]
async fn tenant_a_cannot_reach_tenant_b_by_id() {
    let app = spawn_app().await;
    let a = populate(&app, "tenant-a").await;
    let b = populate(&app, "tenant-b").await;

    let ops: Vec<(String, serde_json::Value)> = vec![
        ("query($id: ID!) { monitor(id: $id) { id name } }".into(), json!({"id": b.monitor})),
        ("query($id: ID!) { trigger(id: $id) { id } }".into(), json!({"id": b.trigger})),
        ("query($id: ID!) { alert(id: $id) { id } }".into(), json!({"id": b.alert.to_string()})),
        ("query($id: ID!) { alerts(filter: {monitorIds: [$id]}) { edges { node { id } } } }".into(), json!({"id": b.monitor})),
        ("query($id: ID!) { deliveries(filter: {alertId: $id}) { edges { node { id } } } }".into(), json!({"id": b.alert.to_string()})),
        ("mutation($id: ID!, $m: JSON!) { updateMonitor(input: {id: $id, draft: {ozJson: $m}}) { monitor { id } } }".into(), json!({"id": b.monitor, "m": monitor("Stolen", "eth", &[])})),
        ("mutation($id: ID!) { pauseMonitor(input: {id: $id, paused: true}) { monitor { id } } }".into(), json!({"id": b.monitor})),
        ("mutation($id: ID!) { deleteMonitor(input: {id: $id}) { id } }".into(), json!({"id": b.monitor})),
        ("mutation($id: ID!, $t: JSON!) { updateTrigger(input: {id: $id, ozJson: $t}) { trigger { id } } }".into(), json!({"id": b.trigger, "t": crate::gql::webhook_trigger("https://evil.example")})),
        ("mutation($id: ID!) { deleteTrigger(input: {id: $id}) { id } }".into(), json!({"id": b.trigger})),
        ("mutation($id: ID!) { deleteNetwork(input: {id: $id}) { id } }".into(), json!({"id": b.network})),
        ("mutation($id: ID!) { revokeApiKey(input: {id: $id}) { apiKey { id } } }".into(), json!({"id": b.key})),
        ("mutation($id: ID!) { redeliver(input: {id: $id}) { delivery { id } } }".into(), json!({"id": b.delivery.to_string()})),
        ("mutation($id: ID!) { changeMemberRole(input: {userId: $id, role: \"admin\"}) { role } }".into(), json!({"id": b.member})),
        ("mutation($id: ID!) { removeMember(input: {userId: $id}) { id } }".into(), json!({"id": b.member})),
    ];
    for (op, vars) in &ops {
        let r = app.gql(&a.client, op, vars.clone()).await;
        let text = r.to_string();
        let empty_list = r["errors"].is_null()
            && (r["data"]["alerts"]["edges"] == json!([])
                || r["data"]["deliveries"]["edges"] == json!([]));
        assert!(
            empty_list || matches!(code(&r), Some("NOT_FOUND") | Some("FORBIDDEN")),
            "{op}: {r}"
        );
        for secret in [b.monitor.as_str(), b.trigger.as_str(), "tenant-b"] {
            assert!(
                !text.contains(secret) || op.contains("$id"),
                "{op} leaked {secret}: {text}"
            );
        }
        assert!(
            !text.contains("Large transfers"),
            "{op} leaked a name: {text}"
        );
    }
    // Naming B's tenant is refused outright.
    let r = app
        .gql(
            &a.client.clone().in_tenant("tenant-b"),
            "{ monitors { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(code(&r), Some("FORBIDDEN"));
    let r = app
        .gql(
            &a.client.clone().in_tenant("no-such-tenant"),
            "{ monitors { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        code(&r),
        Some("FORBIDDEN"),
        "non-existent and foreign tenants look the same"
    );

    // Nothing of B's changed.
    let txn = TenantTxn::begin(&app.db, b.id).await.unwrap();
    let m = txn
        .select::<tenant_monitors::Entity>()
        .all(txn.conn())
        .await
        .unwrap();
    assert_eq!(
        (m.len(), m[0].version, m[0].paused, m[0].name.as_str()),
        (1, 1, false, "Large transfers")
    );
    assert_eq!(
        txn.select::<tenant_triggers::Entity>()
            .all(txn.conn())
            .await
            .unwrap()[0]
            .version,
        1
    );
    assert_eq!(
        txn.select::<tenant_networks::Entity>()
            .all(txn.conn())
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        txn.select::<api_keys::Entity>()
            .all(txn.conn())
            .await
            .unwrap()[0]
            .revoked_at
            .is_none()
    );
    assert_eq!(
        txn.select::<deliveries::Entity>()
            .all(txn.conn())
            .await
            .unwrap()[0]
            .status,
        "dead"
    );
    let members = txn
        .select::<tenant_users::Entity>()
        .all(txn.conn())
        .await
        .unwrap();
    assert!(members.iter().any(|m| m.role == "viewer"));
    txn.commit().await.unwrap();

    // Lists only ever show A's own.
    let r = app.gql(&a.client, "{ monitors { edges { node { id } } } triggers { id } networks { id } apiKeys { id } alerts { edges { node { id } } } deliveries { edges { node { id } } } }", json!({})).await;
    let text = r.to_string();
    for theirs in [
        &b.monitor,
        &b.trigger,
        &b.network,
        &b.key,
        &b.delivery.to_string(),
    ] {
        assert!(
            !text.contains(theirs.as_str()),
            "{theirs} listed to A: {text}"
        );
    }
    assert!(text.contains(&a.monitor));

    // With the application filter bypassed, RLS alone hides B's rows from A.
    let txn = TenantTxn::begin(&app.db, a.id).await.unwrap();
    let c = txn.conn();
    assert!(
        tenant_monitors::Entity::find_by_id(b.monitor.parse::<Uuid>().unwrap())
            .one(c)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        tenant_triggers::Entity::find_by_id(b.trigger.parse::<Uuid>().unwrap())
            .one(c)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        tenant_networks::Entity::find_by_id(b.network.parse::<Uuid>().unwrap())
            .one(c)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        api_keys::Entity::find_by_id(b.key.parse::<Uuid>().unwrap())
            .one(c)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        alerts::Entity::find_by_id(b.alert)
            .one(c)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        deliveries::Entity::find_by_id(b.delivery)
            .one(c)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        tenant_users::Entity::find_by_id((b.id, b.member.parse::<Uuid>().unwrap()))
            .one(c)
            .await
            .unwrap()
            .is_none()
    );
    // ... while its own are there.
    assert!(
        tenant_monitors::Entity::find_by_id(a.monitor.parse::<Uuid>().unwrap())
            .one(c)
            .await
            .unwrap()
            .is_some()
    );
    let _ = a.alert;
}
