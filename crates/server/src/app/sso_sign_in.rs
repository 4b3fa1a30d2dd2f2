//! Signing in through a team's identity provider.
//!
//! 1. Home-realm discovery: an address at a team's verified domain names the team's connection
//!    ([`discover`]).
//! 2. The browser opens the start URL ([`start`]): a flow is stored (its `state` hashed, its
//!    `nonce`, its PKCE verifier sealed, the hash of a cookie set in this browser), and the
//!    browser goes to the provider. The flow lives in the database: the callback may reach
//!    another instance.
//! 3. The provider sends the browser back ([`callback`]): the flow is used once (a replay, on any
//!    instance, finds it used), the callback must come from the browser that left, the code is
//!    exchanged and the ID token checked ([`crate::sso`]). Then the provider's user is the
//!    account linked to it; or a new account, when the address is at a verified domain of the
//!    team; or, for an address that has a password account, a link that the account's password
//!    (and second factor) must prove once ([`complete_link`]). The account joins the team by the
//!    domain's join rule, and the session records the connection it started at.
//!
//! SAML connections take the same trip with an AuthnRequest (HTTP-Redirect, `RelayState` the
//! flow's state, the request's id kept as the flow's nonce) and come back by a POST to the
//! connection's assertion consumer service ([`saml_acs`]), from the IdP's site: that POST does
//! not carry the flow cookie, so the verified answer is kept (sealed) in the flow and the browser
//! collects it with a GET ([`saml_finish`]), which does.
//!
//! Every refusal is recorded in the team's activity with its reason, never with a token.

use chrono::{DateTime, Duration, Utc};
use portal_db::sessions::StartedAt;
use portal_db::sso::Flow;
use portal_db::tokens::{self, Purpose};
use portal_db::{DatabaseTransaction, TransactionTrait};
use portal_domain::identity::{Email, UserName};
use portal_domain::token;
use portal_types::{AuditAction, DomainJoinRule, ErrorCode, Role, SsoProtocol, SsoStart};
use uuid::Uuid;

use super::sign_in::Started;
use crate::error::{ApiError, ApiResult};
use crate::extract::Client;
use crate::reads::sso::SamlSide;
use crate::services::change::Change;
use crate::sso::{Failure, Reason};
use crate::state::AppState;

/// How long a flow waits for the provider to send the browser back, and a link for the password.
const FLOW_MINUTES: i64 = 10;
/// The cookie that ties a flow to the browser that started it.
pub const BROWSER_COOKIE: &str = "pp_sso";
/// Where that cookie is sent: the start, the callback, and the password sign-in that proves a
/// link (in the browser that made the flow only).
pub const BROWSER_COOKIE_PATH: &str = "/api/v1/auth";

/// The start URL of a sign-in at `team_id`'s identity provider.
pub fn start_path(team_id: Uuid) -> String {
    format!("/api/v1/auth/sso/start?team_id={team_id}")
}

/// The start URL of a test of `team_id`'s connection, with the tester's ticket.
pub fn test_path(team_id: Uuid, ticket: &str) -> String {
    format!("{}&test={ticket}", start_path(team_id))
}

fn not_configured() -> ApiError {
    ApiError::new(
        ErrorCode::SsoNotConfigured,
        "No team has single sign-on for this address's domain: sign in with your password.",
    )
    .with_field("email")
}

/// The connection of a verified domain's team, if the address has one.
async fn connection_for(state: &AppState, email: &Email) -> ApiResult<Option<portal_db::sso::Connection>> {
    let Some((_, domain)) = email.as_str().rsplit_once('@') else { return Ok(None) };
    let Some(verified) = portal_db::domains::verified(&state.reads, domain).await? else { return Ok(None) };
    Ok(portal_db::sso::list(&state.reads, verified.team_id).await?.into_iter().next())
}

/// Home-realm discovery: where a user with this address signs in.
pub async fn discover(state: &AppState, email: Email) -> ApiResult<SsoStart> {
    let connection = connection_for(state, &email).await?.ok_or_else(not_configured)?;
    let hint: String = url::form_urlencoded::byte_serialize(email.as_str().as_bytes()).collect();
    Ok(SsoStart {
        start_url: format!("{}&login_hint={hint}", start_path(connection.team_id)),
        connection_name: connection.name,
    })
}

/// Where the browser goes next, and the flow cookie to set.
pub struct Departure {
    pub location: String,
    pub browser: String,
}

/// Where a refused sign-in sends the browser: the sign-in page, which says why.
fn back_to_sign_in(reason: Reason) -> String {
    format!("/sign-in?sso_error={}", reason.as_str())
}

/// Where a test sends the browser back to: the team's settings, which show the outcome.
fn back_to_settings(team_id: Uuid) -> String {
    format!("/teams/{team_id}/settings?sso_test=done#sso")
}

