//! The OpenAPI document: collected from the mounted services, plus shared metadata.

use actix_web::App;
use actix_web::http::StatusCode;
use portal_types::{ErrorCode, Problem};
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{Object, Schema};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi};
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
        (name = "webhooks", description = "Webhook endpoints of a team: signed (Standard Webhooks), retried, with a delivery log."),
        (name = "domains", description = "Domains a team proves it owns with a DNS TXT record, and who with an address there may join."),
        (name = "health", description = "Liveness and readiness probes."),
        (name = "help", description = "Where partners find help: documentation, support and community."),
    ),
    components(schemas(Problem, ErrorCode, portal_types::WebhookEvent, portal_types::KeySort, portal_types::KeyStatusFilter)),
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
        key.description = Some(
            "An API key of the team: acts on that team's resources within its scopes (and its creator's role), \
             from the addresses it allows."
                .into(),
        );
        components.add_security_scheme("api_key", SecurityScheme::Http(key));
        let mut service = Http::new(HttpAuthScheme::Bearer);
        service.description =
            Some("The service token of the platform's other services (`PORTAL_SERVICE_TOKEN`).".into());
        components.add_security_scheme("service_token", SecurityScheme::Http(service));
        components.add_security_scheme(
            "github_signature",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "Github-Public-Key-Signature",
                "GitHub secret scanning: base64 DER ECDSA P-256 signature of the raw body, under the key named in \
                 `Github-Public-Key-Identifier`.",
            ))),
        );
        components.add_security_scheme(
            "refresh_cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::security::REFRESH_COOKIE,
                "HttpOnly refresh token set by sign-in; rotated on every refresh.",
            ))),
        );
    }
}

/// A text field's type (`portal_types::Name`, `Note`, ...) states its limits as its own schema;
/// utoipa nests such a schema, under `allOf` beside the field's description and under `oneOf`
/// beside `null` when the field is optional. This writes each as the one string schema it means.
struct InlineText;

