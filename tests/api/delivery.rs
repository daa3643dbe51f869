//! Notifications end to end: a transfer on Anvil becomes an alert, the outbox sends it
//! to a local receiver per channel — exact bytes, headers and a signature verified here
//! independently — retries while the receiver is down, marks it dead when it never comes
//! back, and redelivers on request.

use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::fleet::{
    Chain, all_alerts, catalog_network, chain, transfer_monitor, transfers, wait_flowing,
};
use crate::gql::Client;
use crate::helpers::{TestApp, spawn_app, spawn_app_with};
use crate::receiver::{Behaviour, Received, Receiver};

pub struct Setup {
    pub c: Chain,
    pub app: TestApp,
    pub owner: Client,
    pub tenant: uuid::Uuid,
}

/// A tenant with network `chain` enabled, trigger `hook` from `trigger` and a monitor
/// on the test token (`value > 1000`) notifying it; blocks flowing.
pub async fn setup(test: &str, app: TestApp, trigger: Value) -> Option<Setup> {
    let c = chain(test).await?;
    catalog_network(&app, "chain", &c.anvil.url).await;
    let owner = app.owner("notify").await;
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
        .gql(
            &owner,
            "mutation($t: JSON!) { createTrigger(input: {slug: \"hook\", ozJson: $t}) { trigger { id } userErrors { field message } } }",
            json!({"t": trigger}),
        )
        .await;
    assert!(
        r["data"]["createTrigger"]["trigger"]["id"].is_string(),
        "{r}"
    );
    let mut monitor = transfer_monitor("Big transfers", "chain", &c.token, "value > 1000");
    monitor["triggers"] = json!(["hook"]);
    let r = app.create_monitor(&owner, monitor).await;
    assert!(
        r["data"]["createMonitor"]["monitor"]["id"].is_string(),
        "{r}"
    );
    let tenant = uuid::Uuid::parse_str(
        crate::fleet::system_text(
            &app.db,
            "SELECT CAST(id AS TEXT) FROM tenants WHERE slug = 'notify'",
        )
        .await[0]
            .as_deref()
            .unwrap(),
    )
    .unwrap();
    wait_flowing(&c.anvil, &app.db, "chain", &[tenant]).await;
    Some(Setup {
        c,
        app,
        owner,
        tenant,
    })
}

impl Setup {
    /// One matching transfer; returns its transaction hash.
    pub async fn fire(&self, amount: u64) -> String {
        let (sent, _) = transfers(
            &self.c.anvil,
            &self.c.token,
            &self.c.accounts[0],
            &self.c.accounts[1..2],
            &[amount],
            1,
        )
        .await;
        sent[0].0.clone()
    }

    pub async fn deliveries(&self, statuses: &[&str]) -> Vec<Value> {
        let r = self
            .app
            .gql(
                &self.owner,
                "query($s: [String!]!) { deliveries(first: 50, filter: {statuses: $s}) { edges { node { id status attempts nextAttemptAt lastError lastStatusCode attemptLog { attempt outcome statusCode error durationMs } } } } }",
                json!({"s": statuses}),
            )
            .await;
        r["data"]["deliveries"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{r}"))
            .iter()
            .map(|e| e["node"].clone())
            .collect()
    }

    pub async fn wait_status(&self, status: &str) -> Value {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if let Some(d) = self.deliveries(&[status]).await.into_iter().next() {
                return d;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "no {status} delivery: {:?}",
                self.deliveries(&[]).await
            );
            // (Polling stays well under the plan's API rate limit.)
            tokio::time::sleep(std::time::Duration::from_millis(400)).await;
        }
    }
}

fn message() -> Value {
    json!({"title": "${monitor.name} on ${network.slug}", "body": "${events.0.args.value} in ${transaction.hash}"})
}

fn hmac_hex(secret: &str, data: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(data);
    hex::encode(mac.finalize().into_bytes())
}

fn only(got: &[Received]) -> &Received {
    assert_eq!(got.len(), 1, "{got:?}");
    &got[0]
}

