//! Live feeds: the per-process hub fanning bus events out to subscriptions
//! ([`hub`]), the websocket endpoint ([`ws`]), and the `/alerts` page that shows a
//! tenant's feed in a browser.

pub mod guard;
pub mod hub;
pub mod ws;

use axum::http::header;
use axum::response::IntoResponse;

pub use hub::{CLOSE_SLOW_CONSUMER, Connection, Hub, LiveOptions, SubscribeError};

/// The page's own assets only; the feed comes from this origin's websocket.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub(crate) async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, PAGE_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        include_str!("page/alerts.html"),
    )
}

pub(crate) async fn script() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        include_str!("page/app.js"),
    )
}

pub(crate) async fn style() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        include_str!("page/app.css"),
    )
}
