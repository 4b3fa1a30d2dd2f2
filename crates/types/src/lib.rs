//! Wire types of the Partner Portal REST API.
//!
//! Serde only, so that the WebAssembly app can share them with the server. The `openapi`
//! feature adds `utoipa::ToSchema` for the server's OpenAPI document.

mod auth;
mod domains;
mod events;
mod help;
mod keys;
mod problem;
pub mod rules;
mod sso;
mod text;
pub use text::*;
mod teams;
mod webhooks;

pub use auth::*;
pub use domains::*;
pub use events::*;
pub use help::*;
pub use keys::*;
pub use problem::*;
pub use sso::*;
pub use teams::*;
pub use webhooks::*;

/// Answer of `GET /healthz` and `GET /readyz`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// `ok` when the check passed.
    pub status: String,
}
