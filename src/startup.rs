//! Building and running the `serve` process. Split into [`Application::build`] and
//! [`Application::run_until_stopped`] so tests start the very same thing on port 0.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, Result};
use axum::Router;
use sea_orm::DatabaseConnection;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tower_http::limit::RequestBodyLimitLayer;

use crate::bootstrap::{self, Created};
use std::time::Duration;

use graphql::auth::principal::KeyUsage;
use graphql::auth::tokens::JwtKeys;
use graphql::secrets::Sealer;
use sea_orm::EntityTrait;

use crate::config::{GlobalArgs, SecurityArgs, ServeArgs};
use crate::database::{self, Target};
use crate::keys;
use crate::ops;

/// Largest request body we read (GraphQL documents and variables included).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// The API's shared state: keys, casbin (with the operator's extra rules from
/// `casbin_rule`), plans.
pub async fn api_state(
    global: &GlobalArgs,
    security: &SecurityArgs,
    db: &DatabaseConnection,
    bus: Arc<dyn bus::Bus>,
    anonymous_requests_per_minute: u64,
    live: graphql::live::LiveOptions,
) -> Result<graphql::ApiState> {
    let (current, previous) = keys::jwt_secrets(security, &global.data_dir)?;
    let jwt = JwtKeys::new(
        &current,
        &previous,
        Duration::from_secs(security.access_token_ttl_secs),
        Duration::from_secs(security.refresh_token_ttl_secs),
    );
    let sealer =
        Sealer::new(&keys::secrets_key(security, &global.data_dir)?).context("SECRETS_KEY")?;
    let extra: Vec<Vec<String>> = entities::casbin_rule::Entity::find()
        .all(db)
        .await
        .context("loading casbin_rule")?
        .into_iter()
        .map(|r| {
            [r.ptype, r.v0, r.v1, r.v2, r.v3, r.v4, r.v5]
                .into_iter()
                .filter(|v| !v.is_empty())
                .collect()
        })
        .collect();
    let rbac = policies::Rbac::load(&extra)
        .await
        .context("loading RBAC policies")?;
    Ok(graphql::ApiState {
        db: db.clone(),
        bus: bus.clone(),
        rbac: Arc::new(rbac),
        jwt: Arc::new(jwt),
        sealer: Arc::new(sealer),
        plans: Arc::new(policies::Plans::builtin()),
        key_usage: Arc::new(KeyUsage::default()),
        anonymous_requests_per_minute,
        host_scripts: global.scripts_allow_host,
        live: graphql::live::Hub::new(db.clone(), bus, live),
    })
}

/// A built, not yet running, `serve` process.
pub struct Application {
    listener: TcpListener,
    router: Router,
    db: DatabaseConnection,
    bus: Arc<dyn bus::Bus>,
    created: Option<Created>,
    /// The in-process fleet: watchers, the orchestrator and the workers.
    watcher: watcher::WatcherContext,
    orchestrator: orchestrator::leader::OrchestratorContext,
    workers: Vec<orchestrator::worker::WorkerContext>,
    outbox: orchestrator::outbox::OutboxContext,
    /// Whether this process runs the fleet (`serve`) or the API alone (`api`).
    fleet: bool,
    /// Live feeds: their websockets are closed on shutdown.
    live: graphql::live::Hub,
}

impl Application {
    /// Opens the database and bus, migrates, bootstraps the first admin and binds the
    /// listener. Every failure here is a clear error, never a panic.
    pub async fn build(global: &GlobalArgs, serve: &ServeArgs) -> Result<Self> {
        Self::build_with(global, serve, true).await
    }

    /// The API alone: no watcher, orchestrator, workers or outbox in this process.
    pub async fn build_api(global: &GlobalArgs, serve: &ServeArgs) -> Result<Self> {
        Self::build_with(global, serve, false).await
    }

