//! The signed-in user's account as read: profile, getting-started progress, sessions and
//! two-factor status.

use chrono::Utc;
use portal_types::{GettingStarted, SessionInfo, SessionList, TwoFactorStatus, User};

use crate::app::accounts::{load, to_wire};
use crate::error::ApiResult;
use crate::extract::AuthUser;
use crate::state::AppState;

pub async fn me(state: &AppState, auth: &AuthUser) -> ApiResult<User> {
    Ok(to_wire(load(state, auth).await?))
}

/// How far the user's teams are through the guide's checklists.
pub async fn getting_started(state: &AppState, auth: &AuthUser) -> ApiResult<GettingStarted> {
    Ok(portal_db::getting_started::progress(&state.reads, auth.user_id).await?)
}

/// The account's sessions in use, the latest used first.
pub async fn sessions(state: &AppState, auth: &AuthUser) -> ApiResult<SessionList> {
    let rows = portal_db::sessions::list_open(&state.reads, auth.user_id, Utc::now()).await?;
    let connections: Vec<_> = rows.iter().filter_map(|s| s.sso_connection_id).collect();
    let names = portal_db::sso::names(&state.reads, &connections).await?;
    let items = rows
        .into_iter()
        .map(|s| SessionInfo {
            current: s.id == auth.session_id,
            started_with: s.sso_connection_id.map_or_else(|| "password".to_owned(), |c| format!("sso:{c}")),
            sso_connection: s.sso_connection_id.and_then(|c| names.get(&c).cloned()),
            id: s.id,
            created_at: s.created_at,
            last_used_at: s.last_used_at,
            expires_at: s.expires_at,
            ip: s.ip,
            user_agent: s.user_agent,
        })
        .collect();
    Ok(SessionList { items })
}

/// Whether the account has two-factor authentication on, and how many recovery codes are left.
pub async fn two_factor(state: &AppState, auth: &AuthUser) -> ApiResult<TwoFactorStatus> {
    let enrolment = portal_db::two_factor::find(&state.reads, auth.user_id).await?;
    let enabled_at = enrolment.and_then(|e| e.enabled_at);
    let left = match enabled_at {
        Some(_) => portal_db::two_factor::recovery_codes_left(&state.reads, auth.user_id).await?,
        None => 0,
    };
    Ok(TwoFactorStatus {
        enabled: enabled_at.is_some(),
        enabled_at,
        recovery_codes_left: u32::try_from(left).unwrap_or(u32::MAX),
    })
}
