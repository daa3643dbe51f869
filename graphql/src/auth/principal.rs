//! Who is calling, in which tenant, with which role: resolved once per request from the
//! `Authorization: Bearer` (JWT or API key) or `X-API-Key` header and the `X-Tenant`
//! header. TENANCY: the tenant comes from here, never from input.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::Utc;
use policies::{Rbac, Scope, tenant_domain};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::{api_keys, tokens::JwtKeys};
use crate::audit::{self, Actor, AuditEntry};
use crate::error::{ApiError, ServiceResult};
use entities::{SystemTxn, TenantTxn, api_keys as keys_table, tenant_users, tenants, users};

/// The tenant a request acts in.
#[derive(Clone, Debug)]
pub struct TenantCtx {
    pub id: Uuid,
    pub slug: String,
    /// The caller's role there (an API key acts with its creator's current role).
    pub role: String,
    pub plan: String,
    pub quota_overrides: Option<serde_json::Value>,
}

/// An authenticated caller.
#[derive(Clone, Debug)]
pub struct Principal {
    pub actor: Actor,
    /// The user (for an API key: its creator).
    pub user_id: Option<Uuid>,
    pub platform_admin: bool,
    pub tenant: Option<TenantCtx>,
    /// Set for API keys: they can do no more than these, and no more than the role.
    pub scopes: Option<Vec<Scope>>,
}

impl Principal {
    /// The tenant, after checking the role (and an API key's scopes) allow `action` on
    /// `resource` there.
    pub fn authorize(
        &self,
        rbac: &Rbac,
        resource: &str,
        action: &str,
    ) -> Result<&TenantCtx, ApiError> {
        let tenant = self.tenant.as_ref().ok_or_else(|| {
            ApiError::bad_input("name the tenant with the X-Tenant header (you belong to several)")
        })?;
        if !rbac.allows(
            &tenant.role,
            &tenant_domain(&tenant.id.to_string()),
            resource,
            action,
        ) {
            return Err(ApiError::forbidden(format!(
                "role {} cannot {action} {resource}",
                tenant.role
            )));
        }
        if let Some(scopes) = &self.scopes
            && !scopes.iter().any(|s| s.covers(resource, action))
        {
            return Err(ApiError::forbidden(format!(
                "the API key's scopes do not include {resource}:{action}"
            )));
        }
        Ok(tenant)
    }

    /// Platform-level actions (the network catalog).
    pub fn authorize_platform(
        &self,
        rbac: &Rbac,
        resource: &str,
        action: &str,
    ) -> Result<(), ApiError> {
        if self.platform_admin
            && self.scopes.is_none()
            && rbac.allows("platform_admin", "platform", resource, action)
        {
            Ok(())
        } else {
            Err(ApiError::forbidden("platform administrators only"))
        }
    }
}

/// The credentials a request carries.
#[derive(Clone, Debug, Default)]
pub struct Credentials {
    pub bearer: Option<String>,
    pub api_key: Option<String>,
    pub tenant: Option<String>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
}

/// Debounces `api_keys.last_used_at`: at most one write per key per interval.
#[derive(Debug, Default)]
pub struct KeyUsage {
    last: Mutex<HashMap<Uuid, Instant>>,
}

const LAST_USED_INTERVAL: Duration = Duration::from_secs(60);

impl KeyUsage {
    /// Whether this use should be written.
    fn due(&self, key: Uuid) -> bool {
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match last.get(&key) {
            Some(t) if now.duration_since(*t) < LAST_USED_INTERVAL => false,
            _ => {
                last.insert(key, now);
                true
            }
        }
    }
}

/// What resolving needs.
pub struct Resolver<'a> {
    pub db: &'a sea_orm::DatabaseConnection,
    pub jwt: &'a JwtKeys,
    pub usage: &'a KeyUsage,
}

