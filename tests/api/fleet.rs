//! Helpers for tests of the whole pipeline (chain → watcher → worker → alerts): a
//! catalog network on a node, tenants seeded in bulk, and waits on what workers store.

use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use entities::{SystemTxn, alerts, deliveries, tenant_cursors};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::gql::Client;
use crate::helpers::{ADMIN_EMAIL, ADMIN_PASSWORD, SECRETS_KEY, TestApp, redis_url};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_stellar-monitor");

/// A child process of the binary, killed (SIGKILL) when dropped.
pub struct Process(pub Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `stellar-monitor <role>` on the test's database and Redis prefix with `env`
/// on top (clean environment otherwise). `RUST_LOG` comes from `TEST_LOG` (default
/// `warn`), stderr inherited so failures show.
pub fn role_process(
    role: &str,
    database_url: &str,
    prefix: &str,
    env: &[(&str, String)],
) -> Process {
    let mut cmd = Command::new(BIN);
    cmd.arg(role)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", database_url)
        .env("REDIS_URL", redis_url())
        .env("REDIS_KEY_PREFIX", prefix)
        .env("SECRETS_KEY", SECRETS_KEY)
        .env("LISTEN_ADDR", "127.0.0.1:0")
        .env(
            "RUST_LOG",
            std::env::var("TEST_LOG").unwrap_or_else(|_| "warn".into()),
        )
        .stdout(Stdio::null())
        // Piped when the test reads the logs (LOG_FORMAT set), inherited otherwise.
        .stderr(if env.iter().any(|(k, _)| *k == "LOG_FORMAT") {
            Stdio::piped()
        } else {
            Stdio::inherit()
        });
    for (k, v) in env {
        cmd.env(k, v);
    }
    Process(cmd.spawn().unwrap_or_else(|e| panic!("{role} starts: {e}")))
}

/// The platform admin every test app bootstraps.
pub async fn admin(app: &TestApp) -> Client {
    let r = app
        .gql(
            &Client::default(),
            "mutation($e: String!, $p: String!) { login(input: {email: $e, password: $p}) { accessToken } }",
            json!({"e": ADMIN_EMAIL, "p": ADMIN_PASSWORD}),
        )
        .await;
    Client::bearer(
        r["data"]["login"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("admin login: {r}")),
    )
}

/// Creates catalog network `slug` on `url` (200 ms blocks, 1 confirmation).
pub async fn catalog_network(app: &TestApp, slug: &str, url: &str) {
    let admin = admin(app).await;
    let mut network = crate::gql::evm_network(slug);
    network["rpc_urls"][0]["url"]["value"] = url.into();
    network["block_time_ms"] = 200.into();
    let r = app
        .gql(
            &admin,
            "mutation($n: JSON!) { createCatalogNetwork(input: {ozJson: $n}) { network { slug } userErrors { message } } }",
            json!({"n": network}),
        )
        .await;
    assert_eq!(
        r["data"]["createCatalogNetwork"]["network"]["slug"], slug,
        "{r}"
    );
}

/// An ERC-20 Transfer monitor on `network` watching `token`, matching `expression`.
pub fn transfer_monitor(name: &str, network: &str, token: &str, expression: &str) -> Value {
    let mut m = crate::gql::monitor(name, network, &[]);
    m["addresses"][0]["address"] = token.into();
    m["match_conditions"]["events"][0]["expression"] = expression.into();
    m
}

pub use stellar_monitor::bench_e2e::Seeded as SeededTenant;

/// Writes `count` tenants straight into the database, each with catalog network
/// `catalog_slug` enabled and `per_tenant` monitors of `definition` (and, with
/// `trigger`, one webhook trigger to a closed local port linked to every monitor).
pub async fn seed_tenants(
    db: &DatabaseConnection,
    catalog_slug: &str,
    count: usize,
    per_tenant: usize,
    definition: &Value,
    trigger: bool,
) -> Vec<SeededTenant> {
    let hook = crate::gql::webhook_trigger("http://127.0.0.1:9/hook");
    stellar_monitor::bench_e2e::seed_tenants(
        db,
        catalog_slug,
        count,
        per_tenant,
        definition,
        trigger.then_some(&hook),
    )
    .await
    .unwrap()
}

/// Waits until every one of `tenants` has a cursor on `network_key`: a worker adopted
/// it and reads the stream from there on.
pub async fn wait_adopted(db: &DatabaseConnection, network_key: &str, tenants: &[Uuid]) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let have = cursors(db, network_key).await;
        let missing = tenants.iter().filter(|t| !have.contains_key(t)).count();
        if missing == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{missing} of {} tenants never adopted on {network_key}",
            tenants.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Mines until every one of `tenants` has a cursor past block 0 on `network_key`: the
/// watcher publishes and workers process, so what is sent from now on is seen.
pub async fn wait_flowing(
    anvil: &crate::anvil::Anvil,
    db: &DatabaseConnection,
    network_key: &str,
    tenants: &[Uuid],
) {
    wait_adopted(db, network_key, tenants).await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let have = cursors(db, network_key).await;
        if tenants.iter().all(|t| have.get(t).is_some_and(|b| *b > 0)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "blocks never reached the workers"
        );
        anvil.mine().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Stored cursors on `network_key`: tenant → block number.
pub async fn cursors(db: &DatabaseConnection, network_key: &str) -> BTreeMap<Uuid, u64> {
    let txn = SystemTxn::begin(db).await.unwrap();
    let rows = tenant_cursors::Entity::find()
        .filter(tenant_cursors::Column::NetworkKey.eq(network_key))
        .all(txn.conn())
        .await
        .unwrap();
    txn.commit().await.unwrap();
    rows.into_iter()
        .map(|r| (r.tenant_id, r.block_number as u64))
        .collect()
}

/// Every alert (system scope), oldest first.
pub async fn all_alerts(db: &DatabaseConnection) -> Vec<alerts::Model> {
    let txn = SystemTxn::begin(db).await.unwrap();
    let rows = alerts::Entity::find().all(txn.conn()).await.unwrap();
    txn.commit().await.unwrap();
    let mut rows = rows;
    rows.sort_by_key(|a| a.id);
    rows
}

/// Every delivery (system scope).
pub async fn all_deliveries(db: &DatabaseConnection) -> Vec<deliveries::Model> {
    let txn = SystemTxn::begin(db).await.unwrap();
    let rows = deliveries::Entity::find().all(txn.conn()).await.unwrap();
    txn.commit().await.unwrap();
    rows
}

/// Waits until every tenant's cursor on `network_key` reached `block`.
pub async fn wait_processed(
    db: &DatabaseConnection,
    network_key: &str,
    tenants: &[Uuid],
    block: u64,
) {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let have = cursors(db, network_key).await;
        let behind: Vec<_> = tenants
            .iter()
            .filter(|t| have.get(t).is_none_or(|b| *b < block))
            .collect();
        if behind.is_empty() {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} tenants never processed block {block} (e.g. {:?} at {:?})",
            behind.len(),
            behind[0],
            have.get(behind[0])
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The id of the tenant `slug` (read in system scope; works on both backends, whatever
/// the column's storage).
pub async fn tenant_id(db: &DatabaseConnection, slug: &str) -> uuid::Uuid {
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let txn = SystemTxn::begin(db).await.unwrap();
    let t = entities::tenants::Entity::find()
        .filter(entities::tenants::Column::Slug.eq(slug))
        .one(txn.conn())
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("tenant {slug} exists"));
    txn.commit().await.unwrap();
    t.id
}

/// How many alerts `tenant` has (system scope, both backends).
pub async fn alert_count(db: &DatabaseConnection, tenant: uuid::Uuid) -> u64 {
    use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
    let txn = SystemTxn::begin(db).await.unwrap();
    let n = entities::alerts::Entity::find()
        .filter(entities::alerts::Column::TenantId.eq(tenant))
        .count(txn.conn())
        .await
        .unwrap();
    txn.commit().await.unwrap();
    n
}

/// The first column of `sql`'s rows as text, read in system scope (past row-level
/// security).
pub async fn system_text(db: &DatabaseConnection, sql: &str) -> Vec<Option<String>> {
    use sea_orm::{ConnectionTrait, Statement};
    let txn = SystemTxn::begin(db).await.unwrap();
    let rows = txn
        .conn()
        .query_all(Statement::from_string(
            db.get_database_backend(),
            sql.to_owned(),
        ))
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    txn.commit().await.unwrap();
    rows.into_iter()
        .map(|r| r.try_get_by_index::<Option<String>>(0).unwrap())
        .collect()
}

/// Sends each `(to, amount)` transfer of `token` from `from`, `per_block` to a block;
/// returns each transfer's `(hash, amount)` and the last block holding one.
pub async fn transfers(
    anvil: &crate::anvil::Anvil,
    token: &str,
    from: &str,
    to: &[String],
    amounts: &[u64],
    per_block: usize,
) -> (Vec<(String, u64)>, u64) {
    let mut sent = Vec::new();
    for (i, amount) in amounts.iter().enumerate() {
        let hash = anvil
            .transfer(token, from, &to[i % to.len()], *amount)
            .await;
        sent.push((hash.to_lowercase(), *amount));
        if (i + 1) % per_block == 0 {
            anvil.mine().await;
        }
    }
    anvil.mine().await;
    let last = anvil.block_number().await;
    // One more block confirms the last (networks here need 1 confirmation).
    anvil.mine().await;
    anvil.mine().await;
    (sent, last)
}

pub struct Chain {
    pub anvil: crate::anvil::Anvil,
    pub token: String,
    pub accounts: Vec<String>,
}

/// Anvil with the test token deployed (automine off), or `None` when Anvil is missing.
pub async fn chain(test: &str) -> Option<Chain> {
    let anvil = crate::anvil::Anvil::start(test).await?;
    anvil.automine(false).await;
    let accounts = anvil.accounts().await;
    let token = anvil.deploy_token(&accounts[0], 1_000_000_000).await;
    // A few empty blocks: watchers start at the head, so the deployment (and its mint
    // Transfer) stays out of every test's blocks.
    for _ in 0..3 {
        anvil.mine().await;
    }
    Some(Chain {
        anvil,
        token,
        accounts,
    })
}

/// Stops `app` but keeps what it configured: returns its database URL and Redis prefix
/// and a fresh pool of `connections` on the database (for fleets run as processes).
pub async fn stop_keeping_storage(
    app: TestApp,
    connections: u32,
) -> (String, String, DatabaseConnection) {
    let (url, prefix) = (
        app.database_url.clone().unwrap(),
        app.redis_prefix.clone().unwrap(),
    );
    app.stop().await;
    let db = stellar_monitor::database::connect(
        &stellar_monitor::database::Target::Postgres(url.clone()),
        connections,
    )
    .await
    .unwrap();
    (url, prefix, db)
}
