//! The REST API: one function per endpoint, each turning the answer into a typed result.
//!
//! Error answers are `application/problem+json` bodies ([`Problem`]); anything else that goes
//! wrong becomes an [`ApiError`] as well, so that every screen handles one error type.

use std::fmt;

use gloo_net::http::{Method, Request, RequestBuilder, Response};
use portal_client::ops::{self, Call, Export, LoginOutcome, Page};
use portal_types::{
    AcceptInvitationRequest, Accepted, ActivityPage, ApiKey, ApiKeyPage, ChangePasswordRequest, CompromisedKey,
    CreateApiKeyRequest, CreateInvitationRequest, CreateTeamRequest, CreatedApiKey, DeliveryState,
    DisableTwoFactorRequest, EmailRequest, EnableTwoFactorRequest, Environment, ErrorCode, GettingStarted, Granularity,
    Invitation, InvitationPage, InvitationPreview, KeySort, KeyStatusFilter, LoginRequest, Member, MemberPage,
    PasswordConfirmation, Problem, RecoveryCodes, ReportCompromisedRequest, ResetPasswordRequest, Role, RoleList,
    RollApiKeyRequest, Session, SessionList, SessionsEnded, SignupRequest, Team, TeamPage, TeamTwoFactor, TeamUsage,
    TwoFactorChallenge, TwoFactorLoginRequest, TwoFactorSetup, TwoFactorStatus, UpdateApiKeyRequest, UpdateMeRequest,
    UpdateMemberRequest, UpdateTeamRequest, Usage, User, VerifyEmailRequest,
};
use portal_types::{
    CreateWebhookEndpointRequest, RotateWebhookSecretRequest, UpdateWebhookEndpointRequest, WebhookDelivery,
    WebhookDeliveryPage, WebhookEndpoint, WebhookEndpointList, WebhookEndpointWithSecret,
};
use uuid::Uuid;

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

    /// For `sso_required`: where a sign-in at the team's identity provider starts.
    pub fn sso_url(&self) -> Option<String> {
        match self {
            Self::Problem(p) => p.sso_url.clone(),
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
        "busy" => "The server is busy checking passwords. Please try again in a few seconds.",
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

/// Sends `call` (with `token` as the bearer) and reads its answer; any non-2xx answer becomes
/// an [`ApiError::Problem`].
async fn call<T>(token: Option<&str>, call: Call<T>) -> Result<T, ApiError> {
    let (status, body) = exchange(token, call.method(), &call.path, call.accept, call.body.as_deref()).await?;
    call.read(status, &body).ok_or(ApiError::Unreadable)
}

/// The request and its successful answer (not generic, so compiled once for every endpoint).
async fn exchange(
    token: Option<&str>,
    method: ops::Method,
    path: &str,
    accept: &str,
    body: Option<&str>,
) -> Result<(u16, String), ApiError> {
    let method = match method {
        ops::Method::Get => Method::GET,
        ops::Method::Post => Method::POST,
        ops::Method::Patch => Method::PATCH,
        ops::Method::Delete => Method::DELETE,
    };
    let mut builder = RequestBuilder::new(path).method(method).header("Accept", accept);
    if let Some(token) = token {
        builder = builder.header("Authorization", &format!("Bearer {token}"));
    }
    let request = match body {
        Some(body) => builder.header("Content-Type", "application/json").body(body),
        None => builder.build(),
    };
    let response = send(request.map_err(|_| ApiError::Unreadable)?).await?;
    let status = response.status();
    Ok((status, response.text().await.map_err(|_| ApiError::Unreadable)?))
}

async fn send(request: Request) -> Result<Response, ApiError> {
    let response = request.send().await.map_err(|_| ApiError::Network)?;
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
        sso_url: None,
        request_id: None,
    });
    Err(ApiError::Problem(Box::new(problem)))
}

pub async fn signup(body: &SignupRequest) -> Result<Accepted, ApiError> {
    call(None, ops::signup(body)).await
}

pub async fn verify_email(token: &str) -> Result<(), ApiError> {
    call(None, ops::verify_email(&VerifyEmailRequest { token: token.to_owned().into() })).await
}

pub async fn resend_verification(email: &str) -> Result<Accepted, ApiError> {
    call(None, ops::resend_verification(&EmailRequest { email: email.to_owned().into() })).await
}

