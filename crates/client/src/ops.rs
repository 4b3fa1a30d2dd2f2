//! Every operation of the REST API as a value: its method and path, the query, the JSON body
//! and how its answer is read. No I/O here: the native [`crate::Client`] (feature `http`), the
//! web app (over `fetch`) and the tests send the same [`Call`]s, so that one description of the
//! API serves them all. [`ALL`] lists every operation; a test holds it to the OpenAPI document.

use std::fmt::{Display, Write as _};
use std::marker::PhantomData;

use chrono::{DateTime, Utc};
use portal_types::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use uuid::Uuid;

/// An HTTP method of the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Patch,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }
}

/// An operation of the OpenAPI document: its id, method and path template, and as `B` the type
/// of its request body ([`NoBody`] for none). A [`Call`] of it can only be made with a body of
/// that type.
pub struct Operation<B: ?Sized + 'static = NoBody> {
    pub id: &'static str,
    pub method: Method,
    /// As the document writes it: `/api/v1/teams/{team_id}`.
    pub path: &'static str,
    _body: PhantomData<fn(&B)>,
}

/// The body type of an operation without a request body.
pub enum NoBody {}

/// What an operation says of itself, whatever its body type.
pub trait Described: Sync {
    fn id(&self) -> &'static str;
    fn method(&self) -> Method;
    fn path(&self) -> &'static str;
    /// The request body's type without module paths (`CreateApiKeyRequest`, `[LeakedToken]`),
    /// or None for an operation without a body.
    fn body(&self) -> Option<String>;
}

impl<B: ?Sized + 'static> Described for Operation<B> {
    fn id(&self) -> &'static str {
        self.id
    }

    fn method(&self) -> Method {
        self.method
    }

    fn path(&self) -> &'static str {
        self.path
    }

    fn body(&self) -> Option<String> {
        (std::any::TypeId::of::<B>() != std::any::TypeId::of::<NoBody>())
            .then(|| short_type_name(std::any::type_name::<B>()))
    }
}

impl std::fmt::Debug for dyn Described {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} {}", self.id(), self.method().as_str(), self.path())
    }
}

/// One request of an operation, ready to send, and how to read its answer into `T`.
pub struct Call<T> {
    pub operation: &'static dyn Described,
    /// The path with its parameters and query: `/api/v1/teams/…/api-keys?limit=50`.
    pub path: String,
    /// What the `Accept` header asks for.
    pub accept: &'static str,
    /// The JSON body, if the operation has one.
    pub body: Option<String>,
    read: fn(u16, &str) -> Option<T>,
    _answer: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Call<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.method().as_str(), self.path)
    }
}

impl<T> Call<T> {
    pub fn method(&self) -> Method {
        self.operation.method()
    }

    /// Reads a successful answer (its status and body); None when it is not what the
    /// operation promises.
    pub fn read(&self, status: u16, body: &str) -> Option<T> {
        (self.read)(status, body)
    }

    /// A call of an operation without a body.
    fn new(operation: &'static Operation, params: &[&dyn Display], read: fn(u16, &str) -> Option<T>) -> Self {
        Self::to(operation, params, read)
    }

    /// A call of an operation with a body of its type.
    fn with<B: Serialize + ?Sized>(
        operation: &'static Operation<B>,
        params: &[&dyn Display],
        body: &B,
        read: fn(u16, &str) -> Option<T>,
    ) -> Self {
        let mut call = Self::to(operation, params, read);
        // The wire types serialise without fail (no maps with non-string keys, no I/O).
        call.body = Some(serde_json::to_string(body).unwrap_or_default());
        call
    }

    fn to(operation: &'static dyn Described, params: &[&dyn Display], read: fn(u16, &str) -> Option<T>) -> Self {
        let template = operation.path();
        let mut path = String::with_capacity(template.len() + 40);
        let mut params = params.iter();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            path.push_str(&rest[..open]);
            let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
            if let Some(param) = params.next() {
                encode_into(&mut path, &param.to_string());
            }
            rest = &rest[close..];
        }
        path.push_str(rest);
        Self { operation, path, accept: "application/json", body: None, read, _answer: PhantomData }
    }

    fn query(mut self, pairs: &[(&str, Option<String>)]) -> Self {
        for (name, value) in pairs {
            let Some(value) = value else { continue };
            self.path.push(if self.path.contains('?') { '&' } else { '?' });
            self.path.push_str(name);
            self.path.push('=');
            encode_into(&mut self.path, value);
        }
        self
    }

    fn accept(mut self, accept: &'static str) -> Self {
        self.accept = accept;
        self
    }
}

