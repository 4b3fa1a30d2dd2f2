//! API keys: issue, list, read, revoke, roll; usage per key and per team; verification for the
//! platform's services.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Duration, Utc};
use portal_db::TransactionTrait;
use portal_db::api_keys::{ApiKeyRow, NewKey, environment_of};
use portal_db::usage::{Scope, UsageRow};
use portal_domain::keys as domain;
use portal_domain::teams::{Action, parse_note, parse_team_name};
use portal_types::{
    ApiKey, ApiKeyPage, CreateApiKeyRequest, CreatedApiKey, Granularity, KeyUsageSummary, RollApiKeyRequest,
    StatusCount, TeamUsage, Usage, VerifyKeyRequest, VerifyKeyResponse,
};
use uuid::Uuid;

use crate::access::TeamAccess;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Client, Principal};
use crate::keys::{MeterTag, status_of};
use crate::openapi::{
    BadRequest, Conflict, Forbidden, InternalError, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType,
    ValidationFailed,
};
use crate::paging::{PageQuery, encode_position, next_cursor};
use crate::state::AppState;

fn to_wire(row: ApiKeyRow, now: DateTime<Utc>) -> ApiResult<ApiKey> {
    Ok(ApiKey {
        id: row.id,
        team_id: row.team_id,
        environment: environment_of(&row)?,
        status: status_of(row.revoked_at, row.expires_at, row.grace_until, now),
        name: row.name,
        description: row.description,
        hint: row.hint,
        created_at: row.created_at,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
        grace_until: row.grace_until,
        replaced_by: row.replaced_by,
        last_used_at: row.last_used_at,
        request_count: u64::try_from(row.request_count).unwrap_or(0),
        usage_limit: row.usage_limit.and_then(|l| u64::try_from(l).ok()),
    })
}

fn key_not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "key_not_found", "No such API key in this team.")
}

async fn find_key(db: &impl portal_db::ConnectionTrait, access: &TeamAccess, key_id: Uuid) -> ApiResult<ApiKeyRow> {
    portal_db::api_keys::find(db, access.team.id, key_id).await?.ok_or_else(key_not_found)
}

/// The team's API keys, newest first (never their secrets).
#[utoipa::path(
    tag = "api-keys",
    operation_id = "listApiKeys",
    security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), PageQuery),
    responses((status = 200, description = "Keys.", body = ApiKeyPage), Unauthorized, NotFound, ValidationFailed, InternalError)
)]
#[get("/teams/{team_id}/api-keys")]
pub async fn list_api_keys(
    state: web::Data<AppState>,
    auth: Principal,
    path: web::Path<Uuid>,
    query: web::Query<PageQuery>,
) -> ApiResult<web::Json<ApiKeyPage>> {
    let access = TeamAccess::load(&state.db, &auth, path.into_inner()).await?;
    access.require(Action::ReadApiKeys)?;
    let limit = query.limit()?;
    let rows = portal_db::api_keys::list(&state.db, access.team.id, query.after()?, limit).await?;
    let next = next_cursor(&rows, limit, |r| encode_position(r.created_at, r.id));
    let now = Utc::now();
    let items = rows.into_iter().map(|r| to_wire(r, now)).collect::<ApiResult<_>>()?;
    Ok(web::Json(ApiKeyPage { items, next_cursor: next }))
}

fn parse_limit(limit: Option<u64>) -> ApiResult<Option<i64>> {
    match limit {
        None => Ok(None),
        Some(0) => Err(ApiError::validation("usage_limit", "must be at least 1 (leave it out for no limit)")),
        Some(n) => i64::try_from(n).map(Some).map_err(|_| ApiError::validation("usage_limit", "is too large")),
    }
}

/// Issues a key with a fresh secret: the only time the secret is shown.
async fn issue(
    txn: &portal_db::DatabaseTransaction,
    access: &TeamAccess,
    template: NewKeyTemplate<'_>,
    now: DateTime<Utc>,
) -> ApiResult<(ApiKeyRow, String)> {
    let secret = domain::generate(template.environment);
    let row = portal_db::api_keys::create(
        txn,
        NewKey {
            team_id: access.team.id,
            name: template.name,
            description: template.description,
            environment: template.environment,
            key_hash: &template.hasher.hash(&secret),
            hint: &domain::hint(&secret),
            created_by: access.user_id,
            expires_at: template.expires_at,
            usage_limit: template.usage_limit,
        },
        now,
    )
    .await?;
    Ok((row, secret))
}

