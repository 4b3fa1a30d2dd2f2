//! A team's single sign-on connections: add one (an OpenID Connect issuer discovered first, a
//! SAML IdP's metadata read first, so that a typo is caught now, not at the first sign-in),
//! change it, test it, remove it. Owners and admins manage them; requiring SSO is a team setting
//! ([`super::teams::update`]).

use chrono::Duration;
use portal_db::tokens::{self, Purpose};
use portal_domain::policy::{Action, Target};
use portal_domain::token;
use portal_types::{AuditAction, ErrorCode, SsoConnection, SsoProtocol, SsoStart};
use uuid::Uuid;

use super::{Begin, TeamTx};
use crate::error::{ApiError, ApiResult};
use crate::extract::Principal;
use crate::reads::sso::{connection_not_found, to_wire};
use crate::services::change::Change;
use crate::state::AppState;

/// How long a "Test connection" waits for the browser to leave.
const TEST_TICKET_MINUTES: i64 = 10;

/// A connection as the admin configures it, each value read already.
pub struct Configured {
    pub name: String,
    pub provider: Provider,
}

/// The identity provider of a new connection.
pub enum Provider {
    Oidc {
        issuer: String,
        client_id: String,
        client_secret: String,
    },
    /// The IdP's metadata may come later (the IdP may need the portal's entity id and ACS URL
    /// first).
    Saml {
        metadata: Option<MetadataSource>,
        allow_idp_initiated: bool,
    },
}

/// Where a SAML IdP's metadata comes from: pasted, or fetched from its URL.
pub enum MetadataSource {
    Xml(String),
    Url(String),
}

/// A change; None keeps a value.
#[derive(Default)]
pub struct Changed {
    pub name: Option<String>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub saml_metadata: Option<MetadataSource>,
    pub allow_idp_initiated: Option<bool>,
}

/// A SAML IdP's metadata, read: the document, its URL if fetched, and what it says. 422 naming
/// the field and the cause.
async fn saml_metadata(
    state: &AppState,
    source: MetadataSource,
) -> ApiResult<(String, Option<String>, crate::saml::Idp)> {
    let (xml, url, field) = match source {
        MetadataSource::Xml(xml) => (xml, None, "idp_metadata"),
        MetadataSource::Url(url) => {
            let xml =
                state.oidc.fetch_metadata(&url).await.map_err(|why| ApiError::validation("idp_metadata_url", why))?;
            (xml, Some(url), "idp_metadata_url")
        }
    };
    let idp = crate::saml::read_metadata(&xml).map_err(|why| ApiError::validation(field, why))?;
    Ok((xml, url, idp))
}

/// 403 unless the caller may manage the team's connections: asked before any call leaves for a
/// provider, so that nobody else can make the portal fetch URLs.
async fn may_manage(begin: &Begin<'_>) -> ApiResult<()> {
    let (access, _) = crate::access::TeamAccess::load_for_read(begin.state, begin.by, begin.team_id).await?;
    access.require(Action::ManageSso)
}

/// Fetches the issuer's discovery document and keys: 422 naming `issuer` and the cause.
async fn discovered(state: &AppState, issuer: &str) -> ApiResult<()> {
    if let Some(why) = state.oidc.refusal(issuer) {
        return Err(ApiError::validation("issuer", why));
    }
    state.oidc.discover(issuer).await.map_err(|failure| {
        tracing::info!(issuer, error = failure.detail.as_str(), "OpenID Connect discovery failed");
        ApiError::validation("issuer", format!("could not be used: {}", failure.detail))
    })?;
    Ok(())
}

/// The unit of work of a change to a connection: the team locked (a concurrent change of the
/// SSO requirement, or a second connection, waits), the policy asked.
async fn locked(begin: Begin<'_>) -> ApiResult<TeamTx<'_>> {
    let tx = begin.open(true).await?;
    tx.allow(Action::ManageSso, Target::Team)?;
    Ok(tx)
}

async fn managed<'r>(begin: Begin<'r>, id: Uuid) -> ApiResult<(TeamTx<'r>, portal_db::sso::Connection)> {
    let tx = locked(begin).await?;
    let row = portal_db::sso::find(tx.db(), tx.team_id(), id).await?.ok_or_else(connection_not_found)?;
    Ok((tx, row))
}

/// A new connection's stored parts: (protocol, issuer, client id, secret to seal, SAML parts).
struct Resolved {
    protocol: SsoProtocol,
    issuer: String,
    client_id: String,
    secret: String,
    saml: Option<SamlResolved>,
}

struct SamlResolved {
    metadata: Option<String>,
    metadata_url: Option<String>,
    certificate: String,
    allow_idp_initiated: bool,
}