/// `portal_types::keys::CreateApiKeyRequest` → `CreateApiKeyRequest`; `[a::B]` → `[B]`.
fn short_type_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut word = String::new();
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_alphanumeric() || c == '_' {
            word.push(c);
        } else if c == ':' && chars.peek() == Some(&':') {
            chars.next();
            word.clear();
        } else {
            out.push_str(&word);
            word.clear();
            out.push(c);
        }
    }
    out.push_str(&word);
    out
}

/// Percent-encodes all but the unreserved characters of RFC 3986.
fn encode_into(out: &mut String, text: &str) {
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => out.push(char::from(byte)),
            _ => {
                let _ = write!(out, "%{byte:02X}");
            }
        }
    }
}

fn json<T: DeserializeOwned>(_: u16, body: &str) -> Option<T> {
    serde_json::from_str(body).ok()
}

fn empty(_: u16, _: &str) -> Option<()> {
    Some(())
}

fn text(_: u16, body: &str) -> Option<String> {
    Some(body.to_owned())
}

/// `?limit=&cursor=` of the list operations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    pub limit: Option<u32>,
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

    /// Up to `limit` items, after `cursor` when there is one.
    pub fn at(limit: u32, cursor: Option<String>) -> Self {
        Self { limit: Some(limit), cursor }
    }

    fn pairs(&self) -> [(&'static str, Option<String>); 2] {
        [("limit", self.limit.map(|l| l.to_string())), ("cursor", self.cursor.clone())]
    }
}

/// Filters of `listActivity`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivityFilter {
    pub actor: Option<Uuid>,
    pub action: Option<String>,
    /// Entries at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Entries before this time.
    pub to: Option<DateTime<Utc>>,
}

impl ActivityFilter {
    fn pairs(&self) -> [(&'static str, Option<String>); 4] {
        let time = |t: &DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        [
            ("actor", self.actor.map(|a| a.to_string())),
            ("action", self.action.clone()),
            ("from", self.from.as_ref().map(time)),
            ("to", self.to.as_ref().map(time)),
        ]
    }
}

/// How `listApiKeys` searches, narrows and orders; all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyQuery {
    pub search: Option<String>,
    pub environment: Option<Environment>,
    pub status: Option<KeyStatusFilter>,
    pub sort: Option<KeySort>,
}

impl KeyQuery {
    fn pairs(&self) -> [(&'static str, Option<String>); 4] {
        [
            ("q", self.search.clone()),
            ("environment", self.environment.map(|e| e.as_str().to_owned())),
            ("status", self.status.map(|s| s.as_str().to_owned())),
            ("sort", self.sort.map(|s| s.as_str().to_owned())),
        ]
    }
}

/// `?from=&to=&granularity=` of the usage operations; all optional (default: the last 24 hours).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageRange {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub granularity: Option<Granularity>,
}

impl UsageRange {
    fn pairs(&self, csv: bool) -> [(&'static str, Option<String>); 4] {
        let time = |t: &DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        [
            ("from", self.from.as_ref().map(time)),
            ("to", self.to.as_ref().map(time)),
            (
                "granularity",
                self.granularity.map(|g| {
                    match g {
                        Granularity::Minute => "minute",
                        Granularity::Hour => "hour",
                        Granularity::Day => "day",
                    }
                    .to_owned()
                }),
            ),
            ("format", csv.then(|| "csv".to_owned())),
        ]
    }
}

/// What `login` answers: a session, or a two-factor challenge.
#[derive(Debug, Clone)]
pub enum LoginOutcome {
    Session(Session),
    TwoFactor(TwoFactorChallenge),
}

fn login_outcome(status: u16, body: &str) -> Option<LoginOutcome> {
    match status {
        202 => serde_json::from_str(body).ok().map(LoginOutcome::TwoFactor),
        _ => serde_json::from_str(body).ok().map(LoginOutcome::Session),
    }
}

/// The format of an activity export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Export {
    Csv,
    Ndjson,
}

macro_rules! operations {
    ($($name:ident = $id:literal $method:ident $path:literal $(body $body:ty)?;)*) => {
        /// The operations of the API, by their id in the OpenAPI document.
        pub mod operation {
            use portal_types::*;
            use std::marker::PhantomData;
            use super::{Method, NoBody, Operation};
            $(
                pub static $name: Operation<operations!(@body $($body)?)> =
                    Operation { id: $id, method: Method::$method, path: $path, _body: PhantomData };
            )*
        }

        /// Every operation of the API.
        pub static ALL: &[&dyn Described] = &[$(&operation::$name),*];
    };
    (@body) => { NoBody };
    (@body $body:ty) => { $body };
}

