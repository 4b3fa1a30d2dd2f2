//! A typed client of the Partner Portal REST API: one method per operation of the OpenAPI
//! document, the wire types of `portal-types`, and problem+json answers as [`Error::Api`].
//!
//! ```no_run
//! # async fn run() -> Result<(), portal_client::Error> {
//! use portal_client::{Client, Page};
//! use portal_types::{CreateApiKeyRequest, Environment, Expiration, Scope};
//!
//! // An integrator with a team's API key.
//! let portal = Client::new("https://portal.example.com")?.with_token("pp_prod_…");
//! let team_id = "0f8fad5b-d9cb-469f-a165-70867728950e".parse().expect("a team id");
//! let keys = portal.list_api_keys(team_id, Page::first(50)).await?;
//! println!("{} keys", keys.items.len());
//! let created = portal
//!     .create_api_key(team_id, &CreateApiKeyRequest {
//!         name: "CI".into(),
//!         description: None,
//!         environment: Environment::Development,
//!         expiration: Expiration::Days30,
//!         usage_limit: Some(10_000),
//!         rate_limit: None,
//!         // Least privilege: only what this integration needs.
//!         scopes: Some(vec![Scope::TeamRead, Scope::UsageRead]),
//!         allowed_ips: None,
//!         alert_thresholds: None,
//!     })
//!     .await?;
//! println!("store this secret now: {}", created.secret);
//! # Ok(()) }
//! ```

use chrono::{DateTime, Utc};
use portal_types::*;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// What can go wrong with a call.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The portal answered with a problem (RFC 9457): `problem.code` says what, `problem.field`
    /// which request field.
    #[error("{} {}: {}", .problem.status, .problem.code, .problem.detail.as_deref().unwrap_or(&.problem.title))]
    Api { problem: Box<Problem> },
    /// The answer was not what the contract promises (a proxy's error page, a newer portal).
    #[error("unexpected answer {status}: {body}")]
    Unexpected { status: StatusCode, body: String },
    /// The request did not get an answer: connection, TLS, timeout.
    #[error(transparent)]
    Http(#[from] reqwest::Error),
    /// The base URL is not a URL.
    #[error("invalid base URL: {0}")]
    BaseUrl(String),
}

impl Error {
    /// The problem's code, if the portal answered with one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            Error::Api { problem } => Some(problem.code),
            _ => None,
        }
    }

    /// The HTTP status of an answer, if there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Api { problem } => Some(problem.status),
            Error::Unexpected { status, .. } => Some(status.as_u16()),
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// `?limit=&cursor=` of the list operations.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Page {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

impl Page {
    /// The first page of up to `limit` items.
    pub fn first(limit: u32) -> Self {
        Self { limit: Some(limit), cursor: None }
    }

    /// The page after the one that answered `next_cursor`.
    pub fn after(limit: u32, cursor: impl Into<String>) -> Self {
        Self { limit: Some(limit), cursor: Some(cursor.into()) }
    }
}

/// Filters of `listActivity`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ActivityFilter {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<Uuid>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
}

/// `?from=&to=&granularity=` of the usage operations; all optional (default: the last 24 hours).
#[derive(Debug, Clone, Default, Serialize)]
pub struct UsageRange {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granularity: Option<Granularity>,
}

#[derive(Serialize)]
struct Csv<'a> {
    #[serde(flatten)]
    range: &'a UsageRange,
    format: &'static str,
}

/// What `login` answers: a session, or a two-factor challenge.
#[derive(Debug, Clone)]
pub enum LoginOutcome {
    Session(Session),
    TwoFactor(TwoFactorChallenge),
}

/// A portal at a base URL, with an optional bearer: a user's access token, an API key
/// (`pp_…`), or the service token of `verifyApiKey`. The refresh cookie of `login` is kept, so
/// that `refresh_session` and `logout` work as in a browser.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

