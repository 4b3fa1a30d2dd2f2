//! The one policy: who may do what to a team. Every permission the server checks, and every
//! permission flag the web app shows, is an answer of [`decide`] (or of [`permissions`], which
//! asks it). No rule is written anywhere else.
//!
//! A principal is a person with a role in the team, an API key of the team, or the platform's
//! service (the holder of the service token). The role table ([`role_allows`]) says what each
//! role may do; everything a key may do is derived from it: a key acts within its scopes, never
//! beyond its creator's current role (and never beyond an admin), changes nobody's access in its
//! roll grace, and touches only keys whose settings lie within its own.

use std::sync::OnceLock;

use portal_types::{Environment, RoleChanges, Scope, TeamPermissions};

pub use portal_types::Role;

use crate::scopes::{Beyond, KeyShape, ScopeSet};

/// Something done to a team's resources (or, for the service, to any team's keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    ReadTeam,
    UpdateTeam,
    DeleteTeam,
    ReadMembers,
    /// Change a member whose role is `target` to `to`.
    ChangeRole {
        target: Role,
        to: Role,
    },
    /// Remove a member whose role is `target`.
    RemoveMember {
        target: Role,
    },
    /// Leave the team oneself.
    Leave,
    ReadInvitations,
    /// Invite someone with `role`.
    Invite {
        role: Role,
    },
    /// Resend or revoke an invitation with `role`.
    ManageInvitation {
        role: Role,
    },
    ReadActivity,
    /// See the client address and user agent of activity entries.
    ReadActivityDetails,
    ReadApiKeys,
    /// Make, change, roll, revoke and report keys; the target key's settings are weighed too.
    ManageApiKeys,
    /// Usage of the team and of its keys.
    ReadUsage,
    /// A team's webhook endpoints and their delivery logs.
    ReadWebhooks,
    /// Create, change, delete and test endpoints; rotate their secrets; redeliver.
    ManageWebhooks,
    /// The team's domains and their join rules.
    ReadDomains,
    /// Add, verify and remove domains, set their join rule: who may join without an invitation,
    /// so the owners' business.
    ManageDomains,
    /// The team's single sign-on connections.
    ReadSso,
    /// Add, change, test and remove single sign-on connections (owners and admins; requiring
    /// SSO is a team setting, the owners').
    ManageSso,
    /// Check a presented key and count its use (`POST /keys/verify`): the service's.
    VerifyKeys,
    /// Read the operational metrics (`GET /metrics`): the service's (the scraper holds its token).
    ReadMetrics,
}

impl Action {
    /// The platform service's actions, and nobody else's.
    pub fn is_the_services(self) -> bool {
        matches!(self, Action::VerifyKeys | Action::ReadMetrics)
    }

    /// Every action, each target role spelled out: for tables derived from the role table.
    pub fn all() -> Vec<Action> {
        use Action::*;
        let mut actions = vec![
            ReadTeam,
            UpdateTeam,
            DeleteTeam,
            ReadMembers,
            Leave,
            ReadInvitations,
            ReadActivity,
            ReadActivityDetails,
            ReadApiKeys,
            ManageApiKeys,
            ReadUsage,
            ReadWebhooks,
            ManageWebhooks,
            ReadDomains,
            ManageDomains,
            ReadSso,
            ManageSso,
            VerifyKeys,
            ReadMetrics,
        ];
        for r in Role::ALL {
            actions.push(RemoveMember { target: r });
            actions.push(Invite { role: r });
            actions.push(ManageInvitation { role: r });
            for to in Role::ALL {
                actions.push(ChangeRole { target: r, to });
            }
        }
        actions
    }
}

/// How the role table sees a principal in a team: a role, or a key with what bounds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    Member(Role),
    /// A key acts within its `scopes`, and never does what the person who answers for it may not:
    /// it has at most the rights of `creator`'s role, and never more than an admin's. A `rolling`
    /// key (replaced, in its grace period) keeps reading, but changes nobody's access.
    ApiKey {
        rolling: bool,
        scopes: ScopeSet,
        /// The role that caps the key: its creator's current role in the team; `Member` once
        /// they left it; `Admin` for a key that another key made before creators were recorded.
        creator: Role,
    },
}

impl Actor {
    /// An active key with full access, made by an admin or owner.
    pub const KEY: Actor = Actor::ApiKey { rolling: false, scopes: ScopeSet::FULL, creator: Role::Admin };

    /// The scopes the actor may use now: a key's own, less those its creator's role does not
    /// reach (every scope for a member).
    pub fn scopes(self) -> ScopeSet {
        match self {
            Actor::Member(_) => ScopeSet::FULL,
            Actor::ApiKey { scopes, creator, .. } => scopes.intersect(scope_cap(creator)),
        }
    }

