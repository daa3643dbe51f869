//! Mutations: each takes one `*Input` and returns a `*Payload`; each is guarded, runs in
//! one transaction with its audit entry.

use async_graphql::{Context, ID, Object, SimpleObject};

use super::inputs::*;
use super::types::*;
use super::uuid;
use crate::context::{Perm, Platform, authorize, principal, request, state};
use crate::error::{ApiError, ApiResult};
use crate::services::{self, UserError};

#[derive(Default)]
pub struct Mutation;

#[derive(SimpleObject)]
pub struct CreateApiKeyPayload {
    /// The key: shown this once, never again.
    pub key: String,
    pub api_key: ApiKey,
}

#[derive(SimpleObject)]
pub struct ApiKeyPayload {
    pub api_key: ApiKey,
}

#[derive(SimpleObject)]
pub struct LogoutPayload {
    pub ok: bool,
}

#[derive(SimpleObject)]
pub struct DeletePayload {
    pub id: ID,
}

#[derive(SimpleObject)]
pub struct InviteMemberPayload {
    pub invitation: Invitation,
    /// The one-time token to pass to `acceptInvitation` (absent when the email already
    /// had an account and was added directly).
    pub token: Option<String>,
    pub added: bool,
}

#[derive(SimpleObject)]
pub struct MemberPayload {
    pub user_id: ID,
    pub role: String,
}

