//! Who may do what to a team: membership lookup (outsiders get 404) and the domain's
//! permission table (members without the right get 403).

use portal_db::ConnectionTrait;
use portal_db::audit::AuditActor;
use portal_db::teams::Team;
use portal_domain::scopes::{Beyond, KeyShape};
use portal_domain::teams::{Action, Actor, allows, required_scope};
use portal_types::ErrorCode;
use portal_types::Role;
use uuid::Uuid;

use crate::error::{ApiError, ApiResult};
use crate::extract::{Client, Principal};

/// A caller's standing in one team.
pub struct TeamAccess {
    pub team: Team,
    pub actor: Actor,
    /// The calling user (None for an API key).
    pub user_id: Option<Uuid>,
    /// How the caller appears in the audit log.
    pub audit: AuditActor,
}

pub fn team_not_found() -> ApiError {
    ApiError::not_found("No such team, or you are not a member of it.")
}

/// 403 `two_factor_required` for a member without two-factor authentication in a team that
/// requires it: they keep their membership, and get in once they turn it on.
pub fn check_two_factor(team: &Team, user: &crate::extract::AuthUser) -> ApiResult<()> {
    if team.require_two_factor && !user.two_factor {
        return Err(ApiError::new(
            ErrorCode::TwoFactorRequired,
            format!(
                "The team {} requires two-factor authentication: turn it on in your account settings to get in.",
                team.name
            ),
        ));
    }
    Ok(())
}

/// 403 `two_factor_required` for a key whose creator has not turned two-factor authentication on,
/// in a team that requires it: the key answers for its creator, who could not get in either.
pub fn check_key_two_factor(team: &Team, key: &crate::keys::KeyAuth) -> ApiResult<()> {
    if team.require_two_factor && !key.creator_two_factor {
        return Err(ApiError::new(
            ErrorCode::TwoFactorRequired,
            format!(
                "The team {} requires two-factor authentication, and the person who answers for this key has not \
                 turned it on: the key works again once they do.",
                team.name
            ),
        ));
    }
    Ok(())
}

/// 403 unless the permission table allows `actor` to do `action`: for a key,
/// `insufficient_scope` naming the scope it lacks (or that its creator's role no longer reaches)
/// where one would do.
pub fn require(actor: Actor, action: Action) -> ApiResult<()> {
    if allows(actor, action) {
        return Ok(());
    }
    let rolling = match actor {
        Actor::Member(role) => {
            return Err(ApiError::new(ErrorCode::Forbidden, format!("Your role ({}) may not do this.", role.as_str())));
        }
        Actor::ApiKey { rolling, .. } => rolling,
    };
    match required_scope(action) {
        Some(scope) if !actor.scopes().contains(scope) && allows(Actor::KEY, action) => {
            Err(ApiError::insufficient_scope(scope))
        }
        _ if rolling && allows(Actor::KEY, action) => Err(ApiError::new(
            ErrorCode::Forbidden,
            "This key was rolled and is in its grace period: it changes nobody's access (no keys, invitations, \
             roles, removals or webhook endpoints). Use its replacement.",
        )),
        _ => Err(ApiError::new(ErrorCode::Forbidden, "An API key may not do this; sign in as an owner.")),
    }
}

/// 403 when `by` is a key that may not make keys ([`KeyShape::may_make_keys`]): one with a
/// monthly limit, whose children would not share it.
pub fn require_key_may_make_keys(by: &Principal) -> ApiResult<()> {
    match by {
        Principal::Key(key) if !key.shape().may_make_keys() => Err(ApiError::new(
            ErrorCode::Forbidden,
            "A key with a monthly limit cannot make keys: they would not share its limit. It can still roll \
             itself; its replacement takes over its month.",
        )
        .with_field("usage_limit")),
        _ => Ok(()),
    }
}