#[tokio::test]
async fn a_webhook_carries_exact_bytes_headers_and_a_signature_the_receiver_can_verify() {
    let rx = Receiver::start(Behaviour::Ok).await;
    let trigger = json!({"name": "Ops hook", "trigger_type": "webhook", "config": {
        "url": {"type": "plain", "value": format!("{}/hooks/ops", rx.url)}, "method": "POST",
        "secret": {"type": "plain", "value": "s3cret-key"}, "headers": {"X-Team": "treasury"},
        "message": message()}});
    let Some(s) = setup("a_webhook_carries_exact_bytes", spawn_app().await, trigger).await else {
        return;
    };
    let tx = s.fire(5_000).await;
    let got = rx.wait("the webhook", |r| !r.is_empty()).await;
    let r = only(&got);
    assert_eq!(r.method, "POST");
    assert_eq!(r.path, "/hooks/ops");
    let expected = format!(r#"{{"body":"5000 in {tx}","title":"Big transfers on chain"}}"#);
    assert_eq!(String::from_utf8(r.body.clone()).unwrap(), expected);
    assert_eq!(r.header("content-type"), Some("application/json"));
    assert_eq!(r.header("x-team"), Some("treasury"));
    let ts = r.header("x-timestamp").unwrap();
    let now_ms = chrono::Utc::now().timestamp_millis();
    assert!((now_ms - ts.parse::<i64>().unwrap()).abs() < 60_000);
    let signed = [r.body.as_slice(), ts.as_bytes()].concat();
    assert_eq!(
        r.header("x-signature").unwrap(),
        hmac_hex("s3cret-key", &signed)
    );
    let alert_id = r.header("x-alert-id").unwrap().to_owned();
    assert_eq!(alert_id.len(), 32);
    let d = s.wait_status("delivered").await;
    assert_eq!(d["attempts"], 1);
    assert_eq!(d["attemptLog"][0]["outcome"], "success");
    assert_eq!(d["attemptLog"][0]["statusCode"], 200);
    // Exactly one alert, one request.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(rx.received().len(), 1);
    assert_eq!(all_alerts(&s.app.db).await.len(), 1);
    let sent = crate::fleet::system_text(
        &s.app.db,
        &format!(
            "SELECT CAST(notifications AS TEXT) FROM tenant_usage WHERE tenant_id = '{}'",
            s.tenant
        ),
    )
    .await;
    assert_eq!(
        sent,
        [Some("1".to_owned())],
        "usage counts the notification"
    );
}

#[tokio::test]
async fn raw_mode_sends_the_match_and_slack_discord_telegram_get_their_shapes() {
    let rx = Receiver::start(Behaviour::Ok).await;
    let url = rx.url.clone();
    let app =
        spawn_app_with(|serve| serve.notify.notify_telegram_api_base = format!("{url}/telegram"))
            .await;
    let trigger = json!({"name": "raw", "trigger_type": "webhook", "config": {
        "url": {"type": "plain", "value": format!("{}/raw", rx.url)}, "payload_mode": "raw"}});
    let Some(s) = setup("raw_mode_sends_the_match", app, trigger).await else {
        return;
    };
    // Three more triggers on the same monitor, one per chat channel.
    let extra = [
        (
            "slack",
            json!({"name": "s", "trigger_type": "slack", "config": {"slack_url": {"type": "plain", "value": format!("{}/slack", rx.url)}, "message": message()}}),
        ),
        (
            "discord",
            json!({"name": "d", "trigger_type": "discord", "config": {"discord_url": {"type": "plain", "value": format!("{}/discord", rx.url)}, "message": message()}}),
        ),
        (
            "telegram",
            json!({"name": "t", "trigger_type": "telegram", "config": {"token": {"type": "plain", "value": "123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ012345678"}, "chat_id": "-100", "message": message()}}),
        ),
    ];
    for (slug, t) in &extra {
        let r = s
            .app
            .gql(&s.owner, "mutation($s: String!, $t: JSON!) { createTrigger(input: {slug: $s, ozJson: $t}) { trigger { id } } }", json!({"s": slug, "t": t}))
            .await;
        assert!(
            r["data"]["createTrigger"]["trigger"]["id"].is_string(),
            "{r}"
        );
    }
    let monitors = s
        .app
        .gql(
            &s.owner,
            "{ monitors(first: 5) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    let id = monitors["data"]["monitors"]["edges"][0]["node"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut m = transfer_monitor("Big transfers", "chain", &s.c.token, "value > 1000");
    m["triggers"] = json!(["hook", "slack", "discord", "telegram"]);
    let r = s
        .app
        .gql(&s.owner, "mutation($id: ID!, $m: JSON!) { updateMonitor(input: {id: $id, draft: {ozJson: $m}}) { monitor { version } userErrors { message } } }", json!({"id": id, "m": m}))
        .await;
    assert_eq!(r["data"]["updateMonitor"]["monitor"]["version"], 2, "{r}");

    let tx = s.fire(2_500).await;
    let got = rx.wait("four notifications", |r| r.len() >= 4).await;
    let by_path = |p: &str| {
        got.iter()
            .find(|r| r.path == p)
            .unwrap_or_else(|| panic!("{p}: {got:?}"))
    };
    let raw = by_path("/raw").json();
    assert_eq!(raw["EVM"]["transaction"]["hash"], tx);
    assert_eq!(
        raw["EVM"]["matched_on_args"]["events"][0]["args"][2]["value"],
        "2500"
    );
    assert!(by_path("/raw").header("x-signature").is_none());
    let text = format!("*Big transfers on chain*\n\n2500 in {tx}");
    assert_eq!(
        by_path("/slack").json(),
        json!({"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]})
    );
    assert_eq!(
        by_path("/discord").json(),
        json!({"content": text, "allowed_mentions": {"parse": []}})
    );
    let tg = by_path("/telegram/bot123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ012345678/sendMessage").json();
    assert_eq!(tg["chat_id"], "-100");
    assert_eq!(tg["parse_mode"], "MarkdownV2");
    assert_eq!(
        tg["text"],
        format!("*Big transfers on chain*\n\n2500 in {tx}")
    );
}

#[tokio::test]
async fn a_receiver_down_for_the_first_attempts_gets_the_alert_exactly_once() {
    let rx = Receiver::start(Behaviour::FailFirst(2)).await;
    let trigger = json!({"name": "hook", "trigger_type": "webhook", "config": {
        "url": {"type": "plain", "value": rx.url}, "message": message(),
        "retry_policy": {"max_retries": 3, "initial_backoff": 50, "max_backoff": 100, "jitter": "none"}}});
    let Some(s) = setup(
        "a_receiver_down_for_the_first_attempts",
        spawn_app().await,
        trigger,
    )
    .await
    else {
        return;
    };
    s.fire(3_000).await;
    let d = s.wait_status("delivered").await;
    let got = rx.received();
    assert_eq!(
        got.iter().map(|r| r.answered).collect::<Vec<_>>(),
        [503, 503, 200]
    );
    let ids: std::collections::BTreeSet<&str> = got
        .iter()
        .map(|r| r.header("x-alert-id").unwrap())
        .collect();
    assert_eq!(ids.len(), 1, "every attempt carries the same alert id");
    assert_eq!(d["attempts"], 3);
    let outcomes: Vec<&str> = d["attemptLog"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["retryable", "retryable", "success"]);
    assert_eq!(d["attemptLog"][0]["statusCode"], 503);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(
        rx.received().iter().filter(|r| r.answered == 200).count(),
        1
    );
}

#[tokio::test]
async fn a_receiver_failing_forever_ends_dead_visible_and_redeliverable() {
    let rx = Receiver::start(Behaviour::Always(500)).await;
    let trigger = json!({"name": "hook", "trigger_type": "webhook", "config": {
        "url": {"type": "plain", "value": rx.url}, "message": message(),
        "retry_policy": {"max_retries": 1, "initial_backoff": 20, "max_backoff": 50}}});
    let Some(s) = setup("a_receiver_failing_forever", spawn_app().await, trigger).await else {
        return;
    };
    s.fire(3_000).await;
    let dead = s.wait_status("dead").await;
    // One try, one policy retry, then the (compressed, two-step) long schedule.
    assert_eq!(dead["attempts"], 4, "{dead}");
    assert_eq!(dead["lastStatusCode"], 500);
    assert!(dead["lastError"].as_str().unwrap().contains("HTTP 500"));
    assert_eq!(rx.received().len(), 4);
    rx.set(Behaviour::Ok);
    let r = s
        .app
        .gql(
            &s.owner,
            "mutation($id: ID!) { redeliver(input: {id: $id}) { delivery { status attempts } } }",
            json!({"id": dead["id"]}),
        )
        .await;
    assert_eq!(
        r["data"]["redeliver"]["delivery"]["status"], "pending",
        "{r}"
    );
    let d = s.wait_status("delivered").await;
    assert_eq!(d["attempts"], 1, "a new round: {d}");
    assert_eq!(rx.received().last().unwrap().answered, 200);
    assert_eq!(rx.received().len(), 5);
}

#[tokio::test]
async fn misbehaving_receivers_are_failures_never_crashes() {
    // A huge binary 500 body, then a receiver too slow for the timeout, then a refusal
    // that retrying cannot fix.
    let rx = Receiver::start(Behaviour::Garbage).await;
    let trigger = json!({"name": "hook", "trigger_type": "webhook", "config": {
        "url": {"type": "plain", "value": rx.url}, "message": message(),
        "retry_policy": {"max_retries": 5, "initial_backoff": 20, "max_backoff": 50}}});
    let Some(s) = setup("misbehaving_receivers", spawn_app().await, trigger).await else {
        return;
    };
    s.fire(3_000).await;
    rx.wait("a garbage answer", |r| !r.is_empty()).await;
    rx.set(Behaviour::Slow(std::time::Duration::from_secs(3)));
    rx.wait("a slow request", |r| r.len() >= 2).await;
    rx.set(Behaviour::Always(404));
    let dead = s.wait_status("dead").await;
    let log = dead["attemptLog"].as_array().unwrap();
    assert!(log[0]["error"].as_str().unwrap().starts_with("HTTP 500"));
    assert!(
        log[0]["error"].as_str().unwrap().len() < 1_000,
        "error text is bounded"
    );
    assert!(
        log.iter()
            .any(|a| a["error"].as_str().unwrap_or("").contains("timed out")),
        "{log:?}"
    );
    assert_eq!(log.last().unwrap()["outcome"], "permanent");
    assert_eq!(dead["lastStatusCode"], 404);
    // The fleet is still working: a new alert is delivered.
    rx.set(Behaviour::Ok);
    let before = rx.received().len();
    s.fire(4_000).await;
    rx.wait("the next alert", |r| {
        r.len() > before && r.last().unwrap().answered == 200
    })
    .await;
}

#[tokio::test]
async fn a_claim_abandoned_mid_send_is_sent_again_with_the_same_alert_id() {
    let rx = Receiver::start(Behaviour::Ok).await;
    let trigger = json!({"name": "hook", "trigger_type": "webhook", "config": {
        "url": {"type": "plain", "value": rx.url}, "message": message()}});
    let Some(s) = setup("a_claim_abandoned_mid_send", spawn_app().await, trigger).await else {
        return;
    };
    s.fire(3_000).await;
    let d = s.wait_status("delivered").await;
    let first = rx.received();
    assert_eq!(first.len(), 1);
    // A process claimed it, sent it and died before recording: the row is left claimed
    // with an expired lease.
    let txn = entities::SystemTxn::begin(&s.app.db).await.unwrap();
    use sea_orm::ConnectionTrait;
    txn.conn()
        .execute_unprepared(&format!(
            "UPDATE deliveries SET status = 'in_progress', attempts = 0, delivered_at = NULL, \
             locked_until = next_attempt_at WHERE id = '{}'",
            d["id"].as_str().unwrap()
        ))
        .await
        .unwrap();
    txn.commit().await.unwrap();
    let got = rx.wait("the resend", |r| r.len() >= 2).await;
    assert_eq!(
        got[0].header("x-alert-id"),
        got[1].header("x-alert-id"),
        "the receiver can tell it is the same alert"
    );
    s.wait_status("delivered").await;
}

#[tokio::test]
async fn the_tenant_rate_limit_defers_deliveries_without_failing_them() {
    let rx = Receiver::start(Behaviour::Ok).await;
    let app = spawn_app_with(|serve| serve.notify.notify_tenant_per_minute = 1).await;
    let trigger = json!({"name": "hook", "trigger_type": "webhook", "config": {
        "url": {"type": "plain", "value": rx.url}, "message": message()}});
    let Some(s) = setup("the_tenant_rate_limit_defers", app, trigger).await else {
        return;
    };
    // The limit counts per clock minute: start early in one, so both deliveries fall in
    // the same window (a run straddling a minute boundary would deliver both).
    {
        use chrono::Timelike;
        let second = chrono::Utc::now().second();
        if second > 40 {
            tokio::time::sleep(std::time::Duration::from_secs(u64::from(61 - second))).await;
        }
    }
    // Two matching transfers in one block: two alerts, two deliveries.
    crate::fleet::transfers(
        &s.c.anvil,
        &s.c.token,
        &s.c.accounts[0],
        &s.c.accounts[1..3],
        &[3_000, 4_000],
        2,
    )
    .await;
    s.wait_status("delivered").await;
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let pending = s.deliveries(&["pending"]).await;
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0]["attempts"], 0, "deferred, not failed");
    let next: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(pending[0]["nextAttemptAt"].clone()).unwrap();
    assert_eq!(
        next.timestamp() % 60,
        0,
        "waits for the next minute: {next}"
    );
    assert_eq!(rx.received().len(), 1);
}
