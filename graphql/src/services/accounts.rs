//! Accounts: registration, login, token refresh and logout, all audited.

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::{MAX_NAME, valid_tenant_slug};
use crate::audit::{self, Actor, AuditEntry};
use crate::auth::password;
use crate::auth::principal::Credentials;
use crate::auth::tokens::{self, Refresh};
use crate::context::ApiState;
use crate::error::{ApiError, ServiceResult};
use entities::{SystemTxn, TenantTxn, tenant_users, tenants, users};

/// A pair of tokens.
#[derive(Clone, Debug)]
pub struct Session {
    pub access_token: String,
    pub access_expires_at: i64,
    pub refresh_token: String,
}

/// A plain check of an email's shape (the same one triggers use).
pub fn normalize_email(email: &str) -> Result<String, ApiError> {
    let email = email.trim().to_lowercase();
    if email.len() > 320 || !monitor::config::valid_email(&email) {
        return Err(ApiError::bad_input("email is not a valid address"));
    }
    Ok(email)
}

/// Hashes a password (argon2id, on the blocking pool). Do it before opening a
/// transaction: it is slow on purpose.
pub async fn hash_password(plain: String) -> ServiceResult<String> {
    tokio::task::spawn_blocking(move || password::hash(&plain))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::bad_input(e.to_string()))
}

async fn verify_password(plain: String, phc: String) -> bool {
    tokio::task::spawn_blocking(move || password::verify(&plain, &phc))
        .await
        .unwrap_or(false)
}

/// Issues an access token and a new refresh-token family.
pub async fn open_session(st: &ApiState, txn: &SystemTxn, user: Uuid) -> ServiceResult<Session> {
    let (access_token, access_expires_at) = st.jwt.issue(user)?;
    let (_, refresh_token) = tokens::create_refresh(txn, &st.jwt, user, None).await?;
    Ok(Session {
        access_token,
        access_expires_at,
        refresh_token,
    })
}