/// What the start was asked.
pub struct StartRequest {
    pub team_id: Uuid,
    pub test_ticket: Option<String>,
    pub login_hint: Option<String>,
    /// The browser's flow cookie, if it has one.
    pub browser: Option<String>,
}

/// Stores a flow and sends the browser to the provider. A start that cannot go on sends it back
/// with the reason (to the settings page for a test).
pub async fn start(state: &AppState, asked: StartRequest) -> ApiResult<Departure> {
    let now = Utc::now();
    let browser = asked.browser.filter(|b| token::looks_valid(b)).unwrap_or_else(token::generate);
    let leave_with = |location: String| Departure { location, browser: browser.clone() };
    let Some(connection) = portal_db::sso::list(&state.db, asked.team_id).await?.into_iter().next() else {
        return Ok(leave_with("/sign-in?sso_error=not_configured".to_owned()));
    };
    let started_by = match asked.test_ticket.as_deref() {
        // A sign-in: only at a team that verified a domain (whose people it signs in), so that
        // the portal's address does not send browsers to any provider anyone configured.
        None if !has_verified_domain(state, asked.team_id).await? => {
            return Ok(leave_with("/sign-in?sso_error=not_configured".to_owned()));
        }
        None => None,
        Some(ticket) if token::looks_valid(ticket) => {
            let txn = state.db.begin().await?;
            let user = tokens::consume(&txn, Purpose::SsoTest, &token::hash(ticket), now).await?;
            txn.commit().await?;
            // The ticket's holder must manage this team's connections (a ticket of another team
            // tests nothing here).
            match user {
                Some(user) if may_manage_sso(state, asked.team_id, user).await? => Some(user),
                _ => return Ok(leave_with(back_to_settings(asked.team_id))),
            }
        }
        Some(_) => return Ok(leave_with(back_to_settings(asked.team_id))),
    };
    let hint =
        asked.login_hint.filter(|h| h.len() <= portal_types::rules::EMAIL_MAX_CHARS && !h.contains(char::is_control));
    let state_token = token::generate();
    let leaving = match SsoProtocol::parse(&connection.protocol) {
        Some(SsoProtocol::Saml) => leave_for_saml(state, &connection, &state_token),
        _ => leave_for_oidc(state, &connection, &state_token, hint.as_deref()).await?,
    };
    let (location, nonce, verifier_sealed) = match leaving {
        Ok(leaving) => leaving,
        Err(failure) => {
            let location = refuse(state, &connection, (started_by.is_some(), started_by), None, failure).await?;
            return Ok(leave_with(location));
        }
    };
    let flow = portal_db::sso::NewFlow {
        state_hash: &token::hash(&state_token),
        connection_id: connection.id,
        purpose: if started_by.is_some() { "test" } else { "sign_in" },
        nonce: &nonce,
        verifier_sealed: &verifier_sealed,
        browser_hash: &token::hash(&browser),
        login_hint: hint.as_deref(),
        started_by,
        expires_at: now + Duration::minutes(FLOW_MINUTES),
    };
    portal_db::sso::start_flow(&state.db, flow, now).await?;
    Ok(leave_with(location))
}

/// Where the browser leaves for, what the flow checks on return (the `nonce`; the SAML request's
/// id) and what it keeps sealed (the PKCE verifier).
type Leaving = Result<(String, String, String), Failure>;

async fn leave_for_oidc(
    state: &AppState,
    connection: &portal_db::sso::Connection,
    state_token: &str,
    hint: Option<&str>,
) -> ApiResult<Leaving> {
    let secret = state
        .oidc
        .open(connection.id, &connection.client_secret_sealed)
        .ok_or_else(|| ApiError::internal("a connection's client secret does not open"))?;
    let nonce = token::generate();
    let leaving = state
        .oidc
        .leave(
            (&connection.issuer, &connection.client_id, &secret),
            &crate::reads::sso::redirect_uri(state),
            (state_token, &nonce),
            hint,
        )
        .await;
    Ok(leaving.map(|l| (l.authorization_url, nonce, state.oidc.seal(connection.id, &l.pkce_verifier))))
}

/// An AuthnRequest (HTTP-Redirect) whose id the response must answer; `RelayState` is the flow's
/// state.
fn leave_for_saml(state: &AppState, connection: &portal_db::sso::Connection, state_token: &str) -> Leaving {
    let side = SamlSide::of(state, connection)
        .map_err(|_| Failure::new(Reason::ProviderUnreachable, "the connection's key does not open"))?;
    let request_id = format!("_{}", token::generate());
    let url = crate::saml::leave(&side.idp_metadata, &side.sp(), &request_id, state_token)?;
    Ok((url, request_id, String::new()))
}

