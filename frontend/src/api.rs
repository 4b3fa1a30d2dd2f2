//! The REST API: one function per endpoint, each turning the answer into a typed result.
//!
//! Error answers are `application/problem+json` bodies ([`Problem`]); anything else that goes
//! wrong becomes an [`ApiError`] as well, so that every screen handles one error type.

use std::fmt;

use gloo_net::http::{Method, Request, RequestBuilder, Response};
use portal_types::{
    AcceptInvitationRequest, Accepted, ActivityPage, ApiKey, ApiKeyPage, ChangePasswordRequest, CompromisedKey,
    CreateApiKeyRequest, CreateInvitationRequest, CreateTeamRequest, CreatedApiKey, DisableTwoFactorRequest,
    EmailRequest, EnableTwoFactorRequest, Environment, ErrorCode, GettingStarted, Granularity, Invitation,
    InvitationPage, InvitationPreview, KeySort, KeyStatusFilter, LoginRequest, Member, MemberPage,
    PasswordConfirmation, Problem, RecoveryCodes, ReportCompromisedRequest, ResetPasswordRequest, Role, RoleList,
    RollApiKeyRequest, Session, SessionList, SessionsEnded, SignupRequest, Team, TeamPage, TeamTwoFactor, TeamUsage,
    TwoFactorChallenge, TwoFactorLoginRequest, TwoFactorSetup, TwoFactorStatus, UpdateApiKeyRequest, UpdateMeRequest,
    UpdateMemberRequest, UpdateTeamRequest, Usage, User, VerifyEmailRequest,
};
use portal_types::{
    CreateWebhookEndpointRequest, RotateWebhookSecretRequest, UpdateWebhookEndpointRequest, WebhookDelivery,
    WebhookDeliveryPage, WebhookEndpoint, WebhookEndpointList, WebhookEndpointWithSecret,
};
use serde::{Serialize, de::DeserializeOwned};
use uuid::Uuid;

const BASE: &str = "/api/v1";

/// Why a request did not succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    /// The server answered with an error status (body parsed as a problem when it was one).
    Problem(Box<Problem>),
    /// No answer: the server is unreachable or the connection broke.
    Network,
    /// A success answer whose body this app does not understand.
    Unreadable,
}

impl ApiError {
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Problem(p) => Some(p.status),
            _ => None,
        }
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Problem(p) => Some(p.code.as_str()),
            _ => None,
        }
    }

    /// The request field the server rejected, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Problem(p) => p.field.as_deref(),
            _ => None,
        }
    }

    /// Whether a mailed link's token was refused (unknown, used, expired or malformed).
    pub fn is_bad_link(&self) -> bool {
        self.code() == Some("invalid_token") || self.field() == Some("token")
    }

    /// The message to show when this error is about `field`.
    pub fn message_for(&self, field: &str) -> Option<String> {
        (self.field() == Some(field)).then(|| self.message())
    }

    /// A sentence for the user: the problem's `detail` (naming its field by the label the forms
    /// show, not by its JSON name), else a known wording for its `code`, else its `title`.
    pub fn message(&self) -> String {
        match self {
            Self::Problem(p) => match p.detail.as_deref().map(str::trim) {
                Some(detail) if !detail.is_empty() => labelled(detail, p.field.as_deref()),
                _ => fallback_message(p.code.as_str()).map_or_else(|| p.title.clone(), str::to_owned),
            },
            Self::Network => "Could not reach the server. Check your connection and try again.".to_owned(),
            Self::Unreadable => "The server sent an unexpected answer. Please reload the page.".to_owned(),
        }
    }
}

/// The labels of the request fields in the forms, for messages that name a field.
const FIELD_LABELS: &[(&str, &str)] = &[
    ("name", "Name"),
    ("description", "Description"),
    ("email", "E-mail"),
    ("password", "Password"),
    ("current_password", "Current password"),
    ("new_password", "New password"),
    ("message", "Personal message"),
    ("role", "Role"),
    ("url", "Endpoint URL"),
    ("event_types", "Events to send"),
    ("environment", "Environment"),
    ("expiration", "Expires"),
    ("usage_limit", "Monthly request limit"),
    ("rate_limit", "Rate limit"),
    ("rate_limit.requests_per_second", "Requests per second"),
    ("rate_limit.burst", "Burst"),
    ("scopes", "Access"),
    ("allowed_ips", "Allowed IP addresses"),
    ("alert_thresholds", "Usage alerts"),
    ("replacement_name", "Name of the replacement"),
    ("grace_period_seconds", "Grace period"),
    ("code", "Code"),
];

