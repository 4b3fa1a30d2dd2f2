//! A team's single sign-on connections: add one (its issuer discovered first, so that a typo is
//! caught now, not at the first sign-in), change it, test it, remove it. Owners and admins
//! manage them; requiring SSO is a team setting ([`super::teams::update`]).

use chrono::Duration;
use portal_db::tokens::{self, Purpose};
use portal_domain::policy::{Action, Target};
use portal_domain::token;
use portal_types::{AuditAction, ErrorCode, SsoConnection, SsoStart};
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
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
}

/// A change; None keeps a value.
#[derive(Default)]
pub struct Changed {
    pub name: Option<String>,
    pub issuer: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
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

pub async fn create(begin: Begin<'_>, new: Configured) -> ApiResult<SsoConnection> {
    may_manage(&begin).await?;
    discovered(begin.state, &new.issuer).await?;
    let state = begin.state;
    let mut tx = locked(begin).await?;
    if portal_db::sso::count(tx.db(), tx.team_id()).await? >= portal_db::sso::MAX_CONNECTIONS {
        return Err(ApiError::new(ErrorCode::Conflict, "The team has a connection already: change or remove it."));
    }
    let id = Uuid::new_v4();
    let sealed = state.oidc.seal(id, &new.client_secret);
    let row = portal_db::sso::NewConnection {
        team_id: tx.team_id(),
        name: &new.name,
        issuer: &new.issuer,
        client_id: &new.client_id,
        client_secret_sealed: &sealed,
    };
    portal_db::sso::create(tx.db(), id, row, tx.now).await?;
    tx.record(AuditAction::SsoConnectionCreated, "sso_connection", id, format!("{} ({})", new.name, new.issuer));
    let row = portal_db::sso::find(tx.db(), tx.team_id(), id).await?.ok_or_else(connection_not_found)?;
    tx.announce(Change::Reads(tx.team_id()));
    tx.commit().await?;
    Ok(to_wire(state, row))
}

pub async fn update(begin: Begin<'_>, id: Uuid, change: Changed) -> ApiResult<SsoConnection> {
    may_manage(&begin).await?;
    if let Some(issuer) = &change.issuer {
        discovered(begin.state, issuer).await?;
    }
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
    let issuer = change.issuer.unwrap_or(row.issuer);
    let new = portal_db::sso::NewConnection {
        team_id: tx.team_id(),
        name: &name,
        issuer: &issuer,
        client_id: change.client_id.as_deref().unwrap_or(&row.client_id),
        client_secret_sealed: &sealed,
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
