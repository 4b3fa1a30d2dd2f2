//! Single sign-on: a team's connections to its identity provider, and how a sign-in through one
//! starts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{EmailAddress, Name, SsoIssuer, SsoSecret};

/// A team's connection to its identity provider (OpenID Connect).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SsoConnection {
    pub id: Uuid,
    /// `oidc`.
    pub protocol: String,
    pub name: String,
    /// The provider's issuer URL (its discovery document is at
    /// `<issuer>/.well-known/openid-configuration`).
    pub issuer: String,
    pub client_id: String,
    /// The redirect URI to register at the provider.
    pub redirect_uri: String,
    /// `untested` (no test or sign-in yet), `working` (the last test or sign-in succeeded) or
    /// `failing` (the last test failed).
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_sign_in_at: Option<DateTime<Utc>>,
    /// When "Test connection" last ran, and what it received (the ID token's claims) or why it
    /// failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tested_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_claims: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// `GET /api/v1/teams/{team_id}/sso/connections`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SsoConnectionList {
    pub items: Vec<SsoConnection>,
}

/// `POST /api/v1/teams/{team_id}/sso/connections`: the provider's issuer is discovered before
/// anything is stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct CreateSsoConnectionRequest {
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub name: Name,
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub issuer: SsoIssuer,
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub client_id: SsoSecret,
    /// Sealed at rest; never shown again.
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub client_secret: SsoSecret,
}

/// `PATCH /api/v1/teams/{team_id}/sso/connections/{connection_id}`: what is absent stays.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct UpdateSsoConnectionRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub name: Option<Name>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub issuer: Option<SsoIssuer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub client_id: Option<SsoSecret>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub client_secret: Option<SsoSecret>,
}

/// `POST /api/v1/auth/sso`: home-realm discovery by e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SsoDiscoveryRequest {
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub email: EmailAddress,
}

/// Where a browser goes to sign in through an identity provider: a same-origin URL that sends it
/// on to the provider (`GET`, then 303).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SsoStart {
    pub start_url: String,
    /// The connection's name, e.g. "Okta".
    pub connection_name: String,
}
