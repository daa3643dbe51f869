//! The single-role processes a fleet runs (`watcher`, `worker`, `orchestrator`, later
//! `api`), each with its operational endpoints.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use entities::secrets::Sealer;
use sea_orm::DatabaseConnection;
use tokio_util::sync::CancellationToken;

use crate::config::{
    GlobalArgs, LiveTuning, NotifyTuning, OrchestratorArgs, OrchestratorTuning, RoleArgs,
    WatcherArgs, WatcherTuning, WorkerArgs, WorkerTuning,
};
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
    fleet: Option<Arc<orchestrator::FleetHealth>>,
    shutdown: CancellationToken,
) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    crate::telemetry::metrics();
    let router = ops::router(ops::Readiness {
        db: ctx.db.clone(),
        bus: ctx.bus.clone(),
        fleet,
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
    let (_, ops) = tokio::join!(
        watch,
        serve_ops(args.role.listen, &ctx, None, shutdown.clone())
    );
    ops
}

/// Worker settings; `default_id` names the worker when `WORKER_ID` is unset.
/// Script settings from the operator's switch.
pub fn script_settings(allow_host: bool) -> orchestrator::scripts::ScriptSettings {
    orchestrator::scripts::ScriptSettings {
        allow_host,
        ..Default::default()
    }
}

pub fn worker_options(t: &WorkerTuning, default_id: String) -> orchestrator::worker::WorkerOptions {
    let ms = |v: u64| Duration::from_millis(v.max(1));
    orchestrator::worker::WorkerOptions {
        id: t.worker_id.clone().unwrap_or(default_id),
        heartbeat_interval: ms(t.worker_heartbeat_interval_ms),
        heartbeat_ttl: ms(t
            .worker_heartbeat_timeout_ms
            .max(t.worker_heartbeat_interval_ms * 2)),
        poll_interval: ms(t.worker_poll_ms),
        read_batch: t.worker_read_batch.max(1),
        cursor_flush_interval: ms(t.worker_cursor_flush_ms),
        reconcile_interval: Duration::from_secs(t.worker_reconcile_secs.max(1)),
        ..Default::default()
    }
}

pub fn orchestrator_options(t: &OrchestratorTuning) -> orchestrator::leader::OrchestratorOptions {
    let mut o = orchestrator::leader::OrchestratorOptions {
        tick: Duration::from_millis(t.orchestrator_tick_ms.max(10)),
        lease_ttl: Duration::from_secs(t.orchestrator_lease_ttl_secs.max(1)),
        load_factor: if t.orchestrator_load_factor >= 1.0 {
            t.orchestrator_load_factor
        } else {
            orchestrator::ring::DEFAULT_LOAD_FACTOR
        },
        vnodes: t.orchestrator_vnodes.clamp(1, 10_000),
        startup_grace: Duration::from_millis(t.orchestrator_startup_grace_ms),
        ..Default::default()
    };
    if let Some(id) = &t.orchestrator_id {
        o.id = id.clone();
    }
    o
}

pub fn live_options(t: &LiveTuning) -> graphql::live::LiveOptions {
    graphql::live::LiveOptions {
        buffer: t.live_buffer.max(1),
        keepalive: Duration::from_secs(t.live_keepalive_secs.max(1)),
        write_timeout: Duration::from_secs(t.live_write_timeout_secs.max(1)),
        init_timeout: Duration::from_millis(t.live_init_timeout_ms.max(10)),
        poll: Duration::from_millis(t.live_poll_ms.max(50)),
        reauth: Duration::from_secs(t.live_reauth_secs.max(1)),
        max_connections: t.live_max_connections,
        ..Default::default()
    }
}

pub fn outbox_options(t: &NotifyTuning) -> orchestrator::outbox::OutboxOptions {
    use orchestrator::notify::{payload::ChannelSettings, send::SendSettings};
    let mut o = orchestrator::outbox::OutboxOptions {
        concurrency: t.notify_concurrency.max(1),
        batch: t.notify_concurrency.max(1),
        tenant_per_minute: t.notify_tenant_per_minute.max(1),
        poll: Duration::from_millis(t.notify_poll_ms.max(1)),
        lease: Duration::from_secs(t.notify_lease_secs.max(1)),
        channels: ChannelSettings {
            telegram_api_base: t.notify_telegram_api_base.clone(),
        },
        send: SendSettings {
            timeout: Duration::from_millis(t.notify_timeout_ms.max(1)),
            allow_private_targets: t.notify_allow_private_targets,
            allow_smtp_plaintext: t.notify_smtp_allow_plaintext,
            smtp_ca_file: t.notify_smtp_ca_file.clone(),
        },
        ..Default::default()
    };
    if !t.notify_long_schedule_ms.is_empty() {
        o.long_schedule = t
            .notify_long_schedule_ms
            .iter()
            .map(|ms| Duration::from_millis(*ms))
            .collect();
    }
    o
}

/// The host name, for default worker ids.
pub fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_owned())
                .filter(|h| !h.is_empty())
        })
        .unwrap_or_else(|| "localhost".to_owned())
}

/// `stellar-monitor worker`.
pub async fn worker(
    global: &GlobalArgs,
    args: &WorkerArgs,
    shutdown: CancellationToken,
) -> Result<()> {
    let ctx = open(global, &args.role, "worker").await?;
    let health = Arc::new(orchestrator::FleetHealth::new(args.tuning.worker_max_lag));
    let context = orchestrator::worker::WorkerContext {
        db: ctx.db.clone(),
        bus: ctx.bus.clone(),
        plans: Arc::new(policies::Plans::builtin()),
        options: orchestrator::worker::WorkerOptions {
            scripts: script_settings(global.scripts_allow_host),
            ..worker_options(&args.tuning, hostname())
        },
        health: health.clone(),
    };
    let stop = shutdown.clone();
    let worker = crate::supervise::supervise("worker".into(), shutdown.clone(), move || {
        orchestrator::worker::run(context.clone(), stop.clone())
    });
    let outbox = orchestrator::outbox::OutboxContext {
        db: ctx.db.clone(),
        bus: ctx.bus.clone(),
        sealer: ctx.sealer.clone(),
        plans: Arc::new(policies::Plans::builtin()),
        options: orchestrator::outbox::OutboxOptions {
            scripts: script_settings(global.scripts_allow_host),
            ..outbox_options(&args.notify)
        },
    };
    let stop = shutdown.clone();
    let outbox = crate::supervise::supervise("outbox".into(), shutdown.clone(), move || {
        orchestrator::outbox::run(outbox.clone(), stop.clone())
    });
    let (_, _, ops) = tokio::join!(
        worker,
        outbox,
        serve_ops(args.role.listen, &ctx, Some(health), shutdown.clone())
    );
    ops
}

/// `stellar-monitor orchestrator`.
pub async fn orchestrator(
    global: &GlobalArgs,
    args: &OrchestratorArgs,
    shutdown: CancellationToken,
) -> Result<()> {
    let ctx = open(global, &args.role, "orchestrator").await?;
    let run = orchestrator::leader::run(
        orchestrator::leader::OrchestratorContext {
            db: ctx.db.clone(),
            bus: ctx.bus.clone(),
            options: orchestrator_options(&args.tuning),
        },
        shutdown.clone(),
    );
    let (_, ops) = tokio::join!(
        run,
        serve_ops(args.role.listen, &ctx, None, shutdown.clone())
    );
    ops
}