/// What the password step answers.
#[derive(Debug, Clone)]
pub enum SignIn {
    Session(Session),
    /// The account has two-factor authentication: finish with [`login_two_factor`].
    TwoFactor(TwoFactorChallenge),
}

pub async fn sign_in(body: &LoginRequest) -> Result<SignIn, ApiError> {
    Ok(match call(None, ops::login(body)).await? {
        LoginOutcome::Session(session) => SignIn::Session(session),
        LoginOutcome::TwoFactor(challenge) => SignIn::TwoFactor(challenge),
    })
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
            sso_url: None,
            request_id: None,
        }))),
    }
}

pub async fn login_two_factor(body: &TwoFactorLoginRequest) -> Result<Session, ApiError> {
    call(None, ops::login_two_factor(body)).await
}

/// Trades the HttpOnly refresh cookie for a new session. Call it through
/// [`crate::session::Auth::refresh`], which makes sure only one runs at a time.
pub async fn refresh() -> Result<Session, ApiError> {
    call(None, ops::refresh_session()).await
}

pub async fn logout() -> Result<(), ApiError> {
    call(None, ops::logout()).await
}

pub async fn forgot_password(email: &str) -> Result<Accepted, ApiError> {
    call(None, ops::forgot_password(&EmailRequest { email: email.to_owned().into() })).await
}

pub async fn reset_password(body: &ResetPasswordRequest) -> Result<(), ApiError> {
    call(None, ops::reset_password(body)).await
}

pub async fn me(token: &str) -> Result<User, ApiError> {
    call(Some(token), ops::get_me()).await
}

pub async fn update_me(token: &str, body: &UpdateMeRequest) -> Result<User, ApiError> {
    call(Some(token), ops::update_me(body)).await
}

pub async fn change_password(token: &str, body: &ChangePasswordRequest) -> Result<(), ApiError> {
    call(Some(token), ops::change_password(body)).await
}

pub async fn sessions(token: &str) -> Result<SessionList, ApiError> {
    call(Some(token), ops::list_sessions()).await
}

pub async fn end_session(token: &str, session: Uuid) -> Result<(), ApiError> {
    call(Some(token), ops::end_session(session)).await
}

pub async fn end_other_sessions(token: &str) -> Result<SessionsEnded, ApiError> {
    call(Some(token), ops::end_other_sessions()).await
}

pub async fn two_factor(token: &str) -> Result<TwoFactorStatus, ApiError> {
    call(Some(token), ops::get_two_factor()).await
}

pub async fn set_up_two_factor(token: &str, password: String) -> Result<TwoFactorSetup, ApiError> {
    call(Some(token), ops::set_up_two_factor(&PasswordConfirmation { password: password.into() })).await
}

pub async fn enable_two_factor(token: &str, code: String) -> Result<RecoveryCodes, ApiError> {
    call(Some(token), ops::enable_two_factor(&EnableTwoFactorRequest { code })).await
}

pub async fn disable_two_factor(token: &str, body: &DisableTwoFactorRequest) -> Result<(), ApiError> {
    call(Some(token), ops::disable_two_factor(body)).await
}

pub async fn regenerate_recovery_codes(token: &str, password: String) -> Result<RecoveryCodes, ApiError> {
    call(Some(token), ops::regenerate_recovery_codes(&PasswordConfirmation { password: password.into() })).await
}

pub async fn getting_started(token: String) -> Result<GettingStarted, ApiError> {
    call(Some(&token), ops::get_getting_started()).await
}

// ---------------------------------------------------------------- teams

pub async fn teams(token: String, cursor: Option<String>) -> Result<TeamPage, ApiError> {
    call(Some(&token), ops::list_teams(&Page::at(100, cursor))).await
}

pub async fn create_team(token: String, body: CreateTeamRequest) -> Result<Team, ApiError> {
    call(Some(&token), ops::create_team(&body)).await
}

pub async fn team(token: String, team: Uuid) -> Result<Team, ApiError> {
    call(Some(&token), ops::get_team(team)).await
}

/// The operator's help links (public).
pub async fn help_links() -> Result<portal_types::HelpLinks, ApiError> {
    call(None, ops::get_help_links()).await
}

