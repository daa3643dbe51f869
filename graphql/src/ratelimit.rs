//! Rate limits, shared across API replicas through the bus (Redis; in-process for
//! `serve`): requests per minute per tenant, from its quotas, and per address for
//! callers without credentials. Fixed one-minute windows.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::auth::principal::{Credentials, Principal};
use crate::context::ApiState;
use crate::error::ApiError;
use crate::quotas::quotas_of;

const WINDOW: Duration = Duration::from_secs(60);

/// Counts this request against its limit; `RATE_LIMITED` with the seconds until the
/// window ends when over.
pub async fn admit(
    st: &ApiState,
    principal: Option<&Principal>,
    creds: &Credentials,
) -> Result<(), ApiError> {
    let (subject, limit) = match principal.and_then(|p| p.tenant.as_ref()) {
        Some(t) => (
            format!("tenant:{}", t.id),
            quotas_of(&st.plans, t).api_requests_per_minute,
        ),
        None => match principal {
            // Authenticated without a tenant (several memberships, none named).
            Some(p) => (
                format!("user:{}", p.user_id.unwrap_or_default()),
                st.anonymous_requests_per_minute * 10,
            ),
            None => (
                format!("ip:{}", creds.ip.as_deref().unwrap_or("unknown")),
                st.anonymous_requests_per_minute,
            ),
        },
    };
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    let window = now / WINDOW.as_secs();
    let key = st.bus.keys().rate_limit(&subject, window);
    let count = st
        .bus
        .incr(&key, WINDOW + Duration::from_secs(5))
        .await
        .map_err(ApiError::internal)?;
    if count > limit {
        metrics::counter!("stellar_monitor_api_rate_limited_total").increment(1);
        let retry_after_secs = (window + 1) * WINDOW.as_secs() - now;
        return Err(ApiError::RateLimited {
            retry_after_secs: retry_after_secs.max(1),
        });
    }
    Ok(())
}
