//! API keys: created with scopes no wider than the creator's role, shown once,
//! expiring, revocable.

use chrono::{DateTime, Utc};
use policies::Scope;
use sea_orm::{ActiveValue::Set, ColumnTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::MAX_NAME;
use crate::audit::{self, AuditEntry};
use crate::auth::api_keys::{format, hash_secret};
use crate::auth::principal::{Credentials, Principal, TenantCtx};
use crate::auth::tokens::random_secret;
use crate::context::ApiState;
use crate::error::{ApiError, ServiceResult};
use crate::quotas::{self, Resource};
use entities::{TenantTxn, api_keys};

/// Parses scopes and checks the creator's role allows everything they cover.
pub fn check_scopes(
    st: &ApiState,
    tenant: &TenantCtx,
    scopes: &[String],
) -> ServiceResult<Vec<Scope>> {
    if scopes.is_empty() {
        return Err(ApiError::bad_input("an API key needs at least one scope"));
    }
    let parsed: Vec<Scope> = scopes
        .iter()
        .map(|s| Scope::parse(s).map_err(ApiError::bad_input))
        .collect::<Result<_, _>>()?;
    let domain = policies::tenant_domain(&tenant.id.to_string());
    for scope in &parsed {
        for (resource, action) in scope.pairs() {
            if !st.rbac.allows(&tenant.role, &domain, resource, action) {
                return Err(ApiError::forbidden(format!(
                    "scope {scope} includes {resource}:{action}, which role {} does not have",
                    tenant.role
                )));
            }
        }
    }
    Ok(parsed)
}

pub async fn create(
    st: &ApiState,
    p: &Principal,
    tenant: &TenantCtx,
    creds: &Credentials,
    name: &str,
    scopes: &[String],
    expires_at: Option<DateTime<Utc>>,
) -> ServiceResult<(api_keys::Model, String)> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME {
        return Err(ApiError::bad_input(format!(
            "name must be 1-{MAX_NAME} characters"
        )));
    }
    if expires_at.is_some_and(|e| e <= Utc::now()) {
        return Err(ApiError::bad_input("expiresAt must be in the future"));
    }
    let parsed = check_scopes(st, tenant, scopes)?;
    let Some(creator) = p.user_id.filter(|_| p.scopes.is_none()) else {
        return Err(ApiError::forbidden(
            "API keys are created by people, not by other keys",
        ));
    };
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    quotas::ensure_room(&txn, &st.plans, tenant, Resource::ApiKeys, 1).await?;
    let id = Uuid::now_v7();
    let secret = random_secret();
    let scope_text: Vec<String> = parsed.iter().map(ToString::to_string).collect();
    let row = txn
        .insert(api_keys::ActiveModel {
            id: Set(id),
            tenant_id: Set(tenant.id),
            created_by: Set(Some(creator)),
            name: Set(name.to_owned()),
            secret_hash: Set(hash_secret(&secret)),
            scopes: Set(serde_json::json!(scope_text)),
            expires_at: Set(expires_at),
            revoked_at: Set(None),
            last_used_at: Set(None),
            created_at: Set(Utc::now()),
        })
        .await?;
    audit::record(
        &txn,
        &p.actor,
        creds,
        AuditEntry::new(
            "api_key.create",
            "api_key",
            Some(id.to_string()),
            serde_json::json!({"name": name, "scopes": scope_text}),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok((row, format(id, &secret)))
}

pub async fn list(st: &ApiState, tenant: &TenantCtx) -> ServiceResult<Vec<api_keys::Model>> {
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    let rows = txn
        .select::<api_keys::Entity>()
        .order_by_asc(api_keys::Column::CreatedAt)
        .all(txn.conn())
        .await?;
    txn.commit().await?;
    Ok(rows)
}

pub async fn revoke(
    st: &ApiState,
    p: &Principal,
    tenant: &TenantCtx,
    creds: &Credentials,
    id: Uuid,
) -> ServiceResult<api_keys::Model> {
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    quotas::lock_tenant(&txn).await?;
    let key = txn
        .select::<api_keys::Entity>()
        .filter(api_keys::Column::Id.eq(id))
        .one(txn.conn())
        .await?
        .ok_or(ApiError::NotFound)?;
    if key.revoked_at.is_some() {
        txn.commit().await?;
        return Ok(key);
    }
    let name = key.name.clone();
    let mut row: api_keys::ActiveModel = key.into();
    row.revoked_at = Set(Some(Utc::now()));
    let row = txn.update(row).await?;
    audit::record(
        &txn,
        &p.actor,
        creds,
        AuditEntry::new(
            "api_key.revoke",
            "api_key",
            Some(id.to_string()),
            serde_json::json!({"name": name}),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(row)
}