/// 403 unless `by` may act on (or make) a key of `shape`: people are bound by their role only; a
/// key only by keys whose settings lie within its own (same environment, no scope, limit or
/// address it lacks). `insufficient_scope` names a scope it lacks; otherwise the field.
pub fn require_key_within(by: &Principal, shape: &KeyShape) -> ApiResult<()> {
    let Principal::Key(key) = by else { return Ok(()) };
    shape.within(&key.shape()).map_err(|beyond| match beyond {
        Beyond::Scope(scope) => ApiError::insufficient_scope(scope).with_field("scopes").with_detail(format!(
            "An API key acts only on keys within its own scopes; this one needs `{}`, which it lacks.",
            scope.as_str()
        )),
        Beyond::Environment => ApiError::new(
            ErrorCode::Forbidden,
            format!("An API key acts only on keys of its own environment ({}).", key.environment.as_str()),
        )
        .with_field("environment"),
        other => ApiError::new(
            ErrorCode::Forbidden,
            "An API key acts only on keys whose limits and allowlist lie within its own: no higher or missing \
             limit, no address its own allowlist refuses.",
        )
        .with_field(other.field()),
    })
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
                check_key_two_factor(&team, key)?;
                return Ok(Self {
                    team,
                    actor: key.actor(),
                    user_id: None,
                    audit: AuditActor { kind: "api_key", id: key.key_id, name: Some(key.name.to_string()) },
                });
            }
        };
        let membership =
            portal_db::teams::membership_of(db, team_id, auth.user_id).await?.ok_or_else(team_not_found)?;
        let team = portal_db::teams::find(db, team_id).await?.ok_or_else(team_not_found)?;
        check_two_factor(&team, auth)?;
        Ok(Self {
            team,
            actor: Actor::Member(membership.role),
            user_id: Some(auth.user_id),
            // The name is looked up only when something is recorded: reads need no account query.
            audit: AuditActor { kind: "user", id: auth.user_id, name: None },
        })
    }

    /// [`TeamAccess::load`] for reads outside a transaction: the membership and the team come
    /// from the caches that changes evict on every instance (`KeyService`), so most reads
    /// start without a database round trip. Also returns the team's member count.
    pub async fn load_for_read(
        state: &crate::state::AppState,
        principal: &Principal,
        team_id: Uuid,
    ) -> ApiResult<(Self, u64)> {
        let (actor, user_id, audit) = match principal {
            Principal::Key(key) => {
                if key.team_id != team_id {
                    return Err(team_not_found());
                }
                (key.actor(), None, AuditActor { kind: "api_key", id: key.key_id, name: Some(key.name.to_string()) })
            }
            Principal::User(user) => {
                let role = state.keys.membership(team_id, user.user_id).await?.ok_or_else(team_not_found)?;
                (Actor::Member(role), Some(user.user_id), AuditActor { kind: "user", id: user.user_id, name: None })
            }
        };
        let snapshot = state.keys.team(team_id).await?.ok_or_else(team_not_found)?;
        match principal {
            Principal::User(user) => check_two_factor(&snapshot.team, user)?,
            Principal::Key(key) => check_key_two_factor(&snapshot.team, key)?,
        }
        Ok((Self { team: snapshot.team.clone(), actor, user_id, audit }, snapshot.member_count))
    }

    /// The caller's role, as shown in team answers (a key acts as admin).
    pub fn role(&self) -> Role {
        match self.actor {
            Actor::Member(role) => role,
            Actor::ApiKey { .. } => Role::Admin,
        }
    }

    /// 403 unless the caller may read every event family of `events` (they are to receive
    /// them): `insufficient_scope` naming the scope for a key, naming the field `event_types`.
    pub fn require_subscription(&self, events: &[portal_types::EventType]) -> ApiResult<()> {
        for &event in events {
            if let Some(read) = portal_domain::teams::event_read_action(event) {
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
        allows(self.actor, action)
    }

    /// 403 unless the permission table allows `action`: for a key, `insufficient_scope` naming
    /// the scope it lacks where one would do.
    pub fn require(&self, action: Action) -> ApiResult<()> {
        require(self.actor, action)
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
