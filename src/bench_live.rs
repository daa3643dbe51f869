//! `stellar-monitor bench live`: the live alert feed under load on one machine. It starts
//! the API (the code `serve` runs, without workers) on a scratch database, seeds tenants,
//! opens N websocket subscribers (graphql-transport-ws, spread over the tenants and,
//! with `--replicas`, over several API instances sharing one Redis), then writes alerts
//! round by round the way workers do (one transaction per round, then announced on the
//! bus) and measures, per delivered alert, the time from its commit to its arrival at the
//! subscriber: p50/p99/max, missing and duplicate deliveries, memory.
//!
//! Clients and servers share the process (and the 2 cores of a small machine), so the
//! figures are a floor for a real deployment, and the memory figure covers both ends.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use clap::Parser;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::Message;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::bench_e2e::{catalog_network, percentile, seed_tenants};
use crate::config::{Cli, Command};
use crate::startup::Application;
use monitor::loadgen::proc_status_kb;
use orchestrator::worker::alerts::{NewAlert, announce, write};

pub struct LiveSettings {
    /// Scratch PostgreSQL database (default: a temporary SQLite file).
    pub database_url: Option<String>,
    /// Redis (default: the in-process bus; required for more than one replica).
    pub redis_url: Option<String>,
    pub tenants: usize,
    pub subscribers: usize,
    pub replicas: usize,
    pub rounds: usize,
    pub interval: Duration,
}

#[derive(serde::Serialize)]
struct LiveReport {
    database: &'static str,
    bus: &'static str,
    replicas: usize,
    tenants: usize,
    subscribers: usize,
    rounds: usize,
    alerts_written: usize,
    expected_deliveries: usize,
    received: usize,
    missing: usize,
    duplicates: usize,
    out_of_order: usize,
    commit_to_subscriber_ms_p50: f64,
    commit_to_subscriber_ms_p99: f64,
    commit_to_subscriber_ms_max: f64,
    /// Per round: from the round's commit to its last subscriber receiving it.
    round_fanout_ms_p50: f64,
    round_fanout_ms_max: f64,
    write_ms_p50: f64,
    connect_seconds: f64,
    rss_mb_before_connections: f64,
    rss_mb_with_connections: f64,
    /// (RSS with connections − before) / subscribers; client and server ends together.
    kb_per_subscriber: f64,
    peak_rss_mb: f64,
}

/// What one subscriber received: (alert id, arrival).
type Received = Arc<Mutex<Vec<(i64, Instant)>>>;

const ADMIN_EMAIL: &str = "bench@live.invalid";
const ADMIN_PASSWORD: &str = "bench-live-password-0123456789";
const JWT_SECRET: &str = "bench-live-jwt-secret-0123456789abcdef";

