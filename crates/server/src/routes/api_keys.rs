//! API keys: issue, list, read, change, revoke, roll; verification for the platform's services.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, patch, post, web};
use chrono::Utc;
use portal_domain::keys as domain;
use portal_domain::policy::Action;
use portal_domain::scopes::{AllowList, parse_scopes, parse_thresholds};
use portal_types::{
    ApiKey, ApiKeyPage, CompromisedKey, CreateApiKeyRequest, CreatedApiKey, Environment, KeySort, KeyStatusFilter,
    Name, Note, RateLimit, ReportCompromisedRequest, RollApiKeyRequest, UpdateApiKeyRequest, VerifyKeyRequest,
    VerifyKeyResponse,
};
use uuid::Uuid;

use crate::access::TeamAccess;
use crate::app::keys::{self, KeyUpdate, NewKeyRequest};
use crate::error::responses::{Conflict, InternalError, JsonBody, NoAccess, NotFound, Unauthorized, ValidationFailed};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Caller, Principal};
use crate::paging::PageQuery;
pub use crate::reads::keys::to_wire;
use crate::reads::keys::{self as reads_keys, KeyFilter, StatusFilter};
use crate::state::AppState;

pub use crate::reads::keys::key_not_found;

/// How a key list is narrowed and ordered (`GET .../api-keys`), as given.
#[derive(Debug, Default, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct KeyListQuery {
    /// Part of the key's name or hint, any case (at most 100 characters).
    #[param(max_length = 100, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    pub q: Option<String>,
    #[param(value_type = Option<portal_types::Environment>)]
    pub environment: Option<String>,
    /// A status, or `expiring_soon`: usable and expiring within 7 days.
    #[param(value_type = Option<KeyStatusFilter>)]
    pub status: Option<String>,
    /// `created` (newest first, the default), `last_used` (never-used keys last) or `requests`.
    #[param(value_type = Option<KeySort>)]
    pub sort: Option<String>,
}

/// The longest search text.
const MAX_SEARCH_CHARS: usize = portal_types::rules::SEARCH_MAX_CHARS;

impl KeyListQuery {
    fn parse(&self) -> ApiResult<(KeyFilter, KeySort)> {
        fn one<T>(
            field: &str,
            raw: Option<&str>,
            parse: impl Fn(&str) -> Option<T>,
            all: &[&str],
        ) -> ApiResult<Option<T>> {
            raw.map(|raw| {
                parse(raw).ok_or_else(|| ApiError::validation(field, format!("must be one of: {}", all.join(", "))))
            })
            .transpose()
        }
        let search = self.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
        if search.is_some_and(|q| q.chars().count() > MAX_SEARCH_CHARS || q.chars().any(char::is_control)) {
            return Err(ApiError::validation(
                "q",
                format!("must be at most {MAX_SEARCH_CHARS} characters, without control characters"),
            ));
        }
        let environment =
            one("environment", self.environment.as_deref(), Environment::parse, &["development", "production"])?;
        let statuses = KeyStatusFilter::ALL.map(KeyStatusFilter::as_str);
        let status = one("status", self.status.as_deref(), KeyStatusFilter::parse, &statuses)?.map(|s| match s {
            KeyStatusFilter::Active => StatusFilter::Active,
            KeyStatusFilter::Rolling => StatusFilter::Rolling,
            KeyStatusFilter::Rolled => StatusFilter::Rolled,
            KeyStatusFilter::Revoked => StatusFilter::Revoked,
            KeyStatusFilter::Expired => StatusFilter::Expired,
            KeyStatusFilter::ExpiringSoon => StatusFilter::ExpiringSoon { soon: reads_keys::soon() },
            KeyStatusFilter::Usable => StatusFilter::Usable,
            KeyStatusFilter::Attention => reads_keys::attention(chrono::Utc::now()),
        });
        let sorts = KeySort::ALL.map(KeySort::as_str);
        let sort = one("sort", self.sort.as_deref(), KeySort::parse, &sorts)?.unwrap_or_default();
        Ok((KeyFilter { search: search.map(str::to_owned), environment, status }, sort))
    }
}

/// The team's API keys (never their secrets).
///
/// Newest first unless `sort` says otherwise; `q`, `environment` and `status` narrow the list.
/// Follow `next_cursor` with the same parameters for the next page.
#[utoipa::path(
    tag = "api-keys", operation_id = "listApiKeys", security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), PageQuery, KeyListQuery),
    responses(
        (status = 200, description = "Keys.", body = ApiKeyPage),
        Unauthorized, NotFound, ValidationFailed, InternalError,
    )
)]
#[get("/teams/{team_id}/api-keys")]
pub async fn list_api_keys(
    state: web::Data<AppState>,
    auth: Principal,
    req: HttpRequest,
    path: web::Path<Uuid>,
    query: web::Query<PageQuery>,
    narrowed: web::Query<KeyListQuery>,
) -> ApiResult<HttpResponse> {
    let (access, _) = TeamAccess::load_for_read(&state, &auth, path.into_inner()).await?;
    access.require(Action::ReadApiKeys)?;
    let limit = query.limit()?;
    let (filter, sort) = narrowed.parse()?;
    let order = reads_keys::order_of(sort, query.cursor.as_deref())?;
    reads_keys::page(&state, &req, access.team.id, filter, order, limit).await
}

