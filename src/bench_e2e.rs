//! `stellar-monitor bench e2e`: the whole pipeline under load on one machine. Against an
//! EVM node with unlocked accounts (a local Anvil), it deploys a token, seeds N tenants
//! (each one Transfer monitor and one webhook trigger), runs the fleet in-process
//! (watcher, orchestrator, workers, outbox — the code `serve` runs), drives transfers
//! block by block and counts what a local webhook receiver gets: block-to-alert and
//! block-to-webhook latency, duplicates, deliveries per second, and (optionally) how long
//! the reassignment takes when a worker dies.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, ensure};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::Utc;
use entities::{
    SystemTxn, monitor_networks, monitor_triggers, networks, tenant_monitors, tenant_networks,
    tenant_triggers, tenants,
};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::bench::{deploy_token, rpc};
use crate::database::Target;

/// A seeded tenant.
#[derive(Clone, Debug)]
pub struct Seeded {
    pub id: Uuid,
    pub monitors: Vec<Uuid>,
}

/// Writes `count` tenants straight into the database (bulk, for load tests): each with
/// catalog network `catalog_slug` enabled under the same slug and `per_tenant` monitors
/// of `definition`; with `trigger`, one trigger `hook` of that definition linked to
/// every monitor.
pub async fn seed_tenants(
    db: &DatabaseConnection,
    catalog_slug: &str,
    count: usize,
    per_tenant: usize,
    definition: &Value,
    trigger: Option<&Value>,
) -> Result<Vec<Seeded>> {
    let txn = SystemTxn::begin(db).await?;
    let catalog = networks::Entity::find()
        .filter(networks::Column::Slug.eq(catalog_slug))
        .one(txn.conn())
        .await?
        .context("the catalog network exists")?;
    let now = Utc::now();
    let mut out = Vec::with_capacity(count);
    for chunk in (0..count).collect::<Vec<_>>().chunks(200) {
        let mut tenant_rows = Vec::new();
        let mut network_rows = Vec::new();
        let mut trigger_rows = Vec::new();
        let mut monitor_rows = Vec::new();
        let mut links = Vec::new();
        let mut trigger_links = Vec::new();
        for t in chunk {
            let tenant_id = Uuid::now_v7();
            tenant_rows.push(tenants::ActiveModel {
                id: Set(tenant_id),
                slug: Set(format!("bulk-{}", tenant_id.simple())),
                name: Set(format!("bulk {t}")),
                plan: Set("enterprise".into()),
                quota_overrides: Set(None),
                status: Set("active".into()),
                created_at: Set(now),
                updated_at: Set(now),
            });
            let network_id = Uuid::now_v7();
            network_rows.push(tenant_networks::ActiveModel {
                id: Set(network_id),
                tenant_id: Set(tenant_id),
                slug: Set(catalog_slug.into()),
                name: Set(catalog_slug.into()),
                network_type: Set(catalog.network_type.clone()),
                catalog_network_id: Set(Some(catalog.id)),
                definition: Set(None),
                version: Set(1),
                created_at: Set(now),
                updated_at: Set(now),
            });
            let trigger_id = trigger.map(|_| Uuid::now_v7());
            if let (Some(id), Some(def)) = (trigger_id, trigger) {
                trigger_rows.push(tenant_triggers::ActiveModel {
                    id: Set(id),
                    tenant_id: Set(tenant_id),
                    slug: Set("hook".into()),
                    name: Set("hook".into()),
                    trigger_type: Set(def["trigger_type"].as_str().unwrap_or("webhook").into()),
                    definition: Set(def.clone()),
                    version: Set(1),
                    created_at: Set(now),
                    updated_at: Set(now),
                });
            }
            let mut ids = Vec::new();
            for m in 0..per_tenant {
                let id = Uuid::now_v7();
                ids.push(id);
                let mut definition = definition.clone();
                definition["name"] = format!("m{m}").into();
                definition["networks"] = json!([catalog_slug]);
                if trigger_id.is_some() {
                    definition["triggers"] = json!(["hook"]);
                }
                monitor_rows.push(tenant_monitors::ActiveModel {
                    id: Set(id),
                    tenant_id: Set(tenant_id),
                    name: Set(format!("m{m}")),
                    paused: Set(false),
                    definition: Set(definition),
                    version: Set(1),
                    severity: Set("info".into()),
                    created_at: Set(now),
                    updated_at: Set(now),
                });
                links.push(monitor_networks::ActiveModel {
                    tenant_id: Set(tenant_id),
                    monitor_id: Set(id),
                    network_id: Set(network_id),
                });
                if let Some(trigger_id) = trigger_id {
                    trigger_links.push(monitor_triggers::ActiveModel {
                        tenant_id: Set(tenant_id),
                        monitor_id: Set(id),
                        trigger_id: Set(trigger_id),
                    });
                }
            }
            out.push(Seeded {
                id: tenant_id,
                monitors: ids,
            });
        }
        let c = txn.conn();
        tenants::Entity::insert_many(tenant_rows)
            .exec_without_returning(c)
            .await?;
        tenant_networks::Entity::insert_many(network_rows)
            .exec_without_returning(c)
            .await?;
        if !trigger_rows.is_empty() {
            tenant_triggers::Entity::insert_many(trigger_rows)
                .exec_without_returning(c)
                .await?;
        }
        for part in monitor_rows.chunks(500) {
            tenant_monitors::Entity::insert_many(part.to_vec())
                .exec_without_returning(c)
                .await?;
        }
        for part in links.chunks(1_000) {
            monitor_networks::Entity::insert_many(part.to_vec())
                .exec_without_returning(c)
                .await?;
        }
        for part in trigger_links.chunks(1_000) {
            monitor_triggers::Entity::insert_many(part.to_vec())
                .exec_without_returning(c)
                .await?;
        }
    }
    txn.commit().await?;
    Ok(out)
}

