//! A caller's standing in one team: membership lookup (outsiders get 404), and the policy's
//! answers ([`portal_domain::policy::decide`]) as problems. No rule is written here: only what a
//! refusal says.

use portal_db::ConnectionTrait;
use portal_db::audit::AuditActor;
use portal_db::teams::Team;
use portal_domain::policy::{self, Action, Actor, Deny, Target, TeamRules};
use portal_domain::scopes::Beyond;
use portal_types::ErrorCode;
use portal_types::Role;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::extract::{Client, Principal};

/// A caller's standing in one team.
pub struct TeamAccess {
    pub team: Team,
    /// The caller, as the policy weighs it.
    pub principal: policy::Principal,
    /// The calling user (None for an API key).
    pub user_id: Option<Uuid>,
    /// How the caller appears in the audit log.
    pub audit: AuditActor,
}

pub fn team_not_found() -> ApiError {
    ApiError::not_found("No such team, or you are not a member of it.")
}

/// What the policy weighs of a team.
pub fn rules_of(team: &Team) -> TeamRules {
    TeamRules { require_two_factor: team.require_two_factor, require_sso: team.require_sso }
}

/// The caller as the policy weighs it, with `role` for a signed-in member of `team_id`.
fn principal_of(by: &Principal, role: Role, team_id: Uuid) -> policy::Principal {
    match by {
        Principal::User(user) => {
            policy::Principal::User { role, two_factor: user.two_factor, sso: user.sso_team == Some(team_id) }
        }
        Principal::Key(key) => policy::Principal::Key(key.principal()),
    }
}

/// The policy's answer for `principal` in `team`, as a problem: 403 with what to do about it.
pub fn decide(principal: &policy::Principal, team: &Team, action: Action, target: Target<'_>) -> ApiResult<()> {
    policy::decide(principal, rules_of(team), action, target).map_err(|deny| refusal(deny, team))
}

/// What a refusal of the policy says: the one place its reasons become words.
pub fn refusal(deny: Deny, team: &Team) -> ApiError {
    let forbidden = |detail: String| ApiError::new(ErrorCode::Forbidden, detail);
    match deny {
        Deny::TwoFactor { key: false } => ApiError::new(
            ErrorCode::TwoFactorRequired,
            format!(
                "The team {} requires two-factor authentication: turn it on in your account settings to get in.",
                team.name
            ),
        ),
        Deny::TwoFactor { key: true } => ApiError::new(
            ErrorCode::TwoFactorRequired,
            format!(
                "The team {} requires two-factor authentication, and the person who answers for this key has not \
                 turned it on: the key works again once they do.",
                team.name
            ),
        ),
        Deny::SsoRequired => ApiError {
            sso_url: Some(crate::app::sso_sign_in::start_path(team.id)),
            ..ApiError::new(
                ErrorCode::SsoRequired,
                format!(
                    "The team {} requires single sign-on: sign in through its identity provider (open `sso_url`).",
                    team.name
                ),
            )
        },
        Deny::Role(role) => forbidden(format!("Your role ({}) may not do this.", role.as_str())),
        Deny::Scope(scope) => ApiError::insufficient_scope(scope),
        Deny::Rolling => forbidden(
            "This key was rolled and is in its grace period: it changes nobody's access (no keys, invitations, \
             roles, removals or webhook endpoints). Use its replacement."
                .into(),
        ),
        Deny::NotForKeys => forbidden("An API key may not do this; sign in as an owner.".into()),
        Deny::Beyond { beyond: Beyond::Scope(scope), .. } => {
            ApiError::insufficient_scope(scope).with_field("scopes").with_detail(format!(
                "An API key acts only on keys within its own scopes; this one needs `{}`, which it lacks.",
                scope.as_str()
            ))
        }
        Deny::Beyond { beyond: Beyond::Environment, own_environment } => {
            forbidden(format!("An API key acts only on keys of its own environment ({}).", own_environment.as_str()))
                .with_field("environment")
        }
        Deny::Beyond { beyond, .. } => forbidden(
            "An API key acts only on keys whose limits and allowlist lie within its own: no higher or missing \
             limit, no address its own allowlist refuses."
                .into(),
        )
        .with_field(beyond.field()),
        Deny::LimitedKeyMakesNoKeys => forbidden(
            "A key with a monthly limit cannot make keys: they would not share its limit. It can still roll \
             itself; its replacement takes over its month."
                .into(),
        )
        .with_field("usage_limit"),
        Deny::OwnTwoFactorFirst => ApiError::new(
            ErrorCode::TwoFactorRequired,
            "Turn on two-factor authentication for your own account before you require it of the team.",
        ),
        Deny::OwnSettings => forbidden("An API key cannot change its own limits, scopes or allowlist.".into()),
        Deny::ServiceOnly | Deny::NotForService => {
            forbidden("Only the platform's service verifies keys, and it does nothing else.".into())
        }
    }
}

/// The platform's service, if the request carries the service token.
pub fn service(req: &actix_web::HttpRequest, config: &crate::config::Config) -> Option<policy::Principal> {
    let presented = crate::extract::bearer(req).ok()?;
    crate::security::constant_time_eq(presented.as_bytes(), config.service_token.expose().as_bytes())
        .then_some(policy::Principal::Service)
}

/// 401 unless the request carries the service token; 403 unless the policy lets the service do
/// `action`.
pub fn require_service(req: &actix_web::HttpRequest, config: &crate::config::Config, action: Action) -> ApiResult<()> {
    let service = service(req, config)
        .ok_or_else(|| ApiError::unauthorized("Send the service token as `Authorization: Bearer <token>`."))?;
    policy::decide(&service, TeamRules::default(), action, Target::Team)
        .map_err(|deny| ApiError::new(ErrorCode::Forbidden, format!("The service may not do this ({deny:?}).")))
}

