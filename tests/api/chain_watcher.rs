//! Watchers against a real Anvil node: every block published once, in order, with the
//! right receipt statuses; a constant number of RPC calls per block whatever the number
//! of tenants; failover between endpoints; reorganisations repaired.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use bus::Bus;
use bus::blocks::{BlockMessage, ChainBlock, MessageKind};
use serde_json::{Value, json};

use crate::anvil::Anvil;
use crate::gql::{Client, monitor};
use crate::helpers::{TestApp, spawn_app};

/// The stream key of a private network.
fn private_key(network_id: &str) -> String {
    format!(
        "private-{}",
        uuid::Uuid::parse_str(network_id).unwrap().simple()
    )
}

async fn redis_bus(app: &TestApp) -> Arc<dyn Bus> {
    bus::connect(
        Some(&crate::helpers::redis_url()),
        app.redis_prefix.as_deref().unwrap(),
    )
    .await
    .unwrap()
}

/// Reads the whole stream until `done` holds (or panics after `timeout`).
async fn read_until(
    bus: &dyn Bus,
    key: &str,
    timeout: Duration,
    done: impl Fn(&[BlockMessage]) -> bool,
) -> Vec<BlockMessage> {
    let stream = bus.keys().blocks(key);
    let deadline = Instant::now() + timeout;
    loop {
        let entries = bus
            .stream_read(&stream, 0, 100_000, Duration::ZERO)
            .await
            .unwrap();
        let messages: Vec<BlockMessage> = entries
            .iter()
            .map(|e| BlockMessage::decode(&e.payload).unwrap())
            .collect();
        if done(&messages) {
            return messages;
        }
        if Instant::now() > deadline {
            let last: Vec<_> = messages
                .iter()
                .rev()
                .take(3)
                .map(|m| (m.kind, m.number))
                .collect();
            panic!("stream {key} did not reach the expected state in {timeout:?}; last {last:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Mines until the watcher has published something: it is watching from then on.
async fn wait_watching(anvil: &Anvil, bus: &dyn Bus, key: &str) {
    let stream = bus.keys().blocks(key);
    let deadline = Instant::now() + Duration::from_secs(20);
    while bus.stream_last(&stream).await.unwrap().is_none() {
        assert!(
            Instant::now() < deadline,
            "the watcher never started on {key}"
        );
        anvil.mine().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn published_up_to(n: u64) -> impl Fn(&[BlockMessage]) -> bool {
    move |m: &[BlockMessage]| {
        m.iter()
            .any(|m| m.kind == MessageKind::Block && m.number >= n)
    }
}

/// A tenant with a private network on `urls` and a monitor on it (so it is watched).
async fn watched_network(
    app: &TestApp,
    slug: &str,
    urls: &[(&str, u32)],
    confirmations: u64,
) -> (Client, String) {
    let owner = app.owner(slug).await;
    let id = app.network_at(&owner, "anvil", urls, confirmations).await;
    let r = app
        .create_monitor(&owner, monitor("watch", "anvil", &[]))
        .await;
    assert!(r["data"]["createMonitor"]["monitor"].is_object(), "{r}");
    (owner, private_key(&id))
}

#[tokio::test]
async fn every_block_is_published_once_in_order_with_its_receipt_statuses() {
    let Some(anvil) =
        Anvil::start("every_block_is_published_once_in_order_with_its_receipt_statuses").await
    else {
        return;
    };
    let accounts = anvil.accounts().await;
    let token = anvil.deploy_token(&accounts[0], 1_000_000_000).await;
    anvil.automine(false).await;
    let app = spawn_app().await;
    let (_, key) = watched_network(&app, "blocks", &[(&anvil.url, 100)], 1).await;
    let bus = redis_bus(&app).await;
    // Let the watcher find the network and start at the current head.
    wait_watching(&anvil, bus.as_ref(), &key).await;

    let first_filled = anvil.block_number().await + 1;
    let mut sent: HashMap<String, bool> = HashMap::new();
    for _ in 0..6 {
        for i in 0..12 {
            let tx = anvil
                .transfer(&token, &accounts[0], &accounts[1 + i % 5], 10 + i as u64)
                .await;
            sent.insert(tx, true);
        }
        // Accounts without tokens: these revert.
        for i in 0..3 {
            let tx = anvil
                .transfer(&token, &accounts[7 + i], &accounts[1], 5)
                .await;
            sent.insert(tx, false);
        }
        anvil.mine().await;
    }
    let last_filled = anvil.block_number().await;
    anvil.mine().await; // one confirmation
    let messages = read_until(
        bus.as_ref(),
        &key,
        Duration::from_secs(30),
        published_up_to(last_filled),
    )
    .await;

    let numbers: Vec<u64> = messages.iter().map(|m| m.number).collect();
    assert!(
        messages.iter().all(|m| m.kind == MessageKind::Block),
        "no reorg happened"
    );
    assert!(
        numbers.windows(2).all(|w| w[1] == w[0] + 1),
        "consecutive, no gap, no repeat: {numbers:?}"
    );
    let mut seen = HashMap::new();
    for m in &messages {
        assert_eq!(
            m.hash,
            anvil.block_hash(m.number).await,
            "block {} is the canonical one",
            m.number
        );
        let Some(ChainBlock::Evm(data)) = &m.block else {
            panic!("EVM block expected")
        };
        assert_eq!(data.receipts.len(), data.block.transactions.len());
        for receipt in &data.receipts {
            let hash = format!("{:#x}", receipt.transaction_hash);
            let status = receipt.status() == monitor::evm::types::TxStatus::Success;
            let anvil_status = anvil.receipt(&hash).await["status"] == "0x1";
            assert_eq!(status, anvil_status, "{hash}");
            if let Some(expected) = sent.get(&hash) {
                assert_eq!(status, *expected, "{hash}");
                seen.insert(hash, status);
            }
        }
    }
    assert_eq!(
        seen.len(),
        sent.len(),
        "every sent transaction was published exactly once"
    );
    assert!(numbers.contains(&first_filled) && numbers.contains(&last_filled));
    assert_eq!(
        seen.values().filter(|ok| !**ok).count(),
        18,
        "the reverted ones are failures"
    );
}

/// Calls forwarded, by method.
type Counts = Arc<Mutex<HashMap<String, u64>>>;

/// A JSON-RPC proxy that counts the calls it forwards, by method.
async fn counting_proxy(upstream: String) -> (String, Counts) {
    let counts: Counts = Arc::default();
    let state = (upstream, counts.clone(), reqwest::Client::new());
    async fn forward(
        State((upstream, counts, http)): State<(String, Counts, reqwest::Client)>,
        Json(body): Json<Value>,
    ) -> Json<Value> {
        {
            let mut c = counts.lock().unwrap();
            let calls = match &body {
                Value::Array(items) => items.clone(),
                one => vec![one.clone()],
            };
            for call in calls {
                *c.entry(call["method"].as_str().unwrap_or("?").to_owned())
                    .or_default() += 1;
            }
            *c.entry("http_requests".into()).or_default() += 1;
        }
        Json(
            http.post(&upstream)
                .json(&body)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap(),
        )
    }
    let router = Router::new().route("/", post(forward)).with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, counts)
}

/// Fetch calls per published block, with `tenants × per_tenant` monitors on a catalog
/// network reached through a counting proxy.
async fn fetch_calls_per_block(anvil: &Anvil, tenants: usize, per_tenant: usize) -> (f64, f64) {
    let (proxy, counts) = counting_proxy(anvil.url.clone()).await;
    // No workers: this measures the watcher alone.
    let app = crate::helpers::spawn_app_with(|s| s.workers = 0).await;
    crate::fleet::catalog_network(&app, "shared_anvil", &proxy).await;
    crate::fleet::seed_tenants(
        &app.db,
        "shared_anvil",
        tenants,
        per_tenant,
        &monitor("m", "shared_anvil", &[]),
        false,
    )
    .await;

    let bus = redis_bus(&app).await;
    wait_watching(anvil, bus.as_ref(), "shared_anvil").await;
    let before: HashMap<String, u64> = counts.lock().unwrap().clone();
    let start = anvil.block_number().await;
    let accounts = anvil.accounts().await;
    for i in 0..10 {
        anvil
            .send(&accounts[0], Some(&accounts[1 + i % 3]), "0x")
            .await;
        anvil.mine().await;
    }
    let end = anvil.block_number().await;
    let messages = read_until(
        bus.as_ref(),
        "shared_anvil",
        Duration::from_secs(30),
        published_up_to(end - 1),
    )
    .await;
    let published = messages
        .iter()
        .filter(|m| m.number > start && m.number < end)
        .count() as f64;
    // Let the watcher settle so every fetch of those blocks is counted.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = counts.lock().unwrap().clone();
    let delta =
        |k: &str| (after.get(k).copied().unwrap_or(0) - before.get(k).copied().unwrap_or(0)) as f64;
    let fetch = delta("eth_getBlockByNumber")
        + delta("eth_getBlockReceipts")
        + delta("eth_getTransactionReceipt");
    assert!(published >= 8.0, "{published}");
    (
        fetch / (published + 1.0),
        delta("eth_getBlockReceipts") / (published + 1.0),
    )
}

#[tokio::test]
async fn rpc_calls_per_block_do_not_depend_on_tenants_or_monitors() {
    let Some(anvil) =
        Anvil::start("rpc_calls_per_block_do_not_depend_on_tenants_or_monitors").await
    else {
        return;
    };
    anvil.automine(false).await;
    let (one, one_receipts) = fetch_calls_per_block(&anvil, 1, 1).await;
    let (many, many_receipts) = fetch_calls_per_block(&anvil, 1000, 10).await;
    eprintln!("fetch calls per block: 1 monitor {one:.2}, 10000 monitors {many:.2}");
    assert!(
        (one - many).abs() < 0.25,
        "1 monitor: {one}, 10000 monitors: {many}"
    );
    assert!(one <= 2.2, "a block and its receipts, batched: {one}");
    assert!(
        one_receipts > 0.8 && many_receipts > 0.8,
        "eth_getBlockReceipts serves the receipts"
    );
}

/// Answers every JSON-RPC request with HTTP 429.
async fn too_many_requests() -> String {
    let router = Router::new().route(
        "/",
        post(|| async { (axum::http::StatusCode::TOO_MANY_REQUESTS, "slow down") }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

#[tokio::test]
async fn a_dead_or_rate_limited_endpoint_fails_over_to_the_next() {
    let Some(anvil) = Anvil::start("a_dead_or_rate_limited_endpoint_fails_over_to_the_next").await
    else {
        return;
    };
    let limited = too_many_requests().await;
    let dead = "http://127.0.0.1:1".to_owned();
    let app = spawn_app().await;
    let (_, key) = watched_network(
        &app,
        "failover",
        &[(&dead, 100), (&limited, 90), (&anvil.url, 10)],
        1,
    )
    .await;
    let bus = redis_bus(&app).await;
    for _ in 0..4 {
        anvil.mine().await;
    }
    let head = anvil.block_number().await;
    let messages = read_until(
        bus.as_ref(),
        &key,
        Duration::from_secs(30),
        published_up_to(head - 1),
    )
    .await;
    for m in &messages {
        assert_eq!(m.hash, anvil.block_hash(m.number).await);
    }
    let metrics = app.get("/metrics").await.text().await.unwrap();
    let rotations: f64 = metrics
        .lines()
        .find(|l| l.starts_with("stellar_monitor_rpc_endpoint_rotations_total") && l.contains(&key))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(
        rotations >= 2.0,
        "the dead and the limited endpoint were passed over: {rotations}"
    );
}

#[tokio::test]
async fn a_reorganisation_is_repaired_to_the_canonical_chain() {
    let Some(anvil) = Anvil::start("a_reorganisation_is_repaired_to_the_canonical_chain").await
    else {
        return;
    };
    anvil.automine(false).await;
    let accounts = anvil.accounts().await;
    let app = spawn_app().await;
    let (_, key) = watched_network(&app, "reorg", &[(&anvil.url, 100)], 1).await;
    let bus = redis_bus(&app).await;
    wait_watching(&anvil, bus.as_ref(), &key).await;
    for i in 0..6 {
        anvil
            .send(&accounts[0], Some(&accounts[1 + i % 3]), "0x")
            .await;
        anvil.mine().await;
    }
    let head = anvil.block_number().await;
    read_until(
        bus.as_ref(),
        &key,
        Duration::from_secs(20),
        published_up_to(head - 1),
    )
    .await;
    // Replace the last three blocks (two of them already published).
    anvil.rpc("anvil_reorg", json!([3, []])).await;
    for _ in 0..3 {
        anvil.mine().await;
    }
    let new_head = anvil.block_number().await;
    let messages = read_until(bus.as_ref(), &key, Duration::from_secs(30), |m| {
        m.iter().any(|m| m.kind == MessageKind::Orphaned) && published_up_to(new_head - 1)(m)
    })
    .await;
    // Replaying the stream gives exactly the canonical chain.
    let mut view: BTreeMap<u64, String> = BTreeMap::new();
    for m in &messages {
        match m.kind {
            MessageKind::Block => {
                if let Some(prev) = view.get(&(m.number - 1)) {
                    assert_eq!(&m.parent_hash, prev, "block {} links to the view", m.number);
                }
                view.insert(m.number, m.hash.clone());
            }
            MessageKind::Orphaned => {
                assert_eq!(
                    view.remove(&m.number).as_ref(),
                    Some(&m.hash),
                    "orphans what was published"
                );
            }
        }
    }
    for (number, hash) in &view {
        assert_eq!(hash, &anvil.block_hash(*number).await, "block {number}");
    }
    assert!(view.keys().max().copied().unwrap() >= new_head - 1);
    let orphaned = messages
        .iter()
        .filter(|m| m.kind == MessageKind::Orphaned)
        .count();
    assert!((1..=3).contains(&orphaned), "{orphaned} orphan notices");
}
