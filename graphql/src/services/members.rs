//! Members of a tenant: invitations, roles, removal. Owners are protected: only owners
//! grant or take the owner role, and the last owner cannot leave or be demoted.

use chrono::{Duration, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
};
use uuid::Uuid;

use super::accounts::{self, Session, normalize_email};
use crate::audit::{self, AuditEntry};
use crate::auth::principal::{Credentials, Principal, TenantCtx};
use crate::auth::tokens::{random_secret, token_hash};
use crate::context::ApiState;
use crate::error::{ApiError, ServiceResult};
use crate::quotas::{self, Resource};
use entities::{SystemTxn, TenantTxn, invitations, tenant_users, users};

/// How long an invitation stays redeemable.
const INVITATION_TTL_DAYS: i64 = 7;

#[derive(Clone, Debug)]
pub struct Member {
    pub user_id: Uuid,
    pub email: String,
    pub role: String,
    pub joined_at: chrono::DateTime<Utc>,
}

pub fn check_role(role: &str) -> ServiceResult<()> {
    if policies::ROLES.contains(&role) {
        Ok(())
    } else {
        Err(ApiError::bad_input(format!(
            "role must be one of {}",
            policies::ROLES.join(", ")
        )))
    }
}

fn only_owners_touch_owners(actor: &TenantCtx, role: &str) -> ServiceResult<()> {
    if role == "owner" && actor.role != "owner" {
        return Err(ApiError::forbidden(
            "only owners grant, change or remove the owner role",
        ));
    }
    Ok(())
}

pub async fn list(st: &ApiState, tenant: &TenantCtx) -> ServiceResult<Vec<Member>> {
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    let members = txn
        .select::<tenant_users::Entity>()
        .order_by_asc(tenant_users::Column::CreatedAt)
        .find_also_related(users::Entity)
        .all(txn.conn())
        .await?;
    txn.commit().await?;
    Ok(members
        .into_iter()
        .map(|(m, u)| Member {
            user_id: m.user_id,
            email: u.map(|u| u.email).unwrap_or_default(),
            role: m.role,
            joined_at: m.created_at,
        })
        .collect())
}

/// An invitation and, once, its token.
pub struct Invited {
    pub invitation: invitations::Model,
    pub token: Option<String>,
    /// Set when the email already had an account: it is a member now.
    pub added: bool,
}

