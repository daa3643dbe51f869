//! `stellar-monitor import` / `export`: OZ Monitor config directories in and out of a
//! tenant, on the same database `serve` uses.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use graphql::audit::Actor;
use graphql::auth::principal::{Credentials, TenantCtx};
use graphql::services::{accounts, import};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

use crate::config::{GlobalArgs, SecurityArgs};
use crate::database::{self, Target};
use crate::startup::api_state;
use entities::{SystemTxn, tenants, users};

async fn open(
    global: &GlobalArgs,
    security: &SecurityArgs,
) -> Result<(DatabaseConnection, graphql::ApiState)> {
    let target = Target::resolve(global.database_url.as_deref(), &global.data_dir)?;
    let db = database::connect(&target, 2).await?;
    database::migrate(&db).await?;
    let bus: Arc<dyn bus::Bus> = Arc::new(bus::memory::MemoryBus::new(bus::keys::Keys::new("cli")));
    let state = api_state(global, security, &db, bus, 0, Default::default()).await?;
    Ok((db, state))
}

/// The tenant with `slug`, acted on as its owner; created (owned by the platform admin)
/// when `create` and it does not exist.
async fn tenant(db: &DatabaseConnection, slug: &str, create: bool) -> Result<TenantCtx> {
    let slug = slug.trim().to_lowercase();
    let txn = SystemTxn::begin(db).await?;
    let found = tenants::Entity::find()
        .filter(tenants::Column::Slug.eq(&slug))
        .one(txn.conn())
        .await?;
    let row = match found {
        Some(t) => {
            txn.commit().await?;
            t
        }
        None if create => {
            let id = accounts::create_tenant(&txn, &slug, &slug, "enterprise")
                .await
                .map_err(|e| anyhow::anyhow!(e.message()))?;
            let admin = users::Entity::find()
                .filter(users::Column::IsPlatformAdmin.eq(true))
                .one(txn.conn())
                .await?;
            let txn = txn.into_tenant(id).await?;
            if let Some(admin) = admin {
                accounts::add_member(&txn, admin.id, "owner")
                    .await
                    .map_err(|e| anyhow::anyhow!(e.message()))?;
            }
            txn.commit().await?;
            println!("created tenant {slug}");
            let txn = SystemTxn::begin(db).await?;
            let t = tenants::Entity::find_by_id(id)
                .one(txn.conn())
                .await?
                .context("the new tenant")?;
            txn.commit().await?;
            t
        }
        None => bail!("no tenant {slug}"),
    };
    Ok(TenantCtx {
        id: row.id,
        slug: row.slug,
        role: "owner".into(),
        plan: row.plan,
        quota_overrides: row.quota_overrides,
    })
}

fn cli_credentials(what: &str) -> Credentials {
    Credentials {
        request_id: Some(format!("cli-{what}")),
        ..Default::default()
    }
}

pub async fn import_dir(
    global: &GlobalArgs,
    security: &SecurityArgs,
    dir: &Path,
    slug: &str,
) -> Result<String> {
    let set = import::read_dir(dir).map_err(anyhow::Error::msg)?;
    let (db, state) = open(global, security).await?;
    let t = tenant(&db, slug, true).await?;
    let env = |name: &str| std::env::var(name).ok();
    let report = import::import(
        &state,
        &Actor::System,
        &t,
        &cli_credentials("import"),
        set,
        Some(&env),
    )
    .await
    .map_err(|e| anyhow::anyhow!(e.message()))?;
    let mut out = String::new();
    for item in &report.items {
        let _ = writeln!(
            out,
            "{:<12} {:<8} {} ({})",
            item.status, item.kind, item.key, item.file
        );
        for e in &item.errors {
            let _ = writeln!(out, "             {}: {}", e.field.join("."), e.message);
        }
    }
    if !report.ok {
        print!("{out}");
        bail!("nothing imported: fix the invalid items above");
    }
    let _ = writeln!(out, "imported {} items into {}", report.items.len(), t.slug);
    Ok(out)
}

pub async fn export_dir(
    global: &GlobalArgs,
    security: &SecurityArgs,
    slug: &str,
    dir: &Path,
) -> Result<String> {
    let (db, state) = open(global, security).await?;
    let t = tenant(&db, slug, false).await?;
    let written = import::export(&state, &t, dir)
        .await
        .map_err(|e| anyhow::anyhow!(e.message()))?;
    Ok(format!(
        "exported {written} items of {} to {}\n",
        t.slug,
        dir.display()
    ))
}