pub async fn roles(token: String) -> Result<RoleList, ApiError> {
    call(Some(&token), ops::list_roles()).await
}

pub async fn team_two_factor(token: String, team: Uuid) -> Result<TeamTwoFactor, ApiError> {
    call(Some(&token), ops::get_team_two_factor(team)).await
}

pub async fn update_team(token: String, team: Uuid, body: UpdateTeamRequest) -> Result<Team, ApiError> {
    call(Some(&token), ops::update_team(team, &body)).await
}

pub async fn delete_team(token: String, team: Uuid) -> Result<(), ApiError> {
    call(Some(&token), ops::delete_team(team)).await
}

// ---------------------------------------------------------------- members

pub async fn members(token: String, team: Uuid, cursor: Option<String>) -> Result<MemberPage, ApiError> {
    call(Some(&token), ops::list_members(team, &Page::at(100, cursor))).await
}

pub async fn change_role(token: String, team: Uuid, user: Uuid, role: Role) -> Result<Member, ApiError> {
    call(Some(&token), ops::update_member(team, user, &UpdateMemberRequest { role })).await
}

/// Removes a member; with one's own id, leaves the team.
pub async fn remove_member(token: String, team: Uuid, user: Uuid) -> Result<(), ApiError> {
    call(Some(&token), ops::remove_member(team, user)).await
}

// ---------------------------------------------------------------- invitations

pub async fn invitations(token: String, team: Uuid, cursor: Option<String>) -> Result<InvitationPage, ApiError> {
    call(Some(&token), ops::list_invitations(team, &Page::at(50, cursor))).await
}

pub async fn invite(token: String, team: Uuid, body: CreateInvitationRequest) -> Result<Invitation, ApiError> {
    call(Some(&token), ops::create_invitation(team, &body)).await
}

pub async fn resend_invitation(token: String, team: Uuid, id: Uuid) -> Result<Invitation, ApiError> {
    call(Some(&token), ops::resend_invitation(team, id)).await
}

pub async fn revoke_invitation(token: String, team: Uuid, id: Uuid) -> Result<(), ApiError> {
    call(Some(&token), ops::revoke_invitation(team, id)).await
}

/// Public: what an invitation link offers.
pub async fn preview_invitation(secret: String) -> Result<InvitationPreview, ApiError> {
    call(None, ops::preview_invitation(&secret)).await
}

pub async fn accept_invitation(token: String, secret: String) -> Result<Team, ApiError> {
    call(Some(&token), ops::accept_invitation(&AcceptInvitationRequest { token: secret.into() })).await
}

// ---------------------------------------------------------------- activity

/// Filters of the activity log, as the form holds them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    /// Entries at or after this moment (RFC 3339).
    pub from: Option<String>,
    /// Entries before this moment (RFC 3339).
    pub to: Option<String>,
}

impl ActivityFilter {
    fn wire(&self) -> ops::ActivityFilter {
        let time = |t: &Option<String>| {
            t.as_deref().and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok()).map(|t| t.to_utc())
        };
        ops::ActivityFilter {
            actor: self.actor.as_deref().and_then(|a| a.parse().ok()),
            action: self.action.clone(),
            from: time(&self.from),
            to: time(&self.to),
        }
    }
}

pub async fn activity(
    token: String,
    team: Uuid,
    filter: ActivityFilter,
    cursor: Option<String>,
) -> Result<ActivityPage, ApiError> {
    call(Some(&token), ops::list_activity(team, &Page::at(25, cursor), &filter.wire())).await
}

/// The whole activity log matching `filter`, as a file: `csv` or else NDJSON.
pub async fn export_activity(token: String, team: Uuid, filter: ActivityFilter, csv: bool) -> Result<String, ApiError> {
    let format = if csv { Export::Csv } else { Export::Ndjson };
    call(Some(&token), ops::export_activity(team, &filter.wire(), format)).await
}

// ---------------------------------------------------------------- API keys

/// How the key list is searched, narrowed and ordered, as the form holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyQuery {
    pub search: String,
    pub environment: Option<Environment>,
    pub status: Option<KeyStatusFilter>,
    pub sort: KeySort,
}

