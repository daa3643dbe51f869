//! Test harness: a fresh PostgreSQL database (owned by an ordinary role, so row-level
//! security applies) or SQLite file per test, a unique Redis key prefix per test, and the
//! real application on port 0.

use std::net::SocketAddr;
use std::path::PathBuf;

use sea_orm::{ConnectionTrait, DatabaseConnection, Statement};
use stellar_monitor::config::{
    BusArgs, GlobalArgs, LiveTuning, LogFormat, NotifyTuning, OrchestratorTuning, SecurityArgs,
    ServeArgs, WatcherTuning, WorkerTuning,
};
use stellar_monitor::database::{self, Target};
use stellar_monitor::startup::Application;
use tempfile::TempDir;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

/// The key every test app seals secrets with (processes started by tests share it).
pub const SECRETS_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";

/// Password of the admin every test app bootstraps with.
pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "test-admin-password";

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

pub fn redis_url() -> String {
    env_or("TEST_REDIS_URL", "redis://127.0.0.1:6379")
}

/// A Redis key prefix no other test uses (`smt_` so the test script can sweep them).
pub fn redis_prefix() -> String {
    format!("smt_{}", Uuid::new_v4().simple())
}

/// Creates a fresh database owned by the application role; returns its URL as that role.
pub async fn postgres_database() -> String {
    let admin_url = env_or(
        "TEST_PG_ADMIN_URL",
        "postgres://sm_admin:sm_admin@127.0.0.1:5432/postgres",
    );
    let user = env_or("TEST_PG_APP_USER", "sm_app");
    let password = env_or("TEST_PG_APP_PASSWORD", "sm_app");
    let name = format!("sm_test_{}", Uuid::new_v4().simple());
    let admin = sea_orm::Database::connect(&admin_url)
        .await
        .unwrap_or_else(|e| panic!("connecting to {admin_url} (run scripts/services.sh): {e}"));
    admin
        .execute_unprepared(&format!("CREATE DATABASE \"{name}\" OWNER \"{user}\""))
        .await
        .expect("creating the test database");
    admin.close().await.ok();
    format!("postgres://{user}:{password}@127.0.0.1:5432/{name}")
}

/// A migrated PostgreSQL database of this test's own, connected as the application role.
pub async fn postgres_db() -> DatabaseConnection {
    let url = postgres_database().await;
    let db = database::connect(&Target::Postgres(url), 5).await.unwrap();
    database::migrate(&db).await.unwrap();
    db
}

/// A migrated SQLite database in a temporary directory (kept alive by the returned guard).
pub async fn sqlite_db() -> (DatabaseConnection, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let db = database::connect(&Target::Sqlite(dir.path().join("test.db")), 5)
        .await
        .unwrap();
    database::migrate(&db).await.unwrap();
    (db, dir)
}

