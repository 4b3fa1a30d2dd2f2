//! A team's activity: the audit log, newest first.

use actix_web::{HttpRequest, HttpResponse, get, web};
use portal_db::audit::{ActivityFilter, AuditEntry};
use portal_domain::teams::Action;
use portal_types::{ActivityActor, ActivityEntry, ActivityPage};
use uuid::Uuid;

use crate::access::TeamAccess;
use crate::error::{ApiError, ApiResult};
use crate::extract::Principal;
use crate::kept::KeptJson;
use crate::openapi::{InternalError, NotFound, Unauthorized, ValidationFailed};
use crate::paging::{PageQuery, decode_id, encode_id, next_cursor};
use crate::state::AppState;

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivityQuery {
    /// Only what this user (or API key) did.
    #[param(value_type = Option<Uuid>)]
    pub actor: Option<String>,
    /// Only this action, e.g. `member.role_changed`.
    pub action: Option<String>,
}

/// Who did what and when in this team, newest first, with its members' sign-ins since they
/// joined. Client addresses and user agents are shown to owners and admins only, never to keys.
#[utoipa::path(
    tag = "activity",
    operation_id = "listActivity",
    security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), PageQuery, ActivityQuery),
    responses((status = 200, description = "Activity entries.", body = ActivityPage), Unauthorized, NotFound, ValidationFailed, InternalError)
)]
#[get("/teams/{team_id}/activity")]
pub async fn list_activity(
    state: web::Data<AppState>,
    auth: Principal,
    req: HttpRequest,
    path: web::Path<Uuid>,
    page: web::Query<PageQuery>,
    query: web::Query<ActivityQuery>,
) -> ApiResult<HttpResponse> {
    let (access, _) = TeamAccess::load_for_read(&state, &auth, path.into_inner()).await?;
    access.require(Action::ReadActivity)?;
    let details = access.may(Action::ReadActivityDetails);
    let limit = page.limit()?;
    let filter = ActivityFilter {
        actor_id: query
            .actor
            .as_deref()
            .map(|a| a.parse::<Uuid>().map_err(|_| ApiError::validation("actor", "must be a user or API key id")))
            .transpose()?,
        action: query.action.clone().filter(|a| !a.is_empty()),
        before_id: page.cursor.as_deref().map(decode_id).transpose()?,
    };
    let team_id = access.team.id;
    let page = state
        .keys
        .cached_read(team_id, format!("activity {details} {filter:?} {limit}"), async {
            let rows = portal_db::audit::list_for_team(&state.reads, team_id, &filter, limit).await?;
            KeptJson::new(&page_of(rows, limit, details), None)
        })
        .await?;
    Ok(page.respond(&req))
}

/// The page of `rows`; client addresses and user agents only with `details`.
fn page_of(rows: Vec<AuditEntry>, limit: u64, details: bool) -> ActivityPage {
    let next = next_cursor(&rows, limit, |r| encode_id(r.id));
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