/// A validation detail as the server words it for integrators ("allowed_ips \"x\" is not…"),
/// with the field's label in place of its JSON name, as a sentence.
fn labelled(detail: &str, field: Option<&str>) -> String {
    let Some((rest, label)) = field.and_then(|field| {
        let rest = detail.strip_prefix(field)?.strip_prefix(' ')?;
        FIELD_LABELS.iter().find(|(f, _)| *f == field).map(|(_, label)| (rest, *label))
    }) else {
        return detail.to_owned();
    };
    // "Name must be…", but "Allowed IP addresses: "x" is not…".
    let predicate = ["must ", "is ", "are ", "need ", "needs ", "has "].iter().any(|verb| rest.starts_with(verb));
    let joined = if predicate { format!("{label} {rest}") } else { format!("{label}: {rest}") };
    if joined.ends_with(['.', '!', '?']) { joined } else { format!("{joined}.") }
}

fn fallback_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "invalid_credentials" => "The e-mail address or password is wrong.",
        "email_not_verified" => "Please verify your e-mail address first: follow the link we sent you.",
        "rate_limited" => "Too many attempts. Please wait a minute and try again.",
        "invalid_token" => "This link is invalid, has expired or was already used.",
        "wrong_password" => "That is not your current password.",
        "unauthorized" | "invalid_refresh_token" => "Your session has ended. Please sign in again.",
        "forbidden" => "Your role in this team does not allow this.",
        "not_found" => "This no longer exists, or you have no access to it.",
        "last_owner" => "A team needs at least one owner: make someone else an owner first.",
        "already_member" => "This person is already a member of the team.",
        "invitation_pending" => "This address already has a pending invitation.",
        "invitation_not_found" => "This invitation does not exist. A newer invitation may have replaced it.",
        "invitation_used" => "This invitation was already accepted.",
        "invitation_revoked" => "This invitation was revoked.",
        "invitation_expired" => "This invitation has expired; ask for a new one.",
        "invitation_wrong_account" => "This invitation is for another e-mail address.",
        _ => return None,
    })
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

impl std::error::Error for ApiError {}

fn request(method: Method, path: &str, token: Option<&str>) -> RequestBuilder {
    let builder = RequestBuilder::new(&format!("{BASE}{path}")).method(method).header("Accept", "application/json");
    match token {
        Some(token) => builder.header("Authorization", &format!("Bearer {token}")),
        None => builder,
    }
}

fn with_json(builder: RequestBuilder, body: &impl Serialize) -> Result<Request, ApiError> {
    builder.json(body).map_err(|_| ApiError::Unreadable)
}

fn without_body(builder: RequestBuilder) -> Result<Request, ApiError> {
    builder.build().map_err(|_| ApiError::Unreadable)
}

/// Sends the request; any non-2xx answer becomes an [`ApiError::Problem`].
async fn send(request: Result<Request, ApiError>) -> Result<Response, ApiError> {
    let response = request?.send().await.map_err(|_| ApiError::Network)?;
    if response.ok() {
        return Ok(response);
    }
    let status = response.status();
    let status_text = response.status_text();
    let problem = response.json::<Problem>().await.unwrap_or_else(|_| Problem {
        kind: "about:blank".to_owned(),
        title: if status_text.is_empty() { format!("Request failed ({status})") } else { status_text },
        status,
        detail: None,
        // Not the portal's answer (a proxy's error page): the nearest code of its status.
        code: match status {
            401 => ErrorCode::Unauthorized,
            403 => ErrorCode::Forbidden,
            404 => ErrorCode::NotFound,
            429 => ErrorCode::RateLimited,
            500.. => ErrorCode::InternalError,
            _ => ErrorCode::BadRequest,
        },
        field: None,
        required_scope: None,
    });
    Err(ApiError::Problem(Box::new(problem)))
}

/// The body of a successful answer (not generic, so compiled once for every endpoint).
async fn text(request: Result<Request, ApiError>) -> Result<String, ApiError> {
    send(request).await?.text().await.map_err(|_| ApiError::Unreadable)
}

async fn json<T: DeserializeOwned>(request: Result<Request, ApiError>) -> Result<T, ApiError> {
    serde_json::from_str(&text(request).await?).map_err(|_| ApiError::Unreadable)
}