/// Every operation id of the OpenAPI document this client implements, in method order.
pub const OPERATIONS: &[&str] = &[
    "signup",
    "verifyEmail",
    "resendVerification",
    "login",
    "loginTwoFactor",
    "refreshSession",
    "logout",
    "forgotPassword",
    "resetPassword",
    "getMe",
    "getGettingStarted",
    "updateMe",
    "changePassword",
    "listSessions",
    "endSession",
    "endOtherSessions",
    "getTwoFactor",
    "setUpTwoFactor",
    "enableTwoFactor",
    "disableTwoFactor",
    "regenerateRecoveryCodes",
    "listTeams",
    "createTeam",
    "getTeam",
    "getTeamTwoFactor",
    "listRoles",
    "updateTeam",
    "deleteTeam",
    "listMembers",
    "updateMember",
    "removeMember",
    "listInvitations",
    "createInvitation",
    "revokeInvitation",
    "resendInvitation",
    "previewInvitation",
    "acceptInvitation",
    "listActivity",
    "listApiKeys",
    "createApiKey",
    "getApiKey",
    "updateApiKey",
    "revokeApiKey",
    "rollApiKey",
    "reportCompromisedApiKey",
    "getApiKeyUsage",
    "getTeamUsage",
    "listWebhookEndpoints",
    "createWebhookEndpoint",
    "getWebhookEndpoint",
    "updateWebhookEndpoint",
    "deleteWebhookEndpoint",
    "rotateWebhookSecret",
    "listWebhookDeliveries",
    "sendTestWebhook",
    "redeliverWebhook",
    "verifyApiKey",
    "reportLeakedKeys",
    "healthz",
    "readyz",
];