struct NewKeyTemplate<'a> {
    hasher: &'a crate::keys::KeyService,
    name: &'a str,
    description: Option<&'a str>,
    environment: portal_types::Environment,
    expires_at: Option<DateTime<Utc>>,
    usage_limit: Option<i64>,
}

/// Create an API key (owners and admins). The answer carries the secret, once.
#[utoipa::path(
    tag = "api-keys",
    operation_id = "createApiKey",
    security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team.")),
    request_body = CreateApiKeyRequest,
    responses(
        (status = 201, description = "The key and its secret; store the secret now, it is never shown again.", body = CreatedApiKey),
        BadRequest, Unauthorized, Forbidden, NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationFailed, InternalError,
    )
)]
#[post("/teams/{team_id}/api-keys")]
pub async fn create_api_key(
    state: web::Data<AppState>,
    auth: Principal,
    client: Client,
    path: web::Path<Uuid>,
    body: ApiJson<CreateApiKeyRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.0;
    let name = parse_team_name("name", &body.name)?;
    let description = parse_note("description", body.description.as_deref(), 500)?;
    let usage_limit = parse_limit(body.usage_limit)?;
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let access = TeamAccess::load(&txn, &auth, path.into_inner()).await?;
    access.require(Action::ManageApiKeys)?;
    let template = NewKeyTemplate {
        hasher: &state.keys,
        name: &name,
        description: description.as_deref(),
        environment: body.environment,
        expires_at: body.expiration.days().map(|d| now + Duration::days(d)),
        usage_limit,
    };
    let (row, secret) = issue(&txn, &access, template, now).await?;
    let summary = format!("{} ({}, {})", row.name, row.hint, body.environment.as_str());
    portal_db::audit::record(
        &txn,
        access.entry(&client, "key.created", "api_key", Some(row.id.to_string()), Some(summary)),
        now,
    )
    .await?;
    txn.commit().await?;
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(CreatedApiKey { key: to_wire(row, now)?, secret }))
}

/// One API key's metadata.
#[utoipa::path(
    tag = "api-keys",
    operation_id = "getApiKey",
    security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("key_id" = Uuid, Path, description = "The key.")),
    responses((status = 200, description = "The key.", body = ApiKey), Unauthorized, NotFound, InternalError)
)]
#[get("/teams/{team_id}/api-keys/{key_id}")]
pub async fn get_api_key(
    state: web::Data<AppState>,
    auth: Principal,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<web::Json<ApiKey>> {
    let (team_id, key_id) = path.into_inner();
    let access = TeamAccess::load(&state.db, &auth, team_id).await?;
    access.require(Action::ReadApiKeys)?;
    Ok(web::Json(to_wire(find_key(&state.db, &access, key_id).await?, Utc::now())?))
}

/// Revoke a key at once, on every instance (owners and admins). Revoking twice changes nothing.
#[utoipa::path(
    tag = "api-keys",
    operation_id = "revokeApiKey",
    security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("key_id" = Uuid, Path, description = "The key.")),
    responses((status = 200, description = "The revoked key.", body = ApiKey), Unauthorized, Forbidden, NotFound, InternalError)
)]
#[post("/teams/{team_id}/api-keys/{key_id}/revoke")]
pub async fn revoke_api_key(
    state: web::Data<AppState>,
    auth: Principal,
    client: Client,
    path: web::Path<(Uuid, Uuid)>,
) -> ApiResult<web::Json<ApiKey>> {
    let (team_id, key_id) = path.into_inner();
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let access = TeamAccess::load(&txn, &auth, team_id).await?;
    access.require(Action::ManageApiKeys)?;
    let row = find_key(&txn, &access, key_id).await?;
    if portal_db::api_keys::revoke(&txn, key_id, now).await? {
        let summary = format!("{} ({})", row.name, row.hint);
        portal_db::audit::record(
            &txn,
            access.entry(&client, "key.revoked", "api_key", Some(key_id.to_string()), Some(summary)),
            now,
        )
        .await?;
        portal_db::changes::key_changed(&txn, key_id).await?;
    }
    let row = find_key(&txn, &access, key_id).await?;
    txn.commit().await?;
    state.keys.evict(key_id);
    Ok(web::Json(to_wire(row, now)?))
}