impl InlineText {
    /// The one schema `schema` means, if it is such a nesting.
    fn flat(schema: &Schema) -> Option<Schema> {
        use utoipa::openapi::schema::{SchemaType, Type};
        match schema {
            Schema::AllOf(all) => match all.items.as_slice() {
                [RefOr::T(inner), RefOr::T(Schema::Object(doc))] if Self::only_described(doc) => {
                    let mut inner = Self::flat(inner).unwrap_or_else(|| inner.clone());
                    match &mut inner {
                        Schema::Object(text) => text.description = doc.description.clone(),
                        Schema::Array(list) => list.description = doc.description.clone(),
                        _ => return None,
                    }
                    Some(inner)
                }
                _ => None,
            },
            Schema::OneOf(one) => match one.items.as_slice() {
                [RefOr::T(inner), RefOr::T(Schema::Object(null))]
                    if null.schema_type == SchemaType::Type(Type::Null) =>
                {
                    let mut inner = inner.clone();
                    match &mut inner {
                        Schema::Object(text) => {
                            text.schema_type = SchemaType::from_iter([Type::String, Type::Null]);
                            text.description = text.description.take().or_else(|| one.description.clone());
                        }
                        Schema::Array(list) => {
                            list.schema_type = SchemaType::from_iter([Type::Array, Type::Null]);
                            list.description = list.description.take().or_else(|| one.description.clone());
                        }
                        _ => return None,
                    }
                    Some(inner)
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// The object utoipa puts beside a nested schema to carry the field's description.
    fn only_described(doc: &Object) -> bool {
        let mut bare = doc.clone();
        bare.description = None;
        bare == Object::with_type(utoipa::openapi::schema::Type::Object)
    }
}

impl Modify for InlineText {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let Some(components) = openapi.components.as_mut() else { return };
        for schema in components.schemas.values_mut() {
            if let RefOr::T(Schema::Object(object)) = schema {
                for field in object.properties.values_mut() {
                    if let RefOr::T(nested) = field
                        && let Some(flat) = Self::flat(nested)
                    {
                        *nested = flat;
                    }
                }
            }
        }
    }
}

/// Cursors: any cursor of this shape names a position (see `paging`).
struct CursorPattern;

impl Modify for CursorPattern {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for path in openapi.paths.paths.values_mut() {
            for op in operations(path) {
                for param in op.parameters.iter_mut().flatten() {
                    if let RefOr::T(param) = param
                        && param.name == "cursor"
                        && let Some(RefOr::T(Schema::Object(schema))) = param.schema.as_mut()
                    {
                        schema.pattern = Some(crate::paging::CURSOR_PATTERN.to_owned());
                    }
                }
            }
        }
    }
}

fn operations(path: &mut utoipa::openapi::PathItem) -> impl Iterator<Item = &mut Operation> {
    [&mut path.get, &mut path.post, &mut path.put, &mut path.patch, &mut path.delete, &mut path.head, &mut path.options]
        .into_iter()
        .filter_map(Option::as_mut)
}

/// The answers every operation can give besides its own: malformed requests, bodies, failed
/// authentication, API-key refusals and limits, server failures. Each lists the codes it carries
/// for that operation; an operation's own description of a status gains the codes it lacks.
struct StandardResponses;

impl Modify for StandardResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use ErrorCode::*;
        for (route, path) in openapi.paths.paths.iter_mut() {
            // A team's own resources: a team that requires two-factor authentication refuses
            // members without it (keys are not members).
            let of_a_team = route.contains("{team_id}");
            for op in operations(path) {
                let schemes = serde_json::to_value(&op.security).unwrap_or_default();
                let secured_by =
                    |name: &str| schemes.as_array().is_some_and(|a| a.iter().any(|r| r.get(name).is_some()));
                let (bearer, key) = (secured_by("bearer"), secured_by("api_key"));
                let has_body = op.request_body.is_some();
                let has_query = op
                    .parameters
                    .iter()
                    .flatten()
                    .any(|p| matches!(p, RefOr::T(p) if matches!(p.parameter_in, ParameterIn::Query)));
                let mut bad_request = vec![BadRequest];
                if has_body {
                    bad_request.push(MalformedJson);
                }
                ensure(op, &bad_request, "The request cannot be read.");
                if has_body {
                    ensure(op, &[PayloadTooLarge], "The body is larger than 64 KiB.");
                    ensure(op, &[UnsupportedMediaType], "The body is not application/json.");
                }
                if has_body || has_query {
                    ensure(op, &[ValidationFailed], "A field or parameter is missing or invalid; `field` names it.");
                }
                if bearer || key {
                    ensure(op, &[Unauthorized], "No valid access token or API key.");
                }
                if key {
                    ensure(
                        op,
                        &[InvalidApiKey, KeyRevoked, KeyExpired, KeyRolled],
                        "No valid access token or API key.",
                    );
                    ensure(
                        op,
                        &[Forbidden, InsufficientScope, IpNotAllowed],
                        "Your role, or an API key (its scopes or allowlist), does not allow this.",
                    );
                    ensure(
                        op,
                        &[RateLimited, UsageLimitExceeded],
                        "The API key's rate or monthly limit is spent; retry after `Retry-After` seconds.",
                    );
                } else if bearer {
                    ensure(op, &[ApiKeyNotAllowed], "Only a signed-in user may do this, not an API key.");
                }
                if bearer && of_a_team {
                    ensure(
                        op,
                        &[TwoFactorRequired],
                        "The team requires two-factor authentication, and your account has it off.",
                    );
                }
                ensure(op, &[InternalError], "The server failed; details are only logged.");
            }
        }
    }
}