async fn empty(request: Result<Request, ApiError>) -> Result<(), ApiError> {
    send(request).await.map(drop)
}

pub async fn signup(body: &SignupRequest) -> Result<Accepted, ApiError> {
    json(with_json(request(Method::POST, "/auth/signup", None), body)).await
}

pub async fn verify_email(token: &str) -> Result<(), ApiError> {
    let body = VerifyEmailRequest { token: token.to_owned() };
    empty(with_json(request(Method::POST, "/auth/verify-email", None), &body)).await
}

pub async fn resend_verification(email: &str) -> Result<Accepted, ApiError> {
    let body = EmailRequest { email: email.to_owned() };
    json(with_json(request(Method::POST, "/auth/resend-verification", None), &body)).await
}

/// What the password step answers.
#[derive(Debug, Clone)]
pub enum SignIn {
    Session(Session),
    /// The account has two-factor authentication: finish with [`login_two_factor`].
    TwoFactor(TwoFactorChallenge),
}

pub async fn sign_in(body: &LoginRequest) -> Result<SignIn, ApiError> {
    let response = send(with_json(request(Method::POST, "/auth/login", None), body)).await?;
    let challenged = response.status() == 202;
    let text = response.text().await.map_err(|_| ApiError::Unreadable)?;
    let parsed = match challenged {
        true => serde_json::from_str(&text).map(SignIn::TwoFactor),
        false => serde_json::from_str(&text).map(SignIn::Session),
    };
    parsed.map_err(|_| ApiError::Unreadable)
}

/// [`sign_in`] where a second step has no place (joining from an invitation): an account with
/// two-factor authentication is sent to the sign-in page.
pub async fn login(body: &LoginRequest) -> Result<Session, ApiError> {
    match sign_in(body).await? {
        SignIn::Session(session) => Ok(session),
        SignIn::TwoFactor(_) => Err(ApiError::Problem(Box::new(Problem {
            kind: "about:blank".to_owned(),
            title: "Two-factor authentication".to_owned(),
            status: 202,
            detail: Some(
                "Your account uses two-factor authentication: sign in first, then open the invitation link again."
                    .to_owned(),
            ),
            code: ErrorCode::TwoFactorRequired,
            field: None,
            required_scope: None,
        }))),
    }
}

pub async fn login_two_factor(body: &TwoFactorLoginRequest) -> Result<Session, ApiError> {
    json(with_json(request(Method::POST, "/auth/login/two-factor", None), body)).await
}

/// Trades the HttpOnly refresh cookie for a new session. Call it through
/// [`crate::session::Auth::refresh`], which makes sure only one runs at a time.
pub async fn refresh() -> Result<Session, ApiError> {
    json(without_body(request(Method::POST, "/auth/refresh", None))).await
}

pub async fn logout() -> Result<(), ApiError> {
    empty(without_body(request(Method::POST, "/auth/logout", None))).await
}

pub async fn forgot_password(email: &str) -> Result<Accepted, ApiError> {
    let body = EmailRequest { email: email.to_owned() };
    json(with_json(request(Method::POST, "/auth/forgot-password", None), &body)).await
}

pub async fn reset_password(body: &ResetPasswordRequest) -> Result<(), ApiError> {
    empty(with_json(request(Method::POST, "/auth/reset-password", None), body)).await
}

pub async fn me(token: &str) -> Result<User, ApiError> {
    json(without_body(request(Method::GET, "/me", Some(token)))).await
}

pub async fn update_me(token: &str, body: &UpdateMeRequest) -> Result<User, ApiError> {
    json(with_json(request(Method::PATCH, "/me", Some(token)), body)).await
}

pub async fn change_password(token: &str, body: &ChangePasswordRequest) -> Result<(), ApiError> {
    empty(with_json(request(Method::POST, "/me/password", Some(token)), body)).await
}

pub async fn sessions(token: &str) -> Result<SessionList, ApiError> {
    json(without_body(request(Method::GET, "/me/sessions", Some(token)))).await
}

pub async fn end_session(token: &str, session: Uuid) -> Result<(), ApiError> {
    empty(without_body(request(Method::DELETE, &format!("/me/sessions/{session}"), Some(token)))).await
}

pub async fn end_other_sessions(token: &str) -> Result<SessionsEnded, ApiError> {
    json(without_body(request(Method::DELETE, "/me/sessions/others", Some(token)))).await
}