pub async fn api_keys(token: String, team: Uuid, q: KeyQuery, cursor: Option<String>) -> Result<ApiKeyPage, ApiError> {
    let narrowed = ops::KeyQuery {
        search: Some(q.search.trim().to_owned()).filter(|s| !s.is_empty()),
        environment: q.environment,
        status: q.status,
        sort: (q.sort != KeySort::Created).then_some(q.sort),
    };
    call(Some(&token), ops::list_api_keys(team, &Page::at(50, cursor), &narrowed)).await
}

pub async fn api_key(token: String, team: Uuid, key: Uuid) -> Result<ApiKey, ApiError> {
    call(Some(&token), ops::get_api_key(team, key)).await
}

pub async fn create_api_key(token: String, team: Uuid, body: CreateApiKeyRequest) -> Result<CreatedApiKey, ApiError> {
    call(Some(&token), ops::create_api_key(team, &body)).await
}

pub async fn update_api_key(
    token: String,
    team: Uuid,
    key: Uuid,
    body: UpdateApiKeyRequest,
) -> Result<ApiKey, ApiError> {
    call(Some(&token), ops::update_api_key(team, key, &body)).await
}

pub async fn revoke_api_key(token: String, team: Uuid, key: Uuid) -> Result<ApiKey, ApiError> {
    call(Some(&token), ops::revoke_api_key(team, key)).await
}

pub async fn roll_api_key(
    token: String,
    team: Uuid,
    key: Uuid,
    grace_period_seconds: u64,
) -> Result<CreatedApiKey, ApiError> {
    call(Some(&token), ops::roll_api_key(team, key, &RollApiKeyRequest { grace_period_seconds })).await
}

pub async fn report_compromised(
    token: String,
    team: Uuid,
    key: Uuid,
    body: ReportCompromisedRequest,
) -> Result<CompromisedKey, ApiError> {
    call(Some(&token), ops::report_compromised_api_key(team, key, &body)).await
}

/// A time range of usage analytics (RFC 3339 bounds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRange {
    pub from: String,
    pub to: String,
    pub granularity: Granularity,
}

impl UsageRange {
    fn wire(&self) -> ops::UsageRange {
        let time = |t: &str| chrono::DateTime::parse_from_rfc3339(t).ok().map(|t| t.to_utc());
        ops::UsageRange { from: time(&self.from), to: time(&self.to), granularity: Some(self.granularity) }
    }
}

/// Whose usage a page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UsageOf {
    Key(Uuid, Uuid),
    Team(Uuid),
}

/// The usage of a range as CSV (one line per bucket and status).
pub async fn usage_csv(token: String, of: UsageOf, range: UsageRange) -> Result<String, ApiError> {
    let csv = match of {
        UsageOf::Key(team, key) => ops::get_api_key_usage_csv(team, key, &range.wire()),
        UsageOf::Team(team) => ops::get_team_usage_csv(team, &range.wire()),
    };
    call(Some(&token), csv).await
}

pub async fn key_usage(token: String, team: Uuid, key: Uuid, range: UsageRange) -> Result<Usage, ApiError> {
    call(Some(&token), ops::get_api_key_usage(team, key, &range.wire())).await
}

pub async fn team_usage(token: String, team: Uuid, range: UsageRange) -> Result<TeamUsage, ApiError> {
    call(Some(&token), ops::get_team_usage(team, &range.wire())).await
}

// ---------------------------------------------------------------- webhooks

pub async fn joinable_teams(token: &str) -> Result<portal_types::JoinableTeamList, ApiError> {
    call(Some(token), ops::list_joinable_teams()).await
}

pub async fn join_team(token: String, team: Uuid) -> Result<Team, ApiError> {
    call(Some(&token), ops::join_team(team)).await
}

// ---------------------------------------------------------------- single sign-on

/// Home-realm discovery: where an address signs in with single sign-on.
pub async fn discover_sso(email: &str) -> Result<portal_types::SsoStart, ApiError> {
    call(None, ops::discover_sso(&portal_types::SsoDiscoveryRequest { email: email.to_owned().into() })).await
}

pub async fn sso_connections(token: String, team: Uuid) -> Result<portal_types::SsoConnectionList, ApiError> {
    call(Some(&token), ops::list_sso_connections(team)).await
}

