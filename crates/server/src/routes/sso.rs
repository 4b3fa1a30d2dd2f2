//! Single sign-on: a team's connections (`/teams/{team_id}/sso/connections`) and the sign-in
//! through them (`/auth/sso`, and the browser's trip: `/auth/sso/start`, `/auth/sso/callback`);
//! SAML's own endpoints are in `saml.rs`.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::{StatusCode, header};
use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use portal_domain::identity::Email;
use portal_domain::policy::Action;
use portal_domain::text::parse_name;
use portal_types::{
    CreateSsoConnectionRequest, SamlMetadata, SsoConnection, SsoConnectionList, SsoDiscoveryRequest, SsoIssuer,
    SsoProtocol, SsoSecret, SsoStart, UpdateSsoConnectionRequest,
};
use uuid::Uuid;

use crate::access::TeamAccess;
use crate::app::sso::{self, Changed, Configured, MetadataSource, Provider};
use crate::app::sso_sign_in::{self, BROWSER_COOKIE, BROWSER_COOKIE_PATH, Returned, StartRequest};
use crate::error::responses::{DocumentJsonBody, InternalError, JsonBody, NoAccess, RateLimited, ValidationFailed};
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, Caller, Client, DOCUMENT_JSON_LIMIT, Principal};
use crate::state::AppState;

/// The team's single sign-on connections (owners and admins): each with its status, last
/// sign-in and last test. The client secret is never shown.
#[utoipa::path(
    tag = "sso", operation_id = "listSsoConnections", security(("bearer" = [])),
    params(("team_id" = Uuid, Path, description = "The team.")),
    responses((status = 200, description = "The connections (at most 1 for now).", body = SsoConnectionList), NoAccess, InternalError)
)]
#[get("/teams/{team_id}/sso/connections")]
pub async fn list_sso_connections(
    state: web::Data<AppState>,
    auth: Principal,
    path: web::Path<Uuid>,
) -> ApiResult<web::Json<SsoConnectionList>> {
    let (access, _) = TeamAccess::load_for_read(&state, &auth, path.into_inner()).await?;
    access.require(Action::ReadSso)?;
    Ok(web::Json(SsoConnectionList { items: crate::reads::sso::list(&state, access.team.id).await? }))
}

fn issuer(field: &'static str, raw: &str) -> ApiResult<String> {
    let issuer = raw.trim();
    let max = portal_types::rules::SSO_ISSUER_MAX_CHARS;
    if issuer.chars().count() > max {
        return Err(ApiError::validation(field, format!("must be at most {max} characters")));
    }
    match url::Url::parse(issuer) {
        Ok(url) if matches!(url.scheme(), "https" | "http") && url.query().is_none() && url.fragment().is_none() => {
            Ok(issuer.to_owned())
        }
        _ => Err(ApiError::validation(field, "must be the provider's issuer URL, e.g. https://example.okta.com")),
    }
}

fn client_value(field: &'static str, raw: &str) -> ApiResult<String> {
    let max = portal_types::rules::SSO_CLIENT_MAX_CHARS;
    if raw.is_empty() || raw.chars().count() > max || !raw.chars().all(|c| c.is_ascii_graphic()) {
        return Err(ApiError::validation(field, format!("must be 1 to {max} printable characters without spaces")));
    }
    Ok(raw.to_owned())
}

fn required(field: &'static str, value: Option<String>, kind: &str) -> ApiResult<String> {
    value.ok_or_else(|| ApiError::validation(field, format!("is required for {kind} connections")))
}

fn not_for(field: &'static str, given: bool, kind: &str) -> ApiResult<()> {
    if given { Err(ApiError::validation(field, format!("is for {kind} connections only"))) } else { Ok(()) }
}

/// The SAML metadata given: exactly one of the document and its URL.
fn metadata_source(xml: Option<SamlMetadata>, url: Option<SsoIssuer>) -> ApiResult<Option<MetadataSource>> {
    match (xml, url) {
        (Some(_), Some(_)) => Err(ApiError::validation("idp_metadata_url", "give the metadata or its URL, not both")),
        (Some(xml), None) => {
            let xml = xml.into_inner();
            let max = portal_types::rules::SSO_METADATA_MAX_CHARS;
            if xml.trim().is_empty() || xml.chars().count() > max {
                return Err(ApiError::validation(
                    "idp_metadata",
                    format!("must be the IdP's metadata XML, at most {max} characters"),
                ));
            }
            Ok(Some(MetadataSource::Xml(xml)))
        }
        (None, Some(url)) => Ok(Some(MetadataSource::Url(issuer("idp_metadata_url", &url)?))),
        (None, None) => Ok(None),
    }
}