/// Replace a key: a new key with the same settings; the old one keeps working for the grace
/// period (never past its own expiry), then stops.
#[utoipa::path(
    tag = "api-keys",
    operation_id = "rollApiKey",
    security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("key_id" = Uuid, Path, description = "The key to replace.")),
    request_body = RollApiKeyRequest,
    responses(
        (status = 201, description = "The replacement and its secret, shown once.", body = CreatedApiKey),
        BadRequest, Unauthorized, Forbidden, NotFound, Conflict, PayloadTooLarge, UnsupportedMediaType, ValidationFailed, InternalError,
    )
)]
#[post("/teams/{team_id}/api-keys/{key_id}/roll")]
pub async fn roll_api_key(
    state: web::Data<AppState>,
    auth: Principal,
    client: Client,
    path: web::Path<(Uuid, Uuid)>,
    body: ApiJson<RollApiKeyRequest>,
) -> ApiResult<HttpResponse> {
    let (team_id, key_id) = path.into_inner();
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let access = TeamAccess::load(&txn, &auth, team_id).await?;
    access.require(Action::ManageApiKeys)?;
    let old = find_key(&txn, &access, key_id).await?;
    if status_of(old.revoked_at, old.expires_at, old.grace_until, now) != portal_types::KeyStatus::Active {
        return Err(ApiError::new(StatusCode::CONFLICT, "key_not_active", "Only an active key can be rolled."));
    }
    let grace_until = domain::grace_until(now, body.0.grace_period_seconds, old.expires_at)?;
    let template = NewKeyTemplate {
        hasher: &state.keys,
        name: &old.name,
        description: old.description.as_deref(),
        environment: environment_of(&old)?,
        // The same lifetime as the old key had.
        expires_at: old.expires_at.map(|e| now + (e - old.created_at)),
        usage_limit: old.usage_limit,
    };
    let (new, secret) = issue(&txn, &access, template, now).await?;
    if !portal_db::api_keys::mark_rolled(&txn, key_id, new.id, grace_until).await? {
        return Err(ApiError::new(StatusCode::CONFLICT, "key_not_active", "The key was revoked or rolled meanwhile."));
    }
    let summary =
        format!("{} ({} → {}), old key works until {}", old.name, old.hint, new.hint, grace_until.to_rfc3339());
    portal_db::audit::record(
        &txn,
        access.entry(&client, "key.rolled", "api_key", Some(key_id.to_string()), Some(summary)),
        now,
    )
    .await?;
    portal_db::changes::key_changed(&txn, key_id).await?;
    txn.commit().await?;
    state.keys.evict(key_id);
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(CreatedApiKey { key: to_wire(new, now)?, secret }))
}

/// `?from=&to=&granularity=` of usage queries.
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
    #[param(value_type = Option<Granularity>)]
    pub granularity: Option<String>,
}

struct Range {
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    granularity: Granularity,
}

impl UsageQuery {
    fn range(&self, now: DateTime<Utc>) -> ApiResult<Range> {
        let time = |field: &'static str, raw: &Option<String>| -> ApiResult<Option<DateTime<Utc>>> {
            raw.as_deref()
                .map(|s| {
                    DateTime::parse_from_rfc3339(s).map(|t| t.to_utc()).map_err(|_| {
                        ApiError::validation(field, "must be an RFC 3339 time such as 2026-11-26T12:00:00Z")
                    })
                })
                .transpose()
        };
        let to = time("to", &self.to)?.unwrap_or(now);
        let from = time("from", &self.from)?.unwrap_or(to - Duration::hours(24));
        if from >= to {
            return Err(ApiError::validation("from", "must be before `to`"));
        }
        if to - from > Duration::days(domain::MAX_USAGE_DAYS) + Duration::minutes(1) {
            return Err(ApiError::validation("from", "must be at most 90 days before `to`"));
        }
        let granularity = match self.granularity.as_deref() {
            None if to - from <= Duration::days(2) => Granularity::Hour,
            None => Granularity::Day,
            Some("hour") => Granularity::Hour,
            Some("day") => Granularity::Day,
            Some(_) => return Err(ApiError::validation("granularity", "must be `hour` or `day`")),
        };
        if granularity == Granularity::Hour && to - from > Duration::days(31) {
            return Err(ApiError::validation("granularity", "hour buckets cover at most 31 days; use `day`"));
        }
        Ok(Range { from, to, granularity })
    }
}

