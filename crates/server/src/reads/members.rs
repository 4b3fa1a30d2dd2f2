//! The member list as kept.

use chrono::{DateTime, Utc};
use portal_db::teams::MemberRow;
use portal_types::{Member, MemberPage};
use uuid::Uuid;

use crate::error::ApiResult;
use crate::kept::KeptJson;
use crate::paging::{encode_position, next_cursor, rows_for};
use crate::services::pages::PageKey;
use crate::state::AppState;

pub fn to_wire(row: MemberRow) -> Member {
    Member {
        user_id: row.membership.user_id,
        name: row.name,
        email: row.email,
        role: row.membership.role,
        joined_at: row.membership.joined_at,
        last_active_at: row.last_active_at,
    }
}

/// A page of the team's members, earliest joined first, as kept until the team's reads change.
pub async fn page(
    state: &AppState,
    team_id: Uuid,
    after: Option<(DateTime<Utc>, Uuid)>,
    limit: u64,
) -> ApiResult<std::sync::Arc<KeptJson>> {
    state
        .pages
        .cached_read(team_id, PageKey::Members { after, limit }, async {
            let mut rows = portal_db::teams::list_members(&state.reads, team_id, after, rows_for(limit)).await?;
            let next = next_cursor(&mut rows, limit, |r| encode_position(r.membership.joined_at, r.membership.user_id));
            KeptJson::new(&MemberPage { items: rows.into_iter().map(to_wire).collect(), next_cursor: next }, None)
        })
        .await
}