/// Add the team's connection to its identity provider (owners and admins).
///
/// OpenID Connect (`protocol` `oidc`, the default): `issuer`, `client_id` and `client_secret`;
/// the issuer's discovery document and keys are fetched first, and an issuer that cannot be
/// used is refused with the cause. Register the answer's `redirect_uri` at the provider.
///
/// SAML 2.0 (`protocol` `saml`): the IdP's metadata (`idp_metadata`, or `idp_metadata_url` to
/// fetch it), which must name a signing certificate and an HTTP-Redirect single sign-on URL. It
/// may come later (status `incomplete`; add it with a change): the answer's `saml` names what to
/// give the IdP first (entity id and ACS URL, or the portal's metadata URL).
#[utoipa::path(
    tag = "sso", operation_id = "createSsoConnection", security(("bearer" = [])),
    params(("team_id" = Uuid, Path, description = "The team.")), request_body = CreateSsoConnectionRequest,
    responses(
        (status = 201, description = "The connection, untested.", body = SsoConnection),
        (status = 409, description = "The team has a connection already (`conflict`).", body = portal_types::Problem, content_type = "application/problem+json"),
        DocumentJsonBody, NoAccess, ValidationFailed, InternalError,
    )
)]
#[post("/teams/{team_id}/sso/connections")]
pub async fn create_sso_connection(
    caller: Caller,
    path: web::Path<Uuid>,
    body: ApiJson<CreateSsoConnectionRequest, DOCUMENT_JSON_LIMIT>,
) -> ApiResult<HttpResponse> {
    let body = body.0;
    let name = parse_name("name", &body.name, portal_types::rules::NAME_MAX_CHARS)?;
    let provider = match body.protocol.unwrap_or_default() {
        SsoProtocol::Oidc => {
            not_for("idp_metadata", body.idp_metadata.is_some(), "SAML")?;
            not_for("idp_metadata_url", body.idp_metadata_url.is_some(), "SAML")?;
            not_for("allow_idp_initiated", body.allow_idp_initiated.is_some(), "SAML")?;
            let kind = "OpenID Connect";
            Provider::Oidc {
                issuer: issuer("issuer", &required("issuer", body.issuer.map(SsoIssuer::into_inner), kind)?)?,
                client_id: client_value(
                    "client_id",
                    &required("client_id", body.client_id.map(SsoSecret::into_inner), kind)?,
                )?,
                client_secret: client_value(
                    "client_secret",
                    &required("client_secret", body.client_secret.map(SsoSecret::into_inner), kind)?,
                )?,
            }
        }
        SsoProtocol::Saml => {
            not_for("issuer", body.issuer.is_some(), "OpenID Connect")?;
            not_for("client_id", body.client_id.is_some(), "OpenID Connect")?;
            not_for("client_secret", body.client_secret.is_some(), "OpenID Connect")?;
            let metadata = metadata_source(body.idp_metadata, body.idp_metadata_url)?;
            Provider::Saml { metadata, allow_idp_initiated: body.allow_idp_initiated.unwrap_or(false) }
        }
    };
    let created = sso::create(caller.on(path.into_inner()), Configured { name, provider }).await?;
    Ok(HttpResponse::build(StatusCode::CREATED).json(created))
}

/// Change a connection (owners and admins): a new issuer is discovered first, new SAML metadata
/// read first; a new provider (issuer, client id or IdP entity id) unlinks the old one's users
/// and ends their SSO sessions. Fields of the other protocol are refused.
#[utoipa::path(
    tag = "sso", operation_id = "updateSsoConnection", security(("bearer" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("connection_id" = Uuid, Path, description = "The connection.")),
    request_body = UpdateSsoConnectionRequest,
    responses((status = 200, description = "The changed connection.", body = SsoConnection), DocumentJsonBody, NoAccess, ValidationFailed, InternalError)
)]
#[patch("/teams/{team_id}/sso/connections/{connection_id}")]
pub async fn update_sso_connection(
    caller: Caller,
    path: web::Path<(Uuid, Uuid)>,
    body: ApiJson<UpdateSsoConnectionRequest, DOCUMENT_JSON_LIMIT>,
) -> ApiResult<web::Json<SsoConnection>> {
    let (team_id, id) = path.into_inner();
    let body = body.0;
    let change = Changed {
        name: body.name.map(|n| parse_name("name", &n, portal_types::rules::NAME_MAX_CHARS)).transpose()?,
        issuer: body.issuer.map(|i| issuer("issuer", &i)).transpose()?,
        client_id: body.client_id.map(|c| client_value("client_id", &c)).transpose()?,
        client_secret: body.client_secret.map(|c| client_value("client_secret", &c)).transpose()?,
        saml_metadata: metadata_source(body.idp_metadata, body.idp_metadata_url)?,
        allow_idp_initiated: body.allow_idp_initiated,
    };
    Ok(web::Json(sso::update(caller.on(team_id), id, change).await?))
}