impl Client {
    /// A client of the portal at `base` (e.g. `https://portal.example.com`), with no bearer yet.
    pub fn new(base: &str) -> Result<Self> {
        let base = base.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(Error::BaseUrl(base.to_owned()));
        }
        let http = reqwest::Client::builder().cookie_store(true).build()?;
        Ok(Self { http, base: base.to_owned(), token: None })
    }

    /// The same portal and cookies, acting with `token` (an access token, API key or service token).
    pub fn with_token(&self, token: impl Into<String>) -> Self {
        Self { token: Some(token.into()), ..self.clone() }
    }

    /// The bearer this client sends, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        let req = self.http.request(method, format!("{}{path}", self.base)).header("accept", "application/json");
        match &self.token {
            Some(token) => req.bearer_auth(token),
            None => req,
        }
    }

    async fn answer(req: RequestBuilder) -> Result<reqwest::Response> {
        let res = req.send().await?;
        if res.status().is_success() {
            return Ok(res);
        }
        let status = res.status();
        let body = res.text().await?;
        match serde_json::from_str::<Problem>(&body) {
            Ok(problem) => Err(Error::Api { problem: Box::new(problem) }),
            Err(_) => Err(Error::Unexpected { status, body }),
        }
    }

    async fn json<T: DeserializeOwned>(req: RequestBuilder) -> Result<T> {
        let res = Self::answer(req).await?;
        let status = res.status();
        let body = res.text().await?;
        serde_json::from_str(&body).map_err(|_| Error::Unexpected { status, body })
    }

    async fn empty(req: RequestBuilder) -> Result<()> {
        Self::answer(req).await.map(drop)
    }

    async fn text(req: RequestBuilder) -> Result<String> {
        Ok(Self::answer(req).await?.text().await?)
    }

    // ---------------------------------------------------------------- auth

    pub async fn signup(&self, body: &SignupRequest) -> Result<Accepted> {
        Self::json(self.request(Method::POST, "/api/v1/auth/signup").json(body)).await
    }

    pub async fn verify_email(&self, body: &VerifyEmailRequest) -> Result<()> {
        Self::empty(self.request(Method::POST, "/api/v1/auth/verify-email").json(body)).await
    }

    pub async fn resend_verification(&self, body: &EmailRequest) -> Result<Accepted> {
        Self::json(self.request(Method::POST, "/api/v1/auth/resend-verification").json(body)).await
    }

    /// Signs in an account without two-factor authentication; keep the returned access token
    /// with [`Client::with_token`]. [`Client::login_or_challenge`] handles both kinds.
    pub async fn login(&self, body: &LoginRequest) -> Result<Session> {
        match self.login_or_challenge(body).await? {
            LoginOutcome::Session(session) => Ok(session),
            LoginOutcome::TwoFactor(_) => Err(Error::Unexpected {
                status: reqwest::StatusCode::ACCEPTED,
                body: "the account has two-factor authentication: use login_or_challenge".into(),
            }),
        }
    }

    /// Signs in: a session, or for an account with two-factor authentication the challenge to
    /// finish with [`Client::login_two_factor`].
    pub async fn login_or_challenge(&self, body: &LoginRequest) -> Result<LoginOutcome> {
        let res = Self::answer(self.request(Method::POST, "/api/v1/auth/login").json(body)).await?;
        let status = res.status();
        let text = res.text().await?;
        let parsed = match status {
            reqwest::StatusCode::ACCEPTED => serde_json::from_str(&text).map(LoginOutcome::TwoFactor),
            _ => serde_json::from_str(&text).map(LoginOutcome::Session),
        };
        parsed.map_err(|_| Error::Unexpected { status, body: text })
    }

    /// The second step of a sign-in with two-factor authentication.
    pub async fn login_two_factor(&self, body: &TwoFactorLoginRequest) -> Result<Session> {
        Self::json(self.request(Method::POST, "/api/v1/auth/login/two-factor").json(body)).await
    }

    pub async fn refresh_session(&self) -> Result<Session> {
        Self::json(self.request(Method::POST, "/api/v1/auth/refresh")).await
    }

    pub async fn logout(&self) -> Result<()> {
        Self::empty(self.request(Method::POST, "/api/v1/auth/logout")).await
    }

    pub async fn forgot_password(&self, body: &EmailRequest) -> Result<Accepted> {
        Self::json(self.request(Method::POST, "/api/v1/auth/forgot-password").json(body)).await
    }

    pub async fn reset_password(&self, body: &ResetPasswordRequest) -> Result<()> {
        Self::empty(self.request(Method::POST, "/api/v1/auth/reset-password").json(body)).await
    }

    // ---------------------------------------------------------------- me

    pub async fn get_me(&self) -> Result<User> {
        Self::json(self.request(Method::GET, "/api/v1/me")).await
    }

    pub async fn get_getting_started(&self) -> Result<GettingStarted> {
        Self::json(self.request(Method::GET, "/api/v1/me/getting-started")).await
    }

    pub async fn update_me(&self, body: &UpdateMeRequest) -> Result<User> {
        Self::json(self.request(Method::PATCH, "/api/v1/me").json(body)).await
    }

    pub async fn change_password(&self, body: &ChangePasswordRequest) -> Result<()> {
        Self::empty(self.request(Method::POST, "/api/v1/me/password").json(body)).await
    }

    pub async fn list_sessions(&self) -> Result<SessionList> {
        Self::json(self.request(Method::GET, "/api/v1/me/sessions")).await
    }

    pub async fn end_session(&self, session: Uuid) -> Result<()> {
        Self::empty(self.request(Method::DELETE, &format!("/api/v1/me/sessions/{session}"))).await
    }

    pub async fn end_other_sessions(&self) -> Result<SessionsEnded> {
        Self::json(self.request(Method::DELETE, "/api/v1/me/sessions/others")).await
    }

    pub async fn get_two_factor(&self) -> Result<TwoFactorStatus> {
        Self::json(self.request(Method::GET, "/api/v1/me/two-factor")).await
    }

    pub async fn set_up_two_factor(&self, body: &PasswordConfirmation) -> Result<TwoFactorSetup> {
        Self::json(self.request(Method::POST, "/api/v1/me/two-factor/setup").json(body)).await
    }

    pub async fn enable_two_factor(&self, body: &EnableTwoFactorRequest) -> Result<RecoveryCodes> {
        Self::json(self.request(Method::POST, "/api/v1/me/two-factor/enable").json(body)).await
    }

    pub async fn disable_two_factor(&self, body: &DisableTwoFactorRequest) -> Result<()> {
        Self::empty(self.request(Method::POST, "/api/v1/me/two-factor/disable").json(body)).await
    }

    pub async fn regenerate_recovery_codes(&self, body: &PasswordConfirmation) -> Result<RecoveryCodes> {
        Self::json(self.request(Method::POST, "/api/v1/me/two-factor/recovery-codes").json(body)).await
    }

    // ---------------------------------------------------------------- teams

    pub async fn list_teams(&self, page: Page) -> Result<TeamPage> {
        Self::json(self.request(Method::GET, "/api/v1/teams").query(&page)).await
    }

    pub async fn create_team(&self, body: &CreateTeamRequest) -> Result<Team> {
        Self::json(self.request(Method::POST, "/api/v1/teams").json(body)).await
    }

    pub async fn get_team(&self, team: Uuid) -> Result<Team> {
        Self::json(self.request(Method::GET, &format!("/api/v1/teams/{team}"))).await
    }

    pub async fn list_roles(&self) -> Result<RoleList> {
        Self::json(self.request(Method::GET, "/api/v1/roles")).await
    }

    pub async fn get_team_two_factor(&self, team: Uuid) -> Result<TeamTwoFactor> {
        Self::json(self.request(Method::GET, &format!("/api/v1/teams/{team}/two-factor"))).await
    }

    pub async fn update_team(&self, team: Uuid, body: &UpdateTeamRequest) -> Result<Team> {
        Self::json(self.request(Method::PATCH, &format!("/api/v1/teams/{team}")).json(body)).await
    }

    pub async fn delete_team(&self, team: Uuid) -> Result<()> {
        Self::empty(self.request(Method::DELETE, &format!("/api/v1/teams/{team}"))).await
    }

    // ---------------------------------------------------------------- members

    pub async fn list_members(&self, team: Uuid, page: Page) -> Result<MemberPage> {
        Self::json(self.request(Method::GET, &format!("/api/v1/teams/{team}/members")).query(&page)).await
    }

    pub async fn update_member(&self, team: Uuid, user: Uuid, body: &UpdateMemberRequest) -> Result<Member> {
        Self::json(self.request(Method::PATCH, &format!("/api/v1/teams/{team}/members/{user}")).json(body)).await
    }

    pub async fn remove_member(&self, team: Uuid, user: Uuid) -> Result<()> {
        Self::empty(self.request(Method::DELETE, &format!("/api/v1/teams/{team}/members/{user}"))).await
    }

    // ---------------------------------------------------------------- invitations

    pub async fn list_invitations(&self, team: Uuid, page: Page) -> Result<InvitationPage> {
        Self::json(self.request(Method::GET, &format!("/api/v1/teams/{team}/invitations")).query(&page)).await
    }

    pub async fn create_invitation(&self, team: Uuid, body: &CreateInvitationRequest) -> Result<Invitation> {
        Self::json(self.request(Method::POST, &format!("/api/v1/teams/{team}/invitations")).json(body)).await
    }

    pub async fn revoke_invitation(&self, team: Uuid, invitation: Uuid) -> Result<()> {
        Self::empty(self.request(Method::DELETE, &format!("/api/v1/teams/{team}/invitations/{invitation}"))).await
    }

    pub async fn resend_invitation(&self, team: Uuid, invitation: Uuid) -> Result<Invitation> {
        Self::json(self.request(Method::POST, &format!("/api/v1/teams/{team}/invitations/{invitation}/resend"))).await
    }

    /// What an invitation link offers, without signing in.
    pub async fn preview_invitation(&self, token: &str) -> Result<InvitationPreview> {
        Self::json(self.request(Method::GET, &format!("/api/v1/invitations/{token}"))).await
    }

    pub async fn accept_invitation(&self, body: &AcceptInvitationRequest) -> Result<Team> {
        Self::json(self.request(Method::POST, "/api/v1/invitations/accept").json(body)).await
    }

    // ---------------------------------------------------------------- activity

    pub async fn list_activity(&self, team: Uuid, page: Page, filter: &ActivityFilter) -> Result<ActivityPage> {
        let req = self.request(Method::GET, &format!("/api/v1/teams/{team}/activity"));
        Self::json(req.query(&page).query(filter)).await
    }

    // ---------------------------------------------------------------- API keys

    pub async fn list_api_keys(&self, team: Uuid, page: Page) -> Result<ApiKeyPage> {
        Self::json(self.request(Method::GET, &format!("/api/v1/teams/{team}/api-keys")).query(&page)).await
    }

    pub async fn create_api_key(&self, team: Uuid, body: &CreateApiKeyRequest) -> Result<CreatedApiKey> {
        Self::json(self.request(Method::POST, &format!("/api/v1/teams/{team}/api-keys")).json(body)).await
    }

    pub async fn get_api_key(&self, team: Uuid, key: Uuid) -> Result<ApiKey> {
        Self::json(self.request(Method::GET, &format!("/api/v1/teams/{team}/api-keys/{key}"))).await
    }

    pub async fn update_api_key(&self, team: Uuid, key: Uuid, body: &UpdateApiKeyRequest) -> Result<ApiKey> {
        Self::json(self.request(Method::PATCH, &format!("/api/v1/teams/{team}/api-keys/{key}")).json(body)).await
    }

    pub async fn revoke_api_key(&self, team: Uuid, key: Uuid) -> Result<ApiKey> {
        Self::json(self.request(Method::POST, &format!("/api/v1/teams/{team}/api-keys/{key}/revoke"))).await
    }

    pub async fn roll_api_key(&self, team: Uuid, key: Uuid, body: &RollApiKeyRequest) -> Result<CreatedApiKey> {
        Self::json(self.request(Method::POST, &format!("/api/v1/teams/{team}/api-keys/{key}/roll")).json(body)).await
    }

    /// Revokes a compromised key at once; with a `replacement_name`, issues a replacement.
    pub async fn report_compromised_api_key(
        &self,
        team: Uuid,
        key: Uuid,
        body: &ReportCompromisedRequest,
    ) -> Result<CompromisedKey> {
        Self::json(self.request(Method::POST, &format!("/api/v1/teams/{team}/api-keys/{key}/compromised")).json(body))
            .await
    }

    pub async fn get_api_key_usage(&self, team: Uuid, key: Uuid, range: &UsageRange) -> Result<Usage> {
        Self::json(self.request(Method::GET, &format!("/api/v1/teams/{team}/api-keys/{key}/usage")).query(range)).await
    }

    /// The key's usage as CSV (`format=csv`).
    pub async fn get_api_key_usage_csv(&self, team: Uuid, key: Uuid, range: &UsageRange) -> Result<String> {
        let query = Csv { range, format: "csv" };
        Self::text(self.request(Method::GET, &format!("/api/v1/teams/{team}/api-keys/{key}/usage")).query(&query)).await
    }

    pub async fn get_team_usage(&self, team: Uuid, range: &UsageRange) -> Result<TeamUsage> {
        Self::json(self.request(Method::GET, &format!("/api/v1/teams/{team}/usage")).query(range)).await
    }

    /// The team's usage as CSV (`format=csv`).
    pub async fn get_team_usage_csv(&self, team: Uuid, range: &UsageRange) -> Result<String> {
        let query = Csv { range, format: "csv" };
        Self::text(self.request(Method::GET, &format!("/api/v1/teams/{team}/usage")).query(&query)).await
    }

    // ---------------------------------------------------------------- webhooks

    pub async fn list_webhook_endpoints(&self, team: Uuid) -> Result<WebhookEndpointList> {
        Self::json(self.request(Method::GET, &format!("/api/v1/teams/{team}/webhooks"))).await
    }

    pub async fn create_webhook_endpoint(
        &self,
        team: Uuid,
        body: &CreateWebhookEndpointRequest,
    ) -> Result<WebhookEndpointWithSecret> {
        Self::json(self.request(Method::POST, &format!("/api/v1/teams/{team}/webhooks")).json(body)).await
    }

    pub async fn get_webhook_endpoint(&self, team: Uuid, endpoint: Uuid) -> Result<WebhookEndpoint> {
        Self::json(self.request(Method::GET, &format!("/api/v1/teams/{team}/webhooks/{endpoint}"))).await
    }

    pub async fn update_webhook_endpoint(
        &self,
        team: Uuid,
        endpoint: Uuid,
        body: &UpdateWebhookEndpointRequest,
    ) -> Result<WebhookEndpoint> {
        Self::json(self.request(Method::PATCH, &format!("/api/v1/teams/{team}/webhooks/{endpoint}")).json(body)).await
    }

    pub async fn delete_webhook_endpoint(&self, team: Uuid, endpoint: Uuid) -> Result<()> {
        Self::empty(self.request(Method::DELETE, &format!("/api/v1/teams/{team}/webhooks/{endpoint}"))).await
    }

    pub async fn rotate_webhook_secret(
        &self,
        team: Uuid,
        endpoint: Uuid,
        body: &RotateWebhookSecretRequest,
    ) -> Result<WebhookEndpointWithSecret> {
        let path = format!("/api/v1/teams/{team}/webhooks/{endpoint}/rotate-secret");
        Self::json(self.request(Method::POST, &path).json(body)).await
    }

    pub async fn list_webhook_deliveries(&self, team: Uuid, endpoint: Uuid, page: Page) -> Result<WebhookDeliveryPage> {
        let path = format!("/api/v1/teams/{team}/webhooks/{endpoint}/deliveries");
        Self::json(self.request(Method::GET, &path).query(&page)).await
    }

    pub async fn send_test_webhook(&self, team: Uuid, endpoint: Uuid) -> Result<WebhookDelivery> {
        Self::json(self.request(Method::POST, &format!("/api/v1/teams/{team}/webhooks/{endpoint}/test"))).await
    }

    pub async fn redeliver_webhook(&self, team: Uuid, endpoint: Uuid, delivery: Uuid) -> Result<WebhookDelivery> {
        let path = format!("/api/v1/teams/{team}/webhooks/{endpoint}/deliveries/{delivery}/redeliver");
        Self::json(self.request(Method::POST, &path)).await
    }

    /// Checks a key for the platform's other services; the client's token is the service token.
    pub async fn verify_api_key(&self, body: &VerifyKeyRequest) -> Result<VerifyKeyResponse> {
        Self::json(self.request(Method::POST, "/api/v1/keys/verify").json(body)).await
    }

    /// Reports leaked keys with the service token (our own scanners); GitHub signs its reports
    /// instead.
    pub async fn report_leaked_keys(&self, tokens: &[LeakedToken]) -> Result<Vec<LeakFeedback>> {
        Self::json(self.request(Method::POST, "/api/v1/keys/leaks").json(tokens)).await
    }

    // ---------------------------------------------------------------- health

    pub async fn healthz(&self) -> Result<Health> {
        Self::json(self.request(Method::GET, "/healthz")).await
    }

    pub async fn readyz(&self) -> Result<Health> {
        Self::json(self.request(Method::GET, "/readyz")).await
    }
}
