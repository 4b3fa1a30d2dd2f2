//! Usage of a key and of a whole team: totals, the monthly limit, requests over time, error
//! rate, status codes and latency percentiles, as JSON or as CSV. Each part of a range is read
//! from the coarsest tier that answers it, so a 90-day read touches about 90 rows per status.
//! What a read takes from the database is kept until the team's usage or keys change.

use std::collections::HashMap;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, get, web};
use chrono::{DateTime, Duration, Utc};
use portal_db::api_keys::environment_of;
use portal_db::usage::Scope;
use portal_domain::policy::Action;
use portal_domain::usage::{self as domain, Counts, CsvLine, MonthUse, Range, Span};
use portal_types::{KeyUsageSummary, TeamUsage, Usage};
use uuid::Uuid;

use crate::access::TeamAccess;
use crate::error::responses::{InternalError, NotFound, Unauthorized, ValidationFailed};
use crate::error::{ApiError, ApiResult};
use crate::extract::Principal;
use crate::kept::json_answer;
use crate::keys::Weigh;
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
    /// `hour` or `day`; default: hour for ranges up to 2 days, else day.
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

/// Stored rows a team CSV may cover (a line per bucket, key and status at most).
const MAX_CSV_ROWS: usize = 200_000;

/// The read plan of a range under the configured minute retention.
fn spans(state: &AppState, range: &Range, now: DateTime<Utc>) -> Vec<Span> {
    let kept = now - Duration::days(i64::from(state.config.usage_retention.minutes));
    domain::plan(range, kept)
}

async fn flush_meter(state: &AppState) {
    // The usage pages read what this instance served up to now, not up to its last flush.
    if let Err(e) = state.keys.flush().await {
        tracing::warn!(error = %e, "usage flush before a usage read failed");
    }
}

fn csv_response(name: &str, body: String) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static("text/csv; charset=utf-8")))
        .insert_header((header::CONTENT_DISPOSITION, format!("attachment; filename=\"{name}.csv\"")))
        .insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
        .body(body)
}

fn keys_by_id(keys: Vec<portal_db::api_keys::ApiKeyRow>) -> HashMap<Uuid, portal_db::api_keys::ApiKeyRow> {
    keys.into_iter().map(|k| (k.id, k)).collect()
}

/// What a usage page reads from the database, kept until the team's usage or keys change.
struct StoredUsage {
    counts: Vec<Counts>,
    /// Requests of the month that counted against limits.
    used: u64,
    /// (key, requests, errors) in the range, for a team.
    per_key: Vec<(Uuid, u64, u64)>,
    keys: HashMap<Uuid, portal_db::api_keys::ApiKeyRow>,
}

impl Weigh for StoredUsage {
    fn weight(&self) -> usize {
        self.counts.weight() + self.per_key.weight() + self.keys.len() * 1024
    }
}

/// The spans of a read as a cache key. Buckets start on their tier's boundary, so a span's ends
/// rounded up to the next boundary select the same buckets: the key (and what it reads) stays the
/// same for the rest of the minute (or hour) however the range's seconds move.
fn span_key(spans: &[Span]) -> String {
    let up = |t: i64, tier: portal_domain::usage::Tier| {
        let floor = tier.floor(t);
        if floor == t { t } else { floor + tier.seconds() }
    };
    spans
        .iter()
        .map(|s| format!("{:?}:{}-{}", s.tier, up(s.from, s.tier), up(s.to, s.tier)))
        .collect::<Vec<_>>()
        .join(",")
}

fn line(c: &Counts) -> CsvLine<'_> {
    CsvLine { start: c.at, key: None, status: c.status, requests: c.requests, latency: c.latency }
}