pub async fn two_factor(token: &str) -> Result<TwoFactorStatus, ApiError> {
    json(without_body(request(Method::GET, "/me/two-factor", Some(token)))).await
}

pub async fn set_up_two_factor(token: &str, password: String) -> Result<TwoFactorSetup, ApiError> {
    let body = PasswordConfirmation { password };
    json(with_json(request(Method::POST, "/me/two-factor/setup", Some(token)), &body)).await
}

pub async fn enable_two_factor(token: &str, code: String) -> Result<RecoveryCodes, ApiError> {
    let body = EnableTwoFactorRequest { code };
    json(with_json(request(Method::POST, "/me/two-factor/enable", Some(token)), &body)).await
}

pub async fn disable_two_factor(token: &str, body: &DisableTwoFactorRequest) -> Result<(), ApiError> {
    empty(with_json(request(Method::POST, "/me/two-factor/disable", Some(token)), body)).await
}

pub async fn regenerate_recovery_codes(token: &str, password: String) -> Result<RecoveryCodes, ApiError> {
    let body = PasswordConfirmation { password };
    json(with_json(request(Method::POST, "/me/two-factor/recovery-codes", Some(token)), &body)).await
}

/// `?a=1&b=2` from the pairs that have a value (empty when none has).
fn query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> =
        pairs.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={}", encode(v)))).collect();
    if parts.is_empty() { String::new() } else { format!("?{}", parts.join("&")) }
}

fn encode(s: &str) -> String {
    leptos::web_sys::js_sys::encode_uri_component(s).into()
}

/// One page of a cursor-paginated list.
fn page(limit: u32, cursor: Option<String>) -> [(&'static str, Option<String>); 2] {
    [("limit", Some(limit.to_string())), ("cursor", cursor)]
}

pub async fn getting_started(token: String) -> Result<GettingStarted, ApiError> {
    json(without_body(request(Method::GET, "/me/getting-started", Some(&token)))).await
}

// ---------------------------------------------------------------- teams

pub async fn teams(token: String, cursor: Option<String>) -> Result<TeamPage, ApiError> {
    let q = query(&page(100, cursor));
    json(without_body(request(Method::GET, &format!("/teams{q}"), Some(&token)))).await
}

pub async fn create_team(token: String, body: CreateTeamRequest) -> Result<Team, ApiError> {
    json(with_json(request(Method::POST, "/teams", Some(&token)), &body)).await
}

pub async fn team(token: String, team: Uuid) -> Result<Team, ApiError> {
    json(without_body(request(Method::GET, &format!("/teams/{team}"), Some(&token)))).await
}

pub async fn roles(token: String) -> Result<RoleList, ApiError> {
    json(without_body(request(Method::GET, "/roles", Some(&token)))).await
}

pub async fn team_two_factor(token: String, team: Uuid) -> Result<TeamTwoFactor, ApiError> {
    json(without_body(request(Method::GET, &format!("/teams/{team}/two-factor"), Some(&token)))).await
}

pub async fn update_team(token: String, team: Uuid, body: UpdateTeamRequest) -> Result<Team, ApiError> {
    json(with_json(request(Method::PATCH, &format!("/teams/{team}"), Some(&token)), &body)).await
}

pub async fn delete_team(token: String, team: Uuid) -> Result<(), ApiError> {
    empty(without_body(request(Method::DELETE, &format!("/teams/{team}"), Some(&token)))).await
}

// ---------------------------------------------------------------- members

pub async fn members(token: String, team: Uuid, cursor: Option<String>) -> Result<MemberPage, ApiError> {
    let q = query(&page(100, cursor));
    json(without_body(request(Method::GET, &format!("/teams/{team}/members{q}"), Some(&token)))).await
}

pub async fn change_role(token: String, team: Uuid, user: Uuid, role: Role) -> Result<Member, ApiError> {
    let body = UpdateMemberRequest { role };
    json(with_json(request(Method::PATCH, &format!("/teams/{team}/members/{user}"), Some(&token)), &body)).await
}

/// Removes a member; with one's own id, leaves the team.
pub async fn remove_member(token: String, team: Uuid, user: Uuid) -> Result<(), ApiError> {
    empty(without_body(request(Method::DELETE, &format!("/teams/{team}/members/{user}"), Some(&token)))).await
}

// ---------------------------------------------------------------- invitations

pub async fn invitations(token: String, team: Uuid, cursor: Option<String>) -> Result<InvitationPage, ApiError> {
    let q = query(&page(50, cursor));
    json(without_body(request(Method::GET, &format!("/teams/{team}/invitations{q}"), Some(&token)))).await
}

pub async fn invite(token: String, team: Uuid, body: CreateInvitationRequest) -> Result<Invitation, ApiError> {
    json(with_json(request(Method::POST, &format!("/teams/{team}/invitations"), Some(&token)), &body)).await
}

pub async fn resend_invitation(token: String, team: Uuid, id: Uuid) -> Result<Invitation, ApiError> {
    let path = format!("/teams/{team}/invitations/{id}/resend");
    json(without_body(request(Method::POST, &path, Some(&token)))).await
}

pub async fn revoke_invitation(token: String, team: Uuid, id: Uuid) -> Result<(), ApiError> {
    empty(without_body(request(Method::DELETE, &format!("/teams/{team}/invitations/{id}"), Some(&token)))).await
}

/// Public: what an invitation link offers.
pub async fn preview_invitation(secret: String) -> Result<InvitationPreview, ApiError> {
    json(without_body(request(Method::GET, &format!("/invitations/{}", encode(&secret)), None))).await
}

pub async fn accept_invitation(token: String, secret: String) -> Result<Team, ApiError> {
    let body = AcceptInvitationRequest { token: secret };
    json(with_json(request(Method::POST, "/invitations/accept", Some(&token)), &body)).await
}

// ---------------------------------------------------------------- activity

/// Filters of the activity log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
}