    async fn build_with(global: &GlobalArgs, serve: &ServeArgs, fleet: bool) -> Result<Self> {
        // The recorder before anything records (also when embedded, as in tests).
        crate::telemetry::metrics();
        let target = Target::resolve(global.database_url.as_deref(), &global.data_dir)?;
        let db = database::connect(&target, global.database_max_connections).await?;
        database::migrate(&db)
            .await
            .with_context(|| format!("migrating {}", target.describe()))?;
        let bus = bus::connect(serve.bus.redis_url.as_deref(), &serve.bus.redis_key_prefix)
            .await
            .context("connecting to the bus")?;
        let created = bootstrap::ensure_admin(
            &db,
            serve.admin_email.as_deref(),
            serve.admin_password.as_deref(),
        )
        .await
        .context("creating the first admin")?;
        let listener = TcpListener::bind(serve.listen)
            .await
            .with_context(|| format!("listening on {}", serve.listen))?;
        let state = api_state(
            global,
            &serve.security,
            &db,
            bus.clone(),
            serve.anonymous_requests_per_minute,
            crate::roles::live_options(&serve.live),
        )
        .await?;
        let watchers = watcher::WatcherContext {
            db: db.clone(),
            bus: bus.clone(),
            sealer: state.sealer.clone(),
            options: crate::roles::watcher_options(&serve.watcher),
        };
        let orchestrator = orchestrator::leader::OrchestratorContext {
            db: db.clone(),
            bus: bus.clone(),
            options: crate::roles::orchestrator_options(&serve.orchestrator),
        };
        let health = Arc::new(orchestrator::FleetHealth::new(serve.worker.worker_max_lag));
        let host = crate::roles::hostname();
        let workers = (0..serve.workers)
            .map(|i| {
                let mut tuning = serve.worker.clone();
                tuning.worker_id = tuning.worker_id.as_ref().map(|id| format!("{id}-{i}"));
                orchestrator::worker::WorkerContext {
                    db: db.clone(),
                    bus: bus.clone(),
                    plans: state.plans.clone(),
                    options: orchestrator::worker::WorkerOptions {
                        scripts: crate::roles::script_settings(global.scripts_allow_host),
                        ..crate::roles::worker_options(&tuning, format!("{host}-{i}"))
                    },
                    health: health.clone(),
                }
            })
            .collect();
        let outbox = orchestrator::outbox::OutboxContext {
            db: db.clone(),
            bus: bus.clone(),
            sealer: state.sealer.clone(),
            plans: state.plans.clone(),
            options: orchestrator::outbox::OutboxOptions {
                scripts: crate::roles::script_settings(global.scripts_allow_host),
                ..crate::roles::outbox_options(&serve.notify)
            },
        };
        let live = state.live.clone();
        let api = graphql::router(state).layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES));
        let router = ops::router(ops::Readiness {
            db: db.clone(),
            bus: bus.clone(),
            fleet: (fleet && serve.workers > 0).then_some(health),
        })
        .merge(api)
        .layer(axum::middleware::from_fn(ops::track_http));
        Ok(Self {
            listener,
            router,
            db,
            bus,
            live,
            created,
            watcher: watchers,
            orchestrator,
            workers,
            outbox,
            fleet,
        })
    }

    /// The bound address (port 0 in tests resolves here).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// What first start created, if this was the first start.
    pub fn created(&self) -> Option<&Created> {
        self.created.as_ref()
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn bus(&self) -> &Arc<dyn bus::Bus> {
        &self.bus
    }

    /// Serves until `shutdown` is cancelled, then finishes in-flight requests.
    pub async fn run_until_stopped(self, shutdown: CancellationToken) -> Result<()> {
        tracing::info!(addr = %self.local_addr(), bus = self.bus.kind(), fleet = self.fleet, "serving");
        use crate::supervise::supervise;
        let mut fleet = Vec::new();
        let workers = if self.fleet { &self.workers[..] } else { &[] };
        if self.fleet {
            let (w, stop) = (self.watcher.clone(), shutdown.clone());
            fleet.push(supervise("watcher".into(), shutdown.clone(), move || {
                watcher::run(w.clone(), stop.clone())
            }));
            let (o, stop) = (self.orchestrator.clone(), shutdown.clone());
            fleet.push(supervise(
                "orchestrator".into(),
                shutdown.clone(),
                move || orchestrator::leader::run(o.clone(), stop.clone()),
            ));
            let (o, stop) = (self.outbox.clone(), shutdown.clone());
            fleet.push(supervise("outbox".into(), shutdown.clone(), move || {
                orchestrator::outbox::run(o.clone(), stop.clone())
            }));
        }
        for w in workers {
            let (w, stop) = (w.clone(), shutdown.clone());
            fleet.push(supervise(
                format!("worker {}", w.options.id),
                shutdown.clone(),
                move || orchestrator::worker::run(w.clone(), stop.clone()),
            ));
        }
        axum::serve(
            self.listener,
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown({
            let live = self.live.clone();
            async move {
                shutdown.cancelled().await;
                // Upgraded websockets are not the server's to wait for: tell them to go.
                live.go_away();
            }
        })
        .await
        .context("HTTP server")?;
        // The fleet finishes its current block, stores cursors and releases its leases.
        for task in fleet {
            let _ = task.await;
        }
        self.db.close().await.context("closing the database")?;
        Ok(())
    }
}