operations! {
    SIGNUP = "signup" Post "/api/v1/auth/signup" body SignupRequest;
    VERIFY_EMAIL = "verifyEmail" Post "/api/v1/auth/verify-email" body VerifyEmailRequest;
    RESEND_VERIFICATION = "resendVerification" Post "/api/v1/auth/resend-verification" body EmailRequest;
    LOGIN = "login" Post "/api/v1/auth/login" body LoginRequest;
    LOGIN_TWO_FACTOR = "loginTwoFactor" Post "/api/v1/auth/login/two-factor" body TwoFactorLoginRequest;
    REFRESH_SESSION = "refreshSession" Post "/api/v1/auth/refresh";
    LOGOUT = "logout" Post "/api/v1/auth/logout";
    FORGOT_PASSWORD = "forgotPassword" Post "/api/v1/auth/forgot-password" body EmailRequest;
    RESET_PASSWORD = "resetPassword" Post "/api/v1/auth/reset-password" body ResetPasswordRequest;
    GET_ME = "getMe" Get "/api/v1/me";
    GET_GETTING_STARTED = "getGettingStarted" Get "/api/v1/me/getting-started";
    UPDATE_ME = "updateMe" Patch "/api/v1/me" body UpdateMeRequest;
    CHANGE_PASSWORD = "changePassword" Post "/api/v1/me/password" body ChangePasswordRequest;
    LIST_SESSIONS = "listSessions" Get "/api/v1/me/sessions";
    END_SESSION = "endSession" Delete "/api/v1/me/sessions/{session_id}";
    END_OTHER_SESSIONS = "endOtherSessions" Delete "/api/v1/me/sessions/others";
    GET_TWO_FACTOR = "getTwoFactor" Get "/api/v1/me/two-factor";
    SET_UP_TWO_FACTOR = "setUpTwoFactor" Post "/api/v1/me/two-factor/setup" body PasswordConfirmation;
    ENABLE_TWO_FACTOR = "enableTwoFactor" Post "/api/v1/me/two-factor/enable" body EnableTwoFactorRequest;
    DISABLE_TWO_FACTOR = "disableTwoFactor" Post "/api/v1/me/two-factor/disable" body DisableTwoFactorRequest;
    REGENERATE_RECOVERY_CODES = "regenerateRecoveryCodes" Post "/api/v1/me/two-factor/recovery-codes" body PasswordConfirmation;
    LIST_TEAMS = "listTeams" Get "/api/v1/teams";
    CREATE_TEAM = "createTeam" Post "/api/v1/teams" body CreateTeamRequest;
    GET_TEAM = "getTeam" Get "/api/v1/teams/{team_id}";
    GET_TEAM_TWO_FACTOR = "getTeamTwoFactor" Get "/api/v1/teams/{team_id}/two-factor";
    LIST_ROLES = "listRoles" Get "/api/v1/roles";
    UPDATE_TEAM = "updateTeam" Patch "/api/v1/teams/{team_id}" body UpdateTeamRequest;
    DELETE_TEAM = "deleteTeam" Delete "/api/v1/teams/{team_id}";
    LIST_MEMBERS = "listMembers" Get "/api/v1/teams/{team_id}/members";
    UPDATE_MEMBER = "updateMember" Patch "/api/v1/teams/{team_id}/members/{user_id}" body UpdateMemberRequest;
    REMOVE_MEMBER = "removeMember" Delete "/api/v1/teams/{team_id}/members/{user_id}";
    LIST_INVITATIONS = "listInvitations" Get "/api/v1/teams/{team_id}/invitations";
    CREATE_INVITATION = "createInvitation" Post "/api/v1/teams/{team_id}/invitations" body CreateInvitationRequest;
    REVOKE_INVITATION = "revokeInvitation" Delete "/api/v1/teams/{team_id}/invitations/{invitation_id}";
    RESEND_INVITATION = "resendInvitation" Post "/api/v1/teams/{team_id}/invitations/{invitation_id}/resend";
    PREVIEW_INVITATION = "previewInvitation" Get "/api/v1/invitations/{token}";
    ACCEPT_INVITATION = "acceptInvitation" Post "/api/v1/invitations/accept" body AcceptInvitationRequest;
    LIST_ACTIVITY = "listActivity" Get "/api/v1/teams/{team_id}/activity";
    LIST_API_KEYS = "listApiKeys" Get "/api/v1/teams/{team_id}/api-keys";
    CREATE_API_KEY = "createApiKey" Post "/api/v1/teams/{team_id}/api-keys" body CreateApiKeyRequest;
    GET_API_KEY = "getApiKey" Get "/api/v1/teams/{team_id}/api-keys/{key_id}";
    UPDATE_API_KEY = "updateApiKey" Patch "/api/v1/teams/{team_id}/api-keys/{key_id}" body UpdateApiKeyRequest;
    REVOKE_API_KEY = "revokeApiKey" Post "/api/v1/teams/{team_id}/api-keys/{key_id}/revoke";
    ROLL_API_KEY = "rollApiKey" Post "/api/v1/teams/{team_id}/api-keys/{key_id}/roll" body RollApiKeyRequest;
    REPORT_COMPROMISED_API_KEY = "reportCompromisedApiKey" Post "/api/v1/teams/{team_id}/api-keys/{key_id}/compromised" body ReportCompromisedRequest;
    GET_API_KEY_USAGE = "getApiKeyUsage" Get "/api/v1/teams/{team_id}/api-keys/{key_id}/usage";
    GET_TEAM_USAGE = "getTeamUsage" Get "/api/v1/teams/{team_id}/usage";
    LIST_WEBHOOK_ENDPOINTS = "listWebhookEndpoints" Get "/api/v1/teams/{team_id}/webhooks";
    CREATE_WEBHOOK_ENDPOINT = "createWebhookEndpoint" Post "/api/v1/teams/{team_id}/webhooks" body CreateWebhookEndpointRequest;
    GET_WEBHOOK_ENDPOINT = "getWebhookEndpoint" Get "/api/v1/teams/{team_id}/webhooks/{endpoint_id}";
    UPDATE_WEBHOOK_ENDPOINT = "updateWebhookEndpoint" Patch "/api/v1/teams/{team_id}/webhooks/{endpoint_id}" body UpdateWebhookEndpointRequest;
    DELETE_WEBHOOK_ENDPOINT = "deleteWebhookEndpoint" Delete "/api/v1/teams/{team_id}/webhooks/{endpoint_id}";
    ROTATE_WEBHOOK_SECRET = "rotateWebhookSecret" Post "/api/v1/teams/{team_id}/webhooks/{endpoint_id}/rotate-secret" body RotateWebhookSecretRequest;
    LIST_WEBHOOK_DELIVERIES = "listWebhookDeliveries" Get "/api/v1/teams/{team_id}/webhooks/{endpoint_id}/deliveries";
    SEND_TEST_WEBHOOK = "sendTestWebhook" Post "/api/v1/teams/{team_id}/webhooks/{endpoint_id}/test";
    REDELIVER_WEBHOOK = "redeliverWebhook" Post "/api/v1/teams/{team_id}/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver";
    LIST_DOMAINS = "listDomains" Get "/api/v1/teams/{team_id}/domains";
    ADD_DOMAIN = "addDomain" Post "/api/v1/teams/{team_id}/domains" body AddDomainRequest;
    VERIFY_DOMAIN = "verifyDomain" Post "/api/v1/teams/{team_id}/domains/{domain_id}/verify";
    UPDATE_DOMAIN = "updateDomain" Patch "/api/v1/teams/{team_id}/domains/{domain_id}" body UpdateDomainRequest;
    REMOVE_DOMAIN = "removeDomain" Delete "/api/v1/teams/{team_id}/domains/{domain_id}";
    LIST_JOINABLE_TEAMS = "listJoinableTeams" Get "/api/v1/me/joinable-teams";
    JOIN_TEAM = "joinTeam" Post "/api/v1/teams/{team_id}/join";
    LIST_SSO_CONNECTIONS = "listSsoConnections" Get "/api/v1/teams/{team_id}/sso/connections";
    CREATE_SSO_CONNECTION = "createSsoConnection" Post "/api/v1/teams/{team_id}/sso/connections" body CreateSsoConnectionRequest;
    UPDATE_SSO_CONNECTION = "updateSsoConnection" Patch "/api/v1/teams/{team_id}/sso/connections/{connection_id}" body UpdateSsoConnectionRequest;
    DELETE_SSO_CONNECTION = "deleteSsoConnection" Delete "/api/v1/teams/{team_id}/sso/connections/{connection_id}";
    TEST_SSO_CONNECTION = "testSsoConnection" Post "/api/v1/teams/{team_id}/sso/connections/{connection_id}/test";
    DISCOVER_SSO = "discoverSso" Post "/api/v1/auth/sso" body SsoDiscoveryRequest;
    START_SSO = "startSso" Get "/api/v1/auth/sso/start";
    SSO_CALLBACK = "ssoCallback" Get "/api/v1/auth/sso/callback";
    SAML_ACS = "samlAcs" Post "/api/v1/auth/sso/saml/{connection_id}/acs";
    SAML_FINISH = "samlFinish" Get "/api/v1/auth/sso/saml/finish";
    SAML_METADATA = "samlMetadata" Get "/api/v1/sso/saml/{connection_id}/metadata";
    VERIFY_API_KEY = "verifyApiKey" Post "/api/v1/keys/verify" body VerifyKeyRequest;
    REPORT_LEAKED_KEYS = "reportLeakedKeys" Post "/api/v1/keys/leaks" body [LeakedToken];
    HEALTHZ = "healthz" Get "/healthz";
    READYZ = "readyz" Get "/readyz";
    GET_METRICS = "getMetrics" Get "/metrics";
    GET_HELP_LINKS = "getHelpLinks" Get "/api/v1/help";
}

