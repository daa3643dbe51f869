//! Authorization data and its loader: plan quotas (`plans.toml`), and the casbin model
//! and policies used by the API's guards.

mod plans;

pub use plans::{Plans, PlansError, QuotaOverrides, Quotas};