async fn has_verified_domain(state: &AppState, team_id: Uuid) -> ApiResult<bool> {
    Ok(portal_db::domains::list(&state.db, team_id).await?.iter().any(|d| d.verified_at.is_some()))
}

/// Whether `user_id` may manage the team's connections (by their role, as the policy says).
async fn may_manage_sso(state: &AppState, team_id: Uuid, user_id: Uuid) -> ApiResult<bool> {
    use portal_domain::policy::{Action, Actor, allows};
    let role = portal_db::teams::membership_of(&state.db, team_id, user_id).await?.map(|m| m.role);
    Ok(role.is_some_and(|role| allows(Actor::Member(role), Action::ManageSso)))
}

/// What the provider sent back (the callback's query).
pub struct Returned {
    pub state: Option<String>,
    pub code: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Where the callback sends the browser, and the session it started, if any.
pub struct Arrival {
    pub location: String,
    pub started: Option<Started>,
}

impl Arrival {
    fn to(location: String) -> Self {
        Self { location, started: None }
    }
}

/// Completes a flow; see the module's documentation.
pub async fn callback(
    state: &AppState,
    client: &Client,
    browser: Option<&str>,
    returned: Returned,
) -> ApiResult<Arrival> {
    let now = Utc::now();
    let Some(flow) = flow_of(state, returned.state.as_deref()).await? else {
        tracing::info!(ip = %client.ip, "SSO callback with an unknown state");
        return Ok(Arrival::to(back_to_sign_in(Reason::UnknownState)));
    };
    let connection = portal_db::sso::find_any(&state.db, flow.connection_id).await?;
    // A SAML flow comes back to its ACS, never here.
    let Some(connection) = connection.filter(|c| SsoProtocol::parse(&c.protocol) == Some(SsoProtocol::Oidc)) else {
        return Ok(Arrival::to(back_to_sign_in(Reason::UnknownState)));
    };
    let test = (flow.purpose == "test", flow.started_by);
    let refused = |failure: Failure| refuse(state, &connection, test, Some(client), failure);
    // Used already (on any instance): a replay, whichever browser sends it; or expired. Only
    // logged: a flow is recorded in the activity once, so that sending its callback again and
    // again cannot fill the activity or the team's webhooks.
    if flow.used_at.is_some() || flow.expires_at <= now {
        let reason = if flow.used_at.is_some() { Reason::Replayed } else { Reason::UnknownState };
        tracing::info!(ip = %client.ip, connection = %connection.id, reason = reason.as_str(), "SSO callback refused");
        return Ok(Arrival::to(back_to_sign_in(reason)));
    }
    let same_browser = browser.is_some_and(|b| flow.browser_hash.as_deref() == Some(token::hash(b).as_str()));
    // The flow is used now, whatever comes of it: a callback from another browser spends it too.
    if !portal_db::sso::use_flow(&state.db, flow.id, now).await? {
        return Ok(Arrival::to(back_to_sign_in(Reason::Replayed)));
    }
    if !same_browser {
        let failure =
            Failure::new(Reason::OtherBrowser, "the provider sent back a browser that did not start this sign-in");
        return Ok(Arrival::to(refused(failure).await?));
    }
    if let Some(error) = returned.error {
        let described = returned.error_description.map(|d| format!("{error}: {d}")).unwrap_or(error);
        let printable: String = described.chars().filter(|c| !c.is_control()).take(300).collect();
        return Ok(Arrival::to(refused(Failure::new(Reason::ProviderError, printable)).await?));
    }
    let Some(code) = returned.code.filter(|c| !c.is_empty() && c.len() <= 2048) else {
        return Ok(Arrival::to(refused(Failure::new(Reason::ProviderError, "the provider sent no code")).await?));
    };
    let secret = state.oidc.open(connection.id, &connection.client_secret_sealed);
    let verifier = state.oidc.open(connection.id, &flow.verifier_sealed);
    let (Some(secret), Some(verifier)) = (secret, verifier) else {
        return Err(ApiError::internal("a flow's secrets do not open"));
    };
    let claims = match state
        .oidc
        .finish(
            (&connection.issuer, &connection.client_id, &secret),
            &crate::reads::sso::redirect_uri(state),
            (&code, verifier, &flow.nonce),
        )
        .await
    {
        Ok(claims) => claims,
        Err(failure) => return Ok(Arrival::to(refused(failure).await?)),
    };
    arrived(state, client, (&connection, &flow), &claims).await
}

/// The provider named `claims` for the flow: a test records them; a sign-in signs the user in.
async fn arrived(
    state: &AppState,
    client: &Client,
    (connection, flow): (&portal_db::sso::Connection, &Flow),
    claims: &crate::sso::Claims,
) -> ApiResult<Arrival> {
    if flow.purpose == "test" {
        tested(state, connection, flow.started_by, client, claims).await?;
        return Ok(Arrival::to(back_to_settings(connection.team_id)));
    }
    match signed_in(state, client, (connection, flow), claims).await? {
        Ok(arrival) => Ok(arrival),
        Err(failure) => Ok(Arrival::to(refuse(state, connection, (false, None), Some(client), failure).await?)),
    }
}

/// What the IdP posted to a connection's assertion consumer service.
pub struct Posted {
    pub connection_id: Uuid,
    /// Not empty.
    pub saml_response: String,
    pub relay_state: Option<String>,
    /// The browser's flow cookie, if the post carried it (a post from the IdP's site does not:
    /// the cookie is SameSite=Lax).
    pub browser: Option<String>,
}

/// Where the ACS sends the browser: on to collect the sign-in (in the browser that started it),
/// or back with the reason; and the flow cookie to set for a sign-in started at the IdP.
pub struct Collect {
    pub location: String,
    pub browser: Option<String>,
}

/// The SAML assertion consumer service. The response is checked ([`crate::saml::verify`]): it
/// must answer the flow's request (`RelayState` names the flow; an unsolicited response only when
/// the connection allows sign-ins started at the IdP), and its assertion is taken once (its id
/// is kept in the database until it expires: a replay to any instance is refused). What it names
/// is kept sealed in the flow, and the browser goes on to [`saml_finish`] with a top-level GET,
/// which carries the flow cookie (this POST, from the IdP's site, does not): the sign-in
/// completes only in the browser that started it.
pub async fn saml_acs(state: &AppState, client: &Client, posted: Posted) -> ApiResult<Collect> {
    let now = Utc::now();
    let back = |reason: Reason| Ok(Collect { location: back_to_sign_in(reason), browser: None });
    let connection = portal_db::sso::find_any(&state.db, posted.connection_id).await?;
    let Some(connection) = connection.filter(|c| SsoProtocol::parse(&c.protocol) == Some(SsoProtocol::Saml)) else {
        return back(Reason::UnknownState);
    };
    let flow = flow_of(state, posted.relay_state.as_deref()).await?.filter(|f| f.connection_id == connection.id);
    if let Some(flow) = &flow
        && (flow.used_at.is_some() || flow.asserted_sealed.is_some() || flow.expires_at <= now)
    {
        let reason = if flow.expires_at <= now { Reason::UnknownState } else { Reason::Replayed };
        tracing::info!(ip = %client.ip, connection = %connection.id, reason = reason.as_str(), "SAML response refused");
        return back(reason);
    }
    if flow.is_none() && !connection.allow_idp_initiated {
        tracing::info!(ip = %client.ip, connection = %connection.id, "SAML response answering no request of this portal");
        return back(Reason::WrongRequest);
    }
    let test = flow.as_ref().map(|f| (f.purpose == "test", f.started_by)).unwrap_or((false, None));
    let refused = |failure: Failure| refuse(state, &connection, test, Some(client), failure);
    let encoded = posted.saml_response;
    let side = SamlSide::of(state, &connection)?;
    let request_id = flow.as_ref().map(|f| f.nonce.clone());
    let checked = tokio::task::spawn_blocking(move || {
        crate::saml::verify(&side.idp_metadata, &side.sp(), &encoded, request_id.as_deref())
    })
    .await
    .map_err(|_| ApiError::internal("the SAML check stopped"))?;
    let verified = match checked {
        Ok(verified) => verified,
        Err(failure) => {
            if let Some(flow) = &flow {
                portal_db::sso::use_flow(&state.db, flow.id, now).await?;
            }
            return Ok(Collect { location: refused(failure).await?, browser: None });
        }
    };
    // Taken once, on any instance: a replayed assertion (even to another flow) is refused.
    let taken = (token::hash(&verified.assertion_id), connection.id);
    if !portal_db::sso::take_assertion(&state.db, (&taken.0, taken.1), verified.expires_at).await? {
        tracing::info!(ip = %client.ip, connection = %connection.id, "SAML assertion replayed");
        return back(Reason::Replayed);
    }
    let sealed = state.oidc.seal(connection.id, &claims_json(&verified.claims));
    let (flow, browser, token) = match flow {
        Some(flow) => (flow, None, posted.relay_state.unwrap_or_default()),
        None => {
            // Started at the IdP: a flow of its own, tied to the browser that brought it here.
            let (state_token, browser) = (token::generate(), token::generate());
            let new = portal_db::sso::NewFlow {
                state_hash: &token::hash(&state_token),
                connection_id: connection.id,
                purpose: "sign_in",
                nonce: "",
                verifier_sealed: "",
                browser_hash: &token::hash(&browser),
                login_hint: None,
                started_by: None,
                expires_at: now + Duration::minutes(FLOW_MINUTES),
            };
            (portal_db::sso::start_flow(&state.db, new, now).await?, Some(browser), state_token)
        }
    };
    if !portal_db::sso::assert_flow(&state.db, flow.id, &sealed).await? {
        return back(Reason::Replayed);
    }
    Ok(Collect { location: format!("/api/v1/auth/sso/saml/finish?state={token}"), browser })
}

fn claims_json(claims: &crate::sso::Claims) -> String {
    serde_json::json!({
        "subject": claims.subject,
        "email": claims.email,
        "name": claims.name,
        "all": claims.all,
    })
    .to_string()
}

fn claims_from(json: &str) -> Option<crate::sso::Claims> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    Some(crate::sso::Claims {
        subject: value["subject"].as_str()?.to_owned(),
        email: value["email"].as_str().map(str::to_owned),
        email_verified: None,
        name: value["name"].as_str().map(str::to_owned),
        all: value["all"].clone(),
    })
}

