//! Authorization data and its loader: plan quotas (`plans.toml`), and the casbin model
//! and policies used by the API's guards.

mod plans;
mod rbac;

pub use plans::{Plans, PlansError, QuotaOverrides, Quotas};
pub use rbac::{ACTIONS, RESOURCES, ROLES, Rbac, RbacError, Scope, tenant_domain};
