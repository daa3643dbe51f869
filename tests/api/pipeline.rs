//! The whole pipeline inside one `serve`: blocks from Anvil through the shared watcher
//! and the orchestrator's workers to alerts and queued deliveries — exactly once, also
//! when a restart re-processes blocks — and configuration changes applied from the next
//! block without a restart.

use std::collections::BTreeSet;

use sea_orm::ConnectionTrait;
use serde_json::json;
use uuid::Uuid;

use crate::fleet::{
    all_alerts, all_deliveries, catalog_network, chain, seed_tenants, transfer_monitor, transfers,
    wait_flowing, wait_processed,
};
use crate::helpers::{TestApp, spawn_app, spawn_app_on, spawn_app_sqlite};

#[tokio::test]
async fn every_match_becomes_one_alert_with_one_delivery_per_trigger_even_when_replayed() {
    let Some(c) = chain("every_match_becomes_one_alert").await else {
        return;
    };
    let app = spawn_app().await;
    catalog_network(&app, "chain", &c.anvil.url).await;
    let definition = transfer_monitor("big", "chain", &c.token, "value > 1000");
    let tenants = seed_tenants(&app.db, "chain", 3, 2, &definition, true).await;
    let ids: Vec<Uuid> = tenants.iter().map(|t| t.id).collect();
    wait_flowing(&c.anvil, &app.db, "chain", &ids).await;

    let amounts = [500, 1_500, 2_500, 999, 5_000, 1_001];
    let (sent, last) = transfers(
        &c.anvil,
        &c.token,
        &c.accounts[0],
        &c.accounts[1..4],
        &amounts,
        2,
    )
    .await;
    wait_processed(&app.db, "chain", &ids, last).await;

    let mut expected = BTreeSet::new();
    for t in &tenants {
        for m in &t.monitors {
            for (hash, amount) in &sent {
                if *amount > 1_000 {
                    expected.insert((t.id, *m, hash.clone()));
                }
            }
        }
    }
    let check = |alerts: &[entities::alerts::Model]| {
        let got: Vec<(Uuid, Uuid, String)> = alerts
            .iter()
            .map(|a| {
                (
                    a.tenant_id,
                    a.monitor_id,
                    a.transaction_hash.clone().unwrap().to_lowercase(),
                )
            })
            .collect();
        let unique: BTreeSet<_> = got.iter().cloned().collect();
        assert_eq!(got.len(), unique.len(), "an alert was written twice");
        let missing: Vec<_> = expected.difference(&unique).collect();
        let extra: Vec<_> = unique.difference(&expected).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "missing {missing:?}; unexpected {extra:?}"
        );
    };
    let alerts = all_alerts(&app.db).await;
    check(&alerts);
    assert_eq!(expected.len(), 3 * 2 * 4);
    // The payload is the OZ match; the key names what it is derived from.
    let first = &alerts[0];
    assert!(first.payload.get("EVM").is_some(), "{}", first.payload);
    assert_eq!(first.payload["EVM"]["network_slug"], "chain");
    assert!(
        first
            .idempotency_key
            .contains(&first.transaction_hash.clone().unwrap().to_lowercase())
    );
    let deliveries = all_deliveries(&app.db).await;
    assert_eq!(deliveries.len(), alerts.len(), "one delivery per trigger");
    // (Queued for a closed local port: the outbox tries, nothing is delivered.)
    assert!(deliveries.iter().all(|d| d.status != "delivered"));
    let per_alert: BTreeSet<i64> = deliveries.iter().map(|d| d.alert_id).collect();
    assert_eq!(per_alert.len(), alerts.len());
    let usage: i64 = crate::fleet::system_text(
        &app.db,
        "SELECT CAST(SUM(alerts) AS TEXT) FROM tenant_usage",
    )
    .await[0]
        .clone()
        .expect("usage rows")
        .parse()
        .unwrap();
    assert_eq!(
        usage as usize,
        alerts.len(),
        "daily usage counts new alerts"
    );

    // A crash that lost every cursor: a restarted fleet re-processes every block from the
    // start of the stream, and nothing new is written.
    let (url, prefix, db) = crate::fleet::stop_keeping_storage(app, 1).await;
    let txn = entities::SystemTxn::begin(&db).await.unwrap();
    let reset = txn
        .conn()
        .execute_unprepared(
            "UPDATE tenant_cursors SET stream_seq = 0, block_number = 0, block_hash = ''",
        )
        .await
        .unwrap();
    assert_eq!(reset.rows_affected(), 3);
    txn.commit().await.unwrap();
    db.close().await.unwrap();
    let app = spawn_app_on(&url, &prefix, |_| {}).await;
    c.anvil.mine().await;
    c.anvil.mine().await;
    let now = c.anvil.block_number().await;
    wait_processed(&app.db, "chain", &ids, now - 1).await;
    check(&all_alerts(&app.db).await);
    assert_eq!(all_deliveries(&app.db).await.len(), expected.len());
    // It did re-process them: every replayed match hit an existing key.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    let duplicates: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("stellar_monitor_alerts_duplicate_total"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert!(duplicates as usize >= expected.len(), "{metrics}");
    app.stop().await;
}

/// The tenant id of `slug`.
async fn tenant_id(app: &TestApp, slug: &str) -> Uuid {
    crate::fleet::tenant_id(&app.db, slug).await
}

