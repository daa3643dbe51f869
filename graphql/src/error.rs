//! The API's one error type. Every error a client sees carries `extensions.code`;
//! internal errors are logged and reach the client as a generic message.
//!
//! `ApiError` deliberately does not implement `Display`: async-graphql turns any
//! `Display` error into a client message through `?`, so a resolver can only surface an
//! `ApiError` through the conversion below, which sets the code. Anything else that
//! reaches a response without a code is masked by the HTTP layer.

use async_graphql::ErrorExtensions;

/// Why a request failed, as the client may learn it.
#[derive(Debug)]
pub enum ApiError {
    Unauthenticated,
    Forbidden(String),
    NotFound,
    BadUserInput(String),
    QuotaExceeded(String),
    RateLimited { retry_after_secs: u64 },
    Conflict(String),
    Internal(anyhow::Error),
}

impl ApiError {
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated => "UNAUTHENTICATED",
            ApiError::Forbidden(_) => "FORBIDDEN",
            ApiError::NotFound => "NOT_FOUND",
            ApiError::BadUserInput(_) => "BAD_USER_INPUT",
            ApiError::QuotaExceeded(_) => "QUOTA_EXCEEDED",
            ApiError::RateLimited { .. } => "RATE_LIMITED",
            ApiError::Conflict(_) => "CONFLICT",
            ApiError::Internal(_) => "INTERNAL_SERVER_ERROR",
        }
    }

    /// The message the client sees.
    pub fn message(&self) -> String {
        match self {
            ApiError::Unauthenticated => "authentication required or credentials invalid".into(),
            ApiError::Forbidden(why) => format!("not allowed: {why}"),
            ApiError::NotFound => "not found".into(),
            ApiError::BadUserInput(m) | ApiError::Conflict(m) => m.clone(),
            ApiError::QuotaExceeded(m) => format!("quota exceeded: {m}"),
            ApiError::RateLimited { retry_after_secs } => {
                format!("rate limited; retry after {retry_after_secs}s")
            }
            ApiError::Internal(_) => "internal error".into(),
        }
    }

    pub fn internal(e: impl Into<anyhow::Error>) -> Self {
        ApiError::Internal(e.into())
    }

    pub fn bad_input(message: impl Into<String>) -> Self {
        ApiError::BadUserInput(message.into())
    }

    pub fn forbidden(why: impl Into<String>) -> Self {
        ApiError::Forbidden(why.into())
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        // Constraint violations that reach here are races the services' own checks did
        // not see: conflicts, not internal errors.
        match e.sql_err() {
            Some(sea_orm::SqlErr::UniqueConstraintViolation(_)) => {
                ApiError::Conflict("a record with that name already exists".into())
            }
            Some(sea_orm::SqlErr::ForeignKeyConstraintViolation(_)) => ApiError::Conflict(
                "the record is referenced by, or references, another record".into(),
            ),
            _ => ApiError::Internal(e.into()),
        }
    }
}

impl ErrorExtensions for ApiError {
    fn extend(&self) -> async_graphql::Error {
        if let ApiError::Internal(cause) = self {
            tracing::error!(error = %format!("{cause:#}"), "internal error");
        }
        let code = self.code();
        let retry = match self {
            ApiError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        async_graphql::Error::new(self.message()).extend_with(|_, ext| {
            ext.set("code", code);
            if let Some(secs) = retry {
                ext.set("retryAfter", secs);
            }
        })
    }
}

impl From<ApiError> for async_graphql::Error {
    fn from(e: ApiError) -> Self {
        e.extend()
    }
}

/// Resolver results.
pub type ApiResult<T> = Result<T, async_graphql::Error>;

/// Results of services (converted to GraphQL errors at the resolver boundary).
pub type ServiceResult<T> = Result<T, ApiError>;