/// Completes a SAML sign-in in the browser that started it: the flow named by `state` holds a
/// verified response; it is used once, here.
pub async fn saml_finish(
    state: &AppState,
    client: &Client,
    browser: Option<&str>,
    returned: Option<&str>,
) -> ApiResult<Arrival> {
    let now = Utc::now();
    let flow = flow_of(state, returned).await?;
    let Some((flow, sealed)) = flow.and_then(|f| f.asserted_sealed.clone().map(|s| (f, s))) else {
        return Ok(Arrival::to(back_to_sign_in(Reason::UnknownState)));
    };
    let Some(connection) = portal_db::sso::find_any(&state.db, flow.connection_id).await? else {
        return Ok(Arrival::to(back_to_sign_in(Reason::UnknownState)));
    };
    if flow.used_at.is_some() || flow.expires_at <= now {
        let reason = if flow.used_at.is_some() { Reason::Replayed } else { Reason::UnknownState };
        tracing::info!(ip = %client.ip, connection = %connection.id, reason = reason.as_str(), "SAML finish refused");
        return Ok(Arrival::to(back_to_sign_in(reason)));
    }
    let same_browser = browser.is_some_and(|b| flow.browser_hash.as_deref() == Some(token::hash(b).as_str()));
    if !portal_db::sso::use_flow(&state.db, flow.id, now).await? {
        return Ok(Arrival::to(back_to_sign_in(Reason::Replayed)));
    }
    let test = (flow.purpose == "test", flow.started_by);
    if !same_browser {
        let failure =
            Failure::new(Reason::OtherBrowser, "the IdP's answer reached a browser that did not start this sign-in");
        return Ok(Arrival::to(refuse(state, &connection, test, Some(client), failure).await?));
    }
    let claims = state
        .oidc
        .open(connection.id, &sealed)
        .and_then(|json| claims_from(&json))
        .ok_or_else(|| ApiError::internal("a flow's verified claims do not open"))?;
    arrived(state, client, (&connection, &flow), &claims).await
}

