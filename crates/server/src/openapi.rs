//! The OpenAPI document: collected from the mounted services, plus shared metadata.

use actix_web::App;
use portal_types::Problem;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::{IntoResponses, Modify, OpenApi};
use utoipa_actix_web::AppExt;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Partner Portal API",
        description = "Teams, members, invitations and API keys of the Partner Portal. \
            Errors are `application/problem+json` (RFC 9457) with a stable `code`; validation errors name the `field`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    servers((url = "/", description = "This portal")),
    tags(
        (name = "auth", description = "Sign-up, e-mail verification, sign-in, sessions and password reset."),
        (name = "me", description = "The signed-in user's account."),
        (name = "teams", description = "Teams: the caller's teams, creating, renaming and deleting them."),
        (name = "members", description = "Team members and their roles."),
        (name = "invitations", description = "Inviting people by e-mail, and accepting invitations."),
        (name = "activity", description = "Who did what and when in a team."),
        (name = "api-keys", description = "API keys: issue, list, revoke, roll; verification for the platform's services."),
        (name = "usage", description = "How API keys are used: requests over time, errors, status codes, limits."),
        (name = "health", description = "Liveness and readiness probes."),
    ),
    components(schemas(Problem)),
    modifiers(&SecuritySchemes)
)]
pub struct ApiDoc;

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut bearer = Http::new(HttpAuthScheme::Bearer);
        bearer.bearer_format = Some("JWT".into());
        bearer.description = Some("Access token from `POST /api/v1/auth/login` or `/auth/refresh`.".into());
        components.add_security_scheme("bearer", SecurityScheme::Http(bearer));
        let mut key = Http::new(HttpAuthScheme::Bearer);
        key.bearer_format = Some("pp_prod_… / pp_dev_…".into());
        key.description = Some("An API key of the team: acts with admin rights on that team's resources.".into());
        components.add_security_scheme("api_key", SecurityScheme::Http(key));
        let mut service = Http::new(HttpAuthScheme::Bearer);
        service.description =
            Some("The service token of the platform's other services (`PORTAL_SERVICE_TOKEN`).".into());
        components.add_security_scheme("service_token", SecurityScheme::Http(service));
        components.add_security_scheme(
            "refresh_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::routes::auth::REFRESH_COOKIE,
                "HttpOnly refresh token set by sign-in; rotated on every refresh.",
            ))),
        );
    }
}

/// The whole document, as served at `/api/v1/openapi.json` and committed in `openapi/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, api) =
        App::new().into_utoipa_app().openapi(ApiDoc::openapi()).configure(crate::startup::routes).split_for_parts();
    api
}

/// Pretty JSON with a trailing newline, exactly as committed.
pub fn document_json() -> String {
    let mut json = document().to_pretty_json().unwrap_or_default();
    json.push('\n');
    json
}

/// 400: the body is not JSON.
#[derive(IntoResponses)]
#[response(status = 400, description = "Malformed JSON (`malformed_json`).", content_type = "application/problem+json")]
pub struct BadRequest(#[allow(dead_code)] Problem);

/// 401: no valid access token.
#[derive(IntoResponses)]
#[response(
    status = 401,
    description = "No valid access token (`unauthorized`).",
    content_type = "application/problem+json"
)]
pub struct Unauthorized(#[allow(dead_code)] Problem);

/// 403: the caller's role does not allow this.
#[derive(IntoResponses)]
#[response(
    status = 403,
    description = "Your role does not allow this (`forbidden`).",
    content_type = "application/problem+json"
)]
pub struct Forbidden(#[allow(dead_code)] Problem);

/// 404: no such resource, or the caller is not in its team.
#[derive(IntoResponses)]
#[response(
    status = 404,
    description = "No such resource, or you are not a member of its team (`not_found`).",
    content_type = "application/problem+json"
)]
pub struct NotFound(#[allow(dead_code)] Problem);

/// 409: the change conflicts with the current state.
#[derive(IntoResponses)]
#[response(
    status = 409,
    description = "Conflicts with the current state, e.g. the last owner (`last_owner`) or a closed invitation (`invitation_closed`).",
    content_type = "application/problem+json"
)]
pub struct Conflict(#[allow(dead_code)] Problem);

/// 413: the body is larger than 64 KiB.
#[derive(IntoResponses)]
#[response(
    status = 413,
    description = "The body is larger than 64 KiB (`payload_too_large`).",
    content_type = "application/problem+json"
)]
pub struct PayloadTooLarge(#[allow(dead_code)] Problem);

/// 415: the body is not `application/json`.
#[derive(IntoResponses)]
#[response(
    status = 415,
    description = "The body is not application/json (`unsupported_media_type`).",
    content_type = "application/problem+json"
)]
pub struct UnsupportedMediaType(#[allow(dead_code)] Problem);

/// 422: a field is missing, unknown or invalid; `field` names it.
#[derive(IntoResponses)]
#[response(
    status = 422,
    description = "A field is missing, unknown or invalid (`validation_failed`); `field` names it.",
    content_type = "application/problem+json"
)]
pub struct ValidationFailed(#[allow(dead_code)] Problem);

/// 429: too many requests from this client; see `Retry-After`.
#[derive(IntoResponses)]
#[response(
    status = 429,
    description = "Too many requests (`rate_limited`); retry after the `Retry-After` seconds.",
    content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "Seconds to wait."))
)]
pub struct RateLimited(#[allow(dead_code)] Problem);

/// 500: the server failed; nothing internal is disclosed.
#[derive(IntoResponses)]
#[response(
    status = 500,
    description = "The server failed (`internal_error`); details are only logged.",
    content_type = "application/problem+json"
)]
pub struct InternalError(#[allow(dead_code)] Problem);