/// One key's usage: totals, limit and remaining, requests over time, error rate, status codes,
/// latency percentiles. As CSV: one line per bucket and status.
#[utoipa::path(
    tag = "usage",
    operation_id = "getApiKeyUsage",
    security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("key_id" = Uuid, Path, description = "The key."), UsageQuery),
    responses(
        (status = 200, description = "Usage in the range. CSV columns: bucket_start, status, requests, p50_ms, p95_ms, p99_ms.",
            content((Usage = "application/json"), (String = "text/csv"))),
        Unauthorized, NotFound, ValidationFailed, InternalError
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
    let found = state
        .keys
        .cached_read(team_id, format!("key {key_id}"), async {
            let found = portal_db::api_keys::find(&state.reads, team_id, key_id).await?;
            Ok::<_, portal_db::Error>(Vec::from_iter(found))
        })
        .await?;
    let key = found.first().ok_or_else(super::api_keys::key_not_found)?;
    let spans = spans(&state, &range, now);
    if csv {
        // A line per stored row: everything this instance counted is written first.
        flush_meter(&state).await;
        let rows = portal_db::usage::counts(&state.reads, Scope::Key(key.id), &spans, false, None).await?;
        let lines: Vec<CsvLine<'_>> = rows.iter().map(|(_, c)| line(c)).collect();
        return Ok(csv_response(&format!("usage-key-{}", key.id), domain::csv(range.granularity, &lines, false)));
    }
    // What this instance counted is read from its buffer, not written first: a usage read
    // costs no write. Flushes wait meanwhile, so nothing is counted twice or missed.
    let month = domain::month_bounds(now).0;
    let (stored, pending) = {
        let _no_flush = state.keys.hold_flushes().await;
        let what = format!("usage key {} {} {}", key.id, span_key(&spans), month.timestamp());
        let (stored, since) = state
            .keys
            .cached_counted_read(team_id, what, async {
                let scope = Scope::Key(key.id);
                let (counts, used) = tokio::try_join!(
                    portal_db::usage::counts(&state.reads, scope, &spans, false, None),
                    portal_db::usage::month_requests(&state.reads, scope, month),
                )?;
                Ok::<_, portal_db::Error>(StoredUsage {
                    counts: counts.into_iter().map(|(_, c)| c).collect(),
                    used,
                    per_key: Vec::new(),
                    keys: Default::default(),
                })
            })
            .await?;
        (stored, state.keys.pending(team_id, Scope::Key(key.id), month, since))
    };
    let (rows, used) = (stored.counts.iter().chain(pending.rows.iter().map(|(_, c)| c)), stored.used + pending.month);
    let limit = key.usage_limit.and_then(|l| u64::try_from(l).ok());
    let usage: Usage = domain::summarise(&range, rows, MonthUse { limit, used });
    json_answer(&req, &usage)
}