pub async fn create_sso_connection(
    token: String,
    team: Uuid,
    body: portal_types::CreateSsoConnectionRequest,
) -> Result<portal_types::SsoConnection, ApiError> {
    call(Some(&token), ops::create_sso_connection(team, &body)).await
}

pub async fn update_sso_connection(
    token: String,
    team: Uuid,
    connection: Uuid,
    body: portal_types::UpdateSsoConnectionRequest,
) -> Result<portal_types::SsoConnection, ApiError> {
    call(Some(&token), ops::update_sso_connection(team, connection, &body)).await
}

pub async fn delete_sso_connection(token: String, team: Uuid, connection: Uuid) -> Result<(), ApiError> {
    call(Some(&token), ops::delete_sso_connection(team, connection)).await
}

pub async fn test_sso_connection(
    token: String,
    team: Uuid,
    connection: Uuid,
) -> Result<portal_types::SsoStart, ApiError> {
    call(Some(&token), ops::test_sso_connection(team, connection)).await
}

// ---------------------------------------------------------------- domains

pub async fn domains(token: String, team: Uuid) -> Result<portal_types::TeamDomainList, ApiError> {
    call(Some(&token), ops::list_domains(team)).await
}

pub async fn add_domain(token: String, team: Uuid, domain: String) -> Result<portal_types::TeamDomain, ApiError> {
    call(Some(&token), ops::add_domain(team, &portal_types::AddDomainRequest { domain: domain.into() })).await
}

pub async fn verify_domain(token: String, team: Uuid, domain: Uuid) -> Result<portal_types::TeamDomain, ApiError> {
    call(Some(&token), ops::verify_domain(team, domain)).await
}

pub async fn set_domain_join_rule(
    token: String,
    team: Uuid,
    domain: Uuid,
    join_rule: portal_types::DomainJoinRule,
) -> Result<portal_types::TeamDomain, ApiError> {
    call(Some(&token), ops::update_domain(team, domain, &portal_types::UpdateDomainRequest { join_rule })).await
}

pub async fn remove_domain(token: String, team: Uuid, domain: Uuid) -> Result<(), ApiError> {
    call(Some(&token), ops::remove_domain(team, domain)).await
}

pub async fn webhooks(token: String, team: Uuid) -> Result<WebhookEndpointList, ApiError> {
    call(Some(&token), ops::list_webhook_endpoints(team)).await
}

pub async fn create_webhook(
    token: String,
    team: Uuid,
    body: CreateWebhookEndpointRequest,
) -> Result<WebhookEndpointWithSecret, ApiError> {
    call(Some(&token), ops::create_webhook_endpoint(team, &body)).await
}

pub async fn update_webhook(
    token: String,
    team: Uuid,
    endpoint: Uuid,
    body: UpdateWebhookEndpointRequest,
) -> Result<WebhookEndpoint, ApiError> {
    call(Some(&token), ops::update_webhook_endpoint(team, endpoint, &body)).await
}

pub async fn delete_webhook(token: String, team: Uuid, endpoint: Uuid) -> Result<(), ApiError> {
    call(Some(&token), ops::delete_webhook_endpoint(team, endpoint)).await
}

pub async fn rotate_webhook_secret(
    token: String,
    team: Uuid,
    endpoint: Uuid,
) -> Result<WebhookEndpointWithSecret, ApiError> {
    call(Some(&token), ops::rotate_webhook_secret(team, endpoint, &RotateWebhookSecretRequest::default())).await
}

pub async fn webhook_deliveries(
    token: String,
    team: Uuid,
    endpoint: Uuid,
    state: Option<DeliveryState>,
    cursor: Option<String>,
) -> Result<WebhookDeliveryPage, ApiError> {
    call(Some(&token), ops::list_webhook_deliveries(team, endpoint, &Page::at(25, cursor), state)).await
}

pub async fn test_webhook(token: String, team: Uuid, endpoint: Uuid) -> Result<WebhookDelivery, ApiError> {
    call(Some(&token), ops::send_test_webhook(team, endpoint)).await
}

pub async fn redeliver_webhook(
    token: String,
    team: Uuid,
    endpoint: Uuid,
    delivery: Uuid,
) -> Result<WebhookDelivery, ApiError> {
    call(Some(&token), ops::redeliver_webhook(team, endpoint, delivery)).await
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
            sso_url: None,
            request_id: None,
        }))
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