fn parse_limit(limit: Option<u64>) -> ApiResult<Option<i64>> {
    Ok(limit.map(domain::parse_usage_limit).transpose()?.map(|n| i64::try_from(n).unwrap_or(i64::MAX)))
}

fn parse_rate(rate: Option<RateLimit>) -> ApiResult<Option<RateLimit>> {
    Ok(rate.map(|r| domain::parse_rate_limit("rate_limit", r)).transpose()?)
}

fn parse_allowlist(ips: Option<&[String]>) -> ApiResult<AllowList> {
    Ok(AllowList::parse("allowed_ips", ips.unwrap_or_default())?)
}

/// Create an API key (owners and admins). The answer carries the secret, once.
#[utoipa::path(
    tag = "api-keys", operation_id = "createApiKey", security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team.")), request_body = CreateApiKeyRequest,
    responses(
        (status = 201, description = "The key and its secret; store the secret now, it is never shown again.", body = CreatedApiKey),
        JsonBody, NoAccess, ValidationFailed, InternalError,
    )
)]
#[post("/teams/{team_id}/api-keys")]
pub async fn create_api_key(
    caller: Caller,
    path: web::Path<Uuid>,
    body: ApiJson<CreateApiKeyRequest>,
) -> ApiResult<HttpResponse> {
    let body = body.0;
    let request = NewKeyRequest {
        name: body.name.into_inner(),
        description: body.description.and_then(Note::value),
        environment: body.environment,
        lifetime_days: body.expiration.days(),
        usage_limit: parse_limit(body.usage_limit)?,
        rate_limit: parse_rate(body.rate_limit)?,
        scopes: parse_scopes("scopes", body.scopes.as_deref())?,
        allowed: parse_allowlist(body.allowed_ips.as_deref())?,
        alert_thresholds: body.alert_thresholds.map(|t| t.0),
    };
    let (row, secret) = keys::create(caller.on(path.into_inner()), request).await?;
    Ok(super::no_store(StatusCode::CREATED, &CreatedApiKey { key: to_wire(row, Utc::now())?, secret }))
}

/// One API key's metadata.
#[utoipa::path(
    tag = "api-keys", operation_id = "getApiKey", security(("bearer" = []), ("api_key" = [])),
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
    let (access, _) = TeamAccess::load_for_read(&state, &auth, team_id).await?;
    access.require(Action::ReadApiKeys)?;
    Ok(web::Json(reads_keys::get(&state, &access, key_id).await?))
}

/// Change a key's name, description, monthly limit or rate limit (owners and admins). Limits
/// take effect at once on every instance. A key cannot change its own limits.
#[utoipa::path(
    tag = "api-keys", operation_id = "updateApiKey", security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("key_id" = Uuid, Path, description = "The key.")),
    request_body = UpdateApiKeyRequest,
    responses(
        (status = 200, description = "The changed key.", body = ApiKey),
        JsonBody, NoAccess, ValidationFailed, InternalError,
    )
)]
#[patch("/teams/{team_id}/api-keys/{key_id}")]
pub async fn update_api_key(
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: ApiJson<UpdateApiKeyRequest>,
) -> ApiResult<web::Json<ApiKey>> {
    let (team_id, key_id) = path.into_inner();
    let body = body.0;
    let description = body.description.map(|d| d.and_then(Note::value));
    // Checked here for its shape; against the key's limit once the key is read.
    if let Some(raw) = body.alert_thresholds.as_deref() {
        parse_thresholds("alert_thresholds", raw)?;
    }
    let update = KeyUpdate {
        name: body.name.map(Name::into_inner),
        description,
        usage_limit: body.usage_limit.map(parse_limit).transpose()?,
        rate_limit: body.rate_limit.map(parse_rate).transpose()?,
        scopes: body.scopes.as_deref().map(|s| parse_scopes("scopes", Some(s))).transpose()?,
        allowed: body.allowed_ips.as_ref().map(|ips| parse_allowlist(ips.as_deref())).transpose()?,
        alert_thresholds: body.alert_thresholds.map(|t| t.0),
    };
    let row = keys::update(caller.on(team_id), key_id, update).await?;
    Ok(web::Json(to_wire(row, Utc::now())?))
}

/// Revoke a key at once, on every instance (owners and admins). Revoking twice changes nothing.
#[utoipa::path(
    tag = "api-keys", operation_id = "revokeApiKey", security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("key_id" = Uuid, Path, description = "The key.")),
    responses((status = 200, description = "The revoked key.", body = ApiKey), NoAccess, InternalError)
)]
#[post("/teams/{team_id}/api-keys/{key_id}/revoke")]
pub async fn revoke_api_key(caller: Caller, path: web::Path<(Uuid, Uuid)>) -> ApiResult<web::Json<ApiKey>> {
    let (team_id, key_id) = path.into_inner();
    let row = keys::revoke(caller.on(team_id), key_id).await?;
    Ok(web::Json(to_wire(row, Utc::now())?))
}

