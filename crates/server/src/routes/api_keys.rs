//! API keys: issue, list, read, change, revoke, roll; verification for the platform's services.

use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use chrono::{DateTime, Duration, Utc};
use portal_db::TransactionTrait;
use portal_db::api_keys::{ApiKeyRow, KeyChanges, NewKey, environment_of, rate_limit_of};
use portal_domain::keys as domain;
use portal_domain::teams::{Action, parse_note, parse_team_name};
use portal_types::ErrorCode;
use portal_types::{
    ApiKey, ApiKeyPage, CreateApiKeyRequest, CreatedApiKey, RateLimit, RollApiKeyRequest, UpdateApiKeyRequest,
    VerifyKeyRequest, VerifyKeyResponse,
};
use uuid::Uuid;

use crate::access::TeamAccess;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Client, Principal};
use crate::keys::{Change, status_of};
use crate::openapi::{
    BadRequest, Conflict, Forbidden, InternalError, NotFound, PayloadTooLarge, Unauthorized, UnsupportedMediaType,
    ValidationFailed,
};
use crate::paging::{PageQuery, encode_position, next_cursor};
use crate::state::AppState;

fn to_wire(row: ApiKeyRow, now: DateTime<Utc>) -> ApiResult<ApiKey> {
    Ok(ApiKey {
        rate_limit: rate_limit_of(&row),
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

pub fn key_not_found() -> ApiError {
    ApiError::new(ErrorCode::KeyNotFound, "No such API key in this team.")
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
    Ok(limit.map(domain::parse_usage_limit).transpose()?.map(|n| i64::try_from(n).unwrap_or(i64::MAX)))
}

fn parse_rate(rate: Option<RateLimit>) -> ApiResult<Option<RateLimit>> {
    Ok(rate.map(|r| domain::parse_rate_limit("rate_limit", r)).transpose()?)
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
            rate_limit: template.rate_limit,
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
    rate_limit: Option<RateLimit>,
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
    let rate_limit = parse_rate(body.rate_limit)?;
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
        rate_limit,
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

/// Change a key's name, description, monthly limit or rate limit (owners and admins). Limits
/// take effect at once on every instance. A key cannot change its own limits.
#[utoipa::path(
    tag = "api-keys",
    operation_id = "updateApiKey",
    security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("key_id" = Uuid, Path, description = "The key.")),
    request_body = UpdateApiKeyRequest,
    responses(
        (status = 200, description = "The changed key.", body = ApiKey),
        BadRequest, Unauthorized, Forbidden, NotFound, PayloadTooLarge, UnsupportedMediaType, ValidationFailed, InternalError,
    )
)]
#[patch("/teams/{team_id}/api-keys/{key_id}")]
pub async fn update_api_key(
    state: web::Data<AppState>,
    auth: Principal,
    client: Client,
    path: web::Path<(Uuid, Uuid)>,
    body: ApiJson<UpdateApiKeyRequest>,
) -> ApiResult<web::Json<ApiKey>> {
    let (team_id, key_id) = path.into_inner();
    let body = body.0;
    let name = body.name.as_deref().map(|n| parse_team_name("name", n)).transpose()?;
    let description = match &body.description {
        Some(Some(raw)) => Some(parse_note("description", Some(raw), 500)?),
        Some(None) => Some(None),
        None => None,
    };
    let usage_limit = body.usage_limit.map(parse_limit).transpose()?;
    let rate_limit = body.rate_limit.map(parse_rate).transpose()?;
    if let Principal::Key(key) = &auth
        && key.key_id == key_id
        && (usage_limit.is_some() || rate_limit.is_some())
    {
        return Err(ApiError::new(ErrorCode::Forbidden, "An API key cannot change its own limits."));
    }
    let now = Utc::now();
    let txn = state.db.begin().await?;
    let access = TeamAccess::load(&txn, &auth, team_id).await?;
    access.require(Action::ManageApiKeys)?;
    let before = find_key(&txn, &access, key_id).await?;
    let changes = KeyChanges {
        name: name.as_deref(),
        description: description.as_ref().map(|d| d.as_deref()),
        usage_limit,
        rate_limit,
    };
    portal_db::api_keys::update(&txn, key_id, &changes).await?;
    let after = find_key(&txn, &access, key_id).await?;
    let mut changed = Vec::new();
    if before.name != after.name {
        changed.push(format!("name: {} → {}", before.name, after.name));
    }
    if before.description != after.description {
        changed.push("description".to_owned());
    }
    if before.usage_limit != after.usage_limit {
        let show = |l: Option<i64>| l.map_or_else(|| "none".to_owned(), |l| l.to_string());
        changed.push(format!("monthly limit: {} → {}", show(before.usage_limit), show(after.usage_limit)));
    }
    if rate_limit_of(&before) != rate_limit_of(&after) {
        let show = |r: Option<RateLimit>| {
            r.map_or_else(|| "none".to_owned(), |r| format!("{}/s, burst {}", r.requests_per_second, r.burst))
        };
        changed.push(format!("rate limit: {} → {}", show(rate_limit_of(&before)), show(rate_limit_of(&after))));
    }
    if !changed.is_empty() {
        let summary = format!("{} ({}): {}", after.name, after.hint, changed.join("; "));
        portal_db::audit::record(
            &txn,
            access.entry(&client, "key.updated", "api_key", Some(key_id.to_string()), Some(summary)),
            now,
        )
        .await?;
    }
    state.keys.commit(txn, &[Change::Key(key_id)]).await?;
    Ok(web::Json(to_wire(after, now)?))
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
    }
    let row = find_key(&txn, &access, key_id).await?;
    state.keys.commit(txn, &[Change::Key(key_id)]).await?;
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
        return Err(ApiError::new(ErrorCode::KeyNotActive, "Only an active key can be rolled."));
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
        rate_limit: rate_limit_of(&old),
    };
    let (new, secret) = issue(&txn, &access, template, now).await?;
    if !portal_db::api_keys::mark_rolled(&txn, key_id, new.id, grace_until).await? {
        return Err(ApiError::new(ErrorCode::KeyNotActive, "The key was revoked or rolled meanwhile."));
    }
    let summary =
        format!("{} ({} → {}), old key works until {}", old.name, old.hint, new.hint, grace_until.to_rfc3339());
    portal_db::audit::record(
        &txn,
        access.entry(&client, "key.rolled", "api_key", Some(key_id.to_string()), Some(summary)),
        now,
    )
    .await?;
    state.keys.commit(txn, &[Change::Key(key_id)]).await?;
    Ok(HttpResponse::Created()
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(CreatedApiKey { key: to_wire(new, now)?, secret }))
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
            state.keys.record(key.tag(), 200, started.elapsed(), true);
            VerifyKeyResponse {
                valid: true,
                code: None,
                key_id: Some(key.key_id),
                team_id: Some(key.team_id),
                environment: Some(key.environment),
                expires_at: key.expires_at,
                remaining: key.limits.monthly.map(|m| m.remaining),
            }
        }
        Err(refused) => {
            if let Some(tag) = refused.tag {
                state.keys.record(tag, refused.error.status().as_u16(), started.elapsed(), false);
            }
            VerifyKeyResponse {
                valid: false,
                code: Some(refused.error.code),
                key_id: refused.tag.map(|t| t.key_id),
                team_id: refused.tag.map(|t| t.team_id),
                environment: None,
                expires_at: None,
                remaining: None,
            }
        }
    };
    Ok(web::Json(answer))
}