#[tokio::test]
async fn a_monitor_change_applies_from_the_next_block_without_a_restart() {
    let Some(c) = chain("a_monitor_change_applies_from_the_next_block").await else {
        return;
    };
    let app = spawn_app().await;
    catalog_network(&app, "chain", &c.anvil.url).await;
    // A sentinel tenant that always matches, to know when a block was processed.
    let sentinel = seed_tenants(
        &app.db,
        "chain",
        1,
        1,
        &transfer_monitor("all", "chain", &c.token, "value >= 0"),
        false,
    )
    .await[0]
        .id;
    let owner = app.owner("live").await;
    let r = app
        .gql(
            &owner,
            "mutation { enableNetwork(input: {catalogSlug: \"chain\"}) { network { slug } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        r["data"]["enableNetwork"]["network"]["slug"], "chain",
        "{r}"
    );
    let r = app
        .create_monitor(
            &owner,
            transfer_monitor("watch", "chain", &c.token, "value > 1000"),
        )
        .await;
    let monitor_id = r["data"]["createMonitor"]["monitor"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_owned();
    let live = tenant_id(&app, "live").await;
    wait_flowing(&c.anvil, &app.db, "chain", &[live, sentinel]).await;
    let alerts_of = |all: Vec<entities::alerts::Model>| -> Vec<entities::alerts::Model> {
        all.into_iter().filter(|a| a.tenant_id == live).collect()
    };

    // 500 does not match "value > 1000".
    let (a, block_a) = transfers(
        &c.anvil,
        &c.token,
        &c.accounts[0],
        &c.accounts[1..2],
        &[500],
        1,
    )
    .await;
    wait_processed(&app.db, "chain", &[live, sentinel], block_a).await;
    assert!(alerts_of(all_alerts(&app.db).await).is_empty());
    let sentinel_a = all_alerts(&app.db).await;
    assert!(
        sentinel_a
            .iter()
            .any(|x| x.transaction_hash.as_deref() == Some(a[0].0.as_str())),
        "the sentinel saw block {block_a}"
    );

    // Lower the threshold; the very next block is evaluated with it.
    let r = app
        .gql(
            &owner,
            "mutation($id: ID!, $m: JSON!) { updateMonitor(input: {id: $id, draft: {ozJson: $m}}) { monitor { version } userErrors { message } } }",
            json!({"id": monitor_id, "m": transfer_monitor("watch", "chain", &c.token, "value > 100")}),
        )
        .await;
    assert_eq!(r["data"]["updateMonitor"]["monitor"]["version"], 2, "{r}");
    let (b, block_b) = transfers(
        &c.anvil,
        &c.token,
        &c.accounts[0],
        &c.accounts[1..2],
        &[500],
        1,
    )
    .await;
    wait_processed(&app.db, "chain", &[live], block_b).await;
    let got = alerts_of(all_alerts(&app.db).await);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].transaction_hash.as_deref(), Some(b[0].0.as_str()));
    assert_eq!(got[0].monitor_version, 2);

    // Paused: nothing from the next block on.
    let r = app
        .gql(
            &owner,
            "mutation($id: ID!) { pauseMonitor(input: {id: $id, paused: true}) { monitor { version } } }",
            json!({"id": monitor_id}),
        )
        .await;
    assert_eq!(r["data"]["pauseMonitor"]["monitor"]["version"], 3, "{r}");
    let (cc, block_c) = transfers(
        &c.anvil,
        &c.token,
        &c.accounts[0],
        &c.accounts[1..2],
        &[5_000],
        1,
    )
    .await;
    wait_processed(&app.db, "chain", &[sentinel], block_c).await;
    let all = all_alerts(&app.db).await;
    assert!(
        all.iter()
            .any(|x| x.tenant_id == sentinel
                && x.transaction_hash.as_deref() == Some(cc[0].0.as_str())),
        "the sentinel saw block {block_c}"
    );
    assert_eq!(alerts_of(all).len(), 1, "a paused monitor fired");
    app.stop().await;
}

#[tokio::test]
async fn the_embedded_default_produces_alerts_too() {
    let Some(c) = chain("the_embedded_default_produces_alerts_too").await else {
        return;
    };
    let app = spawn_app_sqlite().await;
    catalog_network(&app, "chain", &c.anvil.url).await;
    let tenants = seed_tenants(
        &app.db,
        "chain",
        2,
        1,
        &transfer_monitor("big", "chain", &c.token, "value > 1000"),
        true,
    )
    .await;
    let ids: Vec<Uuid> = tenants.iter().map(|t| t.id).collect();
    wait_flowing(&c.anvil, &app.db, "chain", &ids).await;
    let (sent, last) = transfers(
        &c.anvil,
        &c.token,
        &c.accounts[0],
        &c.accounts[1..3],
        &[2_000, 10, 3_000],
        3,
    )
    .await;
    wait_processed(&app.db, "chain", &ids, last).await;
    let alerts = all_alerts(&app.db).await;
    assert_eq!(alerts.len(), 2 * 2, "{alerts:?}");
    let hashes: BTreeSet<String> = alerts
        .iter()
        .map(|a| a.transaction_hash.clone().unwrap())
        .collect();
    assert_eq!(
        hashes,
        BTreeSet::from([sent[0].0.clone(), sent[2].0.clone()])
    );
    assert_eq!(all_deliveries(&app.db).await.len(), 4);
    app.stop().await;
}