/// The whole team's API usage, with the share of each key used in the range. As CSV: one line
/// per bucket, key and status.
#[utoipa::path(
    tag = "usage",
    operation_id = "getTeamUsage",
    security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), UsageQuery),
    responses(
        (status = 200, description = "Usage in the range. CSV columns: bucket_start, key_id, key_name, environment, status, requests, p50_ms, p95_ms, p99_ms.",
            content((TeamUsage = "application/json"), (String = "text/csv"))),
        Unauthorized, NotFound, ValidationFailed, InternalError
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
    let team_id = access.team.id;
    let spans = spans(&state, &range, now);
    if csv {
        flush_meter(&state).await;
        let max = Some(MAX_CSV_ROWS as u64 + 1);
        let rows = portal_db::usage::counts(&state.reads, Scope::Team(team_id), &spans, true, max).await?;
        if rows.len() > MAX_CSV_ROWS {
            return Err(ApiError::validation(
                "from",
                format!("covers more than {MAX_CSV_ROWS} lines of CSV: choose a shorter range or day buckets"),
            ));
        }
        let mut ids: Vec<Uuid> = rows.iter().filter_map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        let keys = keys_by_id(portal_db::api_keys::of_team(&state.reads, team_id, &ids).await?);
        let named: Vec<(String, &str, &str)> = rows
            .iter()
            .map(|(id, _)| {
                let key = id.and_then(|id| keys.get(&id));
                let env = key.and_then(|k| environment_of(k).ok()).map_or("", |e| e.as_str());
                (id.map(|i| i.to_string()).unwrap_or_default(), key.map_or("", |k| k.name.as_str()), env)
            })
            .collect();
        let lines: Vec<CsvLine<'_>> = rows
            .iter()
            .zip(&named)
            .map(|((_, c), (id, name, env))| CsvLine { key: Some((id.as_str(), name, env)), ..line(c) })
            .collect();
        return Ok(csv_response(&format!("usage-team-{team_id}"), domain::csv(range.granularity, &lines, true)));
    }
    // As for a key: this instance's unwritten counts come from its buffer, under a hold on
    // flushes, instead of a write before every read.
    let month = domain::month_bounds(now).0;
    let (pending, per_key, stored) = {
        let _no_flush = state.keys.hold_flushes().await;
        let what = format!("usage team {} {}", span_key(&spans), month.timestamp());
        let (stored, since) = state
            .keys
            .cached_counted_read(team_id, what, async {
                // Reads wait for this after every flush: its parts run side by side (on a
                // connection each).
                let scope = Scope::Team(team_id);
                let (counts, per_key, used) = tokio::try_join!(
                    portal_db::usage::counts(&state.reads, scope, &spans, false, None),
                    portal_db::usage::per_key(&state.reads, team_id, &spans),
                    portal_db::usage::month_requests(&state.reads, scope, month),
                )?;
                let ids: Vec<Uuid> = per_key.iter().map(|(id, _, _)| *id).collect();
                Ok::<_, portal_db::Error>(StoredUsage {
                    counts: counts.into_iter().map(|(_, c)| c).collect(),
                    used,
                    per_key,
                    keys: keys_by_id(portal_db::api_keys::of_team(&state.reads, team_id, &ids).await?),
                })
            })
            .await?;
        let mut per_key = stored.per_key.clone();
        let pending = state.keys.pending(team_id, Scope::Team(team_id), month, since);
        let (from, to) = (range.start(), range.to);
        for (key_id, c) in pending.rows.iter().filter(|(_, c)| c.at >= from && c.at < to) {
            let error = if domain::is_error(c.status) { c.requests } else { 0 };
            match per_key.iter_mut().find(|(id, _, _)| id == key_id) {
                Some(entry) => {
                    entry.1 += c.requests;
                    entry.2 += error;
                }
                None => per_key.push((*key_id, c.requests, error)),
            }
        }
        (pending, per_key, stored)
    };
    let (rows, used) = (stored.counts.iter().chain(pending.rows.iter().map(|(_, c)| c)), stored.used + pending.month);
    // Keys whose only requests are still in this instance's buffer are not among the kept ones.
    let unnamed: Vec<Uuid> = per_key.iter().map(|(id, _, _)| *id).filter(|id| !stored.keys.contains_key(id)).collect();
    let more = match unnamed.is_empty() {
        true => Default::default(),
        false => {
            let read = portal_db::api_keys::of_team(&state.reads, team_id, &unnamed);
            state.keys.cached_read(team_id, format!("key names {unnamed:?}"), read).await?
        }
    };
    let keys = |id: &Uuid| stored.keys.get(id).or_else(|| more.iter().find(|k| k.id == *id));
    let mut summaries: Vec<KeyUsageSummary> = per_key
        .into_iter()
        .filter_map(|(id, total, error)| {
            let key = keys(&id)?;
            Some(KeyUsageSummary {
                key_id: id,
                name: key.name.clone(),
                environment: environment_of(key).ok()?,
                total_requests: total,
                error,
            })
        })
        .collect();
    summaries.sort_by(|a, b| b.total_requests.cmp(&a.total_requests).then(a.name.cmp(&b.name)));
    let usage = domain::summarise(&range, rows, MonthUse { limit: None, used });
    json_answer(&req, &TeamUsage { usage, keys: summaries })
}