use operation as op;

// ---------------------------------------------------------------- auth

pub fn signup(body: &SignupRequest) -> Call<Accepted> {
    Call::with(&op::SIGNUP, &[], body, json)
}

pub fn verify_email(body: &VerifyEmailRequest) -> Call<()> {
    Call::with(&op::VERIFY_EMAIL, &[], body, empty)
}

pub fn resend_verification(body: &EmailRequest) -> Call<Accepted> {
    Call::with(&op::RESEND_VERIFICATION, &[], body, json)
}

/// Signs in: a session, or for an account with two-factor authentication the challenge to
/// finish with [`login_two_factor`].
pub fn login(body: &LoginRequest) -> Call<LoginOutcome> {
    Call::with(&op::LOGIN, &[], body, login_outcome)
}

pub fn login_two_factor(body: &TwoFactorLoginRequest) -> Call<Session> {
    Call::with(&op::LOGIN_TWO_FACTOR, &[], body, json)
}

/// Trades the refresh cookie for a new session.
pub fn refresh_session() -> Call<Session> {
    Call::new(&op::REFRESH_SESSION, &[], json)
}

pub fn logout() -> Call<()> {
    Call::new(&op::LOGOUT, &[], empty)
}

pub fn forgot_password(body: &EmailRequest) -> Call<Accepted> {
    Call::with(&op::FORGOT_PASSWORD, &[], body, json)
}