/// Makes `op` document `codes` (all of one status): adds the response, or names the codes its
/// own description of that status leaves out.
fn ensure(op: &mut Operation, codes: &[ErrorCode], description: &str) {
    let Some(status) = codes.first().map(|c| crate::error::status_of(*c)) else { return };
    let listed = |codes: &[ErrorCode]| codes.iter().map(|c| format!("`{c}`")).collect::<Vec<_>>().join(", ");
    let key = status.as_u16().to_string();
    match op.responses.responses.get_mut(&key) {
        Some(RefOr::T(response)) => {
            let missing: Vec<ErrorCode> =
                codes.iter().copied().filter(|c| !response.description.contains(&format!("`{c}`"))).collect();
            if !missing.is_empty() {
                response.description = format!("{} Also {}.", response.description.trim_end(), listed(&missing));
            }
        }
        Some(RefOr::Ref(_)) => {}
        None => {
            let mut response = ResponseBuilder::new()
                .description(format!("{} ({}).", description.trim_end_matches('.'), listed(codes)))
                .content(
                    portal_types::PROBLEM_JSON,
                    ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build(),
                );
            if status == StatusCode::TOO_MANY_REQUESTS {
                response = response.header(
                    "Retry-After",
                    utoipa::openapi::HeaderBuilder::new()
                        .schema(Some(
                            utoipa::openapi::ObjectBuilder::new()
                                .schema_type(utoipa::openapi::schema::Type::Integer)
                                .minimum(Some(1))
                                .build(),
                        ))
                        .description(Some("Seconds to wait."))
                        .build(),
                );
            }
            op.responses.responses.insert(key, RefOr::T(response.build()));
        }
    }
}

/// The whole document, as served at `/api/v1/openapi.json` and committed in `openapi/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    let (_, mut api) =
        App::new().into_utoipa_app().openapi(ApiDoc::openapi()).configure(crate::routes::all).split_for_parts();
    // After the routes: their operations and schemas exist only now.
    InlineText.modify(&mut api);
    CursorPattern.modify(&mut api);
    StandardResponses.modify(&mut api);
    api.webhooks = Some(webhooks());
    api
}

/// The `webhooks` section (OpenAPI 3.1): one entry per event type, each a signed POST of a
/// [`portal_types::WebhookEvent`] to the team's endpoint.
fn webhooks() -> utoipa::openapi::Paths {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, PathItem};
    use utoipa::openapi::request_body::RequestBodyBuilder;
    use utoipa::openapi::{PathsBuilder, Required};
    let header = |name: &str, description: &str| {
        ParameterBuilder::new()
            .name(name)
            .parameter_in(ParameterIn::Header)
            .required(Required::True)
            .description(Some(description))
            .schema(Some(utoipa::openapi::ObjectBuilder::new().schema_type(utoipa::openapi::schema::Type::String)))
            .build()
    };
    let mut paths = PathsBuilder::new();
    for kind in portal_types::EventType::ALL {
        let body = ContentBuilder::new().schema(Some(Ref::from_schema_name("WebhookEvent"))).build();
        let operation = OperationBuilder::new()
            .operation_id(Some(format!("webhook_{}", kind.as_str().replace('.', "_"))))
            .tag("webhooks")
            .summary(Some(format!("`{kind}` event")))
            .description(Some(format!(
                "Sent to every enabled endpoint of the team that subscribed to `{kind}`, with `type` = `{kind}`.                  Verify `webhook-signature` (Standard Webhooks: `v1,` + base64 HMAC-SHA256 of                  `webhook-id.webhook-timestamp.body` under the endpoint's `whsec_` secret; during a secret's                  grace period two signatures are sent, separated by a space) before trusting it."
            )))
            .parameter(header("webhook-id", "`msg_` + the event id: the same on every attempt and redelivery."))
            .parameter(header("webhook-timestamp", "Unix seconds of this attempt; refuse old ones."))
            .parameter(header("webhook-signature", "Space-separated `v1,<base64>` signatures."))
            .request_body(Some(RequestBodyBuilder::new().content("application/json", body).required(Some(Required::True)).build()))
            .response("200", ResponseBuilder::new().description("Any 2xx acknowledges the event.").build())
            .response(
                "410",
                ResponseBuilder::new().description("The endpoint is gone: the portal turns it off.").build(),
            )
            .response(
                "default",
                ResponseBuilder::new()
                    .description(
                        "Anything else (or no answer within 15 s) is tried again: 5 s, 5 min, 30 min, 2 h, 5 h,                          10 h, 10 h; `Retry-After` on 429 and 503 is honoured.",
                    )
                    .build(),
            )
            .build();
        paths = paths.path(kind.as_str(), PathItem::new(HttpMethod::Post, operation));
    }
    paths.build()
}

/// Pretty JSON with a trailing newline, exactly as committed.
pub fn document_json() -> String {
    let mut json = document().to_pretty_json().unwrap_or_default();
    json.push('\n');
    json
}