pub async fn invite(
    st: &ApiState,
    p: &Principal,
    tenant: &TenantCtx,
    creds: &Credentials,
    email: &str,
    role: &str,
) -> ServiceResult<Invited> {
    let email = normalize_email(email)?;
    check_role(role)?;
    only_owners_touch_owners(tenant, role)?;
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    quotas::ensure_room(&txn, &st.plans, tenant, Resource::Members, 1).await?;
    // `users` is not tenant-owned: readable from a tenant-bound transaction.
    let existing = users::Entity::find()
        .filter(users::Column::Email.eq(&email))
        .one(txn.conn())
        .await?;
    let now = Utc::now();
    let token = random_secret();
    let invitation = invitations::Model {
        id: Uuid::now_v7(),
        tenant_id: tenant.id,
        email: email.clone(),
        role: role.to_owned(),
        token_hash: token_hash(&token),
        invited_by: p.user_id,
        expires_at: now + Duration::days(INVITATION_TTL_DAYS),
        accepted_at: None,
        created_at: now,
    };
    let mut added = false;
    if let Some(user) = existing {
        let already = txn
            .select::<tenant_users::Entity>()
            .filter(tenant_users::Column::UserId.eq(user.id))
            .count(txn.conn())
            .await?
            > 0;
        if already {
            return Err(ApiError::Conflict(format!("{email} is already a member")));
        }
        accounts::add_member(&txn, user.id, role).await?;
        added = true;
    }
    let stored = txn
        .insert(invitations::ActiveModel {
            id: Set(invitation.id),
            tenant_id: Set(tenant.id),
            email: Set(invitation.email.clone()),
            role: Set(invitation.role.clone()),
            token_hash: Set(invitation.token_hash.clone()),
            invited_by: Set(invitation.invited_by),
            expires_at: Set(invitation.expires_at),
            accepted_at: Set(added.then_some(now)),
            created_at: Set(now),
        })
        .await?;
    audit::record(
        &txn,
        &p.actor,
        creds,
        AuditEntry::new(
            "member.invite",
            "member",
            Some(email.clone()),
            serde_json::json!({"email": email, "role": role, "added": added}),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(Invited {
        invitation: stored,
        token: (!added).then_some(token),
        added,
    })
}

/// Redeems an invitation: creates the account (with `password`) if the email has none,
/// adds the membership, logs in.
pub async fn accept(
    st: &ApiState,
    creds: &Credentials,
    token: &str,
    password: &str,
) -> ServiceResult<Session> {
    let txn = SystemTxn::begin(&st.db).await?;
    let invitation = invitations::Entity::find()
        .filter(invitations::Column::TokenHash.eq(token_hash(token)))
        .one(txn.conn())
        .await?
        .filter(|i| i.accepted_at.is_none() && i.expires_at > Utc::now())
        .ok_or_else(|| ApiError::bad_input("the invitation is invalid, used or expired"))?;
    let user = match users::Entity::find()
        .filter(users::Column::Email.eq(&invitation.email))
        .one(txn.conn())
        .await?
    {
        Some(u) => {
            if !crate::auth::password::verify(password, &u.password_hash) {
                return Err(ApiError::Unauthenticated);
            }
            u.id
        }
        None => {
            crate::auth::password::validate(password)
                .map_err(|e| ApiError::bad_input(e.to_string()))?;
            let hash = accounts::hash_password(password.to_owned()).await?;
            accounts::create_user(&txn, &invitation.email, hash, false).await?
        }
    };
    let session = accounts::open_session(st, &txn, user).await?;
    let txn = txn.into_tenant(invitation.tenant_id).await?;
    quotas::lock_tenant(&txn).await?;
    let already = txn
        .select::<tenant_users::Entity>()
        .filter(tenant_users::Column::UserId.eq(user))
        .count(txn.conn())
        .await?
        > 0;
    if !already {
        accounts::add_member(&txn, user, &invitation.role).await?;
    }
    let mut accepted: invitations::ActiveModel = invitation.clone().into();
    accepted.accepted_at = Set(Some(Utc::now()));
    txn.update(accepted).await?;
    audit::record(
        &txn,
        &crate::audit::Actor::User(user),
        creds,
        AuditEntry::new(
            "member.join",
            "member",
            Some(invitation.email.clone()),
            serde_json::json!({"role": invitation.role}),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(session)
}

async fn owners(txn: &TenantTxn) -> ServiceResult<u64> {
    Ok(txn
        .select::<tenant_users::Entity>()
        .filter(tenant_users::Column::Role.eq("owner"))
        .count(txn.conn())
        .await?)
}

async fn membership(txn: &TenantTxn, user: Uuid) -> ServiceResult<tenant_users::Model> {
    txn.select::<tenant_users::Entity>()
        .filter(tenant_users::Column::UserId.eq(user))
        .one(txn.conn())
        .await?
        .ok_or(ApiError::NotFound)
}

pub async fn change_role(
    st: &ApiState,
    p: &Principal,
    tenant: &TenantCtx,
    creds: &Credentials,
    user: Uuid,
    role: &str,
) -> ServiceResult<tenant_users::Model> {
    check_role(role)?;
    only_owners_touch_owners(tenant, role)?;
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    quotas::lock_tenant(&txn).await?;
    let member = membership(&txn, user).await?;
    only_owners_touch_owners(tenant, &member.role)?;
    if member.role == "owner" && role != "owner" && owners(&txn).await? <= 1 {
        return Err(ApiError::Conflict(
            "a tenant keeps at least one owner".into(),
        ));
    }
    let from = member.role.clone();
    let mut changed: tenant_users::ActiveModel = member.into();
    changed.role = Set(role.to_owned());
    changed.updated_at = Set(Utc::now());
    let updated = txn.update(changed).await?;
    audit::record(
        &txn,
        &p.actor,
        creds,
        AuditEntry::new(
            "member.role_change",
            "member",
            Some(user.to_string()),
            serde_json::json!({"from": from, "to": role}),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

pub async fn remove(
    st: &ApiState,
    p: &Principal,
    tenant: &TenantCtx,
    creds: &Credentials,
    user: Uuid,
) -> ServiceResult<()> {
    let txn = TenantTxn::begin(&st.db, tenant.id).await?;
    quotas::lock_tenant(&txn).await?;
    let member = membership(&txn, user).await?;
    only_owners_touch_owners(tenant, &member.role)?;
    if member.role == "owner" && owners(&txn).await? <= 1 {
        return Err(ApiError::Conflict(
            "a tenant keeps at least one owner".into(),
        ));
    }
    txn.delete_many::<tenant_users::Entity>()
        .filter(tenant_users::Column::UserId.eq(user))
        .exec(txn.conn())
        .await?;
    audit::record(
        &txn,
        &p.actor,
        creds,
        AuditEntry::new(
            "member.remove",
            "member",
            Some(user.to_string()),
            serde_json::json!({"role": member.role}),
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