pub fn reset_password(body: &ResetPasswordRequest) -> Call<()> {
    Call::with(&op::RESET_PASSWORD, &[], body, empty)
}

// ---------------------------------------------------------------- me

pub fn get_me() -> Call<User> {
    Call::new(&op::GET_ME, &[], json)
}

pub fn get_getting_started() -> Call<GettingStarted> {
    Call::new(&op::GET_GETTING_STARTED, &[], json)
}

pub fn update_me(body: &UpdateMeRequest) -> Call<User> {
    Call::with(&op::UPDATE_ME, &[], body, json)
}

pub fn change_password(body: &ChangePasswordRequest) -> Call<()> {
    Call::with(&op::CHANGE_PASSWORD, &[], body, empty)
}

pub fn list_sessions() -> Call<SessionList> {
    Call::new(&op::LIST_SESSIONS, &[], json)
}

pub fn end_session(session: impl Display) -> Call<()> {
    Call::new(&op::END_SESSION, &[&session], empty)
}

pub fn end_other_sessions() -> Call<SessionsEnded> {
    Call::new(&op::END_OTHER_SESSIONS, &[], json)
}

pub fn get_two_factor() -> Call<TwoFactorStatus> {
    Call::new(&op::GET_TWO_FACTOR, &[], json)
}

pub fn set_up_two_factor(body: &PasswordConfirmation) -> Call<TwoFactorSetup> {
    Call::with(&op::SET_UP_TWO_FACTOR, &[], body, json)
}

pub fn enable_two_factor(body: &EnableTwoFactorRequest) -> Call<RecoveryCodes> {
    Call::with(&op::ENABLE_TWO_FACTOR, &[], body, json)
}

pub fn disable_two_factor(body: &DisableTwoFactorRequest) -> Call<()> {
    Call::with(&op::DISABLE_TWO_FACTOR, &[], body, empty)
}

pub fn regenerate_recovery_codes(body: &PasswordConfirmation) -> Call<RecoveryCodes> {
    Call::with(&op::REGENERATE_RECOVERY_CODES, &[], body, json)
}

// ---------------------------------------------------------------- teams

pub fn list_teams(page: &Page) -> Call<TeamPage> {
    Call::new(&op::LIST_TEAMS, &[], json).query(&page.pairs())
}

pub fn create_team(body: &CreateTeamRequest) -> Call<Team> {
    Call::with(&op::CREATE_TEAM, &[], body, json)
}

pub fn get_team(team: impl Display) -> Call<Team> {
    Call::new(&op::GET_TEAM, &[&team], json)
}

pub fn get_team_two_factor(team: impl Display) -> Call<TeamTwoFactor> {
    Call::new(&op::GET_TEAM_TWO_FACTOR, &[&team], json)
}

pub fn list_roles() -> Call<RoleList> {
    Call::new(&op::LIST_ROLES, &[], json)
}

pub fn update_team(team: impl Display, body: &UpdateTeamRequest) -> Call<Team> {
    Call::with(&op::UPDATE_TEAM, &[&team], body, json)
}

pub fn delete_team(team: impl Display) -> Call<()> {
    Call::new(&op::DELETE_TEAM, &[&team], empty)
}

// ---------------------------------------------------------------- members

pub fn list_members(team: impl Display, page: &Page) -> Call<MemberPage> {
    Call::new(&op::LIST_MEMBERS, &[&team], json).query(&page.pairs())
}