/// Remove a connection (owners and admins). Refused while the team requires single sign-on.
#[utoipa::path(
    tag = "sso", operation_id = "deleteSsoConnection", security(("bearer" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("connection_id" = Uuid, Path, description = "The connection.")),
    responses(
        (status = 204, description = "Removed; its users keep their accounts (and can reset a password)."),
        (status = 409, description = "The team requires single sign-on through it (`conflict`).", body = portal_types::Problem, content_type = "application/problem+json"),
        NoAccess, InternalError,
    )
)]
#[delete("/teams/{team_id}/sso/connections/{connection_id}")]
pub async fn delete_sso_connection(caller: Caller, path: web::Path<(Uuid, Uuid)>) -> ApiResult<HttpResponse> {
    let (team_id, id) = path.into_inner();
    sso::remove(caller.on(team_id), id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Test a connection (owners and admins, signed in): open the answer's `start_url` in the
/// browser within 10 minutes; after signing in at the provider it comes back to the team's
/// settings, and the connection shows the claims received (`test_claims`) or why it failed
/// (`test_error`). Nobody is signed in by a test.
#[utoipa::path(
    tag = "sso", operation_id = "testSsoConnection", security(("bearer" = [])),
    params(("team_id" = Uuid, Path, description = "The team."), ("connection_id" = Uuid, Path, description = "The connection.")),
    responses((status = 200, description = "Where the browser starts the test.", body = SsoStart), NoAccess, InternalError)
)]
#[post("/teams/{team_id}/sso/connections/{connection_id}/test")]
pub async fn test_sso_connection(caller: Caller, path: web::Path<(Uuid, Uuid)>) -> ApiResult<HttpResponse> {
    let (team_id, id) = path.into_inner();
    let start = sso::test(caller.on(team_id), id).await?;
    Ok(super::no_store(StatusCode::OK, &start))
}

/// Home-realm discovery: where a user with this address signs in with single sign-on (the
/// connection of the team that verified the address's domain). Open `start_url` in the browser.
#[utoipa::path(
    tag = "auth", operation_id = "discoverSso", request_body = SsoDiscoveryRequest,
    responses(
        (status = 200, description = "The address's domain has single sign-on.", body = SsoStart),
        (status = 404, description = "No verified domain of this address has single sign-on (`sso_not_configured`, field `email`).", body = portal_types::Problem, content_type = "application/problem+json"),
        JsonBody, ValidationFailed, RateLimited, InternalError,
    )
)]
#[post("/auth/sso")]
pub async fn discover_sso(
    state: web::Data<AppState>,
    client: Client,
    body: ApiJson<SsoDiscoveryRequest>,
) -> ApiResult<HttpResponse> {
    state.auth_limiter.spend(&state.db, &format!("sso:{}", client.ip)).await?;
    let start = sso_sign_in::discover(&state, Email::parse("email", &body.0.email)?).await?;
    Ok(super::no_store(StatusCode::OK, &start))
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StartQuery {
    /// The team whose identity provider to sign in at.
    pub team_id: Uuid,
    /// The address, as a hint for the provider's sign-in page.
    pub login_hint: Option<String>,
    /// The ticket of a "Test connection".
    pub test: Option<String>,
}

pub(super) fn see_other(location: &str) -> actix_web::HttpResponseBuilder {
    let mut answer = HttpResponse::SeeOther();
    answer.insert_header((header::LOCATION, location.to_owned())).insert_header(super::NO_STORE);
    answer
}

/// Start single sign-on in the browser: sends it on to the team's identity provider (303), with
/// a cookie that ties the flow to this browser. A team without a connection sends it back to the
/// sign-in page (`?sso_error=not_configured`).
#[utoipa::path(
    tag = "auth", operation_id = "startSso", params(StartQuery),
    responses(
        (status = 303, description = "To the identity provider (or back to the sign-in page with `sso_error`).", headers(("Location" = String, description = "Where the browser goes."), ("Set-Cookie" = String, description = "`pp_sso`: HttpOnly, SameSite=Lax, Path=/api/v1/auth, 10 minutes."))),
        (status = 400, description = "A malformed query (`bad_request`).", body = portal_types::Problem, content_type = "application/problem+json"),
        RateLimited, InternalError,
    )
)]
#[get("/auth/sso/start")]
pub async fn start_sso(
    state: web::Data<AppState>,
    req: HttpRequest,
    client: Client,
    query: web::Query<StartQuery>,
) -> ApiResult<HttpResponse> {
    state.auth_limiter.spend(&state.db, &format!("sso-start:{}", client.ip)).await?;
    // Started by this site (its sign-in page, a team's "Sign in with SSO") or typed in: another
    // site may not start a sign-in in the user's browser (login CSRF through a provider that
    // answers at once).
    let fetched_from = req.headers().get("sec-fetch-site").and_then(|v| v.to_str().ok());
    if fetched_from.is_some_and(|site| !matches!(site, "same-origin" | "none")) {
        return Ok(see_other("/sign-in?sso_error=cross_site").finish());
    }
    let query = query.into_inner();
    let asked = StartRequest {
        team_id: query.team_id,
        test_ticket: query.test,
        login_hint: query.login_hint,
        browser: req.cookie(BROWSER_COOKIE).map(|c| c.value().to_owned()),
    };
    let departure = sso_sign_in::start(&state, asked).await?;
    Ok(see_other(&departure.location).cookie(browser_cookie(&state, departure.browser)).finish())
}

