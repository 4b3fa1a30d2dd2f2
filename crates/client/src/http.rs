//! The client over HTTP (reqwest): sends the [`ops`] calls, keeps the refresh cookie.

use portal_types::*;
use reqwest::StatusCode;
use uuid::Uuid;

use crate::ops::{self, Call, KeyQuery, LoginOutcome, Page};
use crate::{ActivityFilter, UsageRange};

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

/// A portal at a base URL, with an optional bearer: a user's access token, an API key
/// (`pp_…`), or the service token of `verifyApiKey`. The refresh cookie of `login` is kept, so
/// that `refresh_session` and `logout` work as in a browser.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    token: Option<String>,
}

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

    /// Sends `call` and reads its answer: a problem+json answer becomes [`Error::Api`].
    pub async fn send<T>(&self, call: Call<T>) -> Result<T> {
        let (status, body) = self.exchange(&call).await?;
        if !status.is_success() {
            return Err(match serde_json::from_str::<Problem>(&body) {
                Ok(problem) => Error::Api { problem: Box::new(problem) },
                Err(_) => Error::Unexpected { status, body },
            });
        }
        call.read(status.as_u16(), &body).ok_or(Error::Unexpected { status, body })
    }

    /// Sends `call` and gives back the answer's status and body as they came, whatever they are.
    pub async fn exchange<T>(&self, call: &Call<T>) -> Result<(StatusCode, String)> {
        let method = match call.method() {
            ops::Method::Get => reqwest::Method::GET,
            ops::Method::Post => reqwest::Method::POST,
            ops::Method::Patch => reqwest::Method::PATCH,
            ops::Method::Delete => reqwest::Method::DELETE,
        };
        let mut req = self.http.request(method, format!("{}{}", self.base, call.path)).header("accept", call.accept);
        if let Some(token) = &self.token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = &call.body {
            req = req.header("content-type", "application/json").body(body.clone());
        }
        let res = req.send().await?;
        let status = res.status();
        Ok((status, res.text().await?))
    }

    pub async fn signup(&self, body: &SignupRequest) -> Result<Accepted> {
        self.send(ops::signup(body)).await
    }

    pub async fn verify_email(&self, body: &VerifyEmailRequest) -> Result<()> {
        self.send(ops::verify_email(body)).await
    }

    pub async fn resend_verification(&self, body: &EmailRequest) -> Result<Accepted> {
        self.send(ops::resend_verification(body)).await
    }

    /// Signs in an account without two-factor authentication; keep the returned access token
    /// with [`Client::with_token`]. [`Client::login_or_challenge`] handles both kinds.
    pub async fn login(&self, body: &LoginRequest) -> Result<Session> {
        match self.login_or_challenge(body).await? {
            LoginOutcome::Session(session) => Ok(session),
            LoginOutcome::TwoFactor(_) => Err(Error::Unexpected {
                status: StatusCode::ACCEPTED,
                body: "the account has two-factor authentication: use login_or_challenge".into(),
            }),
        }
    }

    /// Signs in: a session, or for an account with two-factor authentication the challenge to
    /// finish with [`Client::login_two_factor`].
    pub async fn login_or_challenge(&self, body: &LoginRequest) -> Result<LoginOutcome> {
        self.send(ops::login(body)).await
    }

    /// The second step of a sign-in with two-factor authentication.
    pub async fn login_two_factor(&self, body: &TwoFactorLoginRequest) -> Result<Session> {
        self.send(ops::login_two_factor(body)).await
    }

    pub async fn refresh_session(&self) -> Result<Session> {
        self.send(ops::refresh_session()).await
    }

    pub async fn logout(&self) -> Result<()> {
        self.send(ops::logout()).await
    }

    pub async fn forgot_password(&self, body: &EmailRequest) -> Result<Accepted> {
        self.send(ops::forgot_password(body)).await
    }

    pub async fn reset_password(&self, body: &ResetPasswordRequest) -> Result<()> {
        self.send(ops::reset_password(body)).await
    }

    pub async fn get_me(&self) -> Result<User> {
        self.send(ops::get_me()).await
    }

    pub async fn get_getting_started(&self) -> Result<GettingStarted> {
        self.send(ops::get_getting_started()).await
    }

    pub async fn update_me(&self, body: &UpdateMeRequest) -> Result<User> {
        self.send(ops::update_me(body)).await
    }

    pub async fn change_password(&self, body: &ChangePasswordRequest) -> Result<()> {
        self.send(ops::change_password(body)).await
    }

    pub async fn list_sessions(&self) -> Result<SessionList> {
        self.send(ops::list_sessions()).await
    }

    pub async fn end_session(&self, session: Uuid) -> Result<()> {
        self.send(ops::end_session(session)).await
    }

    pub async fn end_other_sessions(&self) -> Result<SessionsEnded> {
        self.send(ops::end_other_sessions()).await
    }

    pub async fn get_two_factor(&self) -> Result<TwoFactorStatus> {
        self.send(ops::get_two_factor()).await
    }

    pub async fn set_up_two_factor(&self, body: &PasswordConfirmation) -> Result<TwoFactorSetup> {
        self.send(ops::set_up_two_factor(body)).await
    }

    pub async fn enable_two_factor(&self, body: &EnableTwoFactorRequest) -> Result<RecoveryCodes> {
        self.send(ops::enable_two_factor(body)).await
    }

    pub async fn disable_two_factor(&self, body: &DisableTwoFactorRequest) -> Result<()> {
        self.send(ops::disable_two_factor(body)).await
    }

    pub async fn regenerate_recovery_codes(&self, body: &PasswordConfirmation) -> Result<RecoveryCodes> {
        self.send(ops::regenerate_recovery_codes(body)).await
    }

    pub async fn list_teams(&self, page: Page) -> Result<TeamPage> {
        self.send(ops::list_teams(&page)).await
    }

    pub async fn create_team(&self, body: &CreateTeamRequest) -> Result<Team> {
        self.send(ops::create_team(body)).await
    }

    pub async fn get_team(&self, team: Uuid) -> Result<Team> {
        self.send(ops::get_team(team)).await
    }

    pub async fn list_roles(&self) -> Result<RoleList> {
        self.send(ops::list_roles()).await
    }

    pub async fn get_team_two_factor(&self, team: Uuid) -> Result<TeamTwoFactor> {
        self.send(ops::get_team_two_factor(team)).await
    }

    pub async fn update_team(&self, team: Uuid, body: &UpdateTeamRequest) -> Result<Team> {
        self.send(ops::update_team(team, body)).await
    }

    pub async fn delete_team(&self, team: Uuid) -> Result<()> {
        self.send(ops::delete_team(team)).await
    }

    pub async fn list_members(&self, team: Uuid, page: Page) -> Result<MemberPage> {
        self.send(ops::list_members(team, &page)).await
    }

    pub async fn update_member(&self, team: Uuid, user: Uuid, body: &UpdateMemberRequest) -> Result<Member> {
        self.send(ops::update_member(team, user, body)).await
    }

    pub async fn remove_member(&self, team: Uuid, user: Uuid) -> Result<()> {
        self.send(ops::remove_member(team, user)).await
    }

    pub async fn list_invitations(&self, team: Uuid, page: Page) -> Result<InvitationPage> {
        self.send(ops::list_invitations(team, &page)).await
    }

    pub async fn create_invitation(&self, team: Uuid, body: &CreateInvitationRequest) -> Result<Invitation> {
        self.send(ops::create_invitation(team, body)).await
    }

    pub async fn revoke_invitation(&self, team: Uuid, invitation: Uuid) -> Result<()> {
        self.send(ops::revoke_invitation(team, invitation)).await
    }

    pub async fn resend_invitation(&self, team: Uuid, invitation: Uuid) -> Result<Invitation> {
        self.send(ops::resend_invitation(team, invitation)).await
    }

    /// What an invitation link offers, without signing in.
    pub async fn preview_invitation(&self, token: &str) -> Result<InvitationPreview> {
        self.send(ops::preview_invitation(token)).await
    }

    pub async fn accept_invitation(&self, body: &AcceptInvitationRequest) -> Result<Team> {
        self.send(ops::accept_invitation(body)).await
    }

    pub async fn list_activity(&self, team: Uuid, page: Page, filter: &ActivityFilter) -> Result<ActivityPage> {
        self.send(ops::list_activity(team, &page, filter)).await
    }

    pub async fn list_api_keys(&self, team: Uuid, page: Page) -> Result<ApiKeyPage> {
        self.send(ops::list_api_keys(team, &page, &KeyQuery::default())).await
    }

    pub async fn create_api_key(&self, team: Uuid, body: &CreateApiKeyRequest) -> Result<CreatedApiKey> {
        self.send(ops::create_api_key(team, body)).await
    }

    pub async fn get_api_key(&self, team: Uuid, key: Uuid) -> Result<ApiKey> {
        self.send(ops::get_api_key(team, key)).await
    }

    pub async fn update_api_key(&self, team: Uuid, key: Uuid, body: &UpdateApiKeyRequest) -> Result<ApiKey> {
        self.send(ops::update_api_key(team, key, body)).await
    }

    pub async fn revoke_api_key(&self, team: Uuid, key: Uuid) -> Result<ApiKey> {
        self.send(ops::revoke_api_key(team, key)).await
    }

    pub async fn roll_api_key(&self, team: Uuid, key: Uuid, body: &RollApiKeyRequest) -> Result<CreatedApiKey> {
        self.send(ops::roll_api_key(team, key, body)).await
    }

    /// Revokes a compromised key at once; with a `replacement_name`, issues a replacement.
    pub async fn report_compromised_api_key(
        &self,
        team: Uuid,
        key: Uuid,
        body: &ReportCompromisedRequest,
    ) -> Result<CompromisedKey> {
        self.send(ops::report_compromised_api_key(team, key, body)).await
    }

    pub async fn get_api_key_usage(&self, team: Uuid, key: Uuid, range: &UsageRange) -> Result<Usage> {
        self.send(ops::get_api_key_usage(team, key, range)).await
    }

    /// The key's usage as CSV (`format=csv`).
    pub async fn get_api_key_usage_csv(&self, team: Uuid, key: Uuid, range: &UsageRange) -> Result<String> {
        self.send(ops::get_api_key_usage_csv(team, key, range)).await
    }

    pub async fn get_team_usage(&self, team: Uuid, range: &UsageRange) -> Result<TeamUsage> {
        self.send(ops::get_team_usage(team, range)).await
    }

    /// The team's usage as CSV (`format=csv`).
    pub async fn get_team_usage_csv(&self, team: Uuid, range: &UsageRange) -> Result<String> {
        self.send(ops::get_team_usage_csv(team, range)).await
    }

    pub async fn list_webhook_endpoints(&self, team: Uuid) -> Result<WebhookEndpointList> {
        self.send(ops::list_webhook_endpoints(team)).await
    }

    pub async fn create_webhook_endpoint(
        &self,
        team: Uuid,
        body: &CreateWebhookEndpointRequest,
    ) -> Result<WebhookEndpointWithSecret> {
        self.send(ops::create_webhook_endpoint(team, body)).await
    }

    pub async fn get_webhook_endpoint(&self, team: Uuid, endpoint: Uuid) -> Result<WebhookEndpoint> {
        self.send(ops::get_webhook_endpoint(team, endpoint)).await
    }

    pub async fn update_webhook_endpoint(
        &self,
        team: Uuid,
        endpoint: Uuid,
        body: &UpdateWebhookEndpointRequest,
    ) -> Result<WebhookEndpoint> {
        self.send(ops::update_webhook_endpoint(team, endpoint, body)).await
    }

    pub async fn delete_webhook_endpoint(&self, team: Uuid, endpoint: Uuid) -> Result<()> {
        self.send(ops::delete_webhook_endpoint(team, endpoint)).await
    }

    pub async fn list_domains(&self, team: Uuid) -> Result<TeamDomainList> {
        self.send(ops::list_domains(team)).await
    }

    pub async fn add_domain(&self, team: Uuid, body: &AddDomainRequest) -> Result<TeamDomain> {
        self.send(ops::add_domain(team, body)).await
    }

    pub async fn verify_domain(&self, team: Uuid, domain: Uuid) -> Result<TeamDomain> {
        self.send(ops::verify_domain(team, domain)).await
    }

    pub async fn update_domain(&self, team: Uuid, domain: Uuid, body: &UpdateDomainRequest) -> Result<TeamDomain> {
        self.send(ops::update_domain(team, domain, body)).await
    }

    pub async fn remove_domain(&self, team: Uuid, domain: Uuid) -> Result<()> {
        self.send(ops::remove_domain(team, domain)).await
    }

    pub async fn rotate_webhook_secret(
        &self,
        team: Uuid,
        endpoint: Uuid,
        body: &RotateWebhookSecretRequest,
    ) -> Result<WebhookEndpointWithSecret> {
        self.send(ops::rotate_webhook_secret(team, endpoint, body)).await
    }

    pub async fn list_webhook_deliveries(
        &self,
        team: Uuid,
        endpoint: Uuid,
        page: Page,
        state: Option<DeliveryState>,
    ) -> Result<WebhookDeliveryPage> {
        self.send(ops::list_webhook_deliveries(team, endpoint, &page, state)).await
    }

    pub async fn send_test_webhook(&self, team: Uuid, endpoint: Uuid) -> Result<WebhookDelivery> {
        self.send(ops::send_test_webhook(team, endpoint)).await
    }

    pub async fn redeliver_webhook(&self, team: Uuid, endpoint: Uuid, delivery: Uuid) -> Result<WebhookDelivery> {
        self.send(ops::redeliver_webhook(team, endpoint, delivery)).await
    }

    /// Checks a key for the platform's other services; the client's token is the service token.
    pub async fn verify_api_key(&self, body: &VerifyKeyRequest) -> Result<VerifyKeyResponse> {
        self.send(ops::verify_api_key(body)).await
    }

    /// Reports leaked keys with the service token (our own scanners); GitHub signs its reports
    /// instead.
    pub async fn report_leaked_keys(&self, tokens: &[LeakedToken]) -> Result<Vec<LeakFeedback>> {
        self.send(ops::report_leaked_keys(tokens)).await
    }

    pub async fn healthz(&self) -> Result<Health> {
        self.send(ops::healthz()).await
    }

    pub async fn readyz(&self) -> Result<Health> {
        self.send(ops::readyz()).await
    }
}