impl SamlResolved {
    fn parts(&self) -> portal_db::sso::SamlParts<'_> {
        portal_db::sso::SamlParts {
            idp_metadata: self.metadata.as_deref(),
            metadata_url: self.metadata_url.as_deref(),
            certificate: &self.certificate,
            allow_idp_initiated: self.allow_idp_initiated,
        }
    }
}

/// Reads what a new connection's provider says (discovery, metadata) before anything is stored.
async fn resolve(state: &AppState, provider: Provider) -> ApiResult<Resolved> {
    match provider {
        Provider::Oidc { issuer, client_id, client_secret } => {
            discovered(state, &issuer).await?;
            Ok(Resolved { protocol: SsoProtocol::Oidc, issuer, client_id, secret: client_secret, saml: None })
        }
        Provider::Saml { metadata, allow_idp_initiated } => {
            let (metadata, metadata_url, entity_id) = match metadata {
                Some(source) => {
                    let (xml, url, idp) = saml_metadata(state, source).await?;
                    (Some(xml), url, idp.entity_id)
                }
                None => (None, None, String::new()),
            };
            let public_url = state.config.public_url.clone();
            let (key, certificate) = tokio::task::spawn_blocking(move || crate::saml::new_credentials(&public_url))
                .await
                .map_err(|_| ApiError::internal("the key generation stopped"))?
                .map_err(|e| ApiError::internal(format!("a SAML key could not be made: {e}")))?;
            let saml = SamlResolved { metadata, metadata_url, certificate, allow_idp_initiated };
            Ok(Resolved {
                protocol: SsoProtocol::Saml,
                issuer: entity_id,
                client_id: String::new(),
                secret: key,
                saml: Some(saml),
            })
        }
    }
}

pub async fn create(begin: Begin<'_>, new: Configured) -> ApiResult<SsoConnection> {
    may_manage(&begin).await?;
    let resolved = resolve(begin.state, new.provider).await?;
    let state = begin.state;
    let mut tx = locked(begin).await?;
    if portal_db::sso::count(tx.db(), tx.team_id()).await? >= portal_db::sso::MAX_CONNECTIONS {
        return Err(ApiError::new(ErrorCode::Conflict, "The team has a connection already: change or remove it."));
    }
    let id = Uuid::new_v4();
    let sealed = state.oidc.seal(id, &resolved.secret);
    let row = portal_db::sso::NewConnection {
        team_id: tx.team_id(),
        protocol: resolved.protocol.as_str(),
        name: &new.name,
        issuer: &resolved.issuer,
        client_id: &resolved.client_id,
        client_secret_sealed: &sealed,
        saml: resolved.saml.as_ref().map(SamlResolved::parts),
    };
    portal_db::sso::create(tx.db(), id, row, tx.now).await?;
    let summary = format!("{} ({}, {})", new.name, resolved.protocol.as_str(), resolved.issuer);
    tx.record(AuditAction::SsoConnectionCreated, "sso_connection", id, summary);
    let row = portal_db::sso::find(tx.db(), tx.team_id(), id).await?.ok_or_else(connection_not_found)?;
    tx.announce(Change::Reads(tx.team_id()));
    tx.commit().await?;
    Ok(to_wire(state, row))
}

/// 422 naming the first field of the other protocol in a change.
fn fits(protocol: SsoProtocol, change: &Changed) -> ApiResult<()> {
    let oidc = [
        ("issuer", change.issuer.is_some()),
        ("client_id", change.client_id.is_some()),
        ("client_secret", change.client_secret.is_some()),
    ];
    let saml = [
        ("idp_metadata", matches!(change.saml_metadata, Some(MetadataSource::Xml(_)))),
        ("idp_metadata_url", matches!(change.saml_metadata, Some(MetadataSource::Url(_)))),
        ("allow_idp_initiated", change.allow_idp_initiated.is_some()),
    ];
    let (foreign, kind) = match protocol {
        SsoProtocol::Oidc => (saml, "SAML"),
        SsoProtocol::Saml => (oidc, "OpenID Connect"),
    };
    match foreign.iter().find(|(_, given)| *given) {
        Some((field, _)) => Err(ApiError::validation(*field, format!("is for {kind} connections; this one is not"))),
        None => Ok(()),
    }
}