pub async fn activity(
    token: String,
    team: Uuid,
    filter: ActivityFilter,
    cursor: Option<String>,
) -> Result<ActivityPage, ApiError> {
    let [limit, cursor] = page(25, cursor);
    let q = query(&[limit, cursor, ("actor", filter.actor), ("action", filter.action)]);
    json(without_body(request(Method::GET, &format!("/teams/{team}/activity{q}"), Some(&token)))).await
}

/// The whole activity log matching `filter`, as a file: `csv` or else NDJSON.
pub async fn export_activity(token: String, team: Uuid, filter: ActivityFilter, csv: bool) -> Result<String, ApiError> {
    let q = query(&[("actor", filter.actor), ("action", filter.action)]);
    let accept = if csv { "text/csv" } else { "application/x-ndjson" };
    let builder = request(Method::GET, &format!("/teams/{team}/activity{q}"), Some(&token)).header("Accept", accept);
    text(without_body(builder)).await
}

// ---------------------------------------------------------------- API keys

/// How the key list is searched, narrowed and ordered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyQuery {
    pub search: String,
    pub environment: Option<Environment>,
    pub status: Option<KeyStatusFilter>,
    pub sort: KeySort,
}

pub async fn api_keys(token: String, team: Uuid, q: KeyQuery, cursor: Option<String>) -> Result<ApiKeyPage, ApiError> {
    let [limit, cursor] = page(50, cursor);
    let q = query(&[
        limit,
        cursor,
        ("q", Some(q.search.trim().to_owned()).filter(|s| !s.is_empty())),
        ("environment", q.environment.map(|e| e.as_str().to_owned())),
        ("status", q.status.map(|s| s.as_str().to_owned())),
        ("sort", (q.sort != KeySort::Created).then(|| q.sort.as_str().to_owned())),
    ]);
    json(without_body(request(Method::GET, &format!("/teams/{team}/api-keys{q}"), Some(&token)))).await
}

pub async fn api_key(token: String, team: Uuid, key: Uuid) -> Result<ApiKey, ApiError> {
    json(without_body(request(Method::GET, &format!("/teams/{team}/api-keys/{key}"), Some(&token)))).await
}

pub async fn create_api_key(token: String, team: Uuid, body: CreateApiKeyRequest) -> Result<CreatedApiKey, ApiError> {
    json(with_json(request(Method::POST, &format!("/teams/{team}/api-keys"), Some(&token)), &body)).await
}

pub async fn update_api_key(
    token: String,
    team: Uuid,
    key: Uuid,
    body: UpdateApiKeyRequest,
) -> Result<ApiKey, ApiError> {
    json(with_json(request(Method::PATCH, &format!("/teams/{team}/api-keys/{key}"), Some(&token)), &body)).await
}

pub async fn revoke_api_key(token: String, team: Uuid, key: Uuid) -> Result<ApiKey, ApiError> {
    json(without_body(request(Method::POST, &format!("/teams/{team}/api-keys/{key}/revoke"), Some(&token)))).await
}