#[derive(SimpleObject)]
pub struct NetworkPayload {
    pub network: Option<Network>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct CatalogNetworkPayload {
    pub network: Option<CatalogNetwork>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct MonitorPayload {
    pub monitor: Option<Monitor>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct TriggerPayload {
    pub trigger: Option<Trigger>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct DeliveryPayload {
    pub delivery: Delivery,
}

#[derive(SimpleObject)]
pub struct ImportItem {
    pub kind: String,
    pub key: String,
    pub file: String,
    /// `created`, `invalid`, or `not_created` (valid, but the import was refused).
    pub status: String,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct TestMonitorPayload {
    /// What would have fired, each match in OZ Monitor's JSON shape. Nothing was sent.
    pub matches: Vec<async_graphql::Json<serde_json::Value>>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct ImportOzConfigPayload {
    /// Everything was imported (else nothing was).
    pub ok: bool,
    pub items: Vec<ImportItem>,
}

fn outcome<T, G>(
    r: Result<T, Vec<UserError>>,
    into: impl Fn(T) -> G,
) -> (Option<G>, Vec<UserError>) {
    match r {
        Ok(v) => (Some(into(v)), Vec::new()),
        Err(e) => (None, e),
    }
}

#[Object]
impl Mutation {
    /// Creates an account owning a new tenant, and logs in.
    async fn register(&self, ctx: &Context<'_>, input: RegisterInput) -> ApiResult<AuthPayload> {
        let session = services::accounts::register(
            state(ctx),
            &request(ctx).creds,
            &input.email,
            &input.password,
            &input.tenant_name,
            &input.tenant_slug,
        )
        .await?;
        Ok(session.into())
    }

    async fn login(&self, ctx: &Context<'_>, input: LoginInput) -> ApiResult<AuthPayload> {
        Ok(services::accounts::login(
            state(ctx),
            &request(ctx).creds,
            &input.email,
            &input.password,
        )
        .await?
        .into())
    }

    /// Exchanges a refresh token for a new access token and a new refresh token.
    async fn refresh_token(
        &self,
        ctx: &Context<'_>,
        input: RefreshTokenInput,
    ) -> ApiResult<AuthPayload> {
        Ok(
            services::accounts::refresh(state(ctx), &request(ctx).creds, &input.refresh_token)
                .await?
                .into(),
        )
    }

    /// Revokes a refresh token and every token rotated from the same login.
    async fn logout(&self, ctx: &Context<'_>, input: LogoutInput) -> ApiResult<LogoutPayload> {
        let ok = services::accounts::logout(state(ctx), &request(ctx).creds, &input.refresh_token)
            .await?;
        Ok(LogoutPayload { ok })
    }

    #[graphql(guard = "Perm::new(\"api_keys\", \"write\")")]
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        input: CreateApiKeyInput,
    ) -> ApiResult<CreateApiKeyPayload> {
        let (p, t) = authorize(ctx, "api_keys", "write")?;
        let (row, key) = services::api_keys::create(
            state(ctx),
            p,
            t,
            &request(ctx).creds,
            &input.name,
            &input.scopes,
            input.expires_at,
        )
        .await?;
        Ok(CreateApiKeyPayload {
            key,
            api_key: row.into(),
        })
    }

    #[graphql(guard = "Perm::new(\"api_keys\", \"write\")")]
    async fn revoke_api_key(&self, ctx: &Context<'_>, input: IdInput) -> ApiResult<ApiKeyPayload> {
        let (p, t) = authorize(ctx, "api_keys", "write")?;
        let row =
            services::api_keys::revoke(state(ctx), p, t, &request(ctx).creds, uuid(&input.id)?)
                .await?;
        Ok(ApiKeyPayload {
            api_key: row.into(),
        })
    }

    #[graphql(guard = "Perm::new(\"members\", \"write\")")]
    async fn invite_member(
        &self,
        ctx: &Context<'_>,
        input: InviteMemberInput,
    ) -> ApiResult<InviteMemberPayload> {
        let (p, t) = authorize(ctx, "members", "write")?;
        let invited = services::members::invite(
            state(ctx),
            p,
            t,
            &request(ctx).creds,
            &input.email,
            &input.role,
        )
        .await?;
        Ok(InviteMemberPayload {
            invitation: invited.invitation.into(),
            token: invited.token,
            added: invited.added,
        })
    }

    /// Joins the inviting tenant (creating the account when the email has none).
    async fn accept_invitation(
        &self,
        ctx: &Context<'_>,
        input: AcceptInvitationInput,
    ) -> ApiResult<AuthPayload> {
        Ok(services::members::accept(
            state(ctx),
            &request(ctx).creds,
            &input.token,
            &input.password,
        )
        .await?
        .into())
    }

    #[graphql(guard = "Perm::new(\"members\", \"write\")")]
    async fn change_member_role(
        &self,
        ctx: &Context<'_>,
        input: ChangeMemberRoleInput,
    ) -> ApiResult<MemberPayload> {
        let (p, t) = authorize(ctx, "members", "write")?;
        let m = services::members::change_role(
            state(ctx),
            p,
            t,
            &request(ctx).creds,
            uuid(&input.user_id)?,
            &input.role,
        )
        .await?;
        Ok(MemberPayload {
            user_id: ID(m.user_id.to_string()),
            role: m.role,
        })
    }

    #[graphql(guard = "Perm::new(\"members\", \"write\")")]
    async fn remove_member(
        &self,
        ctx: &Context<'_>,
        input: RemoveMemberInput,
    ) -> ApiResult<DeletePayload> {
        let (p, t) = authorize(ctx, "members", "write")?;
        let user = uuid(&input.user_id)?;
        services::members::remove(state(ctx), p, t, &request(ctx).creds, user).await?;
        Ok(DeletePayload { id: input.user_id })
    }

    /// Adds a network to the platform catalog (platform administrators).
    #[graphql(guard = "Platform::new(\"networks\", \"write\")")]
    async fn create_catalog_network(
        &self,
        ctx: &Context<'_>,
        input: OzJsonInput,
    ) -> ApiResult<CatalogNetworkPayload> {
        principal(ctx)?.authorize_platform(&state(ctx).rbac, "networks", "write")?;
        let (network, user_errors) = outcome(
            services::networks::create_catalog(state(ctx), input.oz_json.0).await?,
            CatalogNetwork::from,
        );
        Ok(CatalogNetworkPayload {
            network,
            user_errors,
        })
    }

    #[graphql(guard = "Perm::new(\"networks\", \"write\")")]
    async fn enable_network(
        &self,
        ctx: &Context<'_>,
        input: EnableNetworkInput,
    ) -> ApiResult<NetworkPayload> {
        let (p, t) = authorize(ctx, "networks", "write")?;
        let row = services::networks::enable(
            state(ctx),
            p,
            t,
            &request(ctx).creds,
            &input.catalog_slug,
            input.slug.as_deref(),
        )
        .await?;
        Ok(NetworkPayload {
            network: Some(row.into()),
            user_errors: Vec::new(),
        })
    }

    /// A private network, with its own RPC URLs (sealed at rest, never shown).
    #[graphql(guard = "Perm::new(\"networks\", \"write\")")]
    async fn create_private_network(
        &self,
        ctx: &Context<'_>,
        input: OzJsonInput,
    ) -> ApiResult<NetworkPayload> {
        let (p, t) = authorize(ctx, "networks", "write")?;
        let (network, user_errors) = outcome(
            services::networks::create_private(
                state(ctx),
                p,
                t,
                &request(ctx).creds,
                input.oz_json.0,
            )
            .await?,
            Network::from,
        );
        Ok(NetworkPayload {
            network,
            user_errors,
        })
    }

    #[graphql(guard = "Perm::new(\"networks\", \"write\")")]
    async fn delete_network(&self, ctx: &Context<'_>, input: IdInput) -> ApiResult<DeletePayload> {
        let (p, t) = authorize(ctx, "networks", "write")?;
        services::networks::delete(state(ctx), p, t, &request(ctx).creds, uuid(&input.id)?).await?;
        Ok(DeletePayload { id: input.id })
    }

    #[graphql(guard = "Perm::new(\"monitors\", \"write\")")]
    async fn create_monitor(
        &self,
        ctx: &Context<'_>,
        input: CreateMonitorInput,
    ) -> ApiResult<MonitorPayload> {
        let (p, t) = authorize(ctx, "monitors", "write")?;
        let (json, prefix) = input.draft.resolve("draft")?;
        let (monitor, user_errors) = outcome(
            services::monitors::create(
                state(ctx),
                p,
                t,
                &request(ctx).creds,
                services::monitors::Draft {
                    prefix: &prefix,
                    json,
                    severity: input.severity.map(|s| s.as_str()),
                },
            )
            .await?,
            Monitor::from,
        );
        Ok(MonitorPayload {
            monitor,
            user_errors,
        })
    }

    #[graphql(guard = "Perm::new(\"monitors\", \"write\")")]
    async fn update_monitor(
        &self,
        ctx: &Context<'_>,
        input: UpdateMonitorInput,
    ) -> ApiResult<MonitorPayload> {
        let (p, t) = authorize(ctx, "monitors", "write")?;
        let (json, prefix) = input.draft.resolve("draft")?;
        let (monitor, user_errors) = outcome(
            services::monitors::update(
                state(ctx),
                p,
                t,
                &request(ctx).creds,
                uuid(&input.id)?,
                services::monitors::Draft {
                    prefix: &prefix,
                    json,
                    severity: input.severity.map(|s| s.as_str()),
                },
            )
            .await?,
            Monitor::from,
        );
        Ok(MonitorPayload {
            monitor,
            user_errors,
        })
    }

    #[graphql(guard = "Perm::new(\"monitors\", \"write\")")]
    async fn pause_monitor(
        &self,
        ctx: &Context<'_>,
        input: PauseMonitorInput,
    ) -> ApiResult<MonitorPayload> {
        let (p, t) = authorize(ctx, "monitors", "write")?;
        let row = services::monitors::set_paused(
            state(ctx),
            p,
            t,
            &request(ctx).creds,
            uuid(&input.id)?,
            input.paused,
        )
        .await?;
        Ok(MonitorPayload {
            monitor: Some(row.into()),
            user_errors: Vec::new(),
        })
    }

    #[graphql(guard = "Perm::new(\"monitors\", \"write\")")]
    async fn delete_monitor(&self, ctx: &Context<'_>, input: IdInput) -> ApiResult<DeletePayload> {
        let (p, t) = authorize(ctx, "monitors", "write")?;
        services::monitors::delete(state(ctx), p, t, &request(ctx).creds, uuid(&input.id)?).await?;
        Ok(DeletePayload { id: input.id })
    }

    #[graphql(guard = "Perm::new(\"triggers\", \"write\")")]
    async fn create_trigger(
        &self,
        ctx: &Context<'_>,
        input: CreateTriggerInput,
    ) -> ApiResult<TriggerPayload> {
        let (p, t) = authorize(ctx, "triggers", "write")?;
        let (trigger, user_errors) = outcome(
            services::triggers::create(
                state(ctx),
                p,
                t,
                &request(ctx).creds,
                &input.slug,
                input.oz_json.0,
            )
            .await?,
            Trigger::from,
        );
        Ok(TriggerPayload {
            trigger,
            user_errors,
        })
    }

    #[graphql(guard = "Perm::new(\"triggers\", \"write\")")]
    async fn update_trigger(
        &self,
        ctx: &Context<'_>,
        input: UpdateTriggerInput,
    ) -> ApiResult<TriggerPayload> {
        let (p, t) = authorize(ctx, "triggers", "write")?;
        let (trigger, user_errors) = outcome(
            services::triggers::update(
                state(ctx),
                p,
                t,
                &request(ctx).creds,
                uuid(&input.id)?,
                input.oz_json.0,
            )
            .await?,
            Trigger::from,
        );
        Ok(TriggerPayload {
            trigger,
            user_errors,
        })
    }

    #[graphql(guard = "Perm::new(\"triggers\", \"write\")")]
    async fn delete_trigger(&self, ctx: &Context<'_>, input: IdInput) -> ApiResult<DeletePayload> {
        let (p, t) = authorize(ctx, "triggers", "write")?;
        services::triggers::delete(state(ctx), p, t, &request(ctx).creds, uuid(&input.id)?).await?;
        Ok(DeletePayload { id: input.id })
    }

    /// Queues a delivery again, with the same alert id.
    #[graphql(guard = "Perm::new(\"deliveries\", \"write\")")]
    async fn redeliver(&self, ctx: &Context<'_>, input: IdInput) -> ApiResult<DeliveryPayload> {
        let (p, t) = authorize(ctx, "deliveries", "write")?;
        let row =
            services::alerts::redeliver(state(ctx), p, t, &request(ctx).creds, uuid(&input.id)?)
                .await?;
        Ok(DeliveryPayload {
            delivery: row.into(),
        })
    }

    /// Evaluates a saved or draft monitor over a block range and returns what would
    /// have fired; nothing is stored or sent.
    #[graphql(guard = "Perm::new(\"monitors\", \"read\")")]
    async fn test_monitor(
        &self,
        ctx: &Context<'_>,
        input: TestMonitorInput,
    ) -> ApiResult<TestMonitorPayload> {
        let (_, t) = authorize(ctx, "monitors", "read")?;
        let subject = match (&input.monitor_id, &input.draft) {
            (Some(id), None) => services::dry_run::Subject::Saved(uuid(id)?),
            (None, Some(draft)) => {
                let (json, prefix) = draft.resolve("draft")?;
                services::dry_run::Subject::Draft { json, prefix }
            }
            _ => return Err(ApiError::bad_input("give exactly one of monitorId or draft").into()),
        };
        let block = |s: &str| {
            s.trim()
                .parse::<u64>()
                .map_err(|_| ApiError::bad_input(format!("{s:?} is not a block number")))
        };
        let from = block(&input.from_block)?;
        let to = input
            .to_block
            .as_deref()
            .map(block)
            .transpose()?
            .unwrap_or(from);
        match services::dry_run::test_monitor(state(ctx), t, subject, &input.network, from, to)
            .await?
        {
            Ok(matches) => Ok(TestMonitorPayload {
                matches: matches
                    .iter()
                    .map(|m| async_graphql::Json(serde_json::to_value(m).unwrap_or_default()))
                    .collect(),
                user_errors: Vec::new(),
            }),
            Err(user_errors) => Ok(TestMonitorPayload {
                matches: Vec::new(),
                user_errors,
            }),
        }
    }

    /// Imports an OZ Monitor configuration set, all or nothing.
    #[graphql(guard = "Perm::new(\"monitors\", \"write\")")]
    async fn import_oz_config(
        &self,
        ctx: &Context<'_>,
        input: ImportOzConfigInput,
    ) -> ApiResult<ImportOzConfigPayload> {
        let (p, t) = authorize(ctx, "monitors", "write")?;
        for (resource, files) in [("networks", &input.networks), ("triggers", &input.triggers)] {
            if !files.is_empty() {
                p.authorize(&state(ctx).rbac, resource, "write")?;
            }
        }
        let files = |v: Vec<ConfigFileInput>| -> Vec<services::import::ConfigFile> {
            v.into_iter()
                .map(|f| services::import::ConfigFile {
                    name: f.name,
                    json: f.content.0,
                })
                .collect()
        };
        let set = services::import::ConfigSet {
            networks: files(input.networks),
            monitors: files(input.monitors),
            triggers: files(input.triggers),
        };
        let report =
            services::import::import(state(ctx), &p.actor, t, &request(ctx).creds, set, None)
                .await?;
        Ok(ImportOzConfigPayload {
            ok: report.ok,
            items: report
                .items
                .into_iter()
                .map(|i| ImportItem {
                    kind: i.kind,
                    key: i.key,
                    file: i.file,
                    status: i.status,
                    user_errors: i.errors,
                })
                .collect(),
        })
    }
}