pub async fn update(begin: Begin<'_>, id: Uuid, mut change: Changed) -> ApiResult<SsoConnection> {
    may_manage(&begin).await?;
    let current = portal_db::sso::find(&begin.state.db, begin.team_id, id).await?.ok_or_else(connection_not_found)?;
    let protocol = SsoProtocol::parse(&current.protocol).unwrap_or_default();
    fits(protocol, &change)?;
    if let Some(issuer) = &change.issuer {
        discovered(begin.state, issuer).await?;
    }
    let new_metadata = match change.saml_metadata.take() {
        Some(source) => Some(saml_metadata(begin.state, source).await?),
        None => None,
    };
    let state = begin.state;
    let (mut tx, row) = managed(begin, id).await?;
    let secret = match change.client_secret {
        Some(secret) => secret,
        None => state
            .oidc
            .open(row.id, &row.client_secret_sealed)
            .ok_or_else(|| ApiError::internal("a connection's client secret does not open"))?,
    };
    let sealed = state.oidc.seal(row.id, &secret);
    let name = change.name.unwrap_or(row.name);
    let saml = match (&new_metadata, protocol) {
        (Some((xml, url, _)), _) => Some(SamlResolved {
            metadata: Some(xml.clone()),
            metadata_url: url.clone(),
            certificate: row.saml_certificate.clone().unwrap_or_default(),
            allow_idp_initiated: change.allow_idp_initiated.unwrap_or(row.allow_idp_initiated),
        }),
        (None, SsoProtocol::Saml) => Some(SamlResolved {
            metadata: row.saml_idp_metadata.clone(),
            metadata_url: row.saml_metadata_url.clone(),
            certificate: row.saml_certificate.clone().unwrap_or_default(),
            allow_idp_initiated: change.allow_idp_initiated.unwrap_or(row.allow_idp_initiated),
        }),
        (None, SsoProtocol::Oidc) => None,
    };
    let issuer = match &new_metadata {
        Some((_, _, idp)) => idp.entity_id.clone(),
        None => change.issuer.unwrap_or(row.issuer),
    };
    let new = portal_db::sso::NewConnection {
        team_id: tx.team_id(),
        protocol: protocol.as_str(),
        name: &name,
        issuer: &issuer,
        client_id: change.client_id.as_deref().unwrap_or(&row.client_id),
        client_secret_sealed: &sealed,
        saml: saml.as_ref().map(SamlResolved::parts),
    };
    let provider_changed = portal_db::sso::update(tx.db(), row.id, new, tx.now).await?;
    let mut summary = format!("{name} ({issuer})");
    if provider_changed {
        // Another provider: the old one's users are unlinked and their SSO sessions end.
        let ended = portal_db::sessions::end_by_connection(tx.db(), row.id, tx.now).await?;
        summary.push_str(&format!("; a new provider: linked users unlinked, {} SSO sessions ended", ended.len()));
        for session in ended {
            tx.announce(Change::Session(session));
        }
    }
    tx.record(AuditAction::SsoConnectionUpdated, "sso_connection", row.id, summary);
    let row = portal_db::sso::find(tx.db(), tx.team_id(), id).await?.ok_or_else(connection_not_found)?;
    tx.announce(Change::Reads(tx.team_id()));
    tx.commit().await?;
    Ok(to_wire(state, row))
}

/// Removes a connection; refused while the team requires SSO and it is the team's last one
/// (members would have no way in).
pub async fn remove(begin: Begin<'_>, id: Uuid) -> ApiResult<()> {
    let (mut tx, row) = managed(begin, id).await?;
    if tx.access.team.require_sso && portal_db::sso::count(tx.db(), tx.team_id()).await? <= 1 {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            "The team requires single sign-on through this connection: stop requiring it first.",
        ));
    }
    for session in portal_db::sessions::end_by_connection(tx.db(), row.id, tx.now).await? {
        tx.announce(Change::Session(session));
    }
    portal_db::sso::remove(tx.db(), row.id).await?;
    tx.record(AuditAction::SsoConnectionRemoved, "sso_connection", row.id, format!("{} ({})", row.name, row.issuer));
    tx.announce(Change::Reads(tx.team_id()));
    tx.commit().await
}

/// Starts "Test connection": a ticket for the caller's browser, which opens `start_url`, signs in
/// at the provider and comes back to the settings page; the connection then shows the claims
/// received or why it failed. Nobody is signed in by a test.
pub async fn test(begin: Begin<'_>, id: Uuid) -> ApiResult<SsoStart> {
    let Principal::User(user) = begin.by else {
        return Err(ApiError::new(ErrorCode::Forbidden, "An API key cannot test a connection; sign in."));
    };
    let user_id = user.user_id;
    let (tx, row) = managed(begin, id).await?;
    let ticket = token::generate();
    let expires = tx.now + Duration::minutes(TEST_TICKET_MINUTES);
    tokens::insert(tx.db(), user_id, Purpose::SsoTest, &token::hash(&ticket), expires, tx.now).await?;
    let team_id = tx.team_id();
    tx.commit().await?;
    Ok(SsoStart { start_url: super::sso_sign_in::test_path(team_id, &ticket), connection_name: row.name })
}
