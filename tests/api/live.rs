//! Live feeds over `/graphql/ws` with a real websocket client: alerts from workers reach
//! subscribers on two API processes sharing one Redis, never across tenants; a feed
//! resumes from its cursor with exactly what it missed; a client that stops reading is
//! cut off alone; credentials, limits and bad input get clear answers.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use uuid::Uuid;

use crate::delivery::setup;
use crate::fleet::{Process, role_process, system_text, transfer_monitor, transfers, wait_flowing};
use crate::gql::{Client, code};
use crate::helpers::{TestApp, spawn_app, spawn_app_sqlite, spawn_app_with};
use crate::ws::{ALERTS, Ended, LEGACY_WS, TRANSPORT_WS, Ws, ids};
use entities::alerts;
use orchestrator::worker::alerts::{NewAlert, announce, write};

const WAIT: Duration = Duration::from_secs(30);

pub fn init(c: &Client) -> Value {
    let mut p = json!({});
    if let Some(b) = &c.bearer {
        p["authorization"] = format!("Bearer {b}").into();
    }
    if let Some(t) = &c.tenant {
        p["tenant"] = t.clone().into();
    }
    p
}

/// The tenant id of `slug`.
async fn tenant_id(app: &TestApp, slug: &str) -> Uuid {
    crate::fleet::tenant_id(&app.db, slug).await
}

/// A tenant with a private network `net` and one monitor on it.
pub struct Tenant {
    pub client: Client,
    pub id: Uuid,
    pub monitor: Uuid,
}

pub async fn tenant(app: &TestApp, slug: &str) -> Tenant {
    let client = app.owner(slug).await;
    app.network(&client, "net").await;
    let r = app
        .create_monitor(&client, crate::gql::monitor("watch", "net", &[]))
        .await;
    let monitor = r["data"]["createMonitor"]["monitor"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("monitor: {r}"));
    Tenant {
        client,
        id: tenant_id(app, slug).await,
        monitor: Uuid::parse_str(monitor).unwrap(),
    }
}

/// Writes `n` alerts of `t` the way workers do (stored, then announced).
pub async fn alerts_for(
    app: &TestApp,
    t: &Tenant,
    tag: &str,
    n: usize,
    payload: &Value,
) -> Vec<alerts::Model> {
    alerts_with(app, t, tag, n, payload, "info").await
}

/// [`alerts_for`] of a given severity.
pub async fn alerts_with(
    app: &TestApp,
    t: &Tenant,
    tag: &str,
    n: usize,
    payload: &Value,
    severity: &str,
) -> Vec<alerts::Model> {
    let batch = (0..n)
        .map(|i| NewAlert {
            tenant: t.id,
            monitor: t.monitor,
            monitor_version: 1,
            network_slug: "net".into(),
            block_number: i as u64,
            block_hash: format!("0x{tag}{i:04}"),
            transaction_hash: Some(format!("0x{tag}-{i}")),
            event_index: None,
            idempotency_key: format!("{tag}:{i}"),
            payload: payload.clone(),
            triggers: Vec::new(),
            severity: severity.into(),
        })
        .collect();
    let written = write(&app.db, batch).await.unwrap();
    announce(&*app.bus, &written).await;
    written
}

