//! A team's single sign-on connections as answered.

use portal_db::sso::Connection;
use portal_types::SsoConnection;
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

/// `working` once a test or a sign-in succeeded, `failing` when the latest test failed after
/// the last sign-in, `untested` before either.
fn status(row: &Connection) -> &'static str {
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

pub fn to_wire(state: &AppState, row: Connection) -> SsoConnection {
    SsoConnection {
        id: row.id,
        status: status(&row).to_owned(),
        protocol: row.protocol,
        name: row.name,
        issuer: row.issuer,
        client_id: row.client_id,
        redirect_uri: redirect_uri(state),
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