fn summarise(range: &Range, rows: &[UsageRow], usage_limit: Option<u64>, used_this_month: u64) -> Usage {
    let in_range: Vec<_> = rows
        .iter()
        .copied()
        .filter(|(m, _, _, _)| *m >= domain::bucket_start(range.from, range.granularity) && *m < range.to)
        .collect();
    let total: u64 = in_range.iter().map(|r| r.2).sum();
    let error: u64 = in_range.iter().filter(|r| r.1 >= 400).map(|r| r.2).sum();
    let latency_us: u64 = in_range.iter().map(|r| r.3).sum();
    let mut codes: Vec<StatusCount> = Vec::new();
    for (_, status, count, _) in &in_range {
        match codes.iter_mut().find(|c| c.status == *status) {
            Some(c) => c.count += count,
            None => codes.push(StatusCount { status: *status, count: *count }),
        }
    }
    codes.sort_by(|a, b| b.count.cmp(&a.count).then(a.status.cmp(&b.status)));
    Usage {
        from: range.from,
        to: range.to,
        granularity: range.granularity,
        total_requests: total,
        success: total - error,
        error,
        error_rate: if total == 0 { 0.0 } else { error as f64 / total as f64 },
        average_latency_ms: if total == 0 { 0.0 } else { latency_us as f64 / total as f64 / 1000.0 },
        usage_limit,
        used_this_month,
        remaining: usage_limit.map(|l| l.saturating_sub(used_this_month)),
        series: domain::series(range.from, range.to, range.granularity, in_range.iter().map(|r| (r.0, r.1, r.2))),
        status_codes: codes,
    }
}

async fn flush_meter(state: &AppState) {
    // The usage pages read what this instance served up to now, not up to its last flush.
    if let Err(e) = state.keys.flush().await {
        tracing::warn!(error = %e, "usage flush before a usage read failed");
    }
}

/// One key's usage: totals, limit and remaining, requests over time, error rate, status codes.
#[utoipa::path(
    tag = "usage",
    operation_id = "getApiKeyUsage",
    security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("key_id" = Uuid, Path, description = "The key."), UsageQuery),
    responses((status = 200, description = "Usage in the range.", body = Usage), Unauthorized, NotFound, ValidationFailed, InternalError)
)]
#[get("/teams/{team_id}/api-keys/{key_id}/usage")]
pub async fn get_api_key_usage(
    state: web::Data<AppState>,
    auth: Principal,
    path: web::Path<(Uuid, Uuid)>,
    query: web::Query<UsageQuery>,
) -> ApiResult<web::Json<Usage>> {
    let (team_id, key_id) = path.into_inner();
    let now = Utc::now();
    let range = query.range(now)?;
    let access = TeamAccess::load(&state.db, &auth, team_id).await?;
    access.require(Action::ReadApiKeys)?;
    let key = find_key(&state.db, &access, key_id).await?;
    flush_meter(&state).await;
    let rows = portal_db::usage::rows(
        &state.db,
        Scope::Key(key.id),
        domain::bucket_start(range.from, range.granularity),
        range.to,
    )
    .await?;
    let month = portal_db::usage::count_since(&state.db, key.id, domain::month_bounds(now).0).await?;
    let limit = key.usage_limit.and_then(|l| u64::try_from(l).ok());
    Ok(web::Json(summarise(&range, &rows, limit, month)))
}

