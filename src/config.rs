//! Command line and environment. Every setting is an environment variable first (the
//! way Kubernetes and containers configure us) and also a `--flag`; `--help` lists both.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "stellar-monitor",
    version,
    about = "Multi-tenant blockchain monitoring: API, orchestrator, watchers and workers in one binary",
    long_about = "Multi-tenant blockchain monitoring for EVM chains and Stellar.\n\n\
        With no DATABASE_URL, data is kept in SQLite under --data-dir; with no REDIS_URL, \
        processes talk over an in-process bus. `stellar-monitor serve` runs everything in \
        one process."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Settings every command shares.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// PostgreSQL (`postgres://...`) or SQLite (`sqlite://path`) URL. Unset: SQLite in
    /// --data-dir.
    #[arg(long, env = "DATABASE_URL", global = true, hide_env_values = true)]
    pub database_url: Option<String>,

    /// Let Python, JavaScript and Bash trigger conditions and script triggers run as host
    /// processes (OZ's contract). For self-hosted single-tenant installs only: a
    /// tenant's script could then do anything this process can. Lua scripts always run,
    /// in the sandbox.
    #[arg(
        long,
        env = "SCRIPTS_ALLOW_HOST",
        global = true,
        default_value_t = false
    )]
    pub scripts_allow_host: bool,

    /// Where the embedded SQLite database lives when DATABASE_URL is unset.
    #[arg(long, env = "DATA_DIR", global = true, default_value = "data")]
    pub data_dir: PathBuf,

    /// Largest number of pooled database connections.
    #[arg(
        long,
        env = "DATABASE_MAX_CONNECTIONS",
        global = true,
        default_value_t = 10
    )]
    pub database_max_connections: u32,

    /// Log format: human-readable text or one JSON object per line.
    #[arg(long, env = "LOG_FORMAT", global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log filter, in tracing's EnvFilter syntax.
    #[arg(
        long,
        env = "RUST_LOG",
        global = true,
        default_value = "info,sqlx=warn,sea_orm=warn"
    )]
    pub log_filter: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run everything in one process: API, orchestrator, watchers and workers.
    Serve(ServeArgs),
    /// The API role alone (GraphQL, live subscriptions, the /alerts page, health,
    /// metrics): no watcher, orchestrator, workers or outbox. For a fleet on PostgreSQL
    /// and Redis, where replicas of it sit behind one load balancer.
    Api(ServeArgs),
    /// The block watcher role: one watcher per network across the fleet (leases on
    /// Redis), publishing confirmed blocks to the networks' streams.
    Watcher(WatcherArgs),
    /// The worker role: takes the tenants the orchestrator assigns it, evaluates their
    /// monitors on every block of their networks and writes alerts.
    Worker(WorkerArgs),
    /// The orchestrator role: one leader among replicas assigns tenants to live workers
    /// (consistent-hash ring with a bounded-load cap).
    Orchestrator(OrchestratorArgs),
    /// Evaluate one OZ monitor over a block range of a network, sending nothing; prints
    /// each match (OZ JSON, one per line) and a summary.
    TestMonitor {
        /// The monitor file (OZ Monitor JSON).
        #[arg(long)]
        monitor: PathBuf,
        /// The network file (OZ Monitor JSON), whose RPC URLs are used.
        #[arg(long)]
        network: PathBuf,
        /// First block (ledger).
        #[arg(long)]
        block: u64,
        /// Last block, inclusive (default: --block).
        #[arg(long)]
        to: Option<u64>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Import an OpenZeppelin Monitor config directory into a tenant (created when it
    /// does not exist), all or nothing. Environment secrets are resolved from this
    /// process's environment.
    Import {
        /// The config directory (networks/, monitors/, triggers/).
        dir: PathBuf,
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        #[command(flatten)]
        security: SecurityArgs,
    },
    /// Export a tenant's configuration as an OpenZeppelin Monitor config directory.
    Export {
        /// The tenant's slug.
        #[arg(long)]
        tenant: String,
        /// Where to write networks/, monitors/, triggers/.
        dir: PathBuf,
        #[command(flatten)]
        security: SecurityArgs,
    },
    /// Benchmarks and load harnesses.
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Validate an OpenZeppelin Monitor config directory (networks/, monitors/,
    /// triggers/): prints each file's verdict, exits non-zero on any error.
    Check {
        /// The config directory.
        dir: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// The multi-tenant matcher on mainnet-shaped blocks; prints one JSON line.
    Matcher {
        /// Tenants to simulate.
        #[arg(long, default_value_t = 100)]
        tenants: usize,
        /// Monitors per tenant.
        #[arg(long, default_value_t = 10)]
        monitors_per_tenant: usize,
        /// Synthetic blocks to evaluate (the corpus's real blocks are added when found).
        #[arg(long, default_value_t = 20)]
        blocks: usize,
        /// Evaluate monitor by monitor instead of through the index, for comparison.
        #[arg(long)]
        naive: bool,
        /// The compatibility corpus, for its real blocks (default: ../shared/compat).
        #[arg(long, env = "SM_COMPAT_DIR")]
        compat_dir: Option<PathBuf>,
    },
    /// The whole pipeline under load against an EVM node with unlocked accounts (a local
    /// Anvil): N tenants, transfers block by block, a local webhook receiver counting
    /// what arrives; prints one JSON line (latencies, duplicates, deliveries per second).
    E2e {
        /// The node's JSON-RPC URL.
        #[arg(long, default_value = "http://127.0.0.1:8545")]
        rpc_url: String,
        /// A scratch PostgreSQL database to fill (default: a temporary SQLite file).
        /// Never the platform's own database: the run adds thousands of tenants.
        #[arg(long, env = "BENCH_DATABASE_URL", hide_env_values = true)]
        bench_database_url: Option<String>,
        /// Redis URL (default: the in-process bus).
        #[arg(long, env = "REDIS_URL", hide_env_values = true)]
        redis_url: Option<String>,
        #[arg(long, default_value_t = 1_000)]
        tenants: usize,
        /// Workers in the process.
        #[arg(long, default_value_t = 4)]
        workers: usize,
        /// Blocks of transfers.
        #[arg(long, default_value_t = 10)]
        blocks: u64,
        /// Transfers per block (every other one matches).
        #[arg(long, default_value_t = 2)]
        transfers_per_block: u64,
        /// Milliseconds between blocks.
        #[arg(long, default_value_t = 1_000)]
        block_interval_ms: u64,
        /// Abort one worker halfway (a crash) and time the reassignment.
        #[arg(long)]
        kill_worker: bool,
    },
    /// Live alert feeds under load: N websocket subscribers over T tenants (and R API
    /// replicas on one Redis), alerts written round by round as workers do; prints one
    /// JSON line (commit-to-subscriber latency, missing/duplicates, memory).
    Live {
        /// A scratch PostgreSQL database (default: a temporary SQLite file).
        #[arg(long, env = "BENCH_DATABASE_URL", hide_env_values = true)]
        bench_database_url: Option<String>,
        /// Redis URL (default: the in-process bus; needed for --replicas > 1).
        #[arg(long, env = "REDIS_URL", hide_env_values = true)]
        redis_url: Option<String>,
        #[arg(long, default_value_t = 100)]
        tenants: usize,
        /// Websocket subscribers, spread over the tenants.
        #[arg(long, default_value_t = 1_000)]
        subscribers: usize,
        /// API instances in the process (more than one needs Redis and PostgreSQL).
        #[arg(long, default_value_t = 1)]
        replicas: usize,
        /// Rounds of alerts (one per tenant per round).
        #[arg(long, default_value_t = 20)]
        rounds: usize,
        /// Milliseconds between rounds.
        #[arg(long, default_value_t = 250)]
        interval_ms: u64,
    },
    /// A watcher catching up on an EVM node (e.g. a local Anvil); prints one JSON line.
    Watcher {
        /// The node's JSON-RPC URL.
        #[arg(long, default_value = "http://127.0.0.1:8545")]
        rpc_url: String,
        /// Blocks to catch up on.
        #[arg(long, default_value_t = 500)]
        blocks: u64,
        /// First fill the node (an Anvil with unlocked accounts) with this many blocks
        /// of ERC-20 transfers, some reverting.
        #[arg(long)]
        populate: bool,
        /// Transfers per populated block.
        #[arg(long, default_value_t = 50)]
        txs_per_block: u64,
        /// Blocks fetched at once.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Blocks per catch-up round.
        #[arg(long, default_value_t = 20)]
        batch: usize,
    },
}

/// Settings of `serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address the HTTP server (GraphQL, health, metrics) listens on.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub bus: BusArgs,

    /// Email of the platform admin created on first start.
    #[arg(long, env = "ADMIN_EMAIL")]
    pub admin_email: Option<String>,

    /// Password of the platform admin created on first start; generated and printed once
    /// when unset.
    #[arg(long, env = "ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,

    #[command(flatten)]
    pub security: SecurityArgs,

    #[command(flatten)]
    pub watcher: WatcherTuning,

    /// Workers run in this process (the orchestrator spreads tenants over them).
    #[arg(long, env = "WORKERS", default_value_t = 4)]
    pub workers: usize,

    #[command(flatten)]
    pub worker: WorkerTuning,

    #[command(flatten)]
    pub orchestrator: OrchestratorTuning,

    #[command(flatten)]
    pub notify: NotifyTuning,

    #[command(flatten)]
    pub live: LiveTuning,

    /// Requests per minute allowed per address to callers without credentials.
    #[arg(long, env = "ANONYMOUS_REQUESTS_PER_MINUTE", default_value_t = 120)]
    pub anonymous_requests_per_minute: u64,
}

/// Settings every single-role process shares.
#[derive(Debug, Clone, Args)]
pub struct RoleArgs {
    /// Address of the role's /healthz, /readyz and /metrics.
    #[arg(long, env = "LISTEN_ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub bus: BusArgs,

    #[command(flatten)]
    pub security: SecurityArgs,
}

/// Settings of `watcher` (and of the watchers `serve` runs).
#[derive(Debug, Clone, Args)]
pub struct WatcherTuning {
    /// This watcher's name in leases (default: a random id).
    #[arg(long, env = "WATCHER_ID")]
    pub watcher_id: Option<String>,

    /// Seconds a network lease lives without renewal.
    #[arg(long, env = "WATCHER_LEASE_TTL_SECS", default_value_t = 10)]
    pub watcher_lease_ttl_secs: u64,

    /// Blocks fetched per catch-up round.
    #[arg(long, env = "WATCHER_BATCH", default_value_t = 20)]
    pub watcher_batch: usize,

    /// Blocks fetched at once during catch-up.
    #[arg(long, env = "WATCHER_CONCURRENCY", default_value_t = 4)]
    pub watcher_concurrency: usize,

    /// On a network's first start, confirmed blocks before the head to publish too.
    #[arg(long, env = "WATCHER_INITIAL_BACKFILL", default_value_t = 0)]
    pub watcher_initial_backfill: u64,

    /// Seconds between looks for networks to add or drop.
    #[arg(long, env = "WATCHER_DISCOVERY_SECS", default_value_t = 5)]
    pub watcher_discovery_secs: u64,
}

#[derive(Debug, Clone, Args)]
pub struct WatcherArgs {
    #[command(flatten)]
    pub role: RoleArgs,

    #[command(flatten)]
    pub tuning: WatcherTuning,
}

/// Settings of `worker` (and of the workers `serve` runs).
#[derive(Debug, Clone, Args)]
pub struct WorkerTuning {
    /// This worker's id in the fleet (default: the host name; in `serve`, the host name
    /// and the worker's number). Give each worker process its own.
    #[arg(long, env = "WORKER_ID")]
    pub worker_id: Option<String>,

    /// Milliseconds between heartbeats.
    #[arg(long, env = "WORKER_HEARTBEAT_INTERVAL_MS", default_value_t = 1_000)]
    pub worker_heartbeat_interval_ms: u64,

    /// Milliseconds a heartbeat lives: a worker silent this long is dead and its tenants
    /// move.
    #[arg(long, env = "WORKER_HEARTBEAT_TIMEOUT_MS", default_value_t = 5_000)]
    pub worker_heartbeat_timeout_ms: u64,

    /// Milliseconds between looks at idle block streams.
    #[arg(long, env = "WORKER_POLL_MS", default_value_t = 50)]
    pub worker_poll_ms: u64,

    /// Stream messages read at once per network.
    #[arg(long, env = "WORKER_READ_BATCH", default_value_t = 50)]
    pub worker_read_batch: usize,

    /// Milliseconds between stores of advanced cursors.
    #[arg(long, env = "WORKER_CURSOR_FLUSH_MS", default_value_t = 1_000)]
    pub worker_cursor_flush_ms: u64,

    /// Seconds between full reloads of the held tenants' configuration.
    #[arg(long, env = "WORKER_RECONCILE_SECS", default_value_t = 60)]
    pub worker_reconcile_secs: u64,

    /// Stream messages a worker may fall behind before `/readyz` fails.
    #[arg(long, env = "WORKER_MAX_LAG", default_value_t = 100)]
    pub worker_max_lag: u64,
}

#[derive(Debug, Clone, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub role: RoleArgs,

    #[command(flatten)]
    pub tuning: WorkerTuning,

    #[command(flatten)]
    pub notify: NotifyTuning,
}

/// Settings of live feeds (GraphQL subscriptions on /graphql/ws).
#[derive(Debug, Clone, Args)]
pub struct LiveTuning {
    /// Events buffered per subscription; a subscriber that falls this far behind is
    /// disconnected (close code 4008) and resumes from its last cursor.
    #[arg(long, env = "LIVE_BUFFER", default_value_t = 1_024)]
    pub live_buffer: usize,

    /// Keep-alive message interval on idle websocket connections, in seconds.
    #[arg(long, env = "LIVE_KEEPALIVE_SECS", default_value_t = 15)]
    pub live_keepalive_secs: u64,

    /// A write to a websocket client that takes longer than this (seconds) closes it.
    #[arg(long, env = "LIVE_WRITE_TIMEOUT_SECS", default_value_t = 10)]
    pub live_write_timeout_secs: u64,

    /// A websocket that has not sent `connection_init` within this (ms) is closed (4408).
    #[arg(long, env = "LIVE_INIT_TIMEOUT_MS", default_value_t = 10_000)]
    pub live_init_timeout_ms: u64,

    /// How often followed tenants are checked for alerts no event announced (ms).
    #[arg(long, env = "LIVE_POLL_MS", default_value_t = 2_000)]
    pub live_poll_ms: u64,

    /// How often open websocket connections re-check their credentials (seconds): an
    /// expired token, a revoked API key or a removed member ends the connection.
    #[arg(long, env = "LIVE_REAUTH_SECS", default_value_t = 60)]
    pub live_reauth_secs: u64,

    /// Open websocket connections one process accepts; more are refused with 503.
    #[arg(long, env = "LIVE_MAX_CONNECTIONS", default_value_t = 20_000)]
    pub live_max_connections: u64,
}

/// Settings of notification delivery (the outbox loop of each worker process and of
/// `serve`).
#[derive(Debug, Clone, Args)]
pub struct NotifyTuning {
    /// Notifications sent at once per process.
    #[arg(long, env = "NOTIFY_CONCURRENCY", default_value_t = 16)]
    pub notify_concurrency: usize,

    /// Notifications per tenant per minute; more wait for the next minute.
    #[arg(long, env = "NOTIFY_TENANT_PER_MINUTE", default_value_t = 600)]
    pub notify_tenant_per_minute: u64,

    /// Milliseconds one send may take.
    #[arg(long, env = "NOTIFY_TIMEOUT_MS", default_value_t = 10_000)]
    pub notify_timeout_ms: u64,

    /// Milliseconds between looks for due deliveries (new alerts wake it sooner).
    #[arg(long, env = "NOTIFY_POLL_MS", default_value_t = 200)]
    pub notify_poll_ms: u64,

    /// Seconds a claimed delivery stays claimed; a process that dies mid-send leaves it
    /// to another after this.
    #[arg(long, env = "NOTIFY_LEASE_SECS", default_value_t = 60)]
    pub notify_lease_secs: u64,

    /// Delays (milliseconds, comma-separated) after a trigger's own retries are used
    /// up, before the delivery is dead. Default: about a day (1 min … 4 h).
    #[arg(long, env = "NOTIFY_LONG_SCHEDULE_MS", value_delimiter = ',')]
    pub notify_long_schedule_ms: Vec<u64>,

    /// Let notifications reach loopback, private and link-local addresses (off: a
    /// tenant must not reach the platform's own network).
    #[arg(long, env = "NOTIFY_ALLOW_PRIVATE_TARGETS", default_value_t = false)]
    pub notify_allow_private_targets: bool,

    /// Allow email triggers with `"tls": "none"` (trusted local relays only).
    #[arg(long, env = "NOTIFY_SMTP_ALLOW_PLAINTEXT", default_value_t = false)]
    pub notify_smtp_allow_plaintext: bool,

    /// An extra root certificate (PEM file) trusted for SMTP TLS.
    #[arg(long, env = "NOTIFY_SMTP_CA_FILE")]
    pub notify_smtp_ca_file: Option<PathBuf>,

    /// Telegram Bot API base URL.
    #[arg(
        long,
        env = "NOTIFY_TELEGRAM_API_BASE",
        default_value = "https://api.telegram.org"
    )]
    pub notify_telegram_api_base: String,
}