pub async fn live(s: LiveSettings) -> Result<String> {
    ensure!(
        s.tenants > 0 && s.subscribers > 0 && s.rounds > 0,
        "tenants, subscribers and rounds must be positive"
    );
    ensure!(
        s.replicas == 1 || (s.redis_url.is_some() && s.database_url.is_some()),
        "more than one replica needs REDIS_URL and BENCH_DATABASE_URL (PostgreSQL)"
    );
    let dir = std::env::temp_dir().join(format!("sm-live-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    let prefix = format!("sm-live-{}", Uuid::new_v4().simple());
    let mut apps = Vec::new();
    for replica in 0..s.replicas.max(1) {
        let mut args = vec![
            "stellar-monitor".to_owned(),
            "--data-dir".into(),
            dir.display().to_string(),
        ];
        if let Some(url) = &s.database_url {
            args.extend(["--database-url".into(), url.clone()]);
        }
        args.extend(
            [
                if replica == 0 { "serve" } else { "api" },
                "--listen",
                "127.0.0.1:0",
                "--workers",
                "0",
                "--admin-email",
                ADMIN_EMAIL,
                "--admin-password",
                ADMIN_PASSWORD,
                "--jwt-secret",
                JWT_SECRET,
                "--redis-key-prefix",
                &prefix,
            ]
            .map(str::to_owned),
        );
        if let Some(url) = &s.redis_url {
            args.extend(["--redis-url".into(), url.clone()]);
        }
        let cli = Cli::try_parse_from(&args).context("bench settings")?;
        let app = match &cli.command {
            Command::Serve(serve) => Application::build(&cli.global, serve).await?,
            Command::Api(serve) => Application::build_api(&cli.global, serve).await?,
            _ => bail!("unexpected command"),
        };
        apps.push(app);
    }
    let db = apps[0].db().clone();
    let bus = apps[0].bus().clone();
    let addrs: Vec<SocketAddr> = apps.iter().map(Application::local_addr).collect();
    let shutdown = CancellationToken::new();
    let mut servers = Vec::new();
    for app in apps {
        servers.push(tokio::spawn(app.run_until_stopped(shutdown.clone())));
    }

    // Tenants (never watched: the network is disabled; alerts are written directly).
    catalog_network(&db, "bench", "http://127.0.0.1:9", false).await?;
    let monitor = json!({
        "name": "m", "networks": ["bench"], "paused": false, "addresses": [],
        "match_conditions": {"functions": [], "events": [], "transactions": []},
        "trigger_conditions": [], "triggers": []
    });
    let seeded = seed_tenants(&db, "bench", s.tenants, 1, &monitor, None).await?;
    let token = login(addrs[0]).await?;

    // Subscribers, round-robin over tenants and replicas.
    let rss_before = proc_status_kb("VmRSS:");
    let connect_started = Instant::now();
    let mut subscribers: Vec<(Uuid, Received)> = Vec::with_capacity(s.subscribers);
    let mut readers = Vec::new();
    for i in 0..s.subscribers {
        let tenant = &seeded[i % seeded.len()];
        let addr = addrs[i % addrs.len()];
        let slug = format!("bulk-{}", tenant.id.simple());
        let received: Received = Arc::default();
        let ws = subscribe(addr, &token, &slug)
            .await
            .with_context(|| format!("subscriber {i}"))?;
        readers.push(tokio::spawn(read(ws, received.clone())));
        subscribers.push((tenant.id, received));
    }
    let connect_seconds = connect_started.elapsed().as_secs_f64();
    // Let registrations settle before measuring memory (a late one still gets every
    // alert: subscriptions start from the beginning of the tenants' history).
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_with = proc_status_kb("VmRSS:");

    // Rounds: one alert per tenant, one transaction per round (as a worker writes a block).
    let mut committed: HashMap<i64, (Uuid, Instant, usize)> = HashMap::new();
    let mut write_ms = Vec::new();
    let mut monitor_of = HashMap::new();
    for t in &seeded {
        monitor_of.insert(t.id, t.monitors[0]);
    }
    for round in 0..s.rounds {
        let batch = seeded
            .iter()
            .map(|t| NewAlert {
                tenant: t.id,
                monitor: monitor_of[&t.id],
                monitor_version: 1,
                network_slug: "bench".into(),
                block_number: round as u64,
                block_hash: format!("0x{round:064x}"),
                transaction_hash: Some(format!("0x{round:08x}{}", t.id.simple())),
                event_index: None,
                idempotency_key: format!("bench:{round}"),
                payload: json!({"EVM": {"round": round}}),
                triggers: Vec::new(),
                severity: "info".into(),
            })
            .collect();
        let started = Instant::now();
        let written = write(&db, batch).await?;
        let at = Instant::now();
        write_ms.push(at.duration_since(started).as_secs_f64() * 1e3);
        for a in &written {
            committed.insert(a.id, (a.tenant_id, at, round));
        }
        announce(&*bus, &written).await;
        tokio::time::sleep(s.interval).await;
    }

    // Wait for everything expected (or a quiet period).
    let per_tenant: HashMap<Uuid, usize> =
        subscribers.iter().fold(HashMap::new(), |mut m, (t, _)| {
            *m.entry(*t).or_default() += 1;
            m
        });
    let expected: usize = committed
        .values()
        .map(|(t, _, _)| per_tenant.get(t).copied().unwrap_or(0))
        .sum();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got: usize = subscribers
            .iter()
            .map(|(_, r)| r.lock().unwrap().len())
            .sum();
        if got >= expected || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let peak_rss = proc_status_kb("VmHWM:");
    shutdown.cancel();
    for r in &readers {
        r.abort();
    }

    let mut latencies = Vec::new();
    let mut round_last: HashMap<usize, f64> = HashMap::new();
    let (mut received, mut duplicates, mut out_of_order, mut foreign) = (0, 0, 0, 0);
    for (tenant, got) in &subscribers {
        let got = got.lock().unwrap();
        let mut seen = HashSet::new();
        let mut last = 0;
        for (id, at) in got.iter() {
            let Some((owner, committed_at, round)) = committed.get(id) else {
                foreign += 1;
                continue;
            };
            if owner != tenant {
                foreign += 1;
                continue;
            }
            if !seen.insert(*id) {
                duplicates += 1;
                continue;
            }
            if *id < last {
                out_of_order += 1;
            }
            last = *id;
            received += 1;
            let ms = at.duration_since(*committed_at).as_secs_f64() * 1e3;
            latencies.push(ms);
            let e = round_last.entry(*round).or_default();
            *e = e.max(ms);
        }
    }
    ensure!(
        foreign == 0,
        "{foreign} alerts reached a subscriber of another tenant"
    );
    latencies.sort_by(f64::total_cmp);
    write_ms.sort_by(f64::total_cmp);
    let mut rounds: Vec<f64> = round_last.into_values().collect();
    rounds.sort_by(f64::total_cmp);
    let report = LiveReport {
        database: if s.database_url.is_some() {
            "postgres"
        } else {
            "sqlite"
        },
        bus: if s.redis_url.is_some() {
            "redis"
        } else {
            "memory"
        },
        replicas: addrs.len(),
        tenants: s.tenants,
        subscribers: s.subscribers,
        rounds: s.rounds,
        alerts_written: committed.len(),
        expected_deliveries: expected,
        received,
        missing: expected.saturating_sub(received),
        duplicates,
        out_of_order,
        commit_to_subscriber_ms_p50: percentile(&latencies, 0.5),
        commit_to_subscriber_ms_p99: percentile(&latencies, 0.99),
        commit_to_subscriber_ms_max: latencies.last().copied().unwrap_or(f64::NAN),
        round_fanout_ms_p50: percentile(&rounds, 0.5),
        round_fanout_ms_max: rounds.last().copied().unwrap_or(f64::NAN),
        write_ms_p50: percentile(&write_ms, 0.5),
        connect_seconds,
        rss_mb_before_connections: rss_before as f64 / 1024.0,
        rss_mb_with_connections: rss_with as f64 / 1024.0,
        kb_per_subscriber: rss_with.saturating_sub(rss_before) as f64 / s.subscribers as f64,
        peak_rss_mb: peak_rss as f64 / 1024.0,
    };
    for server in servers {
        let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(serde_json::to_string(&report)?)
}

/// The bench admin's access token (a platform admin may act in any tenant).
async fn login(addr: SocketAddr) -> Result<String> {
    let r: Value = reqwest::Client::new()
        .post(format!("http://{addr}/graphql"))
        .json(&json!({
            "query": "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { accessToken } }",
            "variables": {"e": ADMIN_EMAIL, "p": ADMIN_PASSWORD},
        }))
        .send()
        .await?
        .json()
        .await?;
    r["data"]["login"]["accessToken"]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("login: {r}"))
}

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a subscriber of `tenant`'s alerts on `addr`.
async fn subscribe(addr: SocketAddr, token: &str, tenant: &str) -> Result<Socket> {
    let mut request = format!("ws://{addr}/graphql/ws").into_client_request()?;
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "graphql-transport-ws".parse()?);
    // A small read buffer on the client end too (the default allocates 128 KiB up
    // front), so the memory figure is mostly the server's.
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(4 * 1024);
    let (mut ws, _) =
        tokio_tungstenite::connect_async_with_config(request, Some(config), true).await?;
    let init = json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}"), "tenant": tenant}});
    ws.send(Message::text(init.to_string())).await?;
    loop {
        match tokio::time::timeout(Duration::from_secs(30), ws.next()).await {
            Ok(Some(Ok(Message::Text(t)))) => {
                let v: Value = serde_json::from_str(t.as_str())?;
                if v["type"] == "connection_ack" {
                    break;
                }
            }
            Ok(Some(Ok(Message::Close(f)))) => bail!("refused: {f:?}"),
            Ok(Some(Ok(_))) => {}
            other => bail!("no acknowledgement: {other:?}"),
        }
    }
    // From the start of the tenant's history (it has none before round 0): an alert
    // written before the server registered this subscription still arrives, replayed.
    let subscribe = json!({"id": "1", "type": "subscribe", "payload": {
        "query": "subscription($after: String) { alerts(after: $after) { cursor alert { id } } }",
        "variables": {"after": graphql::connection::encode("0")}}});
    ws.send(Message::text(subscribe.to_string())).await?;
    Ok(ws)
}

/// Records every alert the subscriber receives; answers pings.
async fn read(mut ws: Socket, received: Received) {
    while let Some(Ok(message)) = ws.next().await {
        let Message::Text(t) = message else { continue };
        let Ok(v) = serde_json::from_str::<Value>(t.as_str()) else {
            continue;
        };
        match v["type"].as_str() {
            Some("next") => {
                if let Some(id) = v["payload"]["data"]["alerts"]["alert"]["id"]
                    .as_str()
                    .and_then(|id| id.parse::<i64>().ok())
                {
                    received.lock().unwrap().push((id, Instant::now()));
                }
            }
            Some("ping") => {
                let _ = ws.send(Message::text(r#"{"type":"pong"}"#)).await;
            }
            _ => {}
        }
    }
}