/// The whole team's API usage, with each key's share.
#[utoipa::path(
    tag = "usage",
    operation_id = "getTeamUsage",
    security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), UsageQuery),
    responses((status = 200, description = "Usage in the range.", body = TeamUsage), Unauthorized, NotFound, ValidationFailed, InternalError)
)]
#[get("/teams/{team_id}/usage")]
pub async fn get_team_usage(
    state: web::Data<AppState>,
    auth: Principal,
    path: web::Path<Uuid>,
    query: web::Query<UsageQuery>,
) -> ApiResult<web::Json<TeamUsage>> {
    let now = Utc::now();
    let range = query.range(now)?;
    let access = TeamAccess::load(&state.db, &auth, path.into_inner()).await?;
    access.require(Action::ReadApiKeys)?;
    flush_meter(&state).await;
    let team_id = access.team.id;
    let start = domain::bucket_start(range.from, range.granularity);
    let rows = portal_db::usage::rows(&state.db, Scope::Team(team_id), start, range.to).await?;
    let (month_start, _) = domain::month_bounds(now);
    let month_rows =
        portal_db::usage::rows(&state.db, Scope::Team(team_id), month_start, now + Duration::minutes(1)).await?;
    let month: u64 = month_rows.iter().map(|r| r.2).sum();
    let per_key = portal_db::usage::per_key(&state.db, team_id, start, range.to).await?;
    let keys = portal_db::api_keys::all_of_team(&state.db, team_id).await?;
    let mut summaries: Vec<KeyUsageSummary> = keys
        .into_iter()
        .filter_map(|k| {
            let (_, total, error) = per_key.iter().find(|(id, _, _)| *id == k.id).copied().unwrap_or((k.id, 0, 0));
            Some(KeyUsageSummary {
                key_id: k.id,
                environment: environment_of(&k).ok()?,
                name: k.name,
                total_requests: total,
                error,
            })
        })
        .collect();
    summaries.sort_by(|a, b| b.total_requests.cmp(&a.total_requests).then(a.name.cmp(&b.name)));
    Ok(web::Json(TeamUsage { usage: summarise(&range, &rows, None, month), keys: summaries }))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Check a key for another service of the platform and record the outcome as a use of the key.
/// Needs the service token (`PORTAL_SERVICE_TOKEN`) as bearer token.
#[utoipa::path(
    tag = "api-keys",
    operation_id = "verifyApiKey",
    security(("service_token" = [])),
    request_body = VerifyKeyRequest,
    responses(
        (status = 200, description = "Whether the key is valid now; `code` says why not.", body = VerifyKeyResponse),
        (status = 401, description = "Missing or wrong service token (`unauthorized`).", body = portal_types::Problem, content_type = "application/problem+json"),
        BadRequest, PayloadTooLarge, UnsupportedMediaType, ValidationFailed, InternalError,
    )
)]
#[post("/keys/verify")]
pub async fn verify_api_key(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<VerifyKeyRequest>,
) -> ApiResult<web::Json<VerifyKeyResponse>> {
    let started = std::time::Instant::now();
    let presented = crate::extract::bearer(&req).unwrap_or("");
    if !constant_time_eq(presented.as_bytes(), state.config.service_token.expose().as_bytes()) {
        return Err(ApiError::unauthorized("Send the service token as `Authorization: Bearer <token>`."));
    }
    let answer = match state.keys.verify(&body.0.key).await {
        Ok(key) => {
            state.keys.record(MeterTag { key_id: key.key_id, team_id: key.team_id }, 200, started.elapsed());
            VerifyKeyResponse {
                valid: true,
                code: None,
                key_id: Some(key.key_id),
                team_id: Some(key.team_id),
                environment: Some(key.environment),
                expires_at: key.expires_at,
                remaining: key.remaining.map(|r| r.saturating_sub(1)),
            }
        }
        Err((refused, tag)) => {
            if let Some(tag) = tag {
                state.keys.record(tag, refused.status.as_u16(), started.elapsed());
            }
            VerifyKeyResponse {
                valid: false,
                code: Some(refused.code.to_owned()),
                key_id: tag.map(|t| t.key_id),
                team_id: tag.map(|t| t.team_id),
                environment: None,
                expires_at: None,
                remaining: None,
            }
        }
    };
    Ok(web::Json(answer))
}