/// Exactly one subscription of `ws` is refused for its `limit` (connection or tenant),
/// then nothing more arrives; returns the refused id.
async fn one_refusal(ws: &mut Ws, limit: &str) -> String {
    let (refused, r) = ws.result(WAIT).await.unwrap();
    assert_eq!(code(&r), Some("QUOTA_EXCEEDED"), "{refused}: {r}");
    let message = r["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(message.contains(limit), "{r}");
    quiet(ws).await;
    refused
}

/// Asserts nothing more arrives for a moment.
async fn quiet(ws: &mut Ws) {
    match ws.result(Duration::from_millis(800)).await {
        Err(Ended::Timeout) => {}
        other => panic!("expected nothing more, got {other:?}"),
    }
}

#[tokio::test]
async fn alerts_reach_subscribers_on_two_api_processes_and_never_cross_tenants() {
    let rx = crate::receiver::Receiver::start(crate::receiver::Behaviour::Ok).await;
    let trigger = json!({"name": "Hook", "trigger_type": "webhook", "config": {
        "url": {"type": "plain", "value": format!("{}/hook", rx.url)}, "method": "POST",
        "message": {"title": "t", "body": "b"}}});
    let Some(s) = setup(
        "alerts_reach_subscribers_on_two_api",
        spawn_app().await,
        trigger,
    )
    .await
    else {
        return;
    };
    let app = &s.app;
    // Tenant B watches the same token on the same catalog network, without triggers.
    let b = app.owner("other").await;
    app.gql(
        &b,
        "mutation { enableNetwork(input: {catalogSlug: \"chain\"}) { network { slug } } }",
        json!({}),
    )
    .await;
    let r = app
        .create_monitor(
            &b,
            transfer_monitor("B watch", "chain", &s.c.token, "value > 1000"),
        )
        .await;
    assert!(
        r["data"]["createMonitor"]["monitor"]["id"].is_string(),
        "{r}"
    );
    let b_id = tenant_id(app, "other").await;
    wait_flowing(&s.c.anvil, &app.db, "chain", &[s.tenant, b_id]).await;
    let a_monitor = system_text(
        &app.db,
        &format!(
            "SELECT CAST(id AS TEXT) FROM tenant_monitors WHERE tenant_id = '{}'",
            s.tenant
        ),
    )
    .await[0]
        .clone()
        .unwrap();

    // A's monitor pages: its alerts carry CRITICAL (B's stay INFO).
    let mut draft = transfer_monitor("Big transfers", "chain", &s.c.token, "value > 1000");
    draft["triggers"] = json!(["hook"]);
    let r = app
        .gql(
            &s.owner,
            "mutation($id: ID!, $m: JSON!) { updateMonitor(input: {id: $id, draft: {ozJson: $m}, severity: CRITICAL}) { monitor { severity } userErrors { message } } }",
            json!({"id": a_monitor, "m": draft}),
        )
        .await;
    assert_eq!(
        r["data"]["updateMonitor"]["monitor"]["severity"], "CRITICAL",
        "{r}"
    );

    // A second API process (the `api` role) on the same PostgreSQL and Redis.
    let port = crate::anvil::free_port();
    let api2_addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let _api2: Process = role_process(
        "api",
        app.database_url.as_deref().unwrap(),
        app.redis_prefix.as_deref().unwrap(),
        &[
            ("LISTEN_ADDR", api2_addr.to_string()),
            (
                "JWT_SECRET",
                "test-jwt-secret-test-jwt-secret-0123456789".into(),
            ),
        ],
    );
    let deadline = Instant::now() + WAIT;
    while reqwest::get(format!("http://{api2_addr}/readyz"))
        .await
        .map(|r| r.status().is_success())
        .ok()
        != Some(true)
    {
        assert!(
            Instant::now() < deadline,
            "the api process never became ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let a_client = s.owner.clone();
    let mut a1 = Ws::open(app.addr, TRANSPORT_WS).await;
    a1.ready(init(&a_client)).await;
    a1.subscribe("a", ALERTS, json!({})).await;
    a1.subscribe("blocks", "subscription { blockProcessed(network: \"chain\") { network blockNumber blockHash latencyMs } }", json!({})).await;
    let mut a2 = Ws::open(api2_addr, LEGACY_WS).await;
    a2.ready(init(&a_client)).await;
    a2.subscribe("a", ALERTS, json!({})).await;
    a2.subscribe(
        "d",
        "subscription { deliveryUpdated { deliveryId alertId status attempts } }",
        json!({}),
    )
    .await;
    let mut b1 = Ws::open(app.addr, TRANSPORT_WS).await;
    b1.ready(init(&b)).await;
    b1.subscribe("b", ALERTS, json!({})).await;
    // B asks for A's monitor by id and for every network: still only B's alerts (none
    // of them from A's monitor), so nothing.
    let mut b2 = Ws::open(api2_addr, TRANSPORT_WS).await;
    b2.ready(init(&b)).await;
    b2.subscribe(
        "b",
        ALERTS,
        json!({"filter": {"monitorIds": [a_monitor], "networks": ["chain"]}}),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let amounts = [1_500, 500, 2_500, 3_000];
    let (sent, _) = transfers(
        &s.c.anvil,
        &s.c.token,
        &s.c.accounts[0],
        &s.c.accounts[1..3],
        &amounts,
        2,
    )
    .await;
    let matching: BTreeSet<String> = sent
        .iter()
        .filter(|(_, a)| *a > 1_000)
        .map(|(h, _)| h.clone())
        .collect();

    let hashes = |items: &[Value]| -> BTreeSet<String> {
        items
            .iter()
            .map(|i| {
                i["alert"]["transactionHash"]
                    .as_str()
                    .unwrap()
                    .to_lowercase()
            })
            .collect()
    };
    // a1 also gets block progress: collect results by subscription id.
    let mut a1_alerts = Vec::new();
    let mut blocks = Vec::new();
    while a1_alerts.len() < 3 {
        let (id, payload) = a1.result(WAIT).await.expect("a1 gets alerts");
        match id.as_str() {
            "a" => a1_alerts.push(payload["data"]["alerts"].clone()),
            "blocks" => blocks.push(payload["data"]["blockProcessed"].clone()),
            _ => panic!("{payload}"),
        }
    }
    let mut a2_alerts = Vec::new();
    let mut updates = Vec::new();
    while a2_alerts.len() < 3
        || updates
            .iter()
            .filter(|u: &&Value| u["status"] == "delivered")
            .count()
            < 3
    {
        let (id, payload) = a2
            .result(WAIT)
            .await
            .expect("a2 gets alerts and deliveries");
        match id.as_str() {
            "a" => a2_alerts.push(payload["data"]["alerts"].clone()),
            "d" => updates.push(payload["data"]["deliveryUpdated"].clone()),
            _ => panic!("{payload}"),
        }
    }
    let b_alerts = b1.alerts(3, WAIT).await;

    assert_eq!(hashes(&a1_alerts), matching);
    assert_eq!(hashes(&a2_alerts), matching);
    assert_eq!(hashes(&b_alerts), matching);
    assert_eq!(
        ids(&a1_alerts),
        ids(&a2_alerts),
        "both replicas, same alerts, same order"
    );
    let stored = |tenant: Uuid| async move {
        system_text(
            &app.db,
            &format!(
                "SELECT CAST(id AS TEXT) FROM alerts WHERE tenant_id = '{tenant}' ORDER BY id"
            ),
        )
        .await
        .into_iter()
        .map(|v| v.unwrap().parse::<i64>().unwrap())
        .collect::<Vec<_>>()
    };
    assert_eq!(ids(&a1_alerts), stored(s.tenant).await);
    assert_eq!(ids(&b_alerts), stored(b_id).await);
    let severity = |tenant: Uuid| async move {
        let rows = system_text(
            &app.db,
            &format!("SELECT severity FROM alerts WHERE tenant_id = '{tenant}'"),
        )
        .await;
        rows.into_iter()
            .map(|v| v.unwrap())
            .collect::<BTreeSet<_>>()
    };
    assert_eq!(
        severity(s.tenant).await,
        BTreeSet::from(["critical".to_owned()])
    );
    assert_eq!(severity(b_id).await, BTreeSet::from(["info".to_owned()]));
    assert!(
        ids(&a1_alerts)
            .iter()
            .all(|id| !ids(&b_alerts).contains(id))
    );
    assert!(a1_alerts.iter().all(|i| i["replayed"] == false));
    // Deliveries of A's alerts went out and were reported live.
    let delivered: BTreeSet<String> = updates
        .iter()
        .filter(|u| u["status"] == "delivered")
        .map(|u| u["alertId"].as_str().unwrap().to_owned())
        .collect();
    let a_ids: BTreeSet<String> = ids(&a1_alerts).iter().map(|i| i.to_string()).collect();
    assert_eq!(delivered, a_ids);
    // Block progress of the network, for dashboards.
    while blocks.is_empty() {
        let (id, payload) = a1.result(WAIT).await.expect("block progress");
        assert_eq!(id, "blocks", "{payload}");
        blocks.push(payload["data"]["blockProcessed"].clone());
    }
    assert_eq!(blocks[0]["network"], "chain");
    assert!(
        blocks[0]["blockNumber"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .is_ok()
    );
    // B's subscriber asking for A's monitor saw nothing at all.
    quiet(&mut b2).await;
    quiet(&mut b1).await;
}

/// Subscribes on a fresh connection; returns it.
async fn feed(app: &TestApp, t: &Tenant, after: Option<&str>) -> Ws {
    let mut ws = Ws::open(app.addr, TRANSPORT_WS).await;
    ws.ready(init(&t.client)).await;
    ws.subscribe("1", ALERTS, json!({"after": after})).await;
    // The subscription is registered once the server has answered something or had a
    // moment; a backlog answers at once.
    tokio::time::sleep(Duration::from_millis(200)).await;
    ws
}

async fn resume_exactly(app: TestApp) {
    let a = tenant(app_ref(&app), "resumer").await;
    let b = tenant(app_ref(&app), "noise").await;
    let payload = json!({"EVM": {}});

    // Without a cursor: only what is written from now on.
    alerts_for(&app, &a, "before", 2, &payload).await;
    let mut ws = feed(&app, &a, None).await;
    let first = alerts_for(&app, &a, "one", 3, &payload).await;
    let got = ws.alerts(3, WAIT).await;
    assert_eq!(ids(&got), first.iter().map(|r| r.id).collect::<Vec<_>>());
    assert!(got.iter().all(|i| i["replayed"] == false));
    let cursor = got[2]["cursor"].as_str().unwrap().to_owned();
    ws.close().await;

    // Away: alerts happen (and other tenants' too).
    let missed = alerts_for(&app, &a, "two", 5, &payload).await;
    alerts_for(&app, &b, "other", 4, &payload).await;

    // Back with the cursor: exactly the missed ones, in order, then live ones.
    let mut ws = feed(&app, &a, Some(&cursor)).await;
    let got = ws.alerts(5, WAIT).await;
    assert_eq!(ids(&got), missed.iter().map(|r| r.id).collect::<Vec<_>>());
    assert!(got.iter().all(|i| i["replayed"] == true), "{got:?}");
    let live = alerts_for(&app, &a, "three", 2, &payload).await;
    let got_live = ws.alerts(2, WAIT).await;
    assert_eq!(
        ids(&got_live),
        live.iter().map(|r| r.id).collect::<Vec<_>>()
    );
    assert!(got_live.iter().all(|i| i["replayed"] == false));
    quiet(&mut ws).await;
    let cursor = got_live[1]["cursor"].as_str().unwrap().to_owned();
    ws.close().await;

    // Reconnecting while alerts keep being written: the backlog and the live feed meet
    // without a gap or a duplicate.
    let writer = {
        let (db, bus) = (app.db.clone(), app.bus.clone());
        let (tenant, monitor) = (a.id, a.monitor);
        tokio::spawn(async move {
            let mut all = Vec::new();
            for i in 0..40 {
                let batch = vec![NewAlert {
                    tenant,
                    monitor,
                    monitor_version: 1,
                    network_slug: "net".into(),
                    block_number: i,
                    block_hash: format!("0xrace{i}"),
                    transaction_hash: Some(format!("0xrace-{i}")),
                    event_index: None,
                    idempotency_key: format!("race:{i}"),
                    payload: json!({}),
                    triggers: Vec::new(),
                    severity: "info".into(),
                }];
                let written = write(&db, batch).await.unwrap();
                announce(&*bus, &written).await;
                all.extend(written.into_iter().map(|r| r.id));
                tokio::time::sleep(Duration::from_millis(15)).await;
            }
            all
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut ws = feed(&app, &a, Some(&cursor)).await;
    let written = writer.await.unwrap();
    let got = ws.alerts(written.len(), WAIT).await;
    assert_eq!(ids(&got), written, "no gap, no duplicate, in order");
    quiet(&mut ws).await;
}

fn app_ref(app: &TestApp) -> &TestApp {
    app
}

#[tokio::test]
async fn a_feed_resumes_from_its_cursor_with_exactly_the_missed_alerts_on_postgres() {
    resume_exactly(spawn_app_with(|s| s.workers = 0).await).await;
}

#[tokio::test]
async fn a_feed_resumes_from_its_cursor_with_exactly_the_missed_alerts_on_sqlite() {
    resume_exactly(spawn_app_sqlite().await).await;
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_without_affecting_others() {
    let app = spawn_app_with(|s| {
        s.workers = 0;
        s.live.live_buffer = 64;
        s.live.live_write_timeout_secs = 60;
    })
    .await;
    let a = tenant(&app, "slowpoke").await;
    let query = "subscription { alerts { cursor alert { id payload } } }";
    let mut slow = Ws::open_with(app.addr, TRANSPORT_WS, Some(4_096)).await;
    slow.ready(init(&a.client)).await;
    slow.subscribe("1", query, json!({})).await;
    let mut fast = Ws::open(app.addr, TRANSPORT_WS).await;
    fast.ready(init(&a.client)).await;
    fast.subscribe("1", query, json!({})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    // 600 alerts of 16 KB (9.6 MB: far more than socket buffers hold), in rounds of 25
    // (well inside the 64-event buffer): each round once the reading client has read the
    // previous one, so only the client that stops reading falls behind.
    const TOTAL: usize = 600;
    const ROUND: usize = 25;
    let (progress, mut read) = tokio::sync::watch::channel(0usize);
    let payload = json!({"blob": "x".repeat(16 * 1024)});
    let reader = tokio::spawn(async move {
        let mut n = 0;
        let mut last = 0i64;
        while n < TOTAL {
            let (_, p) = fast
                .result(WAIT)
                .await
                .expect("the reading client keeps getting alerts");
            let id: i64 = p["data"]["alerts"]["alert"]["id"]
                .as_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(id > last, "in order");
            last = id;
            n += 1;
            progress.send_replace(n);
        }
        (fast, n)
    });
    let mut written = 0;
    for round in 0..TOTAL / ROUND {
        written += alerts_for(&app, &a, &format!("r{round}x"), ROUND, &payload)
            .await
            .len();
        tokio::time::timeout(WAIT, read.wait_for(|n| *n >= written))
            .await
            .expect("the reading client keeps up")
            .unwrap();
    }
    assert_eq!(written, TOTAL);
    let (mut fast, n) = reader.await.unwrap();
    assert_eq!(n, TOTAL);

    // The slow client finds its connection ended, well short of everything.
    let mut got = 0;
    let ended = loop {
        match slow.result(WAIT).await {
            Ok(_) => got += 1,
            Err(e) => break e,
        }
    };
    assert!(got < TOTAL, "the slow client got everything ({got})");
    match &ended {
        Ended::Closed(code, reason) => {
            assert_eq!(*code, 4008, "{reason}");
            assert!(reason.contains("too slow"), "{reason}");
        }
        Ended::Dropped => {}
        Ended::Timeout => panic!("the slow client was never cut off"),
    }
    // The other client is still subscribed and live.
    let more = alerts_for(&app, &a, "after", 1, &json!({})).await;
    let (_, p) = fast.result(WAIT).await.unwrap();
    assert_eq!(p["data"]["alerts"]["alert"]["id"], more[0].id.to_string());
}

#[tokio::test]
async fn the_websocket_refuses_bad_credentials_input_and_too_many_subscriptions_clearly() {
    let app = spawn_app_sqlite().await;
    let a = tenant(&app, "strict").await;
    let stored = alerts_for(&app, &a, "kept", 3, &json!({})).await;
    let close = |e: Result<Value, Ended>| match e {
        Err(Ended::Closed(code, reason)) => (code, reason),
        other => panic!("expected a close, got {other:?}"),
    };

    // No credentials, bad credentials: 4401.
    let mut ws = Ws::open(app.addr, TRANSPORT_WS).await;
    let (close_code, reason) = close(ws.init(json!({})).await);
    assert_eq!(close_code, 4401, "{reason}");
    assert!(reason.contains("credentials"), "{reason}");
    let mut ws = Ws::open(app.addr, TRANSPORT_WS).await;
    assert_eq!(
        close(ws.init(json!({"authorization": "Bearer nonsense"})).await).0,
        4401
    );
    let mut ws = Ws::open(app.addr, TRANSPORT_WS).await;
    assert_eq!(
        close(ws.init(json!({"apiKey": "smk_00000000_nope"})).await).0,
        4401
    );
    // The legacy protocol reports the refusal, then closes with the same code.
    let mut ws = Ws::open(app.addr, LEGACY_WS).await;
    let m = ws
        .init(json!({"authorization": "Bearer nonsense"}))
        .await
        .unwrap();
    assert_eq!(m["type"], "connection_error", "{m}");
    assert_eq!(
        ws.closed(WAIT).await,
        Ended::Closed(4401, "credentials invalid or expired".into())
    );
    // Valid credentials in a tenant the caller does not belong to: 4403.
    let mut ws = Ws::open(app.addr, TRANSPORT_WS).await;
    let mut p = init(&a.client);
    p["tenant"] = "someone-else".into();
    assert_eq!(close(ws.init(p).await).0, 4403);
    // Subscribing before initialising: 4401.
    let mut ws = Ws::open(app.addr, TRANSPORT_WS).await;
    ws.subscribe("1", ALERTS, json!({})).await;
    assert_eq!(
        ws.closed(WAIT).await,
        Ended::Closed(4401, "Unauthorized: send connection_init first".into())
    );
    // Not JSON at all: closed as a protocol error, no panic.
    let mut ws = Ws::open(app.addr, TRANSPORT_WS).await;
    ws.send_raw("{not json").await;
    assert!(matches!(ws.closed(WAIT).await, Ended::Closed(1002, _)));
    // A subprotocol we do not speak: refused at the handshake.
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://{}/graphql/ws",
            app.addr
        ))
        .unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", "chat".parse().unwrap());
    assert!(tokio_tungstenite::connect_async(request).await.is_err());

    // Offered both subprotocols (either order): the connection speaks the one the
    // handshake names.
    for offered in [
        "graphql-ws, graphql-transport-ws",
        "graphql-transport-ws, graphql-ws",
    ] {
        let mut ws = Ws::open_offering(app.addr, offered).await;
        ws.ready(init(&a.client)).await;
        ws.subscribe(
            "1",
            ALERTS,
            json!({"after": crate::gql::cursor_of(stored[0].id)}),
        )
        .await;
        let got = ws.alerts(2, WAIT).await;
        assert_eq!(ids(&got), vec![stored[1].id, stored[2].id], "{offered}");
    }

    // Only subscriptions over the websocket: queries and mutations go to POST /graphql
    // (rate limited there).
    let mut ws = Ws::open(app.addr, TRANSPORT_WS).await;
    ws.ready(init(&a.client)).await;
    ws.subscribe("q", "query { __typename }", json!({})).await;
    let (_, r) = ws.result(WAIT).await.unwrap();
    assert_eq!(code(&r), Some("BAD_USER_INPUT"), "{r}");
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("only subscriptions"),
        "{r}"
    );
    ws.subscribe(
        "m",
        "mutation { logout(input: {refreshToken: \"x\"}) { ok } }",
        json!({}),
    )
    .await;
    let (_, r) = ws.result(WAIT).await.unwrap();
    assert_eq!(code(&r), Some("BAD_USER_INPUT"), "{r}");

    // Bad arguments are errors of that subscription, the connection stays.
    let mut ws = Ws::open(app.addr, TRANSPORT_WS).await;
    ws.ready(init(&a.client)).await;
    ws.subscribe("bad-cursor", ALERTS, json!({"after": "!!"}))
        .await;
    let (id, r) = ws.result(WAIT).await.unwrap();
    assert_eq!(id, "bad-cursor");
    assert_eq!(code(&r), Some("BAD_USER_INPUT"), "{r}");
    ws.subscribe(
        "bad-id",
        ALERTS,
        json!({"filter": {"monitorIds": ["nope"]}}),
    )
    .await;
    let (_, r) = ws.result(WAIT).await.unwrap();
    assert_eq!(code(&r), Some("BAD_USER_INPUT"), "{r}");
    ws.subscribe(
        "bad-net",
        "subscription { blockProcessed(network: \"nowhere\") { blockNumber } }",
        json!({}),
    )
    .await;
    let (_, r) = ws.result(WAIT).await.unwrap();
    assert_eq!(code(&r), Some("NOT_FOUND"), "{r}");
    ws.subscribe("bad-doc", "subscription { alerts { nope } }", json!({}))
        .await;
    let (_, r) = ws.result(WAIT).await.unwrap();
    assert!(
        r["errors"][0]["message"].as_str().unwrap().contains("nope"),
        "{r}"
    );

    // Limits (free plan): 3 per connection, 5 per tenant. A connection's subscriptions
    // start concurrently, so which one of four is refused is not fixed: exactly one is.
    for i in 0..4 {
        ws.subscribe(&format!("ok{i}"), ALERTS, json!({})).await;
    }
    one_refusal(&mut ws, "connection").await;
    let mut other = Ws::open(app.addr, TRANSPORT_WS).await;
    other.ready(init(&a.client)).await;
    for i in 1..=3 {
        other.subscribe(&format!("x{i}"), ALERTS, json!({})).await;
    }
    let refused = one_refusal(&mut other, "tenant").await;
    // Closing a connection gives its subscriptions back.
    ws.close().await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    other.subscribe("x4", ALERTS, json!({})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let fresh = alerts_for(&app, &a, "fresh", 1, &json!({})).await;
    let mut seen = BTreeSet::new();
    while seen.len() < 3 {
        let (id, r) = other.result(WAIT).await.unwrap();
        assert_eq!(
            r["data"]["alerts"]["alert"]["id"],
            fresh[0].id.to_string(),
            "{id}: {r}"
        );
        seen.insert(id);
    }
    let expected: BTreeSet<String> = ["x1", "x2", "x3", "x4"]
        .into_iter()
        .filter(|id| *id != refused)
        .map(String::from)
        .collect();
    assert_eq!(seen, expected);

    // An API key without alerts:read cannot subscribe to alerts.
    let r = app
        .gql(
            &a.client,
            "mutation { createApiKey(input: {name: \"ro\", scopes: [\"monitors:read\"]}) { key } }",
            json!({}),
        )
        .await;
    let key = r["data"]["createApiKey"]["key"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_owned();
    let mut ws = Ws::open(app.addr, TRANSPORT_WS).await;
    ws.ready(json!({"apiKey": key})).await;
    ws.subscribe("1", ALERTS, json!({})).await;
    let (_, r) = ws.result(WAIT).await.unwrap();
    assert_eq!(code(&r), Some("FORBIDDEN"), "{r}");

    // Plain HTTP cannot run a subscription.
    let r = app
        .gql(&a.client, "subscription { alerts { cursor } }", json!({}))
        .await;
    assert!(r["errors"].is_array(), "{r}");

    // Nothing stored was lost along the way.
    assert_eq!(crate::fleet::alert_count(&app.db, a.id).await, 4);
    assert_eq!(stored.len(), 3);
}

#[tokio::test]
async fn a_connection_that_never_initialises_is_closed_and_idle_ones_get_keepalives() {
    let app = spawn_app_with(|s| {
        s.workers = 0;
        s.live.live_init_timeout_ms = 300;
        s.live.live_keepalive_secs = 1;
    })
    .await;
    let a = tenant(&app, "idle").await;
    let mut ws = Ws::open(app.addr, TRANSPORT_WS).await;
    assert_eq!(
        ws.closed(WAIT).await,
        Ended::Closed(4408, "connection initialisation timeout".into())
    );
    // An initialised connection stays open past the init timeout and hears pings.
    let mut ws = Ws::open(app.addr, LEGACY_WS).await;
    ws.ready(init(&a.client)).await;
    let mut raw = ws;
    let started = Instant::now();
    let m = raw.next_raw(Duration::from_secs(5)).await;
    assert_eq!(m["type"], "ka", "{m}");
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[tokio::test]
async fn delivery_updates_reach_only_their_tenant_on_both_protocols_and_keep_flowing() {
    let app = spawn_app_with(|s| s.workers = 0).await;
    let a = tenant(&app, "deliv-a").await;
    let b = tenant(&app, "deliv-b").await;
    let query = "subscription($s: [String!]!) { deliveryUpdated(filter: {statuses: $s}) { deliveryId alertId status attempts lastError } }";
    let changed = |t: &Tenant, alert_id: i64, status: &str| bus::events::DeliveryChanged {
        tenant: t.id,
        delivery: Uuid::now_v7(),
        alert_id,
        status: status.into(),
        attempts: 1,
        last_error: (status == "failed").then(|| "HTTP 500".into()),
        at_ms: 1_700_000_000_000,
    };
    for proto in [TRANSPORT_WS, LEGACY_WS] {
        let mut ws = Ws::open(app.addr, proto).await;
        ws.ready(init(&a.client)).await;
        ws.subscribe("all", query, json!({"s": []})).await;
        ws.subscribe("failed", query, json!({"s": ["failed"]}))
            .await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        // Several events, well apart: the subscription stays registered between them.
        for (i, status) in ["failed", "delivered", "failed"].into_iter().enumerate() {
            let channel = app.bus.keys().deliveries_channel();
            bus::events::publish_json(&*app.bus, &channel, &changed(&b, 100 + i as i64, status))
                .await;
            bus::events::publish_json(&*app.bus, &channel, &changed(&a, i as i64, status)).await;
            let mut got = Vec::new();
            while got.len() < if status == "failed" { 2 } else { 1 } {
                let (id, r) = ws
                    .result(WAIT)
                    .await
                    .unwrap_or_else(|e| panic!("{proto}: {e:?}"));
                let u = &r["data"]["deliveryUpdated"];
                assert_eq!(u["alertId"], i.to_string(), "{proto}: only tenant A's: {r}");
                assert_eq!(u["status"], status, "{r}");
                got.push(id);
            }
            got.sort();
            let expected: Vec<String> = if status == "failed" {
                vec!["all".into(), "failed".into()]
            } else {
                vec!["all".into()]
            };
            assert_eq!(got, expected, "{proto}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        quiet(&mut ws).await;
    }
}

/// The load harness (`stellar-monitor bench live`) itself, small: every subscriber gets
/// each of its tenant's alerts exactly once.
#[tokio::test]
async fn the_live_bench_counts_every_delivery_exactly_once() {
    let report = stellar_monitor::bench_live::live(stellar_monitor::bench_live::LiveSettings {
        database_url: None,
        redis_url: None,
        tenants: 3,
        subscribers: 12,
        replicas: 1,
        rounds: 3,
        interval: Duration::from_millis(50),
    })
    .await
    .unwrap();
    let r: Value = serde_json::from_str(&report).unwrap();
    assert_eq!(r["alerts_written"], 9, "{r}");
    assert_eq!(r["expected_deliveries"], 36, "{r}");
    assert_eq!(r["received"], 36, "{r}");
    assert_eq!(r["missing"], 0, "{r}");
    assert_eq!(r["duplicates"], 0, "{r}");
    assert_eq!(r["out_of_order"], 0, "{r}");
    assert!(
        r["commit_to_subscriber_ms_p99"].as_f64().unwrap() >= 0.0,
        "{r}"
    );
}

#[tokio::test]
async fn feeds_and_queries_filter_on_severity_and_monitors_carry_it() {
    let app = spawn_app_sqlite().await;
    let a = tenant(&app, "severe").await;
    let severity_of = |r: &Value| r["data"]["monitor"]["severity"].clone();
    let query = "query($id: ID!) { monitor(id: $id) { severity } }";
    // A monitor's severity: INFO by default, set on create, changed on update.
    let m = app.gql(&a.client, query, json!({"id": a.monitor})).await;
    assert_eq!(severity_of(&m), "INFO", "{m}");
    let r = app
        .gql(
            &a.client,
            "mutation($m: JSON!) { createMonitor(input: {draft: {ozJson: $m}, severity: CRITICAL}) { monitor { id severity } userErrors { message } } }",
            json!({"m": crate::gql::monitor("pager", "net", &[])}),
        )
        .await;
    assert_eq!(
        r["data"]["createMonitor"]["monitor"]["severity"], "CRITICAL",
        "{r}"
    );
    let update = "mutation($id: ID!, $m: JSON!, $s: Severity) { updateMonitor(input: {id: $id, draft: {ozJson: $m}, severity: $s}) { monitor { severity } } }";
    let draft = crate::gql::monitor("watch", "net", &[]);
    let r = app
        .gql(
            &a.client,
            update,
            json!({"id": a.monitor, "m": draft, "s": "WARNING"}),
        )
        .await;
    assert_eq!(
        r["data"]["updateMonitor"]["monitor"]["severity"], "WARNING",
        "{r}"
    );
    // Omitted on update: unchanged.
    let r = app
        .gql(&a.client, update, json!({"id": a.monitor, "m": draft}))
        .await;
    assert_eq!(
        r["data"]["updateMonitor"]["monitor"]["severity"], "WARNING",
        "{r}"
    );
    // A value that is not a severity: a clear error, nothing changed.
    let r = app
        .gql(
            &a.client,
            update,
            json!({"id": a.monitor, "m": draft, "s": "URGENT"}),
        )
        .await;
    assert!(
        r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("URGENT"),
        "{r}"
    );
    let m = app.gql(&a.client, query, json!({"id": a.monitor})).await;
    assert_eq!(severity_of(&m), "WARNING", "{m}");

    // Feeds: one for critical only, one for everything.
    let mut critical = Ws::open(app.addr, TRANSPORT_WS).await;
    critical.ready(init(&a.client)).await;
    critical
        .subscribe(
            "c",
            ALERTS_SEVERITY,
            json!({"filter": {"severities": ["CRITICAL"]}}),
        )
        .await;
    let mut all = Ws::open(app.addr, TRANSPORT_WS).await;
    all.ready(init(&a.client)).await;
    all.subscribe("all", ALERTS_SEVERITY, json!({})).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let payload = json!({"EVM": {}});
    let info = alerts_with(&app, &a, "i", 2, &payload, "info").await;
    let crit = alerts_with(&app, &a, "c", 1, &payload, "critical").await;
    let warn = alerts_with(&app, &a, "w", 1, &payload, "warning").await;
    let got = all.alerts(4, WAIT).await;
    let severities: Vec<&str> = got
        .iter()
        .map(|i| i["alert"]["severity"].as_str().unwrap())
        .collect();
    assert_eq!(severities, ["INFO", "INFO", "CRITICAL", "WARNING"]);
    let got = critical.alerts(1, WAIT).await;
    assert_eq!(ids(&got), vec![crit[0].id]);
    quiet(&mut critical).await;
    let cursor = got[0]["cursor"].as_str().unwrap().to_owned();

    // Resuming with the filter: only the missed critical ones come from the backlog.
    critical.close().await;
    alerts_with(&app, &a, "i2", 3, &payload, "info").await;
    let crit2 = alerts_with(&app, &a, "c2", 2, &payload, "critical").await;
    // Once the hub has handed them out live (the other feed has them), they are history
    // for a new subscription: replayed from the database.
    all.alerts(5, WAIT).await;
    let mut ws = Ws::open(app.addr, TRANSPORT_WS).await;
    ws.ready(init(&a.client)).await;
    ws.subscribe(
        "c",
        ALERTS_SEVERITY,
        json!({"after": cursor, "filter": {"severities": ["CRITICAL"]}}),
    )
    .await;
    let got = ws.alerts(2, WAIT).await;
    assert_eq!(ids(&got), crit2.iter().map(|a| a.id).collect::<Vec<_>>());
    assert!(got.iter().all(|i| i["replayed"] == true));
    quiet(&mut ws).await;

    // The alerts query filters the same way.
    let r = app
        .gql(
            &a.client,
            "{ alerts(first: 50, filter: {severities: [WARNING, CRITICAL]}) { edges { node { id severity } } } }",
            json!({}),
        )
        .await;
    let mut listed: Vec<i64> = r["data"]["alerts"]["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{r}"))
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().parse().unwrap())
        .collect();
    listed.sort();
    let mut expected: Vec<i64> = crit
        .iter()
        .chain(&warn)
        .chain(&crit2)
        .map(|a| a.id)
        .collect();
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(info.len(), 2);
}

const ALERTS_SEVERITY: &str = "subscription($after: String, $filter: AlertFeedFilter) { alerts(after: $after, filter: $filter) { cursor replayed alert { id severity } } }";

#[tokio::test]
async fn an_open_feed_ends_when_its_credentials_stop_holding() {
    let app = spawn_app_with(|s| {
        s.workers = 0;
        s.live.live_reauth_secs = 1;
    })
    .await;
    let a = tenant(&app, "revoker").await;
    let r = app
        .gql(
            &a.client,
            "mutation { createApiKey(input: {name: \"feed\", scopes: [\"alerts:read\"]}) { key apiKey { id } } }",
            json!({}),
        )
        .await;
    let key = r["data"]["createApiKey"]["key"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_owned();
    let key_id = r["data"]["createApiKey"]["apiKey"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut by_key = Ws::open(app.addr, TRANSPORT_WS).await;
    by_key.ready(json!({"apiKey": key})).await;
    by_key.subscribe("1", ALERTS, json!({})).await;
    let mut by_token = Ws::open(app.addr, TRANSPORT_WS).await;
    by_token.ready(init(&a.client)).await;
    by_token.subscribe("1", ALERTS, json!({})).await;
    // Still valid: re-checks pass and alerts flow to both.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let first = alerts_for(&app, &a, "ok", 1, &json!({})).await;
    assert_eq!(ids(&by_key.alerts(1, WAIT).await), vec![first[0].id]);
    assert_eq!(ids(&by_token.alerts(1, WAIT).await), vec![first[0].id]);

    // Revoked: that connection ends with 4401 within the re-check interval; the other
    // one stays.
    let r = app
        .gql(
            &a.client,
            "mutation($id: ID!) { revokeApiKey(input: {id: $id}) { apiKey { id } } }",
            json!({"id": key_id}),
        )
        .await;
    assert!(r["errors"].is_null(), "{r}");
    match by_key.closed(Duration::from_secs(10)).await {
        Ended::Closed(code, reason) => assert_eq!(code, 4401, "{reason}"),
        other => panic!("the revoked key's feed stayed open: {other:?}"),
    }
    let second = alerts_for(&app, &a, "after", 1, &json!({})).await;
    assert_eq!(ids(&by_token.alerts(1, WAIT).await), vec![second[0].id]);
}

#[tokio::test]
async fn open_feeds_are_told_to_go_away_when_the_server_stops() {
    let app = spawn_app_with(|s| s.workers = 0).await;
    let a = tenant(&app, "leaving").await;
    let mut ws = Ws::open(app.addr, TRANSPORT_WS).await;
    ws.ready(init(&a.client)).await;
    ws.subscribe("1", ALERTS, json!({})).await;
    let mut legacy = Ws::open(app.addr, LEGACY_WS).await;
    legacy.ready(init(&a.client)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The server stops gracefully (it does not wait for the websockets to end).
    tokio::time::timeout(Duration::from_secs(20), app.stop())
        .await
        .expect("the server stops with feeds open");
    for mut ws in [ws, legacy] {
        match ws.closed(WAIT).await {
            Ended::Closed(code, reason) => {
                assert_eq!(code, 1001, "{reason}");
                assert!(reason.contains("last cursor"), "{reason}");
            }
            other => panic!("expected a going-away close, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn a_replica_refuses_connections_past_its_maximum_and_takes_them_again_later() {
    let app = spawn_app_with(|s| {
        s.workers = 0;
        s.live.live_max_connections = 2;
    })
    .await;
    let a = tenant(&app, "crowded").await;
    let mut first = Ws::open(app.addr, TRANSPORT_WS).await;
    first.ready(init(&a.client)).await;
    let second = Ws::open(app.addr, LEGACY_WS).await;
    // The third handshake is refused with 503 and a hint to retry.
    let mut request =
        tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(format!(
            "ws://{}/graphql/ws",
            app.addr
        ))
        .unwrap();
    request
        .headers_mut()
        .insert("sec-websocket-protocol", TRANSPORT_WS.parse().unwrap());
    match tokio_tungstenite::connect_async(request).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => {
            assert_eq!(r.status(), 503);
            assert!(r.headers().contains_key("retry-after"));
        }
        other => panic!("expected a 503, got {other:?}"),
    }
    // The open ones are unaffected; once one closes, a new one is taken.
    let fresh = alerts_for(&app, &a, "crowd", 1, &json!({})).await;
    first.subscribe("1", ALERTS, json!({})).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let more = alerts_for(&app, &a, "crowd2", 1, &json!({})).await;
    assert_eq!(ids(&first.alerts(1, WAIT).await), vec![more[0].id]);
    assert_eq!(fresh.len(), 1);
    second.close().await;
    let deadline = Instant::now() + WAIT;
    loop {
        let mut request =
            tokio_tungstenite::tungstenite::client::IntoClientRequest::into_client_request(
                format!("ws://{}/graphql/ws", app.addr),
            )
            .unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", TRANSPORT_WS.parse().unwrap());
        if tokio_tungstenite::connect_async(request).await.is_ok() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the freed slot was never given back"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_feed_ends_when_its_access_token_expires() {
    // Tokens live 2 s; the periodic re-check is a minute away: the expiry itself ends
    // the feed.
    let app = spawn_app_with(|s| {
        s.workers = 0;
        s.security.access_token_ttl_secs = 2;
    })
    .await;
    let a = tenant(&app, "expiring").await;
    let mut ws = Ws::open(app.addr, TRANSPORT_WS).await;
    ws.ready(init(&a.client)).await;
    ws.subscribe("1", ALERTS, json!({})).await;
    let started = Instant::now();
    match ws.closed(Duration::from_secs(15)).await {
        Ended::Closed(code, reason) => {
            assert_eq!(code, 4401, "{reason}");
            assert!(reason.contains("expired"), "{reason}");
        }
        other => panic!("the feed outlived its token: {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(15));
}
