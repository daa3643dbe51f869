//! Opening the database: SQLite under the data directory by default, PostgreSQL when
//! `DATABASE_URL` says so; migrations under a lock so replicas starting together do not
//! race.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseConnection, SqlxPostgresConnector,
    SqlxSqliteConnector, Statement, TransactionTrait,
};
use sea_orm_migration::MigratorTrait;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

/// File name of the embedded database inside the data directory.
pub const SQLITE_FILE: &str = "stellar-monitor.db";
/// How long to wait for a connection before calling the database unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Key of the PostgreSQL advisory lock held while migrating.
const MIGRATION_LOCK_KEY: i64 = 0x5354_454c_4c41_5201;

/// Where the data lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Sqlite(PathBuf),
    Postgres(String),
}

impl Target {
    /// From `DATABASE_URL` if set, else the SQLite file in `data_dir`.
    pub fn resolve(database_url: Option<&str>, data_dir: &Path) -> Result<Self> {
        match database_url.map(str::trim).filter(|u| !u.is_empty()) {
            None => Ok(Self::Sqlite(data_dir.join(SQLITE_FILE))),
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Ok(Self::Postgres(url.to_owned()))
            }
            Some(url) if url.starts_with("sqlite:") => {
                let path = url.trim_start_matches("sqlite:").trim_start_matches("//");
                let path = path.split('?').next().unwrap_or_default();
                if path.is_empty() {
                    bail!("DATABASE_URL {url:?} names no SQLite file");
                }
                Ok(Self::Sqlite(PathBuf::from(path)))
            }
            Some(url) => bail!(
                "DATABASE_URL must start with postgres://, postgresql:// or sqlite:, got {:?}",
                redact(url)
            ),
        }
    }

    /// A description safe for logs (no password).
    pub fn describe(&self) -> String {
        match self {
            Self::Sqlite(path) => format!("SQLite database {}", path.display()),
            Self::Postgres(url) => format!("PostgreSQL at {}", redact(url)),
        }
    }
}

/// `url` with any password replaced by `***`.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => "<unparseable URL>".to_owned(),
    }
}

/// Opens a pool on `target` and checks it answers.
pub async fn connect(target: &Target, max_connections: u32) -> Result<DatabaseConnection> {
    let described = target.describe();
    let db = match target {
        Target::Sqlite(path) => connect_sqlite(path, max_connections).await,
        Target::Postgres(url) => connect_postgres(url, max_connections).await,
    }
    .with_context(|| format!("opening {described}"))?;
    Ok(db)
}

async fn connect_sqlite(path: &Path, max_connections: u32) -> Result<DatabaseConnection> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if dir.exists() && !dir.is_dir() {
            bail!(
                "data directory {} exists but is not a directory",
                dir.display()
            );
        }
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating data directory {}", dir.display()))?;
    }
    if path.is_dir() {
        bail!("{} is a directory, not a database file", path.display());
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .foreign_keys(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10));
    let pool = SqlitePoolOptions::new()
        .max_connections(max_connections.max(1))
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(anyhow::Error::from)?;
    // A file that is not SQLite fails here rather than on first use.
    sqlx::query("SELECT count(*) FROM sqlite_master")
        .execute(&pool)
        .await?;
    Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
}

async fn connect_postgres(url: &str, max_connections: u32) -> Result<DatabaseConnection> {
    let pool = PgPoolOptions::new()
        .max_connections(max_connections.max(1))
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect(url)
        .await
        .map_err(anyhow::Error::from)?;
    let db = SqlxPostgresConnector::from_sqlx_postgres_pool(pool);
    warn_if_rls_bypassed(&db).await?;
    Ok(db)
}

/// Row-level security does not apply to superusers or `BYPASSRLS` roles; say so loudly
/// rather than silently running without the backstop.
async fn warn_if_rls_bypassed(db: &DatabaseConnection) -> Result<()> {
    let row = db
        .query_one(Statement::from_string(
            DatabaseBackend::Postgres,
            "SELECT (rolsuper OR rolbypassrls) AS bypass FROM pg_roles WHERE rolname = current_user",
        ))
        .await?;
    let bypass = row
        .map(|r| r.try_get::<bool>("", "bypass"))
        .transpose()?
        .unwrap_or(false);
    if bypass {
        tracing::warn!(
            "connected to PostgreSQL as a superuser or BYPASSRLS role: row-level security \
             is not enforced; connect as an ordinary role that owns the schema"
        );
    }
    Ok(())
}

/// Applies pending migrations, all in one transaction (DDL is transactional on both
/// backends), so a failed migration leaves nothing half-applied. On PostgreSQL a
/// transaction-scoped advisory lock serialises replicas that start together; the second
/// finds nothing left to do.
pub async fn migrate(db: &DatabaseConnection) -> Result<()> {
    let txn = db.begin().await?;
    if db.get_database_backend() == DatabaseBackend::Postgres {
        txn.execute(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [MIGRATION_LOCK_KEY.into()],
        ))
        .await?;
    }
    migrations::Migrator::up(&txn, None)
        .await
        .context("running migrations")?;
    txn.commit().await.context("committing migrations")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_targets() {
        let dir = Path::new("data");
        assert_eq!(
            Target::resolve(None, dir).unwrap(),
            Target::Sqlite(PathBuf::from("data/stellar-monitor.db"))
        );
        assert_eq!(
            Target::resolve(Some("  "), dir).unwrap(),
            Target::Sqlite(PathBuf::from("data/stellar-monitor.db"))
        );
        assert_eq!(
            Target::resolve(Some("sqlite:///tmp/x.db?mode=rwc"), dir).unwrap(),
            Target::Sqlite(PathBuf::from("/tmp/x.db"))
        );
        assert!(matches!(
            Target::resolve(Some("postgres://u@h/db"), dir).unwrap(),
            Target::Postgres(_)
        ));
        let err = Target::resolve(Some("mysql://u:secret@h/db"), dir).unwrap_err();
        assert!(!err.to_string().contains("secret"), "{err}");
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://u:pw@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact("::"), "<unparseable URL>");
    }
}
