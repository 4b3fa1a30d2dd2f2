//! Teams and roles: the one permission table every check goes through.

use portal_types::{Role, RoleChanges, Scope, TeamPermissions};

use crate::FieldError;
use crate::scopes::ScopeSet;

/// Who acts on a team: a member with a role, or an API key of that team.
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
}

/// The most a key acts as: its creator's role, and never more than an admin (`Role` orders from
/// the most rights to the least).
fn key_ceiling(creator: Role) -> Role {
    creator.max(Role::Admin)
}

/// The scopes a key can use while `creator` has that role: those of the actions the role table
/// gives the key's ceiling. Derived from the table, never written beside it.
pub fn scope_cap(creator: Role) -> ScopeSet {
    let ceiling = Actor::Member(key_ceiling(creator));
    Action::all().into_iter().filter(|&action| allows(ceiling, action)).filter_map(required_scope).collect()
}

/// The scope a key needs for `action`; None for what no key may ever do (owner-only actions,
/// leaving, and personal data in the activity log).
pub fn required_scope(action: Action) -> Option<Scope> {
    use Action::*;
    Some(match action {
        ReadTeam => Scope::TeamRead,
        UpdateTeam | DeleteTeam | Leave | ReadActivityDetails => return None,
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
        WebhookTest => return None,
    })
}

/// What a key in its roll grace period may no longer do: change anyone's access. No keys minted,
/// rolled, changed or revoked, nobody invited, promoted, demoted or removed, no webhook endpoint
/// changed. A leaked key that was rolled cannot use its last days to dig in.
pub fn barred_while_rolling(action: Action) -> bool {
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

/// Something done to a team's resources.
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
    ManageApiKeys,
    /// Usage of the team and of its keys.
    ReadUsage,
    /// A team's webhook endpoints and their delivery logs.
    ReadWebhooks,
    /// Create, change, delete and test endpoints; rotate their secrets; redeliver.
    ManageWebhooks,
}