pub fn update_member(team: impl Display, user: impl Display, body: &UpdateMemberRequest) -> Call<Member> {
    Call::with(&op::UPDATE_MEMBER, &[&team, &user], body, json)
}

/// Removes a member; with one's own id, leaves the team.
pub fn remove_member(team: impl Display, user: impl Display) -> Call<()> {
    Call::new(&op::REMOVE_MEMBER, &[&team, &user], empty)
}

// ---------------------------------------------------------------- invitations

pub fn list_invitations(team: impl Display, page: &Page) -> Call<InvitationPage> {
    Call::new(&op::LIST_INVITATIONS, &[&team], json).query(&page.pairs())
}

pub fn create_invitation(team: impl Display, body: &CreateInvitationRequest) -> Call<Invitation> {
    Call::with(&op::CREATE_INVITATION, &[&team], body, json)
}

pub fn revoke_invitation(team: impl Display, invitation: impl Display) -> Call<()> {
    Call::new(&op::REVOKE_INVITATION, &[&team, &invitation], empty)
}

pub fn resend_invitation(team: impl Display, invitation: impl Display) -> Call<Invitation> {
    Call::new(&op::RESEND_INVITATION, &[&team, &invitation], json)
}

/// What an invitation link offers, without signing in.
pub fn preview_invitation(token: &str) -> Call<InvitationPreview> {
    Call::new(&op::PREVIEW_INVITATION, &[&token], json)
}

pub fn accept_invitation(body: &AcceptInvitationRequest) -> Call<Team> {
    Call::with(&op::ACCEPT_INVITATION, &[], body, json)
}

// ---------------------------------------------------------------- activity

pub fn list_activity(team: impl Display, page: &Page, filter: &ActivityFilter) -> Call<ActivityPage> {
    Call::new(&op::LIST_ACTIVITY, &[&team], json).query(&page.pairs()).query(&filter.pairs())
}

/// The whole activity log matching `filter`, as a file.
pub fn export_activity(team: impl Display, filter: &ActivityFilter, format: Export) -> Call<String> {
    let accept = match format {
        Export::Csv => "text/csv",
        Export::Ndjson => "application/x-ndjson",
    };
    Call::new(&op::LIST_ACTIVITY, &[&team], text).query(&filter.pairs()).accept(accept)
}

// ---------------------------------------------------------------- API keys

pub fn list_api_keys(team: impl Display, page: &Page, narrowed: &KeyQuery) -> Call<ApiKeyPage> {
    Call::new(&op::LIST_API_KEYS, &[&team], json).query(&page.pairs()).query(&narrowed.pairs())
}

pub fn create_api_key(team: impl Display, body: &CreateApiKeyRequest) -> Call<CreatedApiKey> {
    Call::with(&op::CREATE_API_KEY, &[&team], body, json)
}

pub fn get_api_key(team: impl Display, key: impl Display) -> Call<ApiKey> {
    Call::new(&op::GET_API_KEY, &[&team, &key], json)
}

pub fn update_api_key(team: impl Display, key: impl Display, body: &UpdateApiKeyRequest) -> Call<ApiKey> {
    Call::with(&op::UPDATE_API_KEY, &[&team, &key], body, json)
}

pub fn revoke_api_key(team: impl Display, key: impl Display) -> Call<ApiKey> {
    Call::new(&op::REVOKE_API_KEY, &[&team, &key], json)
}

pub fn roll_api_key(team: impl Display, key: impl Display, body: &RollApiKeyRequest) -> Call<CreatedApiKey> {
    Call::with(&op::ROLL_API_KEY, &[&team, &key], body, json)
}

/// Revokes a compromised key at once; with a `replacement_name`, issues a replacement.
pub fn report_compromised_api_key(
    team: impl Display,
    key: impl Display,
    body: &ReportCompromisedRequest,
) -> Call<CompromisedKey> {
    Call::with(&op::REPORT_COMPROMISED_API_KEY, &[&team, &key], body, json)
}

pub fn get_api_key_usage(team: impl Display, key: impl Display, range: &UsageRange) -> Call<Usage> {
    Call::new(&op::GET_API_KEY_USAGE, &[&team, &key], json).query(&range.pairs(false))
}

/// The key's usage as CSV (`format=csv`).
pub fn get_api_key_usage_csv(team: impl Display, key: impl Display, range: &UsageRange) -> Call<String> {
    Call::new(&op::GET_API_KEY_USAGE, &[&team, &key], text).query(&range.pairs(true)).accept("text/csv")
}

pub fn get_team_usage(team: impl Display, range: &UsageRange) -> Call<TeamUsage> {
    Call::new(&op::GET_TEAM_USAGE, &[&team], json).query(&range.pairs(false))
}

/// The team's usage as CSV (`format=csv`).
pub fn get_team_usage_csv(team: impl Display, range: &UsageRange) -> Call<String> {
    Call::new(&op::GET_TEAM_USAGE, &[&team], text).query(&range.pairs(true)).accept("text/csv")
}