/// Replace a key: a new key with the same settings; the old one keeps working for the grace
/// period (never past its own expiry), then stops.
#[utoipa::path(
    tag = "api-keys", operation_id = "rollApiKey", security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("key_id" = Uuid, Path, description = "The key to replace.")),
    request_body = RollApiKeyRequest,
    responses(
        (status = 201, description = "The replacement and its secret, shown once.", body = CreatedApiKey),
        JsonBody, NoAccess, Conflict, ValidationFailed, InternalError,
    )
)]
#[post("/teams/{team_id}/api-keys/{key_id}/roll")]
pub async fn roll_api_key(
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: ApiJson<RollApiKeyRequest>,
) -> ApiResult<HttpResponse> {
    let (team_id, key_id) = path.into_inner();
    let (row, secret) = keys::roll(caller.on(team_id), key_id, body.0.grace_period_seconds).await?;
    Ok(super::no_store(StatusCode::CREATED, &CreatedApiKey { key: to_wire(row, Utc::now())?, secret }))
}

/// Report a key compromised: it is revoked at once on every instance and the incident is
/// recorded; with `replacement_name`, a replacement with the same settings is issued (its
/// secret shown once). Then check the old key's last requests on its usage page.
#[utoipa::path(
    tag = "api-keys", operation_id = "reportCompromisedApiKey", security(("bearer" = []), ("api_key" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("key_id" = Uuid, Path, description = "The compromised key.")),
    request_body = ReportCompromisedRequest,
    responses(
        (status = 200, description = "The revoked key, and the replacement if asked for.", body = CompromisedKey),
        JsonBody, NoAccess, ValidationFailed, InternalError,
    )
)]
#[post("/teams/{team_id}/api-keys/{key_id}/compromised")]
pub async fn report_compromised_api_key(
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: ApiJson<ReportCompromisedRequest>,
) -> ApiResult<HttpResponse> {
    let (team_id, key_id) = path.into_inner();
    let replacement_name = body.0.replacement_name.map(Name::into_inner);
    let done = keys::report_compromised(caller.on(team_id), key_id, replacement_name).await?;
    let now = Utc::now();
    let replacement = match done.replacement {
        Some((row, secret)) => Some(CreatedApiKey { key: to_wire(row, now)?, secret }),
        None => None,
    };
    Ok(super::no_store(StatusCode::OK, &CompromisedKey { key: to_wire(done.key, now)?, replacement }))
}

/// Check a key for another service of the platform and record the outcome as a use of the key.
/// Needs the service token (`PORTAL_SERVICE_TOKEN`) as bearer token.
#[utoipa::path(
    tag = "api-keys", operation_id = "verifyApiKey", security(("service_token" = [])), request_body = VerifyKeyRequest,
    responses(
        (status = 200, description = "Whether the key is valid now; `code` says why not.", body = VerifyKeyResponse),
        (status = 401, description = "Missing or wrong service token (`unauthorized`).", body = portal_types::Problem, content_type = "application/problem+json"),
        JsonBody, ValidationFailed, InternalError,
    )
)]
#[post("/keys/verify")]
pub async fn verify_api_key(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: ApiJson<VerifyKeyRequest>,
) -> ApiResult<web::Json<VerifyKeyResponse>> {
    let started = std::time::Instant::now();
    crate::access::require_service(&req, &state.config, Action::VerifyKeys)?;
    // The allowlist is checked when the service says where the key came from.
    let client =
        body.0.client_ip.as_deref().map(|ip| portal_domain::scopes::parse_client_ip("client_ip", ip)).transpose()?;
    let answer = match state.keys.verify(&body.0.key, client).await {
        Ok(key) => {
            state.meter.record(key.tag(), 200, started.elapsed(), true);
            VerifyKeyResponse {
                valid: true,
                code: None,
                key_id: Some(key.key_id),
                team_id: Some(key.team_id),
                environment: Some(key.environment),
                expires_at: key.expires_at,
                remaining: key.limits.monthly.map(|m| m.remaining),
                // What it may use now: capped by its creator's current role.
                scopes: key.actor().scopes().to_vec(),
            }
        }
        Err(refused) => {
            if let Some(tag) = refused.tag {
                state.meter.record(tag, refused.metered_status(), started.elapsed(), false);
            }
            VerifyKeyResponse {
                valid: false,
                code: Some(refused.error.code),
                key_id: refused.tag.map(|t| t.key_id),
                team_id: refused.tag.map(|t| t.team_id),
                environment: None,
                expires_at: None,
                remaining: None,
                scopes: Vec::new(),
            }
        }
    };
    Ok(web::Json(answer))
}
