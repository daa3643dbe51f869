//! First start: on an empty database, create the platform admin and a first tenant so
//! there is someone to log in as.

use anyhow::{Context, Result, bail};
use chrono::Utc;
use entities::{SystemTxn, tenant_users, tenants, users};
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait, PaginatorTrait};
use uuid::Uuid;

use graphql::auth::password;

/// Default admin email when `ADMIN_EMAIL` is unset.
pub const DEFAULT_ADMIN_EMAIL: &str = "admin@localhost";
/// Slug of the tenant created on first start.
pub const FIRST_TENANT_SLUG: &str = "default";

/// What first start created, to tell the operator once.
#[derive(Debug, Clone)]
pub struct Created {
    pub email: String,
    /// `Some` when the password was generated (it is printed once and never again).
    pub generated_password: Option<String>,
    pub tenant_slug: String,
}

/// Creates the admin user and first tenant if the database has no user yet.
/// Returns `None` when it already had one (every start after the first).
pub async fn ensure_admin(
    db: &DatabaseConnection,
    email: Option<&str>,
    given_password: Option<&str>,
) -> Result<Option<Created>> {
    let txn = SystemTxn::begin(db).await?;
    if users::Entity::find().count(txn.conn()).await? > 0 {
        txn.rollback().await?;
        return Ok(None);
    }
    let email = email.unwrap_or(DEFAULT_ADMIN_EMAIL).trim().to_lowercase();
    if email.len() < 3 || !email.contains('@') {
        bail!("ADMIN_EMAIL {email:?} is not an email address");
    }
    let (plain, generated) = match given_password {
        Some(p) => (p.to_owned(), false),
        None => (password::generate(), true),
    };
    let hash = password::hash(&plain).context("ADMIN_PASSWORD")?;
    let now = Utc::now();
    let user_id = Uuid::now_v7();
    let tenant_id = Uuid::now_v7();
    users::Entity::insert(users::ActiveModel {
        id: Set(user_id),
        email: Set(email.clone()),
        password_hash: Set(hash),
        display_name: Set(Some("Platform admin".to_owned())),
        is_platform_admin: Set(true),
        disabled_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec(txn.conn())
    .await?;
    tenants::Entity::insert(tenants::ActiveModel {
        id: Set(tenant_id),
        slug: Set(FIRST_TENANT_SLUG.to_owned()),
        name: Set("Default".to_owned()),
        plan: Set("enterprise".to_owned()),
        quota_overrides: Set(None),
        status: Set("active".to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec(txn.conn())
    .await?;
    tenant_users::Entity::insert(tenant_users::ActiveModel {
        tenant_id: Set(tenant_id),
        user_id: Set(user_id),
        role: Set("owner".to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec(txn.conn())
    .await?;
    match txn.commit().await {
        Ok(()) => Ok(Some(Created {
            email,
            generated_password: generated.then_some(plain),
            tenant_slug: FIRST_TENANT_SLUG.to_owned(),
        })),
        // Another replica bootstrapped at the same moment: its admin stands.
        Err(e) if is_unique_violation(&e) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// The message printed once on first start.
pub fn banner(created: &Created, graphiql_url: &str) -> String {
    let password_line = match &created.generated_password {
        Some(p) => format!(
            "  Password: {p}\n            (generated now and shown only this once; set ADMIN_PASSWORD to choose it)\n"
        ),
        None => "  Password: the value of ADMIN_PASSWORD\n".to_owned(),
    };
    format!(
        "Stellar Monitor: first start, created the platform admin and a first tenant.\n\
         \x20 GraphiQL: {graphiql_url}\n\
         \x20 Email:    {email}\n\
         {password_line}\
         \x20 Tenant:   {tenant}\n\
         \x20 Log in:   mutation {{ login(input: {{email: \"{email}\", password: \"...\"}}) {{ accessToken refreshToken }} }}\n\
         \x20           then send Authorization: Bearer <accessToken>\n",
        email = created.email,
        tenant = created.tenant_slug,
    )
}