/// A running application.
pub struct TestApp {
    pub addr: SocketAddr,
    pub db: DatabaseConnection,
    pub http: reqwest::Client,
    /// `Some` when the app runs on Redis.
    pub redis_prefix: Option<String>,
    /// `Some` when the app runs on PostgreSQL: its database's URL.
    pub database_url: Option<String>,
    /// The app's bus (in-process or Redis).
    pub bus: std::sync::Arc<dyn bus::Bus>,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _data_dir: Option<TempDir>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl TestApp {
    /// Stops the app gracefully and waits for it (its watchers release their leases).
    pub async fn stop(mut self) {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("request failed")
    }

    /// POSTs a GraphQL document and returns the JSON response.
    pub async fn graphql(&self, query: &str, variables: serde_json::Value) -> serde_json::Value {
        self.http
            .post(self.url("/graphql"))
            .json(&serde_json::json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("request failed")
            .json()
            .await
            .expect("GraphQL answers JSON")
    }
}

fn global_args(database_url: Option<String>, data_dir: PathBuf) -> GlobalArgs {
    GlobalArgs {
        database_url,
        data_dir,
        database_max_connections: 5,
        scripts_allow_host: false,
        log_format: LogFormat::Text,
        log_filter: "warn".to_owned(),
    }
}

/// Fast watcher settings for tests.
pub fn test_watcher_tuning() -> WatcherTuning {
    WatcherTuning {
        watcher_id: None,
        watcher_lease_ttl_secs: 2,
        watcher_batch: 50,
        watcher_concurrency: 4,
        watcher_initial_backfill: 0,
        watcher_discovery_secs: 1,
    }
}

/// Workers tuned for tests: quick heartbeats and polls, so reassignment and delivery
/// take fractions of a second.
pub fn test_worker_tuning() -> WorkerTuning {
    WorkerTuning {
        worker_id: None,
        worker_heartbeat_interval_ms: 200,
        worker_heartbeat_timeout_ms: 1_500,
        worker_poll_ms: 20,
        worker_read_batch: 50,
        worker_cursor_flush_ms: 200,
        worker_reconcile_secs: 30,
        worker_max_lag: 100,
    }
}

pub fn test_orchestrator_tuning() -> OrchestratorTuning {
    OrchestratorTuning {
        orchestrator_id: None,
        orchestrator_tick_ms: 100,
        orchestrator_lease_ttl_secs: 2,
        orchestrator_load_factor: 1.25,
        orchestrator_vnodes: 160,
        orchestrator_startup_grace_ms: 400,
    }
}

/// Notifications tuned for tests: local receivers allowed, quick polls, a compressed
/// long schedule.
pub fn test_notify_tuning() -> NotifyTuning {
    NotifyTuning {
        notify_concurrency: 8,
        notify_tenant_per_minute: 10_000,
        notify_timeout_ms: 2_000,
        notify_poll_ms: 50,
        notify_lease_secs: 5,
        notify_long_schedule_ms: vec![100, 100],
        notify_allow_private_targets: true,
        notify_smtp_allow_plaintext: true,
        notify_smtp_ca_file: None,
        notify_telegram_api_base: "http://127.0.0.1:9".to_owned(),
    }
}

fn serve_args(redis_url: Option<String>, prefix: String) -> ServeArgs {
    ServeArgs {
        listen: "127.0.0.1:0".parse().unwrap(),
        bus: BusArgs {
            redis_url,
            redis_key_prefix: prefix,
        },
        admin_email: Some(ADMIN_EMAIL.to_owned()),
        admin_password: Some(ADMIN_PASSWORD.to_owned()),
        security: SecurityArgs {
            jwt_secret: Some("test-jwt-secret-test-jwt-secret-0123456789".to_owned()),
            jwt_previous_secrets: vec![],
            secrets_key: Some(SECRETS_KEY.to_owned()),
            access_token_ttl_secs: 900,
            refresh_token_ttl_secs: 3600,
        },
        anonymous_requests_per_minute: 1_000,
        watcher: test_watcher_tuning(),
        workers: 2,
        worker: test_worker_tuning(),
        orchestrator: test_orchestrator_tuning(),
        notify: test_notify_tuning(),
        live: LiveTuning {
            live_buffer: 256,
            live_keepalive_secs: 15,
            live_write_timeout_secs: 5,
            live_init_timeout_ms: 10_000,
            live_poll_ms: 500,
            live_reauth_secs: 60,
            live_max_connections: 20_000,
        },
    }
}

async fn start(global: GlobalArgs, serve: ServeArgs, data_dir: Option<TempDir>) -> TestApp {
    // `TEST_LOG=info` (or any filter) shows the app's logs when debugging a test.
    if let Ok(filter) = std::env::var("TEST_LOG") {
        stellar_monitor::telemetry::init_logs(LogFormat::Text, &filter);
    }
    let app = Application::build(&global, &serve)
        .await
        .expect("app builds");
    let addr = app.local_addr();
    let db = app.db().clone();
    let bus = app.bus().clone();
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(app.run_until_stopped(shutdown.clone()));
    TestApp {
        addr,
        db,
        http: reqwest::Client::new(),
        redis_prefix: serve
            .bus
            .redis_url
            .is_some()
            .then_some(serve.bus.redis_key_prefix),
        database_url: global.database_url.clone(),
        bus,
        shutdown,
        task: Some(task),
        _data_dir: data_dir,
    }
}

/// The app on its own PostgreSQL database and Redis prefix.
pub async fn spawn_app() -> TestApp {
    spawn_app_tuned(test_watcher_tuning()).await
}

/// [`spawn_app`] with other watcher settings.
pub async fn spawn_app_tuned(watcher: WatcherTuning) -> TestApp {
    spawn_app_with(|serve| serve.watcher = watcher).await
}

/// [`spawn_app`] with other settings.
pub async fn spawn_app_with(tune: impl FnOnce(&mut ServeArgs)) -> TestApp {
    let url = postgres_database().await;
    spawn_app_on(&url, &redis_prefix(), tune).await
}

/// The app on an existing PostgreSQL database and Redis prefix (a restart).
pub async fn spawn_app_on(
    database_url: &str,
    prefix: &str,
    tune: impl FnOnce(&mut ServeArgs),
) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut serve = serve_args(Some(redis_url()), prefix.to_owned());
    tune(&mut serve);
    start(
        global_args(Some(database_url.to_owned()), dir.path().to_owned()),
        serve,
        Some(dir),
    )
    .await
}

/// The app on the embedded default: SQLite in a temporary data directory, in-process bus.
pub async fn spawn_app_sqlite() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    start(
        global_args(None, dir.path().to_owned()),
        serve_args(None, "sm".to_owned()),
        Some(dir),
    )
    .await
}

/// Runs `sql` and returns the first column of every row as text.
pub async fn column_as_text<C: ConnectionTrait>(db: &C, sql: &str) -> Vec<String> {
    db.query_all(Statement::from_string(
        db.get_database_backend(),
        sql.to_owned(),
    ))
    .await
    .unwrap_or_else(|e| panic!("{sql}: {e}"))
    .into_iter()
    .map(|row| row.try_get_by_index::<String>(0).unwrap())
    .collect()
}