/// Settings of one run.
#[derive(Clone, Debug)]
pub struct E2eSettings {
    pub rpc_url: String,
    pub database_url: Option<String>,
    pub redis_url: Option<String>,
    pub tenants: usize,
    pub workers: usize,
    pub blocks: u64,
    pub transfers_per_block: u64,
    pub block_interval: Duration,
    pub kill_worker: bool,
}

#[derive(Default)]
struct Receipts {
    /// (arrival, transaction hash, alert id)
    got: Vec<(Instant, String, String)>,
}

async fn receive(
    State(r): State<Arc<Mutex<Receipts>>>,
    headers: HeaderMap,
    body: Bytes,
) -> &'static str {
    let tx = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| v["body"].as_str().map(str::to_owned))
        .unwrap_or_default();
    let id = headers
        .get("x-alert-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    r.lock().unwrap().got.push((Instant::now(), tx, id));
    "ok"
}

/// Adds the EVM catalog network `slug` served by `rpc_url` (no confirmations: benches
/// measure the pipeline, not the chain's finality). A disabled one is never watched.
pub async fn catalog_network(
    db: &DatabaseConnection,
    slug: &str,
    rpc_url: &str,
    enabled: bool,
) -> Result<()> {
    let now = Utc::now();
    let definition = json!({
        "network_type": "EVM", "slug": slug, "name": slug,
        "rpc_urls": [{"type_": "rpc", "url": {"type": "plain", "value": rpc_url}, "weight": 100}],
        "chain_id": 31337, "block_time_ms": 100, "confirmation_blocks": 0, "cron_schedule": "*/5 * * * * *"
    });
    let txn = SystemTxn::begin(db).await?;
    networks::Entity::insert(networks::ActiveModel {
        id: Set(Uuid::now_v7()),
        slug: Set(slug.into()),
        name: Set(slug.into()),
        network_type: Set("EVM".into()),
        definition: Set(definition),
        version: Set(1),
        enabled: Set(enabled),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec_without_returning(txn.conn())
    .await?;
    txn.commit().await?;
    Ok(())
}

/// The `p` quantile (0–1) of sorted values (NaN when empty).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[derive(serde::Serialize)]
struct E2eReport {
    tenants: usize,
    workers: usize,
    database: &'static str,
    bus: &'static str,
    blocks: u64,
    transfers: usize,
    matching_transfers: usize,
    expected_webhooks: usize,
    received_webhooks: usize,
    duplicate_webhooks: usize,
    block_to_alert_ms_p50: f64,
    block_to_alert_ms_p99: f64,
    block_to_webhook_ms_p50: f64,
    block_to_webhook_ms_p99: f64,
    block_to_webhook_ms_max: f64,
    webhooks_per_second: f64,
    reassignment_after_worker_death_ms: Option<f64>,
    setup_seconds: f64,
}

pub async fn e2e(s: E2eSettings) -> Result<String> {
    let setup_started = Instant::now();
    let http = reqwest::Client::new();
    let accounts: Vec<String> =
        serde_json::from_value(rpc(&http, &s.rpc_url, "eth_accounts", json!([])).await?)?;
    ensure!(
        accounts.len() >= 3,
        "the node needs unlocked accounts (Anvil)"
    );
    let token = deploy_token(&http, &s.rpc_url, &accounts[0]).await?;

    // The receiver.
    let receipts = Arc::new(Mutex::new(Receipts::default()));
    let router = axum::Router::new()
        .fallback(receive)
        .with_state(receipts.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let hook = format!("http://{}/hook", listener.local_addr()?);
    tokio::spawn(async move { axum::serve(listener, router).await });

    // Storage and bus.
    let dir = std::env::temp_dir().join(format!("sm-e2e-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let target = match &s.database_url {
        Some(url) => Target::resolve(Some(url), &dir)?,
        None => Target::Sqlite(dir.join("bench.db")),
    };
    let database = match target {
        Target::Postgres(_) => "postgres",
        Target::Sqlite(_) => "sqlite",
    };
    let db = crate::database::connect(&target, 16).await?;
    crate::database::migrate(&db).await?;
    let prefix = format!("sm-e2e-{}", Uuid::new_v4().simple());
    let bus = bus::connect(s.redis_url.as_deref(), &prefix).await?;
    let sealer = Arc::new(entities::secrets::Sealer::new(&[9u8; 32])?);

    // The network (no confirmations: this measures the pipeline, not the chain's
    // finality) and the tenants.
    catalog_network(&db, "bench", &s.rpc_url, true).await?;
    let monitor = json!({
        "name": "m", "networks": ["bench"], "paused": false,
        "addresses": [{"address": token, "contract_spec": monitor::loadgen::erc20_abi()}],
        "match_conditions": {"functions": [], "events": [{"signature": "Transfer(address,address,uint256)", "expression": "value > 1000"}], "transactions": []},
        "trigger_conditions": [], "triggers": []
    });
    let trigger = json!({"name": "hook", "trigger_type": "webhook", "config": {
        "url": {"type": "plain", "value": hook}, "message": {"title": "t", "body": "${transaction.hash}"}}});
    let seeded = seed_tenants(&db, "bench", s.tenants, 1, &monitor, Some(&trigger)).await?;

    // The fleet.
    let shutdown = CancellationToken::new();
    let mut tasks = Vec::new();
    tasks.push(tokio::spawn(watcher::run(
        watcher::WatcherContext {
            db: db.clone(),
            bus: bus.clone(),
            sealer: sealer.clone(),
            options: watcher::WatcherOptions {
                discovery_interval: Duration::from_millis(500),
                min_poll: Duration::from_millis(20),
                ..Default::default()
            },
        },
        shutdown.clone(),
    )));
    tasks.push(tokio::spawn(orchestrator::leader::run(
        orchestrator::leader::OrchestratorContext {
            db: db.clone(),
            bus: bus.clone(),
            options: orchestrator::leader::OrchestratorOptions {
                tick: Duration::from_millis(100),
                startup_grace: Duration::from_millis(500),
                ..Default::default()
            },
        },
        shutdown.clone(),
    )));
    let plans = Arc::new(policies::Plans::builtin());
    let health = Arc::new(orchestrator::FleetHealth::new(1_000));
    let heartbeat_ttl = Duration::from_millis(1_500);
    let mut workers = BTreeMap::new();
    for i in 0..s.workers.max(1) {
        let id = format!("bench-{i}");
        let handle = tokio::spawn(orchestrator::worker::run(
            orchestrator::worker::WorkerContext {
                db: db.clone(),
                bus: bus.clone(),
                plans: plans.clone(),
                options: orchestrator::worker::WorkerOptions {
                    id: id.clone(),
                    heartbeat_interval: Duration::from_millis(300),
                    heartbeat_ttl,
                    poll_interval: Duration::from_millis(10),
                    ..Default::default()
                },
                health: health.clone(),
            },
            shutdown.clone(),
        ));
        workers.insert(id, handle);
    }
    tasks.push(tokio::spawn(orchestrator::outbox::run(
        orchestrator::outbox::OutboxContext {
            db: db.clone(),
            bus: bus.clone(),
            sealer,
            plans,
            options: orchestrator::outbox::OutboxOptions {
                concurrency: 64,
                batch: 64,
                poll: Duration::from_millis(20),
                tenant_per_minute: 1_000_000,
                send: orchestrator::notify::send::SendSettings {
                    allow_private_targets: true,
                    ..Default::default()
                },
                ..Default::default()
            },
        },
        shutdown.clone(),
    )));
    // Alert events, for block-to-alert latency.
    let alert_times: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    {
        let mut sub = bus.subscribe(&bus.keys().alerts_channel()).await?;
        let alert_times = alert_times.clone();
        tokio::spawn(async move {
            while let Some(msg) = sub.recv().await {
                if let Ok(e) = bus::events::AlertCreated::decode(&msg)
                    && let Some(tx) = e.transaction_hash
                {
                    alert_times
                        .lock()
                        .unwrap()
                        .push((tx.to_lowercase(), Instant::now()));
                }
            }
        });
    }

    // Wait until every tenant is adopted and blocks flow.
    rpc(&http, &s.rpc_url, "evm_setAutomine", json!([false])).await?;
    let ids: Vec<Uuid> = seeded.iter().map(|t| t.id).collect();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let txn = SystemTxn::begin(&db).await?;
        let ready = entities::tenant_cursors::Entity::find()
            .filter(entities::tenant_cursors::Column::NetworkKey.eq("bench"))
            .filter(entities::tenant_cursors::Column::BlockNumber.gt(0))
            .all(txn.conn())
            .await?
            .len();
        txn.commit().await?;
        if ready >= ids.len() {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "only {ready} of {} tenants started",
            ids.len()
        );
        rpc(&http, &s.rpc_url, "evm_mine", json!([])).await?;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let setup_seconds = setup_started.elapsed().as_secs_f64();

    // The script.
    let mut mined: HashMap<String, Instant> = HashMap::new();
    let mut matching = 0usize;
    let mut transfers = 0usize;
    let mut reassignment = None;
    let run_started = Instant::now();
    for b in 0..s.blocks {
        let mut block_txs = Vec::new();
        for i in 0..s.transfers_per_block {
            let amount: u64 = if (b + i) % 2 == 0 { 5_000 } else { 500 };
            let to = accounts[1 + (i as usize % 2)]
                .trim_start_matches("0x")
                .to_owned();
            let hash = rpc(
                &http,
                &s.rpc_url,
                "eth_sendTransaction",
                json!([{"from": accounts[0], "to": token, "data": format!("0xa9059cbb{to:0>64}{amount:064x}"), "gas": "0x30000"}]),
            )
            .await?;
            transfers += 1;
            if amount > 1_000 {
                matching += 1;
                block_txs.push(hash.as_str().unwrap_or_default().to_lowercase());
            }
        }
        rpc(&http, &s.rpc_url, "evm_mine", json!([])).await?;
        let at = Instant::now();
        for tx in block_txs {
            mined.insert(tx, at);
        }
        if s.kill_worker && b == s.blocks / 2 && workers.len() > 1 {
            // A crash: the task stops without leaving the fleet.
            let (victim, handle) = workers.pop_first().expect("workers");
            handle.abort();
            let killed = Instant::now();
            let bus = bus.clone();
            reassignment = Some(tokio::spawn(async move {
                loop {
                    if let Ok(Some(a)) = orchestrator::membership::assignment(&*bus).await
                        && !a.owners.is_empty()
                        && a.owners.values().all(|w| *w != victim)
                    {
                        return killed.elapsed();
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }));
        }
        let next = run_started + s.block_interval * (b as u32 + 1);
        tokio::time::sleep_until(next.into()).await;
    }
    // A few more blocks, then wait for the webhooks.
    let expected = matching * s.tenants;
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        let got = receipts.lock().unwrap().got.len();
        if got >= expected || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Late duplicates would arrive now.
    tokio::time::sleep(Duration::from_secs(2)).await;
    shutdown.cancel();
    for (_, w) in workers {
        let _ = w.await;
    }
    for t in tasks {
        let _ = t.await;
    }
    let reassignment_ms = match reassignment {
        Some(h) => Some(
            tokio::time::timeout(Duration::from_secs(1), h)
                .await
                .ok()
                .and_then(Result::ok)
                .map(|d| d.as_secs_f64() * 1000.0)
                .unwrap_or(f64::NAN),
        ),
        None => None,
    };

    let got = receipts.lock().unwrap().got.clone();
    let mut ids_seen = std::collections::HashSet::new();
    let duplicates = got
        .iter()
        .filter(|(_, _, id)| !ids_seen.insert(id.clone()))
        .count();
    let mut webhook_ms: Vec<f64> = got
        .iter()
        .filter_map(|(at, tx, _)| {
            mined
                .get(tx)
                .map(|m| at.duration_since(*m).as_secs_f64() * 1000.0)
        })
        .collect();
    webhook_ms.sort_by(f64::total_cmp);
    let alerts = alert_times.lock().unwrap().clone();
    let mut alert_ms: Vec<f64> = alerts
        .iter()
        .filter_map(|(tx, a)| {
            mined
                .get(tx)
                .map(|m| a.duration_since(*m).as_secs_f64() * 1000.0)
        })
        .collect();
    alert_ms.sort_by(f64::total_cmp);
    let span = match (got.first(), got.last()) {
        (Some(a), Some(b)) if b.0 > a.0 => b.0.duration_since(a.0).as_secs_f64(),
        _ => f64::NAN,
    };
    db.close().await.ok();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(serde_json::to_string(&E2eReport {
        tenants: s.tenants,
        workers: s.workers,
        database,
        bus: if s.redis_url.is_some() {
            "redis"
        } else {
            "memory"
        },
        blocks: s.blocks,
        transfers,
        matching_transfers: matching,
        expected_webhooks: expected,
        received_webhooks: got.len(),
        duplicate_webhooks: duplicates,
        block_to_alert_ms_p50: percentile(&alert_ms, 0.5),
        block_to_alert_ms_p99: percentile(&alert_ms, 0.99),
        block_to_webhook_ms_p50: percentile(&webhook_ms, 0.5),
        block_to_webhook_ms_p99: percentile(&webhook_ms, 0.99),
        block_to_webhook_ms_max: webhook_ms.last().copied().unwrap_or(f64::NAN),
        webhooks_per_second: got.len() as f64 / span,
        reassignment_after_worker_death_ms: reassignment_ms,
        setup_seconds,
    })?)
}
