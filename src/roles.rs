//! The single-role processes a fleet runs (`watcher`, later `worker`, `orchestrator`,
//! `api`), each with its operational endpoints.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use entities::secrets::Sealer;
use sea_orm::DatabaseConnection;
use tokio_util::sync::CancellationToken;

use crate::config::{GlobalArgs, RoleArgs, WatcherArgs, WatcherTuning};
use crate::database::{self, Target};
use crate::{keys, ops};

/// What every role opens: the database (migrated), the bus (Redis: roles are separate
/// processes), the sealer.
pub struct RoleContext {
    pub db: DatabaseConnection,
    pub bus: Arc<dyn bus::Bus>,
    pub sealer: Arc<Sealer>,
}

pub async fn open(global: &GlobalArgs, role: &RoleArgs, name: &str) -> Result<RoleContext> {
    let Some(redis) = role.bus.redis_url.as_deref() else {
        bail!(
            "the {name} role runs in a fleet and needs REDIS_URL (use `serve` for a single process)"
        );
    };
    let target = Target::resolve(global.database_url.as_deref(), &global.data_dir)?;
    let db = database::connect(&target, global.database_max_connections).await?;
    database::migrate(&db)
        .await
        .with_context(|| format!("migrating {}", target.describe()))?;
    let bus = bus::connect(Some(redis), &role.bus.redis_key_prefix)
        .await
        .context("connecting to the bus")?;
    let sealer = Sealer::new(&keys::secrets_key(&role.security, &global.data_dir)?)
        .context("SECRETS_KEY")?;
    Ok(RoleContext {
        db,
        bus,
        sealer: Arc::new(sealer),
    })
}

/// Serves the operational endpoints until `shutdown`.
pub async fn serve_ops(
    listen: SocketAddr,
    ctx: &RoleContext,
    shutdown: CancellationToken,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    crate::telemetry::metrics();
    let router = ops::router(ops::Readiness {
        db: ctx.db.clone(),
        bus: ctx.bus.clone(),
    })
    .layer(axum::middleware::from_fn(ops::track_http));
    tracing::info!(addr = %listener.local_addr()?, "operational endpoints");
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
        .context("operational endpoints")
}

pub fn watcher_options(t: &WatcherTuning) -> watcher::WatcherOptions {
    let mut o = watcher::WatcherOptions {
        lease_ttl: Duration::from_secs(t.watcher_lease_ttl_secs.max(1)),
        discovery_interval: Duration::from_secs(t.watcher_discovery_secs.max(1)),
        batch: t.watcher_batch.max(1),
        concurrency: t.watcher_concurrency.max(1),
        initial_backfill: t.watcher_initial_backfill,
        ..Default::default()
    };
    if let Some(id) = &t.watcher_id {
        o.holder = id.clone();
    }
    o
}

/// `stellar-monitor watcher`.
pub async fn watcher(
    global: &GlobalArgs,
    args: &WatcherArgs,
    shutdown: CancellationToken,
) -> Result<()> {
    let ctx = open(global, &args.role, "watcher").await?;
    let options = watcher_options(&args.tuning);
    tracing::info!(holder = %options.holder, "watcher starting");
    let watch = watcher::run(
        watcher::WatcherContext {
            db: ctx.db.clone(),
            bus: ctx.bus.clone(),
            sealer: ctx.sealer.clone(),
            options,
        },
        shutdown.clone(),
    );
    let (_, ops) = tokio::join!(watch, serve_ops(args.role.listen, &ctx, shutdown.clone()));
    ops
}