    /// The role shown for the actor in team answers: a key acts as an admin at most.
    pub fn role(self) -> Role {
        match self {
            Actor::Member(role) => role,
            Actor::ApiKey { .. } => Role::Admin,
        }
    }
}

/// An API key as the policy weighs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPrincipal {
    /// Rolled, in its grace period.
    pub rolling: bool,
    /// The role that caps it ([`Actor::ApiKey`]).
    pub creator: Role,
    /// Whether the person who answers for it has two-factor authentication on.
    pub creator_two_factor: bool,
    /// Its settings, with the scopes it was given.
    pub shape: KeyShape,
}

impl KeyPrincipal {
    pub fn actor(&self) -> Actor {
        Actor::ApiKey { rolling: self.rolling, scopes: self.shape.scopes, creator: self.creator }
    }

    /// What the keys it makes or touches must lie within: its settings, with the scopes it may
    /// use now.
    pub fn bound(&self) -> KeyShape {
        KeyShape { scopes: self.actor().scopes(), ..self.shape.clone() }
    }
}

/// Who asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// A person, with their role in the team.
    User {
        role: Role,
        two_factor: bool,
        /// The session started at this team's identity provider.
        sso: bool,
    },
    Key(KeyPrincipal),
    /// The platform's service, holding the service token.
    Service,
}

impl Principal {
    /// How the role table sees the principal (None for the service, which has no role).
    pub fn actor(&self) -> Option<Actor> {
        match self {
            Principal::User { role, .. } => Some(Actor::Member(*role)),
            Principal::Key(key) => Some(key.actor()),
            Principal::Service => None,
        }
    }
}

/// What the policy needs to know of the team.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TeamRules {
    pub require_two_factor: bool,
    pub require_sso: bool,
}

/// What an action is done to, where more than the action decides.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// The team, or one of its resources with nothing more to weigh.
    Team,
    /// A stored key, changed in no setting that bounds keys (revoked, rolled, reported, renamed).
    Key(&'a KeyShape),
    /// A key to be made with these settings.
    NewKey(&'a KeyShape),
    /// The team's two-factor requirement, turned `on` or off: only a person may change it, and
    /// only one who has two-factor authentication on may require it.
    TwoFactorRequirement { on: bool },
    /// A stored key whose settings change from `was` to `will_be`; `own` when the key asking is
    /// that key.
    KeyChange { was: &'a KeyShape, will_be: &'a KeyShape, own: bool },
}

/// Why the policy said no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deny {
    /// The team requires two-factor authentication, and the person (for a key: the person who
    /// answers for it) has not turned it on.
    TwoFactor {
        key: bool,
    },
    /// A person whose role may not do this.
    Role(Role),
    /// A key without this scope (or whose creator's role no longer reaches it).
    Scope(Scope),
    /// A key in its roll grace may not change anyone's access.
    Rolling,
    /// No key may do this, whatever its scopes (owner-only, personal, or a role change touching
    /// owners).
    NotForKeys,
    /// A key touches only keys within its own settings; `own_environment` is the key's.
    Beyond {
        beyond: Beyond,
        own_environment: Environment,
    },
    /// A key with a monthly limit makes no keys: they would not share its limit.
    LimitedKeyMakesNoKeys,
    /// A key does not change its own limits, scopes or allowlist.
    OwnSettings,
    /// Requiring two-factor authentication of a team takes having it on oneself.
    OwnTwoFactorFirst,
    /// The team requires single sign-on, and the member's session did not start at its identity
    /// provider. Owners keep a password way in (break-glass); keys are not sessions.
    SsoRequired,
    /// Only the service does this (verify keys); the service does nothing else.
    ServiceOnly,
    NotForService,
}

/// Whether `principal` gets into the team at all: a team that requires two-factor
/// authentication keeps out people without it, and keys whose creator lacks it.
pub fn admits(principal: &Principal, team: TeamRules) -> Result<(), Deny> {
    if team.require_sso
        && let Principal::User { role, sso: false, .. } = principal
        && *role != Role::Owner
    {
        return Err(Deny::SsoRequired);
    }
    if !team.require_two_factor {
        return Ok(());
    }
    match principal {
        Principal::User { two_factor: false, .. } => Err(Deny::TwoFactor { key: false }),
        Principal::Key(key) if !key.creator_two_factor => Err(Deny::TwoFactor { key: true }),
        _ => Ok(()),
    }
}