impl Action {
    /// Every action, each target role spelled out: for tables derived from the permission table.
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

/// The permission table. The last-owner rule is separate ([`leaves_no_owner`]): it depends on
/// the team's current owners, checked in the transaction of the change.
pub fn allows(actor: Actor, action: Action) -> bool {
    use Action::*;
    let role = match actor {
        Actor::Member(role) => role,
        // A key: one of its scopes names the action (actions no scope names, such as reading
        // client addresses and user agents, are personal or owners' business: never a key's),
        // its grace does not bar it, and the role that caps the key may do it.
        Actor::ApiKey { rolling, creator, .. } => {
            let scoped = required_scope(action).is_some_and(|scope| actor.scopes().contains(scope));
            let barred = rolling && barred_while_rolling(action);
            return scoped && !barred && allows(Actor::Member(key_ceiling(creator)), action);
        }
    };
    match role {
        Role::Owner => true,
        Role::Admin => match action {
            ReadTeam | ReadMembers | Leave | ReadInvitations | ReadActivity | ReadActivityDetails | ReadApiKeys
            | ManageApiKeys | ReadUsage | ReadWebhooks | ManageWebhooks => true,
            UpdateTeam | DeleteTeam => false,
            ChangeRole { target, to } => target != Role::Owner && to != Role::Owner,
            RemoveMember { target } => target != Role::Owner,
            Invite { role } | ManageInvitation { role } => role != Role::Owner,
        },
        Role::Member => matches!(action, ReadTeam | ReadMembers | Leave | ReadActivity | ReadApiKeys | ReadUsage),
    }
}

/// The permission table for one actor, as clients need it to show only what will work.
pub fn permissions(actor: Actor) -> TeamPermissions {
    // Least to most powerful, the order a role picker shows.
    let roles = [Role::Member, Role::Admin, Role::Owner];
    TeamPermissions {
        update_team: allows(actor, Action::UpdateTeam),
        delete_team: allows(actor, Action::DeleteTeam),
        read_invitations: allows(actor, Action::ReadInvitations),
        manage_api_keys: allows(actor, Action::ManageApiKeys),
        manage_webhooks: allows(actor, Action::ManageWebhooks),
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

/// Whether changing a member with `current` role to `new` (None: removing them) would leave the
/// team without an owner, given how many owners it has now.
pub fn leaves_no_owner(owners: u64, current: Role, new: Option<Role>) -> bool {
    current == Role::Owner && new != Some(Role::Owner) && owners <= 1
}

/// A team name: see [`crate::text::parse_name`].
pub fn parse_team_name(field: &'static str, raw: &str) -> Result<String, FieldError> {
    crate::text::parse_name(field, raw, crate::text::NAME_MAX_CHARS)
}

pub use crate::text::parse_note;

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;
    use Role::*;

    fn all_actions() -> Vec<Action> {
        Action::all()
    }

    /// The whole table, written out: what each role may do.
    fn expected(actor: Actor, action: Action) -> bool {
        let touches_owner = match action {
            ChangeRole { target, to } => target == Owner || to == Owner,
            RemoveMember { target } => target == Owner,
            Invite { role } | ManageInvitation { role } => role == Owner,
            _ => false,
        };
        match actor {
            Actor::Member(Owner) => true,
            Actor::Member(Admin) => !matches!(action, UpdateTeam | DeleteTeam) && !touches_owner,
            Actor::ApiKey { rolling: false, .. } => {
                !matches!(action, UpdateTeam | DeleteTeam | Leave | ReadActivityDetails) && !touches_owner
            }
            // In its roll grace: it reads, and changes nobody's access.
            Actor::ApiKey { rolling: true, .. } => matches!(
                action,
                ReadTeam | ReadMembers | ReadInvitations | ReadActivity | ReadApiKeys | ReadUsage | ReadWebhooks
            ),
            Actor::Member(Member) => {
                matches!(action, ReadTeam | ReadMembers | Leave | ReadActivity | ReadApiKeys | ReadUsage)
            }
        }
    }

    #[test]
    fn every_actor_and_action_follows_the_table() {
        let actors = [
            Actor::Member(Owner),
            Actor::Member(Admin),
            Actor::Member(Member),
            Actor::KEY,
            Actor::ApiKey { rolling: true, scopes: ScopeSet::FULL, creator: Admin },
        ];
        let mut checked = 0;
        for actor in actors {
            for action in all_actions() {
                assert_eq!(allows(actor, action), expected(actor, action), "{actor:?} {action:?}");
                checked += 1;
            }
        }
        assert_eq!(checked, 5 * (13 + 3 * 3 + 9));
    }

    /// A key holding exactly one scope (and the read a write includes) may do what a full key
    /// may, where that needs this scope; nothing else.
    #[test]
    fn a_key_does_only_what_its_scopes_name() {
        for scope in Scope::ALL {
            let scopes: ScopeSet = [scope].into_iter().collect();
            let key = Actor::ApiKey { rolling: false, scopes, creator: Admin };
            for action in all_actions() {
                let needed = required_scope(action);
                let expect =
                    allows(Actor::KEY, action) && needed.is_some_and(|n| n == scope || scope.implies() == Some(n));
                assert_eq!(allows(key, action), expect, "{scope:?} {action:?}");
            }
        }
        assert!(!allows(Actor::ApiKey { rolling: false, scopes: ScopeSet::EMPTY, creator: Admin }, ReadTeam));
        let read_only = Actor::ApiKey { rolling: false, scopes: ScopeSet::read_only(), creator: Admin };
        assert!(allows(read_only, ReadInvitations) && !allows(read_only, Invite { role: Member }));
        assert!(permissions(read_only).invite_roles.is_empty() && !permissions(read_only).manage_api_keys);
    }

    #[test]
    fn spot_checks_of_the_rules_in_words() {
        assert!(allows(Actor::Member(Owner), DeleteTeam));
        assert!(!allows(Actor::Member(Admin), DeleteTeam));
        assert!(!allows(Actor::KEY, DeleteTeam));
        assert!(allows(Actor::KEY, ManageApiKeys));
        let rolling = Actor::ApiKey { rolling: true, scopes: ScopeSet::FULL, creator: Admin };
        assert!(!allows(rolling, ManageApiKeys));
        assert!(!allows(rolling, Invite { role: Member }));
        assert!(allows(rolling, ReadApiKeys));
        assert!(allows(Actor::Member(Admin), ChangeRole { target: Member, to: Admin }));
        assert!(allows(Actor::Member(Admin), ChangeRole { target: Admin, to: Member }));
        assert!(!allows(Actor::Member(Admin), ChangeRole { target: Member, to: Owner }));
        assert!(!allows(Actor::Member(Admin), ChangeRole { target: Owner, to: Admin }));
        assert!(allows(Actor::Member(Admin), RemoveMember { target: Admin }));
        assert!(!allows(Actor::Member(Admin), RemoveMember { target: Owner }));
        assert!(allows(Actor::Member(Admin), Invite { role: Admin }));
        assert!(!allows(Actor::Member(Admin), Invite { role: Owner }));
        assert!(!allows(Actor::Member(Member), ReadInvitations));
        assert!(!allows(Actor::Member(Member), Invite { role: Member }));
        assert!(allows(Actor::Member(Member), ReadMembers));
    }

    #[test]
    fn permissions_for_clients_follow_the_table() {
        let admin = permissions(Actor::Member(Admin));
        assert!(!admin.update_team && !admin.delete_team && admin.read_invitations && admin.manage_api_keys);
        assert_eq!(admin.invite_roles, vec![Member, Admin]);
        assert_eq!(admin.remove_roles, vec![Member, Admin]);
        let to = |p: &TeamPermissions, role: Role| p.role_changes.iter().find(|c| c.role == role).unwrap().to.clone();
        assert_eq!(to(&admin, Member), vec![Admin]);
        assert_eq!(to(&admin, Owner), Vec::<Role>::new());
        let owner = permissions(Actor::Member(Owner));
        assert_eq!(to(&owner, Admin), vec![Member, Owner]);
        assert!(owner.delete_team);
        let member = permissions(Actor::Member(Member));
        assert!(member.invite_roles.is_empty() && member.remove_roles.is_empty() && !member.read_invitations);
        assert!(member.role_changes.iter().all(|c| c.to.is_empty()));
        assert_eq!(permissions(Actor::KEY), admin);
        let rolling = permissions(Actor::ApiKey { rolling: true, scopes: ScopeSet::FULL, creator: Admin });
        assert!(!rolling.manage_api_keys && rolling.invite_roles.is_empty());
    }

    /// A key never does what the person who answers for it may not: for every creator role,
    /// scope set, grace and action, a key's answer is the table's for that role, within the
    /// key's scopes, at most an admin's, and nothing that changes access while rolling.
    #[test]
    fn a_key_never_does_what_its_creator_may_not() {
        let scope_sets: Vec<ScopeSet> = (0u32..(1 << Scope::ALL.len()))
            .step_by(7)
            .map(|bits| Scope::ALL.iter().enumerate().filter(|(i, _)| bits & (1 << i) != 0).map(|(_, s)| *s).collect())
            .chain([ScopeSet::FULL, ScopeSet::EMPTY, ScopeSet::read_only()])
            .collect();
        let mut checked = 0;
        for creator in Role::ALL {
            for &scopes in &scope_sets {
                for rolling in [false, true] {
                    let key = Actor::ApiKey { rolling, scopes, creator };
                    for action in all_actions() {
                        let reference = required_scope(action).is_some_and(|s| scopes.contains(s))
                            && allows(Actor::Member(creator), action)
                            && allows(Actor::Member(Admin), action)
                            && !(rolling && barred_while_rolling(action));
                        assert_eq!(allows(key, action), reference, "{key:?} {action:?}");
                        if allows(key, action) {
                            assert!(allows(Actor::Member(creator), action), "{key:?} {action:?}");
                        }
                        checked += 1;
                    }
                }
            }
        }
        assert!(checked > 10_000, "{checked}");
    }

    /// What a key keeps when its creator is a member is what the table gives members, in scopes:
    /// no webhooks and no invitations (issue 24, escape 9: a cap written beside the table kept
    /// `webhooks:read`).
    #[test]
    fn the_scope_cap_comes_from_the_table() {
        use Scope::*;
        assert_eq!(scope_cap(Owner), ScopeSet::FULL);
        assert_eq!(scope_cap(Admin), ScopeSet::FULL);
        let member: ScopeSet = [TeamRead, MembersRead, ApiKeysRead, UsageRead, ActivityRead].into_iter().collect();
        assert_eq!(scope_cap(Member), member);
        let demoted = Actor::ApiKey { rolling: false, scopes: ScopeSet::FULL, creator: Member };
        assert!(!allows(demoted, ReadWebhooks) && !allows(demoted, ReadInvitations) && !allows(demoted, ManageApiKeys));
        assert!(allows(demoted, ReadMembers) && allows(demoted, ReadUsage));
        assert_eq!(demoted.scopes(), member);
    }

    /// Every event family is read by the action the table gives for its resource: members do
    /// not receive invitations or webhooks' business, keys only what their scopes read.
    #[test]
    fn webhook_events_need_the_read_of_their_family() {
        use portal_types::EventType;
        for event in EventType::ALL {
            let Some(read) = event_read_action(*event) else {
                assert_eq!(*event, EventType::WebhookTest);
                continue;
            };
            assert!(allows(Actor::Member(Admin), read), "{event:?}");
            assert!(required_scope(read).is_some_and(|s| !s.is_write()), "{event:?}");
        }
        assert!(!allows(Actor::Member(Member), event_read_action(EventType::InvitationCreated).unwrap()));
        assert!(allows(Actor::Member(Member), event_read_action(EventType::MemberJoined).unwrap()));
        let hooks_only: ScopeSet = [Scope::WebhooksWrite].into_iter().collect();
        let key = Actor::ApiKey { rolling: false, scopes: hooks_only, creator: Admin };
        assert!(!allows(key, event_read_action(EventType::ApiKeyCreated).unwrap()));
    }

    #[test]
    fn the_last_owner_stays() {
        assert!(leaves_no_owner(1, Owner, Some(Admin)));
        assert!(leaves_no_owner(1, Owner, None));
        assert!(!leaves_no_owner(1, Owner, Some(Owner)));
        assert!(!leaves_no_owner(2, Owner, None));
        assert!(!leaves_no_owner(1, Admin, None));
    }

    #[test]
    fn names_and_notes() {
        assert_eq!(parse_team_name("name", "  Acme  ").unwrap(), "Acme");
        assert!(parse_team_name("name", " ").is_err());
        assert!(parse_team_name("name", &"x".repeat(101)).is_err());
    }
}