/// The cookie that ties a flow to its browser.
pub(super) fn browser_cookie(state: &AppState, browser: String) -> Cookie<'static> {
    Cookie::build(BROWSER_COOKIE, browser)
        .path(BROWSER_COOKIE_PATH)
        .http_only(true)
        // Sent on the provider's redirect back (a top-level GET from another site).
        .same_site(SameSite::Lax)
        .secure(!state.config.insecure_cookies())
        .max_age(CookieDuration::minutes(10))
        .finish()
}

#[derive(Debug, serde::Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    pub state: Option<String>,
    pub code: Option<String>,
    /// The provider's refusal (RFC 6749 §4.1.2.1).
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Where the identity provider sends the browser back (register it as the redirect URI). A
/// completed sign-in sets the refresh cookie and goes to the team (or the dashboard); a refused
/// one goes to the sign-in page with `?sso_error=<reason>`, a test to the team's settings; a
/// password account of the same address goes to the sign-in page with `?sso_link=` to prove its
/// password once.
#[utoipa::path(
    tag = "auth", operation_id = "ssoCallback", params(CallbackQuery),
    responses(
        (status = 303, description = "Signed in, refused, or on to the password to link.", headers(("Location" = String, description = "Where the browser goes."), ("Set-Cookie" = String, description = "`pp_refresh` when signed in."))),
        (status = 400, description = "A malformed query (`bad_request`).", body = portal_types::Problem, content_type = "application/problem+json"),
        RateLimited, InternalError,
    )
)]
#[get("/auth/sso/callback")]
pub async fn sso_callback(
    state: web::Data<AppState>,
    req: HttpRequest,
    client: Client,
    query: web::Query<CallbackQuery>,
) -> ApiResult<HttpResponse> {
    state.auth_limiter.spend(&state.db, &format!("sso-callback:{}", client.ip)).await?;
    let query = query.into_inner();
    let returned = Returned {
        state: query.state,
        code: query.code,
        error: query.error,
        error_description: query.error_description,
    };
    let browser = req.cookie(BROWSER_COOKIE).map(|c| c.value().to_owned());
    let arrival = sso_sign_in::callback(&state, &client, browser.as_deref(), returned).await?;
    Ok(arrive(&state, arrival))
}

/// The answer that ends a trip to the provider: on to `location`, signed in or not.
pub(super) fn arrive(state: &AppState, arrival: sso_sign_in::Arrival) -> HttpResponse {
    let mut answer = see_other(&arrival.location);
    // Signed in: the flow cookie has done its work. Otherwise it stays for its 10 minutes: a
    // link to a password account is proven in this browser only.
    if let Some(started) = arrival.started {
        let mut spent = Cookie::build(BROWSER_COOKIE, "").path(BROWSER_COOKIE_PATH).finish();
        spent.make_removal();
        answer.cookie(spent);
        answer.cookie(super::auth::session_cookie(state, started.refresh_token));
    }
    answer.finish()
}
