//! A team's activity: the audit log, newest first.

use actix_web::http::header;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, get, web};
use futures_util::StreamExt as _;
use portal_domain::policy::Action;
use portal_types::{ActivityEntry, ActivityPage};
use uuid::Uuid;

use crate::access::TeamAccess;
use crate::error::responses::{InternalError, NotFound, Unauthorized, ValidationFailed};
use crate::error::{ApiError, ApiResult};
use crate::extract::Principal;
use crate::paging::{PageQuery, decode_id};
use crate::reads::activity::{self, ActivityFilter};
use crate::state::AppState;

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ActivityQuery {
    /// Only what this user (or API key) did.
    #[param(value_type = Option<Uuid>)]
    pub actor: Option<String>,
    /// Only this action, e.g. `member.role_changed`.
    pub action: Option<String>,
    /// Only entries at or after this time (RFC 3339); before `to` when both are given.
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<String>,
    /// Only entries before this time (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<String>,
}

/// Who did what and when in this team, newest first, with its members' sign-ins since they
/// joined. Client addresses and user agents are shown to owners and admins only, never to keys.
#[utoipa::path(
    tag = "activity",
    operation_id = "listActivity",
    security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), PageQuery, ActivityQuery),
    responses(
        (status = 200, description = "Activity entries: a page as JSON; or, asked for with `Accept: text/csv` or \
            `Accept: application/x-ndjson`, every entry that matches the filters (from the cursor on), newest first, \
            as a file to download. CSV columns: id, created_at, action, actor_type, actor_id, actor_name, target_type, \
            target_id, summary, ip, user_agent; every cell quoted, and a `'` before a formula character that \
            starts a cell or follows a `;` or `,`.",
            content(
                (ActivityPage = "application/json"),
                (String = "text/csv"),
                (ActivityEntry = "application/x-ndjson"),
            )
        ),
        Unauthorized, NotFound, ValidationFailed, InternalError
    )
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
        from: time("from", query.from.as_deref())?,
        to: time("to", query.to.as_deref())?,
        before_id: page.cursor.as_deref().map(decode_id).transpose()?,
    };
    if let (Some(from), Some(to)) = (filter.from, filter.to)
        && from >= to
    {
        return Err(ApiError::validation("from", "must be before `to`"));
    }
    let team_id = access.team.id;
    if let Some(format) = Export::asked(&req) {
        return Ok(export(state, team_id, filter, details, format));
    }
    let page = activity::page(&state, team_id, &filter, details, limit).await?;
    Ok(page.respond(&req))
}

/// A time of the query, RFC 3339.
fn time(field: &'static str, raw: Option<&str>) -> ApiResult<Option<chrono::DateTime<chrono::Utc>>> {
    raw.map(|s| {
        chrono::DateTime::parse_from_rfc3339(s)
            .map(|t| t.to_utc())
            .map_err(|_| ApiError::validation(field, "must be an RFC 3339 time such as 2026-11-26T12:00:00Z"))
    })
    .transpose()
}

/// The file formats of the whole log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Export {
    Csv,
    Ndjson,
}

/// Rows read from the database at a time while exporting.
const EXPORT_BATCH: u64 = 1000;

const CSV_HEADER: &str =
    "id,created_at,action,actor_type,actor_id,actor_name,target_type,target_id,summary,ip,user_agent\r\n";

impl Export {
    /// The format `Accept` names, if it names one (JSON otherwise).
    fn asked(req: &HttpRequest) -> Option<Self> {
        let accept = req.headers().get(header::ACCEPT)?.to_str().ok()?.to_ascii_lowercase();
        let names =
            |media: &str| accept.split(',').any(|part| part.split(';').next().is_some_and(|m| m.trim() == media));
        if names("text/csv") {
            Some(Self::Csv)
        } else if names("application/x-ndjson") {
            Some(Self::Ndjson)
        } else {
            None
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Csv => "text/csv; charset=utf-8",
            Self::Ndjson => "application/x-ndjson",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            Self::Csv => "csv",
            Self::Ndjson => "ndjson",
        }
    }

    fn write(self, out: &mut String, entry: &ActivityEntry) {
        match self {
            Self::Ndjson => {
                out.push_str(&serde_json::to_string(entry).unwrap_or_default());
                out.push('\n');
            }
            Self::Csv => {
                let actor = entry.actor.as_ref();
                let cells = [
                    entry.id.to_string(),
                    entry.created_at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
                    entry.action.clone(),
                    actor.map(|a| a.kind.clone()).unwrap_or_default(),
                    actor.map(|a| a.id.to_string()).unwrap_or_default(),
                    actor.map(|a| a.name.clone()).unwrap_or_default(),
                    entry.target_type.clone(),
                    entry.target_id.clone().unwrap_or_default(),
                    entry.summary.clone().unwrap_or_default(),
                    entry.ip.clone().unwrap_or_default(),
                    entry.user_agent.clone().unwrap_or_default(),
                ];
                for (i, cell) in cells.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    portal_domain::csv::text_cell(out, cell);
                }
                out.push_str("\r\n");
            }
        }
    }
}

/// The whole filtered log as a download, read and sent a batch at a time.
fn export(
    state: web::Data<AppState>,
    team_id: Uuid,
    filter: ActivityFilter,
    details: bool,
    format: Export,
) -> HttpResponse {
    let start = (format == Export::Csv).then(|| Bytes::from_static(CSV_HEADER.as_bytes()));
    let batches = futures_util::stream::unfold(Some(filter), move |filter| {
        let state = state.clone();
        async move {
            let mut filter = filter?;
            let (entries, last) = match activity::batch(&state, team_id, &filter, details, EXPORT_BATCH).await {
                Ok(batch) => batch,
                Err(error) => {
                    tracing::error!(%error, "the activity export stopped");
                    return Some((Err(actix_web::error::ErrorInternalServerError("export failed")), None));
                }
            };
            let mut out = String::new();
            for entry in entries {
                format.write(&mut out, &entry);
            }
            filter.before_id = last;
            Some((Ok(Bytes::from(out)), last.map(|_| filter)))
        }
    });
    let body = futures_util::stream::iter(start.map(Ok)).chain(batches);
    let name = format!("activity-{team_id}-{}.{}", chrono::Utc::now().format("%Y%m%d-%H%M%S"), format.extension());
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, format.content_type()))
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}\"")))
        .insert_header(super::NO_STORE)
        .streaming::<_, actix_web::Error>(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_chooses_the_export_format() {
        let asked = |accept: &str| {
            Export::asked(&actix_web::test::TestRequest::default().insert_header(("accept", accept)).to_http_request())
        };
        assert_eq!(asked("text/csv"), Some(Export::Csv));
        assert_eq!(asked("application/json, text/CSV;q=0.5"), Some(Export::Csv));
        assert_eq!(asked("application/x-ndjson"), Some(Export::Ndjson));
        assert_eq!(asked("application/json"), None);
        assert_eq!(asked("*/*"), None);
        assert_eq!(asked("text/csvx"), None);
    }
}