/// The policy: may `principal` do `action` to `target` in a team with `team`'s rules? The
/// last-owner rule is separate ([`crate::teams::leaves_no_owner`]): it depends on the team's
/// current owners, counted in the transaction of the change.
pub fn decide<'a>(principal: &Principal, team: TeamRules, action: Action, target: Target<'a>) -> Result<(), Deny> {
    let key = match principal {
        Principal::Service if action.is_the_services() => return Ok(()),
        Principal::Service => return Err(Deny::NotForService),
        _ if action.is_the_services() => return Err(Deny::ServiceOnly),
        Principal::User { role, two_factor, .. } => {
            admits(principal, team)?;
            if !role_allows(*role, action) {
                return Err(Deny::Role(*role));
            }
            // People are bound by their role; a key's settings are the team's business.
            return match target {
                Target::TwoFactorRequirement { on: true } if !two_factor => Err(Deny::OwnTwoFactorFirst),
                _ => Ok(()),
            };
        }
        Principal::Key(key) => key,
    };
    admits(principal, team)?;
    actor_allows(key.actor(), action)?;
    // The key's bound is worked out only for targets that are keys: the hot path (a key reading
    // its team) copies nothing.
    let within = |shapes: &[&KeyShape]| {
        let bound = key.bound();
        shapes.iter().try_for_each(|shape| {
            shape.within(&bound).map_err(|beyond| Deny::Beyond { beyond, own_environment: bound.environment })
        })
    };
    match target {
        Target::Team => Ok(()),
        // Only changing the team carries it, which no key may do (no scope names it).
        Target::TwoFactorRequirement { .. } => Ok(()),
        Target::Key(shape) => within(&[shape]),
        Target::NewKey(shape) => {
            if !key.shape.may_make_keys() {
                return Err(Deny::LimitedKeyMakesNoKeys);
            }
            within(&[shape])
        }
        Target::KeyChange { was, will_be, own } => {
            let bounding = |s: &'a KeyShape| (s.scopes, s.usage_limit, s.rate_limit, &s.allowed);
            if own && bounding(was) != bounding(will_be) {
                return Err(Deny::OwnSettings);
            }
            within(&[was, will_be])
        }
    }
}

/// Whether the role table, as it applies to `actor`, lets it do `action` (the target aside).
fn actor_allows(actor: Actor, action: Action) -> Result<(), Deny> {
    let (rolling, creator) = match actor {
        Actor::Member(role) => return if role_allows(role, action) { Ok(()) } else { Err(Deny::Role(role)) },
        Actor::ApiKey { rolling, creator, .. } => (rolling, creator),
    };
    // What an active full-access key made by an admin may not do, no key may: actions no scope
    // names (personal or owners' business) and what an admin may not do.
    let Some(scope) = required_scope(action).filter(|_| role_allows(Role::Admin, action)) else {
        return Err(Deny::NotForKeys);
    };
    if !actor.scopes().contains(scope) {
        return Err(Deny::Scope(scope));
    }
    if rolling && barred_while_rolling(action) {
        return Err(Deny::Rolling);
    }
    if !role_allows(key_ceiling(creator), action) {
        return Err(Deny::NotForKeys);
    }
    Ok(())
}

/// Whether the role table (and for keys its derivation) lets `actor` do `action` to the team
/// itself: [`decide`] with nothing but the action to weigh, and no two-factor rule.
pub fn allows(actor: Actor, action: Action) -> bool {
    actor_allows(actor, action).is_ok()
}

/// The role table. Owners may do everything in a team; admins everything but changing or
/// deleting the team and touching owners; members read the team, its members, activity, keys
/// and usage, and may leave. No role verifies keys: that is the service's.
fn role_allows(role: Role, action: Action) -> bool {
    use Action::*;
    match (role, action) {
        (_, action) if action.is_the_services() => false,
        (Role::Owner, _) => true,
        (Role::Admin, ChangeRole { target, to }) => target != Role::Owner && to != Role::Owner,
        (Role::Admin, RemoveMember { target }) => target != Role::Owner,
        (Role::Admin, Invite { role } | ManageInvitation { role }) => role != Role::Owner,
        (Role::Admin, UpdateTeam | DeleteTeam | ManageDomains) => false,
        (Role::Admin, _) => true,
        (Role::Member, _) => matches!(action, ReadTeam | ReadMembers | Leave | ReadActivity | ReadApiKeys | ReadUsage),
    }
}

/// The most a key acts as: its creator's role, and never more than an admin (`Role` orders from
/// the most rights to the least).
fn key_ceiling(creator: Role) -> Role {
    creator.max(Role::Admin)
}

