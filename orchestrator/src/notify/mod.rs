//! Notifications: templates filled from the match ([`template`]), each channel's
//! request ([`payload`]) and sending it ([`send`]). The outbox ([`crate::outbox`])
//! decides when.

pub mod payload;
pub mod send;
pub mod template;