/// Settings of `orchestrator` (and of the one `serve` runs).
#[derive(Debug, Clone, Args)]
pub struct OrchestratorTuning {
    /// This replica's name in the leader lease (default: a random id).
    #[arg(long, env = "ORCHESTRATOR_ID")]
    pub orchestrator_id: Option<String>,

    /// Milliseconds between assignment rounds of the leader.
    #[arg(long, env = "ORCHESTRATOR_TICK_MS", default_value_t = 500)]
    pub orchestrator_tick_ms: u64,

    /// Seconds the leader lease lives without renewal.
    #[arg(long, env = "ORCHESTRATOR_LEASE_TTL_SECS", default_value_t = 10)]
    pub orchestrator_lease_ttl_secs: u64,

    /// Cap on a worker's load as a multiple of the mean (bounded-load hashing).
    #[arg(long, env = "ORCHESTRATOR_LOAD_FACTOR", default_value_t = 1.25)]
    pub orchestrator_load_factor: f64,

    /// Virtual nodes per worker on the ring.
    #[arg(long, env = "ORCHESTRATOR_VNODES", default_value_t = 160)]
    pub orchestrator_vnodes: usize,

    /// Milliseconds a new leader waits before its first assignment, so workers starting
    /// with it have heartbeated (at least the workers' heartbeat interval).
    #[arg(long, env = "ORCHESTRATOR_STARTUP_GRACE_MS", default_value_t = 2_000)]
    pub orchestrator_startup_grace_ms: u64,
}