pub async fn roll_api_key(
    token: String,
    team: Uuid,
    key: Uuid,
    grace_period_seconds: u64,
) -> Result<CreatedApiKey, ApiError> {
    let body = RollApiKeyRequest { grace_period_seconds };
    json(with_json(request(Method::POST, &format!("/teams/{team}/api-keys/{key}/roll"), Some(&token)), &body)).await
}

pub async fn report_compromised(
    token: String,
    team: Uuid,
    key: Uuid,
    body: ReportCompromisedRequest,
) -> Result<CompromisedKey, ApiError> {
    json(with_json(request(Method::POST, &format!("/teams/{team}/api-keys/{key}/compromised"), Some(&token)), &body))
        .await
}

/// A time range of usage analytics (RFC 3339 bounds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRange {
    pub from: String,
    pub to: String,
    pub granularity: Granularity,
}

impl UsageRange {
    fn query(&self, format: Option<&str>) -> String {
        let granularity = match self.granularity {
            Granularity::Hour => "hour",
            Granularity::Day => "day",
        };
        query(&[
            ("from", Some(self.from.clone())),
            ("to", Some(self.to.clone())),
            ("granularity", Some(granularity.to_owned())),
            ("format", format.map(str::to_owned)),
        ])
    }
}

/// Whose usage a page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageOf {
    Key(Uuid, Uuid),
    Team(Uuid),
}

impl UsageOf {
    fn path(self) -> String {
        match self {
            Self::Key(team, key) => format!("/teams/{team}/api-keys/{key}/usage"),
            Self::Team(team) => format!("/teams/{team}/usage"),
        }
    }
}

/// The usage of a range as CSV (one line per bucket and status).
pub async fn usage_csv(token: String, of: UsageOf, range: UsageRange) -> Result<String, ApiError> {
    text(without_body(request(Method::GET, &format!("{}{}", of.path(), range.query(Some("csv"))), Some(&token)))).await
}

pub async fn key_usage(token: String, team: Uuid, key: Uuid, range: UsageRange) -> Result<Usage, ApiError> {
    let path = format!("{}{}", UsageOf::Key(team, key).path(), range.query(None));
    json(without_body(request(Method::GET, &path, Some(&token)))).await
}

// ---------------------------------------------------------------- webhooks

pub async fn webhooks(token: String, team: Uuid) -> Result<WebhookEndpointList, ApiError> {
    json(without_body(request(Method::GET, &format!("/teams/{team}/webhooks"), Some(&token)))).await
}

pub async fn create_webhook(
    token: String,
    team: Uuid,
    body: CreateWebhookEndpointRequest,
) -> Result<WebhookEndpointWithSecret, ApiError> {
    json(with_json(request(Method::POST, &format!("/teams/{team}/webhooks"), Some(&token)), &body)).await
}

pub async fn update_webhook(
    token: String,
    team: Uuid,
    endpoint: Uuid,
    body: UpdateWebhookEndpointRequest,
) -> Result<WebhookEndpoint, ApiError> {
    json(with_json(request(Method::PATCH, &format!("/teams/{team}/webhooks/{endpoint}"), Some(&token)), &body)).await
}

pub async fn delete_webhook(token: String, team: Uuid, endpoint: Uuid) -> Result<(), ApiError> {
    empty(without_body(request(Method::DELETE, &format!("/teams/{team}/webhooks/{endpoint}"), Some(&token)))).await
}

pub async fn rotate_webhook_secret(
    token: String,
    team: Uuid,
    endpoint: Uuid,
) -> Result<WebhookEndpointWithSecret, ApiError> {
    let path = format!("/teams/{team}/webhooks/{endpoint}/rotate-secret");
    json(with_json(request(Method::POST, &path, Some(&token)), &RotateWebhookSecretRequest::default())).await
}

pub async fn webhook_deliveries(
    token: String,
    team: Uuid,
    endpoint: Uuid,
    cursor: Option<String>,
) -> Result<WebhookDeliveryPage, ApiError> {
    let path = format!("/teams/{team}/webhooks/{endpoint}/deliveries{}", query(&page(25, cursor)));
    json(without_body(request(Method::GET, &path, Some(&token)))).await
}

pub async fn test_webhook(token: String, team: Uuid, endpoint: Uuid) -> Result<WebhookDelivery, ApiError> {
    json(without_body(request(Method::POST, &format!("/teams/{team}/webhooks/{endpoint}/test"), Some(&token)))).await
}