async fn flow_of(state: &AppState, returned: Option<&str>) -> ApiResult<Option<Flow>> {
    match returned {
        Some(s) if token::looks_valid(s) => Ok(portal_db::sso::flow_by_state(&state.db, &token::hash(s)).await?),
        _ => Ok(None),
    }
}

/// An audit entry of the connection's team, outside a team unit of work (nobody is signed in
/// yet). Returns what it touched.
async fn record(
    txn: &DatabaseTransaction,
    (team_id, actor): (Uuid, Option<&portal_db::audit::AuditActor>),
    (action, target): (AuditAction, (&'static str, String)),
    summary: String,
    client: Option<&Client>,
    now: DateTime<Utc>,
) -> ApiResult<Vec<Change>> {
    let entry = portal_db::audit::NewEntry {
        team_id: Some(team_id),
        actor,
        action,
        target_type: target.0,
        target_id: Some(target.1),
        summary: Some(summary),
        ip: client.map(|c| c.ip.as_str()),
        user_agent: client.and_then(|c| c.user_agent.as_deref()),
    };
    let touched = portal_db::audit::record(txn, entry, now).await?;
    Ok(Change::reads(&touched).collect())
}

fn user_actor(user: &portal_db::users::User) -> portal_db::audit::AuditActor {
    portal_db::audit::AuditActor { kind: "user", id: user.id, name: Some(user.name.clone()) }
}

/// Records a refusal (a failed test on the connection; a failed sign-in in the team's activity,
/// raising `sso.sign_in_failed`) and says where the browser goes.
async fn refuse(
    state: &AppState,
    connection: &portal_db::sso::Connection,
    (test, tester): (bool, Option<Uuid>),
    client: Option<&Client>,
    failure: Failure,
) -> ApiResult<String> {
    let now = Utc::now();
    tracing::info!(connection = %connection.id, reason = failure.reason.as_str(), detail = failure.detail.as_str(), "SSO refused");
    let txn = state.db.begin().await?;
    let (changes, location) = if test {
        portal_db::sso::record_test(&txn, connection.id, Err(&failure.summary()), now).await?;
        let actor = tester.map(|id| portal_db::audit::AuditActor { kind: "user", id, name: None });
        let target = ("sso_connection", connection.id.to_string());
        let summary = format!("{}: failed, {}", connection.name, failure.summary());
        let changes =
            record(&txn, (connection.team_id, actor.as_ref()), (AuditAction::SsoTested, target), summary, client, now)
                .await?;
        (changes, back_to_settings(connection.team_id))
    } else {
        let target = ("sso_connection", connection.id.to_string());
        let summary = format!("{}: {}", connection.name, failure.summary());
        let changes =
            record(&txn, (connection.team_id, None), (AuditAction::SsoSignInFailed, target), summary, client, now)
                .await?;
        (changes, back_to_sign_in(failure.reason))
    };
    let mut changes = changes;
    changes.push(Change::Reads(connection.team_id));
    state.invalidation.commit(txn, &changes).await?;
    Ok(location)
}

/// Records a successful test: the claims received.
async fn tested(
    state: &AppState,
    connection: &portal_db::sso::Connection,
    tester: Option<Uuid>,
    client: &Client,
    claims: &crate::sso::Claims,
) -> ApiResult<()> {
    let now = Utc::now();
    let txn = state.db.begin().await?;
    portal_db::sso::record_test(&txn, connection.id, Ok(&claims.all.to_string()), now).await?;
    let actor = tester.map(|id| portal_db::audit::AuditActor { kind: "user", id, name: None });
    let summary = format!("{}: received {}", connection.name, claims.email.as_deref().unwrap_or("no e-mail address"));
    let target = ("sso_connection", connection.id.to_string());
    let mut changes = record(
        &txn,
        (connection.team_id, actor.as_ref()),
        (AuditAction::SsoTested, target),
        summary,
        Some(client),
        now,
    )
    .await?;
    changes.push(Change::Reads(connection.team_id));
    state.invalidation.commit(txn, &changes).await
}

/// The address of the provider's user, if it is at a verified domain of the connection's team.
async fn trusted_address(
    state: &AppState,
    connection: &portal_db::sso::Connection,
    claims: &crate::sso::Claims,
) -> ApiResult<Result<(Email, portal_db::domains::Domain), Failure>> {
    let unknown = |detail: String| Ok(Err(Failure::new(Reason::UnknownUser, detail)));
    let Some(raw) = claims.email.as_deref() else {
        return unknown("the provider sent no e-mail address (is the `email` scope granted?)".to_owned());
    };
    let Ok(email) = Email::parse("email", raw) else {
        return unknown("the provider's e-mail address is not one".to_owned());
    };
    if claims.email_verified == Some(false) {
        return unknown(format!("the provider says {} is not verified", email.as_str()));
    }
    let domain = email.as_str().rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    match portal_db::domains::verified(&state.db, domain).await? {
        Some(verified) if verified.team_id == connection.team_id => Ok(Ok((email, verified))),
        _ => unknown(format!("{} is not at a verified domain of the team", email.as_str())),
    }
}

/// The provider's user is known, or becomes an account; or a password account waits for its
/// password (the browser goes to the sign-in page with a link to prove).
async fn signed_in(
    state: &AppState,
    client: &Client,
    (connection, flow): (&portal_db::sso::Connection, &Flow),
    claims: &crate::sso::Claims,
) -> ApiResult<Result<Arrival, Failure>> {
    let now = Utc::now();
    let linked = portal_db::sso::identity(&state.db, connection.id, &claims.subject).await?;
    let user_id = match linked {
        Some(user_id) => user_id,
        None => {
            let (email, _) = match trusted_address(state, connection, claims).await? {
                Ok(found) => found,
                Err(failure) => return Ok(Err(failure)),
            };
            let existing = portal_db::users::find_by_email(&state.db, email.as_str()).await?;
            if let Some(unproven) = existing.as_ref().filter(|u| u.email_verified_at.is_none()) {
                // Signed up with this address but never proved it (it cannot sign in): the team's
                // provider, for the team's own domain, proves it now. The unproven password goes.
                take_over(state, connection, unproven.id, &claims.subject, now).await?;
            } else if let Some(existing) = existing {
                let link = token::generate();
                portal_db::sso::offer_link(&state.db, flow.id, (&token::hash(&link), existing.id, &claims.subject))
                    .await?;
                let address: String = url::form_urlencoded::byte_serialize(email.as_str().as_bytes()).collect();
                return Ok(Ok(Arrival::to(format!("/sign-in?sso_link={link}&email={address}"))));
            }
            match portal_db::sso::identity(&state.db, connection.id, &claims.subject).await? {
                Some(user_id) => user_id,
                None => match create_account(state, connection, &email, claims, now).await? {
                    Some(user_id) => user_id,
                    // Made by a concurrent sign-in of the same address a moment ago.
                    None => {
                        let why = "the account was being created by another sign-in: try again";
                        return Ok(Err(Failure::new(Reason::Replayed, why)));
                    }
                },
            }
        }
    };
    let txn = state.db.begin().await?;
    portal_db::users::lock_for_sessions(&txn, user_id).await?;
    let Some(user) = portal_db::users::find(&txn, user_id).await? else {
        return Ok(Err(Failure::new(Reason::UnknownUser, "the linked account no longer exists")));
    };
    portal_db::sso::touch_identity(&txn, connection.id, &claims.subject, now).await?;
    let mut changes = joined(&txn, connection, &user, client, now).await?;
    changes.extend(signed_in_here(&txn, connection, &user, client, now).await?);
    let member = portal_db::teams::membership_of(&txn, connection.team_id, user.id).await?.is_some();
    let sso = StartedAt { connection_id: connection.id, team_id: connection.team_id };
    let started = super::sign_in::start_sso_session(state, txn, &changes, (user, client), sso, now).await?;
    let location = if member { format!("/teams/{}", connection.team_id) } else { "/".to_owned() };
    Ok(Ok(Arrival { location, started: Some(started) }))
}

/// Records an SSO sign-in in the team's activity and as the connection's last.
async fn signed_in_here(
    txn: &DatabaseTransaction,
    connection: &portal_db::sso::Connection,
    user: &portal_db::users::User,
    client: &Client,
    now: DateTime<Utc>,
) -> ApiResult<Vec<Change>> {
    portal_db::sso::record_sign_in(txn, connection.id, now).await?;
    let actor = user_actor(user);
    let target = ("user", user.id.to_string());
    let mut changes = record(
        txn,
        (connection.team_id, Some(&actor)),
        (AuditAction::SsoSignedIn, target),
        format!("{} via {}", user.email, connection.name),
        Some(client),
        now,
    )
    .await?;
    changes.push(Change::Reads(connection.team_id));
    Ok(changes)
}

/// Creates the account of a provider's user at a verified domain: its address verified (the
/// team's provider vouches for its own domain), an unusable password (a reset sets one), and the
/// link to the provider's user. None when the address was taken meanwhile.
async fn create_account(
    state: &AppState,
    connection: &portal_db::sso::Connection,
    email: &Email,
    claims: &crate::sso::Claims,
    now: DateTime<Utc>,
) -> ApiResult<Option<Uuid>> {
    let local = email.as_str().split('@').next().unwrap_or("user");
    let name = claims
        .name
        .as_deref()
        .and_then(|n| UserName::parse("name", n.trim()).ok())
        .or_else(|| UserName::parse("name", local).ok())
        .map(UserName::into_inner)
        .unwrap_or_else(|| "SSO user".to_owned());
    let unusable = state.hasher.unusable_hash().await?;
    let txn = state.db.begin().await?;
    let user = match portal_db::users::create(&txn, email.as_str(), &name, &unusable, now).await {
        Ok(user) => user,
        Err(portal_db::Error::Conflict) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    portal_db::users::mark_verified(&txn, user.id, now).await?;
    match portal_db::sso::link(&txn, connection.id, (&claims.subject, user.id), now).await {
        Err(portal_db::Error::Conflict) => return Ok(None),
        other => other?,
    }
    txn.commit().await?;
    tracing::info!(user_id = %user.id, connection = %connection.id, "account created by single sign-on");
    Ok(Some(user.id))
}

/// Links an account whose address was never proven to the provider's user: its address is
/// verified now (the provider vouches for the team's own domain), its password (set by whoever
/// signed up) replaced by an unusable one, its sessions ended (it had none: it could not sign in).
async fn take_over(
    state: &AppState,
    connection: &portal_db::sso::Connection,
    user_id: Uuid,
    subject: &str,
    now: DateTime<Utc>,
) -> ApiResult<()> {
    let unusable = state.hasher.unusable_hash().await?;
    let txn = state.db.begin().await?;
    portal_db::users::lock_for_sessions(&txn, user_id).await?;
    portal_db::users::set_password_hash(&txn, user_id, &unusable, now).await?;
    portal_db::users::mark_verified(&txn, user_id, now).await?;
    match portal_db::sso::link(&txn, connection.id, (subject, user_id), now).await {
        // Linked by a concurrent sign-in a moment ago: the same outcome.
        Err(portal_db::Error::Conflict) => return Ok(()),
        other => other?,
    }
    let ended: Vec<Change> =
        portal_db::sessions::end_all(&txn, user_id, None, now).await?.into_iter().map(Change::Session).collect();
    state.invalidation.commit(txn, &ended).await?;
    tracing::info!(%user_id, connection = %connection.id, "an unproven account was taken over by single sign-on");
    Ok(())
}

/// Joins the connection's team by the join rule of the account's domain: automatically as a
/// member, or not at all (invitations only; suggest offers it on the dashboard).
async fn joined(
    txn: &DatabaseTransaction,
    connection: &portal_db::sso::Connection,
    user: &portal_db::users::User,
    client: &Client,
    now: DateTime<Utc>,
) -> ApiResult<Vec<Change>> {
    let domain = user.email.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
    let Some(verified) = portal_db::domains::verified(txn, domain).await? else { return Ok(Vec::new()) };
    let automatic = DomainJoinRule::parse(&verified.join_rule) == Some(DomainJoinRule::Automatic);
    if verified.team_id != connection.team_id || !automatic {
        return Ok(Vec::new());
    }
    portal_db::teams::lock(txn, connection.team_id).await?;
    if portal_db::teams::membership_of(txn, connection.team_id, user.id).await?.is_some() {
        return Ok(Vec::new());
    }
    portal_db::teams::add_member(txn, connection.team_id, user.id, Role::Member, now).await?;
    let actor = user_actor(user);
    let summary = format!("{} as member (single sign-on, {domain} joins automatically)", user.email);
    let target = ("member", user.id.to_string());
    let mut changes = record(
        txn,
        (connection.team_id, Some(&actor)),
        (AuditAction::MemberJoinedByDomain, target),
        summary,
        Some(client),
        now,
    )
    .await?;
    changes.push(Change::Team(connection.team_id));
    Ok(changes)
}

fn link_refused() -> ApiError {
    ApiError::new(
        ErrorCode::InvalidToken,
        "This single sign-on link has expired, was used, or is for another account: sign in through SSO again.",
    )
    .with_field("sso_link")
}

/// The link of an SSO sign-in that found `user`'s password account, now that the password (and
/// second factor) is proven: the account is linked to the provider's user, and the session
/// starts as an SSO session. 400 naming `sso_link` when it is not this account's open link.
pub async fn complete_link(
    txn: &DatabaseTransaction,
    (link, browser): (&str, Option<&str>),
    user: &portal_db::users::User,
    client: &Client,
    now: DateTime<Utc>,
) -> ApiResult<(StartedAt, Vec<Change>)> {
    if !token::looks_valid(link) {
        return Err(link_refused());
    }
    let flow = portal_db::sso::open_link(txn, &token::hash(link), now).await?.ok_or_else(link_refused)?;
    let (Some(owner), Some(subject)) = (flow.link_user_id, flow.link_subject.as_deref()) else {
        return Err(link_refused());
    };
    // Proven in the browser that made the flow: a link sent to someone else links nothing.
    let same_browser = browser.is_some_and(|b| flow.browser_hash.as_deref() == Some(token::hash(b).as_str()));
    if owner != user.id || !same_browser || !portal_db::sso::close_link(txn, flow.id, now).await? {
        return Err(link_refused());
    }
    let connection = portal_db::sso::find_any(txn, flow.connection_id).await?.ok_or_else(link_refused)?;
    match portal_db::sso::link(txn, connection.id, (subject, user.id), now).await {
        Err(portal_db::Error::Conflict) => return Err(link_refused()),
        other => other?,
    }
    let actor = user_actor(user);
    let target = ("user", user.id.to_string());
    let summary = format!("{} linked to its user at {}", user.email, connection.name);
    let mut changes =
        record(txn, (connection.team_id, Some(&actor)), (AuditAction::SsoLinked, target), summary, Some(client), now)
            .await?;
    changes.extend(joined(txn, &connection, user, client, now).await?);
    changes.extend(signed_in_here(txn, &connection, user, client, now).await?);
    Ok((StartedAt { connection_id: connection.id, team_id: connection.team_id }, changes))
}

/// A password sign-in of an owner of teams that require SSO: their break-glass way in, recorded
/// in each such team's activity.
pub async fn record_break_glass(
    txn: &DatabaseTransaction,
    user: &portal_db::users::User,
    client: &Client,
    now: DateTime<Utc>,
) -> ApiResult<Vec<Change>> {
    let mut changes = Vec::new();
    for team_id in portal_db::teams::owned_requiring_sso(txn, user.id).await? {
        let actor = user_actor(user);
        let target = ("user", user.id.to_string());
        let summary = format!("{} signed in with a password", user.email);
        changes.extend(
            record(txn, (team_id, Some(&actor)), (AuditAction::SsoBreakGlass, target), summary, Some(client), now)
                .await?,
        );
    }
    Ok(changes)
}