fn key_actor(key: &crate::keys::KeyAuth) -> AuditActor {
    AuditActor { kind: "api_key", id: key.key_id, name: Some(key.name.to_string()) }
}

/// The name is looked up only when something is recorded: reads need no account query.
fn user_actor(user_id: Uuid) -> AuditActor {
    AuditActor { kind: "user", id: user_id, name: None }
}

impl TeamAccess {
    /// The caller's membership of `team_id`; 404 when the team does not exist or the caller is
    /// not in it, so outsiders learn nothing.
    pub async fn load(db: &impl ConnectionTrait, principal: &Principal, team_id: Uuid) -> ApiResult<Self> {
        let auth = match principal {
            Principal::User(user) => user,
            Principal::Key(key) => {
                // A key acts for its own team only; any other team does not exist for it.
                if key.team_id != team_id {
                    return Err(team_not_found());
                }
                let team = portal_db::teams::find(db, team_id).await?.ok_or_else(team_not_found)?;
                return Self::admitted(team, principal_of(principal, Role::Admin, team_id), None, key_actor(key));
            }
        };
        let membership =
            portal_db::teams::membership_of(db, team_id, auth.user_id).await?.ok_or_else(team_not_found)?;
        let team = portal_db::teams::find(db, team_id).await?.ok_or_else(team_not_found)?;
        Self::admitted(
            team,
            principal_of(principal, membership.role, team_id),
            Some(auth.user_id),
            user_actor(auth.user_id),
        )
    }

    /// The access of `principal`, if the team admits it at all (two-factor rule).
    fn admitted(team: Team, principal: policy::Principal, user_id: Option<Uuid>, audit: AuditActor) -> ApiResult<Self> {
        policy::admits(&principal, rules_of(&team)).map_err(|deny| refusal(deny, &team))?;
        Ok(Self { team, principal, user_id, audit })
    }

    /// [`TeamAccess::load`] for reads outside a transaction: the membership and the team come
    /// from the caches that changes evict on every instance (`AuthCache`), so most reads
    /// start without a database round trip. Also returns the team's member count.
    pub async fn load_for_read(
        state: &crate::state::AppState,
        principal: &Principal,
        team_id: Uuid,
    ) -> ApiResult<(Self, u64)> {
        let (who, user_id, audit) = match principal {
            Principal::Key(key) => {
                if key.team_id != team_id {
                    return Err(team_not_found());
                }
                (principal_of(principal, Role::Admin, team_id), None, key_actor(key))
            }
            Principal::User(user) => {
                let role = state.auth_cache.membership(team_id, user.user_id).await?.ok_or_else(team_not_found)?;
                (principal_of(principal, role, team_id), Some(user.user_id), user_actor(user.user_id))
            }
        };
        let snapshot = state.auth_cache.team(team_id).await?.ok_or_else(team_not_found)?;
        Ok((Self::admitted(snapshot.team.clone(), who, user_id, audit)?, snapshot.member_count))
    }

    /// How the role table sees the caller.
    pub fn actor(&self) -> Actor {
        self.principal.actor().unwrap_or(Actor::Member(Role::Member))
    }

    /// The caller's role, as shown in team answers (a key acts as admin).
    pub fn role(&self) -> Role {
        self.actor().role()
    }

    /// 403 unless the caller may read every event family of `events` (they are to receive
    /// them): `insufficient_scope` naming the scope for a key, naming the field `event_types`.
    pub fn require_subscription(&self, events: &[portal_types::EventType]) -> ApiResult<()> {
        for &event in events {
            if let Some(read) = policy::event_read_action(event) {
                self.require(read).map_err(|e| {
                    let detail = format!(
                        "Receiving `{}` events needs what reading them needs: {}",
                        event.as_str(),
                        e.detail.clone().unwrap_or_default()
                    );
                    e.with_field("event_types").with_detail(detail)
                })?;
            }
        }
        Ok(())
    }

    /// Who subscribes what this caller sets an endpoint to receive.
    pub fn subscriber(&self) -> portal_db::webhooks::Subscriber {
        match self.user_id {
            Some(user) => portal_db::webhooks::Subscriber::User(user),
            None => portal_db::webhooks::Subscriber::Key(self.audit.id),
        }
    }

    pub fn may(&self, action: Action) -> bool {
        policy::decide(&self.principal, rules_of(&self.team), action, Target::Team).is_ok()
    }

    /// 403 unless the policy allows `action` on the team: for a key, `insufficient_scope`
    /// naming the scope it lacks where one would do.
    pub fn require(&self, action: Action) -> ApiResult<()> {
        self.allow(action, Target::Team)
    }

    /// 403 unless the policy allows `action` on `target` (for a key acting on keys: within its
    /// own settings).
    pub fn allow(&self, action: Action, target: Target<'_>) -> ApiResult<()> {
        decide(&self.principal, &self.team, action, target)
    }

    /// An audit entry for this team by this caller.
    pub fn entry<'a>(
        &'a self,
        client: &'a Client,
        action: portal_types::AuditAction,
        target_type: &'a str,
        target_id: Option<String>,
        summary: Option<String>,
    ) -> portal_db::audit::NewEntry<'a> {
        portal_db::audit::NewEntry {
            team_id: Some(self.team.id),
            actor: Some(&self.audit),
            action,
            target_type,
            target_id,
            summary,
            ip: Some(&client.ip),
            user_agent: client.user_agent.as_deref(),
        }
    }
}