pub async fn redeliver_webhook(
    token: String,
    team: Uuid,
    endpoint: Uuid,
    delivery: Uuid,
) -> Result<WebhookDelivery, ApiError> {
    let path = format!("/teams/{team}/webhooks/{endpoint}/deliveries/{delivery}/redeliver");
    json(without_body(request(Method::POST, &path, Some(&token)))).await
}

pub async fn team_usage(token: String, team: Uuid, range: UsageRange) -> Result<TeamUsage, ApiError> {
    let path = format!("{}{}", UsageOf::Team(team).path(), range.query(None));
    json(without_body(request(Method::GET, &path, Some(&token)))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    use wasm_bindgen_test::wasm_bindgen_test;

    fn problem(code: ErrorCode, detail: Option<&str>, field: Option<&str>) -> ApiError {
        ApiError::Problem(Box::new(Problem {
            kind: format!("/problems/{code}"),
            title: "Unprocessable Entity".to_owned(),
            status: 422,
            detail: detail.map(str::to_owned),
            code,
            field: field.map(str::to_owned),
            required_scope: None,
        }))
    }

    #[wasm_bindgen_test]
    fn query_strings_skip_missing_values_and_encode_the_rest() {
        assert_eq!(query(&[("a", None)]), "");
        assert_eq!(
            query(&[("limit", Some("25".into())), ("cursor", None), ("action", Some("member.role_changed".into()))]),
            "?limit=25&action=member.role_changed"
        );
        assert_eq!(
            query(&[("from", Some("2025-01-01T00:00:00+00:00".into()))]),
            "?from=2025-01-01T00%3A00%3A00%2B00%3A00"
        );
    }

    #[wasm_bindgen_test]
    fn detail_is_shown_when_present() {
        let err = problem(ErrorCode::ValidationFailed, Some("Use at least 10 characters."), Some("password"));
        assert_eq!(err.message(), "Use at least 10 characters.");
    }

    #[wasm_bindgen_test]
    fn a_validation_message_names_the_field_by_its_label() {
        let ips = "allowed_ips \"not-an-ip\" is not an IPv4 or IPv6 address or CIDR block";
        assert_eq!(
            problem(ErrorCode::ValidationFailed, Some(ips), Some("allowed_ips")).message(),
            "Allowed IP addresses: \"not-an-ip\" is not an IPv4 or IPv6 address or CIDR block."
        );
        let alerts = "alert_thresholds need a monthly limit: they are percentages of it";
        assert_eq!(
            problem(ErrorCode::ValidationFailed, Some(alerts), Some("alert_thresholds")).message(),
            "Usage alerts need a monthly limit: they are percentages of it."
        );
        let burst = "rate_limit.burst must be from 1 to 100000";
        assert_eq!(
            problem(ErrorCode::ValidationFailed, Some(burst), Some("rate_limit.burst")).message(),
            "Burst must be from 1 to 100000."
        );
        // A detail that does not start with its field, or a field without a label, stays.
        let own = "Turn on two-factor authentication first.";
        assert_eq!(problem(ErrorCode::TwoFactorRequired, Some(own), Some("require_two_factor")).message(), own);
        assert_eq!(
            problem(ErrorCode::ValidationFailed, Some("limit must be 1"), Some("limit")).message(),
            "limit must be 1"
        );
    }

    #[wasm_bindgen_test]
    fn known_code_without_detail_gets_a_friendly_sentence() {
        let err = problem(ErrorCode::RateLimited, None, None);
        assert_eq!(err.message(), "Too many attempts. Please wait a minute and try again.");
        let blank = problem(ErrorCode::InvalidCredentials, Some("  "), None);
        assert_eq!(blank.message(), "The e-mail address or password is wrong.");
    }

    #[wasm_bindgen_test]
    fn unknown_code_without_detail_falls_back_to_title() {
        assert_eq!(problem(ErrorCode::Conflict, None, None).message(), "Unprocessable Entity");
    }

    #[wasm_bindgen_test]
    fn field_message_only_for_the_named_field() {
        let err = problem(ErrorCode::WrongPassword, None, Some("current_password"));
        assert_eq!(err.message_for("current_password").as_deref(), Some("That is not your current password."));
        assert_eq!(err.message_for("new_password"), None);
        assert_eq!(ApiError::Network.message_for("email"), None);
    }
}