/// The scopes a key can use while `creator` has that role: those of the actions the role table
/// gives the key's ceiling. Derived from the table, never written beside it; worked out once.
pub fn scope_cap(creator: Role) -> ScopeSet {
    static CAPS: OnceLock<[ScopeSet; 3]> = OnceLock::new();
    let caps = CAPS.get_or_init(|| {
        Role::ALL.map(|role| {
            let ceiling = key_ceiling(role);
            Action::all()
                .into_iter()
                .filter(|&action| role_allows(ceiling, action))
                .filter_map(required_scope)
                .collect()
        })
    });
    caps[Role::ALL.iter().position(|&r| r == creator).unwrap_or(Role::ALL.len() - 1)]
}

/// The scope a key needs for `action`; None for what no key may ever do (owner-only actions,
/// leaving, personal data in the activity log, verifying keys).
pub fn required_scope(action: Action) -> Option<Scope> {
    use Action::*;
    Some(match action {
        ReadTeam => Scope::TeamRead,
        // Domains decide who joins the team: people's business, never a key's.
        // So do identity providers: who signs in is people's business too.
        UpdateTeam | DeleteTeam | Leave | ReadActivityDetails | VerifyKeys | ReadMetrics | ReadDomains
        | ManageDomains | ReadSso | ManageSso => {
            return None;
        }
        ReadMembers => Scope::MembersRead,
        ChangeRole { .. } | RemoveMember { .. } => Scope::MembersWrite,
        ReadInvitations => Scope::InvitationsRead,
        Invite { .. } | ManageInvitation { .. } => Scope::InvitationsWrite,
        ReadActivity => Scope::ActivityRead,
        ReadApiKeys => Scope::ApiKeysRead,
        ManageApiKeys => Scope::ApiKeysWrite,
        ReadUsage => Scope::UsageRead,
        ReadWebhooks => Scope::WebhooksRead,
        ManageWebhooks => Scope::WebhooksWrite,
    })
}

/// What one must be allowed to read to receive webhook events of `event`: the read of its family
/// (`api_key.*`: keys, `member.*`: members, ...). None for the test event, sent on request.
/// Subscribing needs it, and every delivery checks it again against the subscriber's rights.
pub fn event_read_action(event: portal_types::EventType) -> Option<Action> {
    use portal_types::EventType::*;
    Some(match event {
        ApiKeyCreated | ApiKeyRevoked | ApiKeyRolled | ApiKeyExpiring | ApiKeyExpired | ApiKeyLeaked => {
            Action::ReadApiKeys
        }
        UsageThresholdReached => Action::ReadUsage,
        MemberJoined | MemberRemoved | MemberRoleChanged => Action::ReadMembers,
        InvitationCreated | InvitationAccepted | InvitationRevoked => Action::ReadInvitations,
        TeamUpdated => Action::ReadTeam,
        DomainVerified | DomainRemoved | DomainLapsed => Action::ReadDomains,
        SsoConnectionChanged | SsoSignInFailed => Action::ReadSso,
        WebhookTest => return None,
    })
}

/// What a key in its roll grace period may no longer do: change anyone's access. No keys minted,
/// rolled, changed or revoked, nobody invited, promoted, demoted or removed, no webhook endpoint
/// changed. A leaked key that was rolled cannot use its last days to dig in.
fn barred_while_rolling(action: Action) -> bool {
    matches!(
        action,
        Action::ManageApiKeys
            | Action::Invite { .. }
            | Action::ManageInvitation { .. }
            | Action::ChangeRole { .. }
            | Action::RemoveMember { .. }
            | Action::ManageWebhooks
    )
}

/// The permission flags of one actor, as clients need them to show only what will work: each is
/// the policy's answer for that action.
pub fn permissions(actor: Actor) -> TeamPermissions {
    // Least to most powerful, the order a role picker shows.
    let roles = [Role::Member, Role::Admin, Role::Owner];
    TeamPermissions {
        update_team: allows(actor, Action::UpdateTeam),
        delete_team: allows(actor, Action::DeleteTeam),
        read_invitations: allows(actor, Action::ReadInvitations),
        manage_api_keys: allows(actor, Action::ManageApiKeys),
        manage_webhooks: allows(actor, Action::ManageWebhooks),
        read_domains: allows(actor, Action::ReadDomains),
        manage_domains: allows(actor, Action::ManageDomains),
        read_sso: allows(actor, Action::ReadSso),
        manage_sso: allows(actor, Action::ManageSso),
        invite_roles: roles.into_iter().filter(|&role| allows(actor, Action::Invite { role })).collect(),
        role_changes: roles
            .into_iter()
            .map(|role| RoleChanges {
                role,
                to: roles
                    .into_iter()
                    .filter(|&to| to != role && allows(actor, Action::ChangeRole { target: role, to }))
                    .collect(),
            })
            .collect(),
        remove_roles: roles.into_iter().filter(|&target| allows(actor, Action::RemoveMember { target })).collect(),
    }
}

#[cfg(test)]
mod tests;
