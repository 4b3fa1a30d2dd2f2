//! Single sign-on: a team's connections to its identity provider, and how a sign-in through one
//! starts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{EmailAddress, Name, SamlMetadata, SsoIssuer, SsoSecret};

/// How a connection talks to its identity provider.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SsoProtocol {
    /// OpenID Connect: authorization code flow with PKCE (the default).
    #[default]
    Oidc,
    /// SAML 2.0: SP-initiated, HTTP-Redirect request, HTTP-POST response.
    Saml,
}

impl SsoProtocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Oidc => "oidc",
            Self::Saml => "saml",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [Self::Oidc, Self::Saml].into_iter().find(|p| p.as_str() == raw)
    }
}

/// A team's connection to its identity provider (OpenID Connect or SAML 2.0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SsoConnection {
    pub id: Uuid,
    pub protocol: SsoProtocol,
    pub name: String,
    /// OpenID Connect: the provider's issuer URL (its discovery document is at
    /// `<issuer>/.well-known/openid-configuration`). SAML: the IdP's entity id.
    pub issuer: String,
    /// OpenID Connect: the client id; empty for SAML.
    pub client_id: String,
    /// Where the provider sends the browser back: the redirect URI to register (OpenID Connect),
    /// or the assertion consumer service URL (SAML).
    pub redirect_uri: String,
    /// SAML: what to give the IdP, and what the portal read of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub saml: Option<SamlSettings>,
    /// `incomplete` (a SAML connection without the IdP's metadata yet), `untested` (no test or
    /// sign-in yet), `working` (the last test or sign-in succeeded) or `failing` (the last test
    /// failed).
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

/// A SAML connection: the portal's service provider (give these to the IdP, or its metadata URL)
/// and the IdP as its metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SamlSettings {
    /// The portal's entity id (also the URL of its metadata).
    pub entity_id: String,
    /// The assertion consumer service URL (HTTP-POST).
    pub acs_url: String,
    /// The portal's SP metadata (XML): entity id, ACS URL, signing and encryption certificate.
    pub metadata_url: String,
    /// The portal's certificate (PEM), for IdPs that encrypt assertions.
    pub certificate: String,
    /// The IdP's single sign-on URL (HTTP-Redirect); empty until its metadata is given.
    pub idp_sso_url: String,
    /// Where the IdP's metadata was fetched from, when it was given by URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idp_metadata_url: Option<String>,
    /// Whether sign-ins started at the IdP (without a request of the portal) are accepted.
    pub allow_idp_initiated: bool,
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
    /// `oidc` (the default) or `saml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<SsoProtocol>,
    /// OpenID Connect (required): the provider's issuer URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub issuer: Option<SsoIssuer>,
    /// OpenID Connect (required).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub client_id: Option<SsoSecret>,
    /// OpenID Connect (required). Sealed at rest; never shown again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub client_secret: Option<SsoSecret>,
    /// SAML (this or `idp_metadata_url`, now or later): the IdP's metadata document (XML). It
    /// must name a signing certificate and an HTTP-Redirect single sign-on URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub idp_metadata: Option<SamlMetadata>,
    /// SAML (this or `idp_metadata`): where the IdP's metadata document is fetched from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub idp_metadata_url: Option<SsoIssuer>,
    /// SAML: accept sign-ins started at the IdP (off by default: such a response answers no
    /// request of the portal, so it cannot be tied to the browser that receives it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_idp_initiated: Option<bool>,
}

impl CreateSsoConnectionRequest {
    /// An OpenID Connect connection.
    pub fn oidc(name: &str, issuer: &str, client_id: &str, client_secret: &str) -> Self {
        Self {
            name: name.into(),
            protocol: None,
            issuer: Some(issuer.into()),
            client_id: Some(client_id.into()),
            client_secret: Some(client_secret.into()),
            idp_metadata: None,
            idp_metadata_url: None,
            allow_idp_initiated: None,
        }
    }

    /// A SAML connection to the IdP that `metadata` describes.
    pub fn saml(name: &str, metadata: &str) -> Self {
        Self {
            name: name.into(),
            protocol: Some(SsoProtocol::Saml),
            issuer: None,
            client_id: None,
            client_secret: None,
            idp_metadata: Some(metadata.into()),
            idp_metadata_url: None,
            allow_idp_initiated: None,
        }
    }
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
    /// SAML: new IdP metadata (a new entity id is another provider: its users are unlinked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub idp_metadata: Option<SamlMetadata>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(inline))]
    pub idp_metadata_url: Option<SsoIssuer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_idp_initiated: Option<bool>,
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