// ---------------------------------------------------------------- webhooks

pub fn list_webhook_endpoints(team: impl Display) -> Call<WebhookEndpointList> {
    Call::new(&op::LIST_WEBHOOK_ENDPOINTS, &[&team], json)
}

pub fn create_webhook_endpoint(
    team: impl Display,
    body: &CreateWebhookEndpointRequest,
) -> Call<WebhookEndpointWithSecret> {
    Call::with(&op::CREATE_WEBHOOK_ENDPOINT, &[&team], body, json)
}

pub fn get_webhook_endpoint(team: impl Display, endpoint: impl Display) -> Call<WebhookEndpoint> {
    Call::new(&op::GET_WEBHOOK_ENDPOINT, &[&team, &endpoint], json)
}

pub fn update_webhook_endpoint(
    team: impl Display,
    endpoint: impl Display,
    body: &UpdateWebhookEndpointRequest,
) -> Call<WebhookEndpoint> {
    Call::with(&op::UPDATE_WEBHOOK_ENDPOINT, &[&team, &endpoint], body, json)
}

pub fn delete_webhook_endpoint(team: impl Display, endpoint: impl Display) -> Call<()> {
    Call::new(&op::DELETE_WEBHOOK_ENDPOINT, &[&team, &endpoint], empty)
}

pub fn rotate_webhook_secret(
    team: impl Display,
    endpoint: impl Display,
    body: &RotateWebhookSecretRequest,
) -> Call<WebhookEndpointWithSecret> {
    Call::with(&op::ROTATE_WEBHOOK_SECRET, &[&team, &endpoint], body, json)
}

/// An endpoint's deliveries; `state`: only those in it (e.g. failed ones).
pub fn list_webhook_deliveries(
    team: impl Display,
    endpoint: impl Display,
    page: &Page,
    state: Option<DeliveryState>,
) -> Call<WebhookDeliveryPage> {
    Call::new(&op::LIST_WEBHOOK_DELIVERIES, &[&team, &endpoint], json)
        .query(&page.pairs())
        .query(&[("state", state.map(|s| s.as_str().to_owned()))])
}

pub fn send_test_webhook(team: impl Display, endpoint: impl Display) -> Call<WebhookDelivery> {
    Call::new(&op::SEND_TEST_WEBHOOK, &[&team, &endpoint], json)
}

pub fn redeliver_webhook(team: impl Display, endpoint: impl Display, delivery: impl Display) -> Call<WebhookDelivery> {
    Call::new(&op::REDELIVER_WEBHOOK, &[&team, &endpoint, &delivery], json)
}

// ---------------------------------------------------------------- domains

pub fn list_domains(team: impl Display) -> Call<TeamDomainList> {
    Call::new(&op::LIST_DOMAINS, &[&team], json)
}

pub fn add_domain(team: impl Display, body: &AddDomainRequest) -> Call<TeamDomain> {
    Call::with(&op::ADD_DOMAIN, &[&team], body, json)
}

/// Looks the domain's TXT record up now.
pub fn verify_domain(team: impl Display, domain: impl Display) -> Call<TeamDomain> {
    Call::new(&op::VERIFY_DOMAIN, &[&team, &domain], json)
}

pub fn update_domain(team: impl Display, domain: impl Display, body: &UpdateDomainRequest) -> Call<TeamDomain> {
    Call::with(&op::UPDATE_DOMAIN, &[&team, &domain], body, json)
}

pub fn remove_domain(team: impl Display, domain: impl Display) -> Call<()> {
    Call::new(&op::REMOVE_DOMAIN, &[&team, &domain], empty)
}

/// Teams the signed-in user may join by the verified domain of their address.
pub fn list_joinable_teams() -> Call<JoinableTeamList> {
    Call::new(&op::LIST_JOINABLE_TEAMS, &[], json)
}

/// Joins such a team as a member.
pub fn join_team(team: impl Display) -> Call<Team> {
    Call::new(&op::JOIN_TEAM, &[&team], json)
}

// ---------------------------------------------------------------- single sign-on

pub fn list_sso_connections(team: impl Display) -> Call<SsoConnectionList> {
    Call::new(&op::LIST_SSO_CONNECTIONS, &[&team], json)
}

/// Adds the team's connection: OpenID Connect (its issuer is discovered first) or SAML (its IdP
/// metadata read first).
pub fn create_sso_connection(team: impl Display, body: &CreateSsoConnectionRequest) -> Call<SsoConnection> {
    Call::with(&op::CREATE_SSO_CONNECTION, &[&team], body, json)
}

pub fn update_sso_connection(
    team: impl Display,
    connection: impl Display,
    body: &UpdateSsoConnectionRequest,
) -> Call<SsoConnection> {
    Call::with(&op::UPDATE_SSO_CONNECTION, &[&team, &connection], body, json)
}

