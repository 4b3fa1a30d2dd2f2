//! The team's activity log: a page as kept, and the batches of an export.

use portal_db::audit::AuditEntry;
use portal_types::{ActivityActor, ActivityEntry, ActivityPage};
use uuid::Uuid;

pub use portal_db::audit::ActivityFilter;

use crate::error::ApiResult;
use crate::kept::KeptJson;
use crate::paging::{encode_id, next_cursor, rows_for};
use crate::services::pages::PageKey;
use crate::state::AppState;

/// A page of the log, newest first, kept until the team's reads change; client addresses and
/// user agents only with `details`.
pub async fn page(
    state: &AppState,
    team_id: Uuid,
    filter: &ActivityFilter,
    details: bool,
    limit: u64,
) -> ApiResult<std::sync::Arc<KeptJson>> {
    state
        .pages
        .cached_read(team_id, PageKey::Activity { details, filter: filter.clone(), limit }, async {
            let rows = portal_db::audit::list_for_team(&state.reads, team_id, filter, rows_for(limit)).await?;
            KeptJson::new(&page_of(rows, limit, details), None)
        })
        .await
}

/// The next `size` entries of an export after `filter.before_id`, and where the one after starts
/// (None: that was the last).
pub async fn batch(
    state: &AppState,
    team_id: Uuid,
    filter: &ActivityFilter,
    details: bool,
    size: u64,
) -> Result<(Vec<ActivityEntry>, Option<i64>), portal_db::Error> {
    let rows = portal_db::audit::list_for_team(&state.reads, team_id, filter, size).await?;
    let last = (rows.len() as u64 == size).then(|| rows.last().map(|r| r.id)).flatten();
    Ok((page_of(rows, size, details).items, last))
}

/// The page of `rows`; client addresses and user agents only with `details`.
fn page_of(mut rows: Vec<AuditEntry>, limit: u64, details: bool) -> ActivityPage {
    let next = next_cursor(&mut rows, limit, |r| encode_id(r.id));
    let items = rows
        .into_iter()
        .map(|r| ActivityEntry {
            id: r.id,
            actor: match (r.actor_type, r.actor_id) {
                (Some(kind), Some(id)) => Some(ActivityActor { kind, id, name: r.actor_name.unwrap_or_default() }),
                _ => None,
            },
            action: r.action,
            target_type: r.target_type,
            target_id: r.target_id,
            summary: r.summary,
            ip: r.ip.filter(|_| details),
            user_agent: r.user_agent.filter(|_| details),
            created_at: r.created_at,
        })
        .collect();
    ActivityPage { items, next_cursor: next }
}
