//! A team's single sign-on connections as answered.

use portal_db::sso::Connection;
use portal_types::{SamlSettings, SsoConnection, SsoProtocol};
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

pub fn connection_not_found() -> ApiError {
    ApiError::not_found("No such single sign-on connection in this team.")
}

/// The redirect URI every connection registers at its provider.
pub fn redirect_uri(state: &AppState) -> String {
    format!("{}/api/v1/auth/sso/callback", state.config.public_url)
}

/// A SAML connection's entity id: the URL of the portal's metadata for it.
pub fn saml_entity_id(state: &AppState, connection_id: Uuid) -> String {
    format!("{}/api/v1/sso/saml/{connection_id}/metadata", state.config.public_url)
}

/// A SAML connection's assertion consumer service (HTTP-POST).
pub fn saml_acs_url(state: &AppState, connection_id: Uuid) -> String {
    format!("{}/api/v1/auth/sso/saml/{connection_id}/acs", state.config.public_url)
}

/// The portal's side of a SAML connection, with its private key opened.
pub struct SamlSide {
    pub entity_id: String,
    pub acs_url: String,
    pub certificate: String,
    pub private_key: String,
    pub allow_idp_initiated: bool,
    pub idp_metadata: String,
}

impl SamlSide {
    pub fn of(state: &AppState, row: &Connection) -> ApiResult<Self> {
        let Some(certificate) = row.saml_certificate.clone() else {
            return Err(ApiError::internal("a SAML connection has no certificate"));
        };
        // None until the admin gives the IdP's metadata (the IdP may need the portal's first).
        let metadata = row.saml_idp_metadata.clone().unwrap_or_default();
        let private_key = state
            .oidc
            .open(row.id, &row.client_secret_sealed)
            .ok_or_else(|| ApiError::internal("a connection's key does not open"))?;
        Ok(Self {
            entity_id: saml_entity_id(state, row.id),
            acs_url: saml_acs_url(state, row.id),
            certificate,
            private_key,
            allow_idp_initiated: row.allow_idp_initiated,
            idp_metadata: metadata,
        })
    }

    pub fn sp(&self) -> crate::saml::Sp<'_> {
        crate::saml::Sp {
            entity_id: &self.entity_id,
            acs_url: &self.acs_url,
            certificate: &self.certificate,
            private_key: &self.private_key,
            allow_idp_initiated: self.allow_idp_initiated,
        }
    }
}

/// `incomplete` for a SAML connection without the IdP's metadata yet, `working` once a test or
/// a sign-in succeeded, `failing` when the latest test failed after the last sign-in,
/// `untested` before either.
fn status(row: &Connection) -> &'static str {
    if row.protocol == SsoProtocol::Saml.as_str() && row.saml_idp_metadata.is_none() {
        return "incomplete";
    }
    match (row.tested_at, row.test_error.is_some(), row.last_sign_in_at) {
        (Some(tested), true, signed) if signed.is_none_or(|s| s < tested) => "failing",
        (Some(_), false, _) | (_, _, Some(_)) => "working",
        _ => "untested",
    }
}

/// Whether a sign-in or test has succeeded through the connection: the team may then require it.
pub fn works(row: &Connection) -> bool {
    status(row) == "working"
}

fn saml_settings(state: &AppState, row: &Connection) -> Option<SamlSettings> {
    let metadata = row.saml_idp_metadata.as_deref();
    let idp_sso_url = metadata.and_then(|m| crate::saml::read_metadata(m).ok()).map(|idp| idp.sso_url);
    Some(SamlSettings {
        entity_id: saml_entity_id(state, row.id),
        acs_url: saml_acs_url(state, row.id),
        metadata_url: saml_entity_id(state, row.id),
        certificate: row.saml_certificate.clone().unwrap_or_default(),
        idp_sso_url: idp_sso_url.unwrap_or_default(),
        idp_metadata_url: row.saml_metadata_url.clone(),
        allow_idp_initiated: row.allow_idp_initiated,
    })
}

pub fn to_wire(state: &AppState, row: Connection) -> SsoConnection {
    let protocol = SsoProtocol::parse(&row.protocol).unwrap_or_default();
    let saml = (protocol == SsoProtocol::Saml).then(|| saml_settings(state, &row)).flatten();
    SsoConnection {
        id: row.id,
        status: status(&row).to_owned(),
        protocol,
        redirect_uri: match &saml {
            Some(saml) => saml.acs_url.clone(),
            None => redirect_uri(state),
        },
        saml,
        name: row.name,
        issuer: row.issuer,
        client_id: row.client_id,
        last_sign_in_at: row.last_sign_in_at,
        tested_at: row.tested_at,
        test_claims: row.test_claims.as_deref().and_then(|c| serde_json::from_str(c).ok()),
        test_error: row.test_error,
        created_at: row.created_at,
        updated_at: row.updated_at,
    }
}

pub async fn list(state: &AppState, team_id: Uuid) -> ApiResult<Vec<SsoConnection>> {
    Ok(portal_db::sso::list(&state.reads, team_id).await?.into_iter().map(|row| to_wire(state, row)).collect())
}
