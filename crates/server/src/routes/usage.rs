//! Usage of a key and of a whole team: totals, the monthly limit, requests over time, error
//! rate, status codes and latency percentiles, as JSON or as CSV. Each part of a range is read
//! from the coarsest tier that answers it, so a 90-day read touches about 90 rows per status.
//! What a read takes from the database is kept until the team's usage or keys change.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, Utc};
use portal_domain::policy::Action;
use portal_domain::usage::Range;
use portal_types::{TeamUsage, Usage};
use uuid::Uuid;

use crate::access::TeamAccess;
use crate::error::responses::{InternalError, NotFound, Unauthorized, ValidationFailed};
use crate::error::{ApiError, ApiResult};
use crate::extract::Principal;
use crate::kept::json_answer;
use crate::reads::usage::{self, Answer};
use crate::state::AppState;

/// `?from=&to=&granularity=&format=` of usage queries.
#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsageQuery {
    /// Start (RFC 3339); default: 24 hours before `to`.
    #[param(value_type = Option<String>, format = DateTime)]
    pub from: Option<String>,
    /// End (RFC 3339); default: now.
    #[param(value_type = Option<String>, format = DateTime)]
    pub to: Option<String>,
    /// `minute` (ranges up to 24 hours, within the minute counts' retention), `hour` (up to 31
    /// days) or `day`; default: hour for ranges up to 2 days, else day.
    #[param(value_type = Option<portal_types::Granularity>)]
    pub granularity: Option<String>,
    /// `json` (default) or `csv`; `Accept: text/csv` asks for CSV too.
    #[param(value_type = Option<String>, pattern = "^(json|csv)$")]
    pub format: Option<String>,
}

impl UsageQuery {
    fn range(&self, now: DateTime<Utc>) -> ApiResult<Range> {
        Ok(Range::parse(self.from.as_deref(), self.to.as_deref(), self.granularity.as_deref(), now)?)
    }

    /// Whether the answer is CSV: `?format=csv`, or `Accept: text/csv` without `?format=json`.
    fn csv(&self, req: &HttpRequest) -> ApiResult<bool> {
        match self.format.as_deref() {
            Some("csv") => Ok(true),
            Some("json") => Ok(false),
            Some(_) => Err(ApiError::validation("format", "must be `json` or `csv`")),
            None => Ok(req
                .headers()
                .get(header::ACCEPT)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|accept| accept.split(',').any(|t| t.trim().starts_with("text/csv")))),
        }
    }
}

/// A usage answer as JSON (compressed as asked), or as a CSV file to download.
fn answer_of<T: serde::Serialize>(req: &HttpRequest, answer: Answer<T>) -> ApiResult<HttpResponse> {
    match answer {
        Answer::Json(body) => json_answer(req, &body),
        Answer::Csv(name, body) => Ok(csv_response(&name, body)),
    }
}

fn csv_response(name: &str, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")))
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}.csv\"")))
        .insert_header(super::NO_STORE)
        .body(body)
}

/// One key's usage: totals, limit and remaining, requests over time, error rate, status codes,
/// latency percentiles. As CSV: one line per bucket and status.
#[utoipa::path(
    tag = "usage", operation_id = "getApiKeyUsage", security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("key_id" = Uuid, Path, description = "The key."), UsageQuery),
    responses(
        (status = 200, description = "Usage in the range. CSV columns: bucket_start, status, requests, p50_ms, p95_ms, p99_ms.",
            content((Usage = "application/json"), (String = "text/csv"))),
        Unauthorized, NotFound, ValidationFailed, InternalError,
    )
)]
#[get("/teams/{team_id}/api-keys/{key_id}/usage")]
pub async fn get_api_key_usage(
    state: web::Data<AppState>,
    auth: Principal,
    req: HttpRequest,
    path: web::Path<(Uuid, Uuid)>,
    query: web::Query<UsageQuery>,
) -> ApiResult<HttpResponse> {
    let (team_id, key_id) = path.into_inner();
    let now = Utc::now();
    let range = query.range(now)?;
    let csv = query.csv(&req)?;
    let (access, _) = TeamAccess::load_for_read(&state, &auth, team_id).await?;
    access.require(Action::ReadUsage)?;
    let answer = usage::of_key(&state, &access, key_id, range, csv, now).await?;
    answer_of(&req, answer)
}

/// The whole team's API usage, with the share of each key used in the range. As CSV: one line
/// per bucket, key and status.
#[utoipa::path(
    tag = "usage", operation_id = "getTeamUsage", security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), UsageQuery),
    responses(
        (status = 200, description = "Usage in the range. CSV columns: bucket_start, key_id, key_name, environment, status, requests, p50_ms, p95_ms, p99_ms.",
            content((TeamUsage = "application/json"), (String = "text/csv"))),
        Unauthorized, NotFound, ValidationFailed, InternalError,
    )
)]
#[get("/teams/{team_id}/usage")]
pub async fn get_team_usage(
    state: web::Data<AppState>,
    auth: Principal,
    req: HttpRequest,
    path: web::Path<Uuid>,
    query: web::Query<UsageQuery>,
) -> ApiResult<HttpResponse> {
    let now = Utc::now();
    let range = query.range(now)?;
    let csv = query.csv(&req)?;
    let (access, _) = TeamAccess::load_for_read(&state, &auth, path.into_inner()).await?;
    access.require(Action::ReadUsage)?;
    let answer = usage::of_team(&state, &access, range, csv, now).await?;
    answer_of(&req, answer)
}