/// Creates a tenant and its owner in `txn` (system scope); returns the tenant id.
pub async fn create_tenant(
    txn: &SystemTxn,
    slug: &str,
    name: &str,
    plan: &str,
) -> ServiceResult<Uuid> {
    let slug = slug.trim().to_lowercase();
    if !valid_tenant_slug(&slug) {
        return Err(ApiError::bad_input(
            "tenantSlug must be 2-63 characters of a-z, 0-9 and -",
        ));
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(ApiError::bad_input(format!(
            "tenantName must be 1-{MAX_NAME} characters"
        )));
    }
    let taken = tenants::Entity::find()
        .filter(tenants::Column::Slug.eq(&slug))
        .one(txn.conn())
        .await?
        .is_some();
    if taken {
        return Err(ApiError::Conflict(format!(
            "the tenant slug {slug} is taken"
        )));
    }
    let id = Uuid::now_v7();
    let now = Utc::now();
    tenants::Entity::insert(tenants::ActiveModel {
        id: Set(id),
        slug: Set(slug),
        name: Set(name.to_owned()),
        plan: Set(plan.to_owned()),
        quota_overrides: Set(None),
        status: Set("active".to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec(txn.conn())
    .await?;
    Ok(id)
}

/// Adds `user` to the bound tenant with `role`.
pub async fn add_member(txn: &TenantTxn, user: Uuid, role: &str) -> ServiceResult<()> {
    let now = Utc::now();
    txn.insert(tenant_users::ActiveModel {
        tenant_id: Set(txn.tenant_id()),
        user_id: Set(user),
        role: Set(role.to_owned()),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .await?;
    Ok(())
}

/// Creates a user (email lower-cased, password hashed).
/// Creates a user with an already hashed password ([`hash_password`]).
pub async fn create_user(
    txn: &SystemTxn,
    email: &str,
    hash: String,
    platform_admin: bool,
) -> ServiceResult<Uuid> {
    let exists = users::Entity::find()
        .filter(users::Column::Email.eq(email))
        .one(txn.conn())
        .await?
        .is_some();
    if exists {
        return Err(ApiError::Conflict(
            "an account with that email already exists".into(),
        ));
    }
    let id = Uuid::now_v7();
    let now = Utc::now();
    users::Entity::insert(users::ActiveModel {
        id: Set(id),
        email: Set(email.to_owned()),
        password_hash: Set(hash),
        display_name: Set(None),
        is_platform_admin: Set(platform_admin),
        disabled_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    })
    .exec(txn.conn())
    .await?;
    Ok(id)
}

/// `register`: a new user owning a new tenant, then logged in.
pub async fn register(
    st: &ApiState,
    creds: &Credentials,
    email: &str,
    plain_password: &str,
    tenant_name: &str,
    tenant_slug: &str,
) -> ServiceResult<Session> {
    let email = normalize_email(email)?;
    password::validate(plain_password).map_err(|e| ApiError::bad_input(e.to_string()))?;
    let hash = hash_password(plain_password.to_owned()).await?;
    let txn = SystemTxn::begin(&st.db).await?;
    let user = create_user(&txn, &email, hash, false).await?;
    let tenant = create_tenant(&txn, tenant_slug, tenant_name, "free").await?;
    let session = open_session(st, &txn, user).await?;
    let txn = txn.into_tenant(tenant).await?;
    add_member(&txn, user, "owner").await?;
    audit::record(
        &txn,
        &Actor::User(user),
        creds,
        AuditEntry::new(
            "auth.register",
            "tenant",
            Some(tenant.to_string()),
            serde_json::json!({"email": email, "slug": tenant_slug}),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(session)
}

/// The tenants a user belongs to.
async fn tenants_of(txn: &SystemTxn, user: Uuid) -> ServiceResult<Vec<Uuid>> {
    Ok(tenant_users::Entity::find()
        .filter(tenant_users::Column::UserId.eq(user))
        .all(txn.conn())
        .await?
        .into_iter()
        .map(|m| m.tenant_id)
        .collect())
}

/// Records an auth event in every tenant of `user`, in `txn`'s transaction.
async fn audit_user_event(
    st: &ApiState,
    user: Uuid,
    creds: &Credentials,
    action: &str,
) -> ServiceResult<()> {
    let txn = SystemTxn::begin(&st.db).await?;
    let tenants = tenants_of(&txn, user).await?;
    txn.commit().await?;
    for tenant in tenants {
        let t = TenantTxn::begin(&st.db, tenant).await?;
        crate::quotas::lock_tenant(&t).await?;
        audit::record(
            &t,
            &Actor::User(user),
            creds,
            AuditEntry::new(
                action,
                "user",
                Some(user.to_string()),
                serde_json::json!({}),
            ),
        )
        .await?;
        t.commit().await?;
    }
    Ok(())
}

/// A hash to verify against when the email is unknown, so both cases take as long.
static DUMMY_HASH: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    password::hash("a password nobody has, for timing").unwrap_or_default()
});

/// `login`. Failures are the same answer whatever was wrong, and are audited.
pub async fn login(
    st: &ApiState,
    creds: &Credentials,
    email: &str,
    plain_password: &str,
) -> ServiceResult<Session> {
    let email = email.trim().to_lowercase();
    // Brute force: at most 10 attempts per email per 5 minutes, across replicas.
    let attempts = st
        .bus
        .incr(
            &st.bus.keys().rate_limit(&format!("login:{email}"), 0),
            std::time::Duration::from_secs(300),
        )
        .await
        .map_err(ApiError::internal)?;
    if attempts > 10 {
        return Err(ApiError::RateLimited {
            retry_after_secs: 300,
        });
    }
    let user = {
        let txn = SystemTxn::begin(&st.db).await?;
        let user = users::Entity::find()
            .filter(users::Column::Email.eq(&email))
            .one(txn.conn())
            .await?;
        txn.commit().await?;
        user
    };
    // The slow hash runs outside any transaction.
    let phc = user
        .as_ref()
        .map_or_else(|| DUMMY_HASH.clone(), |u| u.password_hash.clone());
    let ok = verify_password(plain_password.to_owned(), phc).await;
    match user {
        Some(u) if ok && u.disabled_at.is_none() => {
            let txn = SystemTxn::begin(&st.db).await?;
            let session = open_session(st, &txn, u.id).await?;
            txn.commit().await?;
            audit_user_event(st, u.id, creds, "auth.login").await?;
            Ok(session)
        }
        Some(u) => {
            metrics::counter!("stellar_monitor_api_auth_failures_total", "reason" => "bad_password").increment(1);
            audit_user_event(st, u.id, creds, "auth.login_failed").await?;
            Err(ApiError::Unauthenticated)
        }
        None => {
            metrics::counter!("stellar_monitor_api_auth_failures_total", "reason" => "unknown_user").increment(1);
            tracing::info!(
                ip = creds.ip.as_deref().unwrap_or(""),
                "login for an unknown email"
            );
            Err(ApiError::Unauthenticated)
        }
    }
}

/// `refreshToken`: rotates the refresh token, issues a new access token.
pub async fn refresh(st: &ApiState, creds: &Credentials, token: &str) -> ServiceResult<Session> {
    let txn = SystemTxn::begin(&st.db).await?;
    match tokens::rotate(&txn, &st.jwt, token).await? {
        Refresh::Rotated { user, token } => {
            let active = users::Entity::find_by_id(user)
                .one(txn.conn())
                .await?
                .is_some_and(|u| u.disabled_at.is_none());
            if !active {
                txn.rollback().await?;
                return Err(ApiError::Unauthenticated);
            }
            let (access_token, access_expires_at) = st.jwt.issue(user)?;
            txn.commit().await?;
            Ok(Session {
                access_token,
                access_expires_at,
                refresh_token: token,
            })
        }
        Refresh::Reused { user } => {
            txn.commit().await?;
            metrics::counter!("stellar_monitor_api_auth_failures_total", "reason" => "refresh_reuse").increment(1);
            audit_user_event(st, user, creds, "auth.refresh_token_reused").await?;
            Err(ApiError::Unauthenticated)
        }
        Refresh::Invalid => {
            txn.rollback().await?;
            Err(ApiError::Unauthenticated)
        }
    }
}

/// `logout`: revokes the refresh token's family.
pub async fn logout(st: &ApiState, creds: &Credentials, token: &str) -> ServiceResult<bool> {
    let txn = SystemTxn::begin(&st.db).await?;
    let user = tokens::revoke(&txn, token).await?;
    txn.commit().await?;
    if let Some(user) = user {
        audit_user_event(st, user, creds, "auth.logout").await?;
    }
    Ok(user.is_some())
}