pub fn delete_sso_connection(team: impl Display, connection: impl Display) -> Call<()> {
    Call::new(&op::DELETE_SSO_CONNECTION, &[&team, &connection], empty)
}

/// Where the caller's browser starts a test of the connection.
pub fn test_sso_connection(team: impl Display, connection: impl Display) -> Call<SsoStart> {
    Call::new(&op::TEST_SSO_CONNECTION, &[&team, &connection], json)
}

/// Home-realm discovery: where a user with this address signs in with single sign-on.
pub fn discover_sso(body: &SsoDiscoveryRequest) -> Call<SsoStart> {
    Call::with(&op::DISCOVER_SSO, &[], body, json)
}

/// The browser's start of single sign-on at `team`'s identity provider: a 303 to the provider
/// (a client that follows redirects lands on the provider's sign-in page, as a browser does).
pub fn start_sso(team: impl Display, login_hint: Option<&str>) -> Call<String> {
    Call::new(&op::START_SSO, &[], text)
        .query(&[("team_id", Some(team.to_string())), ("login_hint", login_hint.map(str::to_owned))])
}

/// Where the identity provider sends the browser back: a 303 to where it goes next.
pub fn sso_callback(state: &str, code: &str) -> Call<String> {
    Call::new(&op::SSO_CALLBACK, &[], text).query(&[("state", Some(state.to_owned())), ("code", Some(code.to_owned()))])
}

/// The portal's SAML service provider metadata for a connection (XML), to give the IdP.
pub fn saml_metadata(connection: impl Display) -> Call<String> {
    Call::new(&op::SAML_METADATA, &[&connection], text).accept("application/samlmetadata+xml")
}

/// Where the assertion consumer service sends the browser: a 303 to where it goes next. (The
/// ACS itself takes the IdP's form post, `SAMLResponse` and `RelayState`, which a browser sends.)
pub fn saml_finish(state: &str) -> Call<String> {
    Call::new(&op::SAML_FINISH, &[], text).query(&[("state", Some(state.to_owned()))])
}

// ---------------------------------------------------------------- the platform's services

/// The operational metrics (Prometheus text), with the service token.
pub fn get_metrics() -> Call<String> {
    Call::new(&op::GET_METRICS, &[], text).accept("text/plain")
}

/// Checks a key for the platform's other services, with the service token.
pub fn verify_api_key(body: &VerifyKeyRequest) -> Call<VerifyKeyResponse> {
    Call::with(&op::VERIFY_API_KEY, &[], body, json)
}

/// Reports leaked keys with the service token (our own scanners); GitHub signs its reports
/// instead.
pub fn report_leaked_keys(tokens: &[LeakedToken]) -> Call<Vec<LeakFeedback>> {
    Call::with(&op::REPORT_LEAKED_KEYS, &[], tokens, json)
}

// ---------------------------------------------------------------- health

pub fn healthz() -> Call<Health> {
    Call::new(&op::HEALTHZ, &[], json)
}

pub fn readyz() -> Call<Health> {
    Call::new(&op::READYZ, &[], json)
}

// ---------------------------------------------------------------- help

pub fn get_help_links() -> Call<HelpLinks> {
    Call::new(&op::GET_HELP_LINKS, &[], json)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_take_their_parameters_encoded_and_queries_skip_what_is_missing() {
        let team = Uuid::nil();
        let call =
            list_api_keys(team, &Page::first(50), &KeyQuery { search: Some("a b&c".into()), ..Default::default() });
        assert_eq!(call.path, format!("/api/v1/teams/{team}/api-keys?limit=50&q=a%20b%26c"));
        assert_eq!(preview_invitation("x/y").path, "/api/v1/invitations/x%2Fy");
        assert_eq!(list_teams(&Page::default()).path, "/api/v1/teams");
        let range = UsageRange { from: Some(DateTime::UNIX_EPOCH), ..Default::default() };
        assert_eq!(
            get_team_usage_csv(team, &range).path,
            format!("/api/v1/teams/{team}/usage?from=1970-01-01T00%3A00%3A00Z&format=csv")
        );
    }

    #[test]
    fn bodies_name_their_type() {
        assert_eq!(short_type_name("portal_types::keys::CreateApiKeyRequest"), "CreateApiKeyRequest");
        assert_eq!(short_type_name("[portal_types::keys::LeakedToken]"), "[LeakedToken]");
        assert_eq!(operation::REPORT_LEAKED_KEYS.body().as_deref(), Some("[LeakedToken]"));
        assert_eq!(operation::CREATE_API_KEY.body().as_deref(), Some("CreateApiKeyRequest"));
        assert_eq!(operation::GET_TEAM.body(), None);
    }
}