impl Resolver<'_> {
    /// `Ok(None)`: no credentials (public operations only).
    pub async fn resolve(&self, creds: &Credentials) -> ServiceResult<Option<Principal>> {
        let presented = match (&creds.bearer, &creds.api_key) {
            (Some(b), _) => b.trim(),
            (None, Some(k)) => k.trim(),
            (None, None) => return Ok(None),
        };
        if presented.starts_with(&format!("{}_", api_keys::PREFIX)) {
            return self.resolve_key(presented, creds).await.map(Some);
        }
        let user_id = self.jwt.verify(presented)?;
        let txn = SystemTxn::begin(self.db).await?;
        let user = users::Entity::find_by_id(user_id)
            .one(txn.conn())
            .await?
            .filter(|u| u.disabled_at.is_none())
            .ok_or(ApiError::Unauthenticated)?;
        let tenant = match &creds.tenant {
            Some(slug) => {
                Some(membership_by_slug(&txn, user.id, user.is_platform_admin, slug).await?)
            }
            None => only_membership(&txn, user.id).await?,
        };
        txn.commit().await?;
        Ok(Some(Principal {
            actor: Actor::User(user.id),
            user_id: Some(user.id),
            platform_admin: user.is_platform_admin,
            tenant,
            scopes: None,
        }))
    }

    async fn resolve_key(&self, presented: &str, creds: &Credentials) -> ServiceResult<Principal> {
        let parsed = api_keys::parse(presented).ok_or(ApiError::Unauthenticated)?;
        let txn = SystemTxn::begin(self.db).await?;
        let key = keys_table::Entity::find_by_id(parsed.id)
            .one(txn.conn())
            .await?
            .filter(|k| api_keys::secret_matches(&parsed.secret, &k.secret_hash))
            .ok_or(ApiError::Unauthenticated)?;
        let tenant = tenants::Entity::find_by_id(key.tenant_id)
            .one(txn.conn())
            .await?
            .ok_or(ApiError::Unauthenticated)?;
        txn.commit().await?;
        if key.revoked_at.is_some() {
            // The use of a revoked key is an event the tenant wants to know about.
            let t = TenantTxn::begin(self.db, key.tenant_id).await?;
            audit::record(
                &t,
                &Actor::ApiKey {
                    key_id: key.id,
                    creator: key.created_by,
                },
                creds,
                AuditEntry::new(
                    "auth.revoked_key_used",
                    "api_key",
                    Some(key.id.to_string()),
                    serde_json::json!({"name": key.name}),
                ),
            )
            .await?;
            t.commit().await?;
            return Err(ApiError::Unauthenticated);
        }
        if key.expires_at.is_some_and(|e| e <= Utc::now()) {
            return Err(ApiError::Unauthenticated);
        }
        if creds.tenant.as_deref().is_some_and(|s| s != tenant.slug) {
            return Err(ApiError::forbidden(
                "an API key acts only in its own tenant",
            ));
        }
        // The key acts with its creator's current role: demoting the creator narrows it.
        let role = match key.created_by {
            Some(creator) => {
                let t = TenantTxn::begin(self.db, key.tenant_id).await?;
                let member = t
                    .select::<tenant_users::Entity>()
                    .filter(tenant_users::Column::UserId.eq(creator))
                    .one(t.conn())
                    .await?;
                t.commit().await?;
                member.map(|m| m.role).ok_or(ApiError::Unauthenticated)?
            }
            None => return Err(ApiError::Unauthenticated),
        };
        let scopes = serde_json::from_value::<Vec<String>>(key.scopes.clone())
            .unwrap_or_default()
            .iter()
            .filter_map(|s| Scope::parse(s).ok())
            .collect();
        if self.usage.due(key.id) {
            let db = self.db.clone();
            let id = key.id;
            let tenant_id = key.tenant_id;
            tokio::spawn(async move {
                if let Ok(t) = TenantTxn::begin(&db, tenant_id).await {
                    let done = t
                        .update_many::<keys_table::Entity>()
                        .col_expr(
                            keys_table::Column::LastUsedAt,
                            sea_orm::sea_query::Expr::value(Utc::now()),
                        )
                        .filter(keys_table::Column::Id.eq(id))
                        .exec(t.conn())
                        .await;
                    if done.is_ok() {
                        let _ = t.commit().await;
                    }
                }
            });
        }
        Ok(Principal {
            actor: Actor::ApiKey {
                key_id: key.id,
                creator: key.created_by,
            },
            user_id: key.created_by,
            platform_admin: false,
            tenant: Some(TenantCtx {
                id: tenant.id,
                slug: tenant.slug,
                role,
                plan: tenant.plan,
                quota_overrides: tenant.quota_overrides,
            }),
            scopes: Some(scopes),
        })
    }
}

fn tenant_ctx(t: tenants::Model, role: String) -> TenantCtx {
    TenantCtx {
        id: t.id,
        slug: t.slug,
        role,
        plan: t.plan,
        quota_overrides: t.quota_overrides,
    }
}

/// The caller's membership in the tenant named `slug`. Not being a member and the
/// tenant not existing give the same answer, so slugs cannot be probed.
async fn membership_by_slug(
    txn: &SystemTxn,
    user: Uuid,
    platform_admin: bool,
    slug: &str,
) -> ServiceResult<TenantCtx> {
    let not_member = || ApiError::forbidden("you are not a member of that tenant");
    let tenant = tenants::Entity::find()
        .filter(tenants::Column::Slug.eq(slug.to_lowercase()))
        .one(txn.conn())
        .await?
        .filter(|t| t.status == "active")
        .ok_or_else(not_member)?;
    let member = tenant_users::Entity::find()
        .filter(tenant_users::Column::TenantId.eq(tenant.id))
        .filter(tenant_users::Column::UserId.eq(user))
        .one(txn.conn())
        .await?;
    match (member, platform_admin) {
        (Some(m), _) => Ok(tenant_ctx(tenant, m.role)),
        // The platform operator can act in any tenant, as its owner.
        (None, true) => Ok(tenant_ctx(tenant, "owner".to_owned())),
        (None, false) => Err(not_member()),
    }
}

/// The user's tenant when there is exactly one.
async fn only_membership(txn: &SystemTxn, user: Uuid) -> ServiceResult<Option<TenantCtx>> {
    let memberships = tenant_users::Entity::find()
        .filter(tenant_users::Column::UserId.eq(user))
        .all(txn.conn())
        .await?;
    let [only] = memberships.as_slice() else {
        return Ok(None);
    };
    let tenant = tenants::Entity::find_by_id(only.tenant_id)
        .one(txn.conn())
        .await?
        .filter(|t| t.status == "active");
    Ok(tenant.map(|t| tenant_ctx(t, only.role.clone())))
}