#[derive(Debug, Clone, Args)]
pub struct OrchestratorArgs {
    #[command(flatten)]
    pub role: RoleArgs,

    #[command(flatten)]
    pub tuning: OrchestratorTuning,
}

/// Keys. Unset, each is generated on first use and kept in the data directory (fine for
/// one machine; a fleet sets them so every process shares them).
#[derive(Debug, Clone, Default, Args)]
pub struct SecurityArgs {
    /// Secret signing access tokens (HS256), at least 32 bytes.
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Earlier signing secrets, still accepted while tokens they signed live (rotation).
    #[arg(
        long,
        env = "JWT_PREVIOUS_SECRETS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    pub jwt_previous_secrets: Vec<String>,

    /// Key sealing secrets at rest (trigger secrets, private RPC URLs): 32 bytes, base64.
    #[arg(long, env = "SECRETS_KEY", hide_env_values = true)]
    pub secrets_key: Option<String>,

    /// Access token lifetime, seconds.
    #[arg(long, env = "ACCESS_TOKEN_TTL_SECS", default_value_t = 900)]
    pub access_token_ttl_secs: u64,

    /// Refresh token lifetime, seconds.
    #[arg(long, env = "REFRESH_TOKEN_TTL_SECS", default_value_t = 30 * 24 * 3600)]
    pub refresh_token_ttl_secs: u64,
}

/// How to reach the bus.
#[derive(Debug, Clone, Args)]
pub struct BusArgs {
    /// Redis URL. Unset: the in-process bus (single-process `serve` only).
    #[arg(long, env = "REDIS_URL", hide_env_values = true)]
    pub redis_url: Option<String>,

    /// Prefix of every Redis key, stream and channel, so deployments can share a Redis.
    #[arg(long, env = "REDIS_KEY_PREFIX", default_value = "sm")]
    pub redis_key_prefix: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_defaults_need_no_environment() {
        let cli = Cli::try_parse_from(["stellar-monitor", "serve"]).unwrap();
        let Command::Serve(serve) = cli.command else {
            panic!("expected serve")
        };
        assert_eq!(serve.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(cli.global.data_dir, PathBuf::from("data"));
    }
}
