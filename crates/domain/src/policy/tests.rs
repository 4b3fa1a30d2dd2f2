use portal_types::RateLimit;

use super::*;
use crate::scopes::AllowList;
use Action::*;
use Role::*;

fn all_actions() -> Vec<Action> {
    Action::all()
}

/// The role table, written out in words: what each role may do.
fn table(role: Role, action: Action) -> bool {
    let touches_owner = match action {
        ChangeRole { target, to } => target == Owner || to == Owner,
        RemoveMember { target } => target == Owner,
        Invite { role } | ManageInvitation { role } => role == Owner,
        _ => false,
    };
    match role {
        _ if matches!(action, VerifyKeys | ReadMetrics) => false,
        Owner => true,
        Admin => !matches!(action, UpdateTeam | DeleteTeam | ManageDomains) && !touches_owner,
        Member => matches!(action, ReadTeam | ReadMembers | Leave | ReadActivity | ReadApiKeys | ReadUsage),
    }
}

/// The scope each action needs of a key, written out again; None: no key does it.
fn needs(action: Action) -> Option<Scope> {
    Some(match action {
        ReadTeam => Scope::TeamRead,
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
        UpdateTeam | DeleteTeam | Leave | ReadActivityDetails | VerifyKeys | ReadMetrics | ReadDomains
        | ManageDomains | ReadSso | ManageSso => {
            return None;
        }
    })
}

fn is_read(action: Action) -> bool {
    matches!(action, ReadTeam | ReadMembers | ReadInvitations | ReadActivity | ReadApiKeys | ReadUsage | ReadWebhooks)
}

/// A scope set as it is given: a write scope includes its read.
fn given(scopes: &[Scope]) -> ScopeSet {
    scopes.iter().copied().collect()
}

/// The reference model of a key's rights to the team: a scope it holds names the action, its
/// creator's role and an admin's may do it, and in its grace it only reads.
fn key_may(key: &KeyPrincipal, action: Action) -> bool {
    needs(action).is_some_and(|s| key.shape.scopes.contains(s))
        && table(key.creator, action)
        && table(Admin, action)
        && (!key.rolling || is_read(action))
}

/// The scopes a key may use now, in the reference model: those of actions it may do.
fn usable(key: &KeyPrincipal) -> Vec<Scope> {
    Scope::ALL
        .iter()
        .copied()
        .filter(|&s| key.shape.scopes.contains(s))
        .filter(|&s| all_actions().into_iter().any(|a| needs(a) == Some(s) && table(key.creator, a) && table(Admin, a)))
        .collect()
}

/// The allowlists the model uses, and which lies within which (written out, not computed).
fn allowlists() -> Vec<AllowList> {
    let list =
        |e: &[&str]| AllowList::parse("allowed_ips", &e.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap();
    vec![list(&[]), list(&["203.0.113.0/24"]), list(&["203.0.113.5"]), list(&["198.51.100.0/24"])]
}

fn list_within(inner: usize, outer: usize) -> bool {
    // 0: anywhere; 1: 203.0.113.0/24; 2: 203.0.113.5; 3: 198.51.100.0/24.
    outer == 0 || inner == outer || (inner == 2 && outer == 1)
}

#[derive(Clone)]
struct Shape {
    scopes: Vec<Scope>,
    environment: Environment,
    usage_limit: Option<u64>,
    rate: Option<u32>,
    allowed: usize,
}

impl Shape {
    fn real(&self, lists: &[AllowList]) -> KeyShape {
        KeyShape {
            scopes: given(&self.scopes),
            environment: self.environment,
            usage_limit: self.usage_limit,
            rate_limit: self.rate.map(|r| RateLimit { requests_per_second: r, burst: r }),
            allowed: lists[self.allowed].clone(),
        }
    }
}

/// The reference model of "lies within": every setting of `inner` is one `outer` (a key, whose
/// usable scopes are `usable`) could give.
fn shape_within(inner: &Shape, outer: &Shape, usable: &[Scope]) -> bool {
    let inner_scopes = given(&inner.scopes);
    Scope::ALL.iter().all(|s| !inner_scopes.contains(*s) || usable.contains(s))
        && inner.environment == outer.environment
        && outer.usage_limit.is_none_or(|o| inner.usage_limit.is_some_and(|i| i <= o))
        && outer.rate.is_none_or(|o| inner.rate.is_some_and(|i| i <= o))
        && list_within(inner.allowed, outer.allowed)
}

fn shapes() -> Vec<Shape> {
    use Scope::*;
    let scope_sets: Vec<Vec<Scope>> =
        vec![Scope::ALL.to_vec(), vec![ApiKeysWrite], vec![ApiKeysWrite, WebhooksRead], vec![TeamRead, UsageRead]];
    let mut out = Vec::new();
    for scopes in &scope_sets {
        for environment in [Environment::Development, Environment::Production] {
            for usage_limit in [None, Some(3), Some(10)] {
                for rate in [None, Some(5), Some(50)] {
                    for allowed in 0..4 {
                        out.push(Shape { scopes: scopes.clone(), environment, usage_limit, rate, allowed });
                    }
                }
            }
        }
    }
    out
}

/// The policy's answer equals the reference model for every principal kind, role, scope set,
/// environment, limit, allowlist, grace, creator (demoted or gone: a member), two-factor state,
/// action and target key shape; and no key ever does what its creator may not.
#[test]
fn the_policy_equals_the_reference_model() {
    let lists = allowlists();
    let shapes = shapes();
    let targets: Vec<&Shape> = shapes.iter().step_by(5).collect();
    let teams = [false, true]
        .into_iter()
        .flat_map(|require_two_factor| [false, true].map(|require_sso| TeamRules { require_two_factor, require_sso }));
    let mut checked = 0u64;
    let mut allowed = 0u64;
    let mut check = |principal: &Principal, team: TeamRules, action: Action, target: Target<'_>, expect: bool| {
        let got = decide(principal, team, action, target);
        assert_eq!(got.is_ok(), expect, "{principal:?} {team:?} {action:?} {target:?}: {got:?}");
        checked += 1;
        allowed += u64::from(expect);
        got.is_ok()
    };
    for team in teams {
        // The service verifies keys, and does nothing else.
        for action in all_actions() {
            check(&Principal::Service, team, action, Target::Team, matches!(action, VerifyKeys | ReadMetrics));
        }
        for role in Role::ALL {
            for (two_factor, sso) in [(false, false), (true, false), (false, true), (true, true)] {
                let user = Principal::User { role, two_factor, sso };
                // Single sign-on, where required, binds everyone but owners (their break-glass).
                let admitted = (two_factor || !team.require_two_factor) && (sso || !team.require_sso || role == Owner);
                for action in all_actions() {
                    check(&user, team, action, Target::Team, admitted && table(role, action));
                }
                // Requiring two-factor authentication takes having it on.
                for on in [false, true] {
                    let expect = admitted && table(role, UpdateTeam) && (two_factor || !on);
                    check(&user, team, UpdateTeam, Target::TwoFactorRequirement { on }, expect);
                }
                // People are bound by their role only, whatever the key's settings.
                for target in &targets {
                    let shape = target.real(&lists);
                    check(&user, team, ManageApiKeys, Target::NewKey(&shape), admitted && table(role, ManageApiKeys));
                }
            }
        }
        for creator in Role::ALL {
            for creator_two_factor in [false, true] {
                for rolling in [false, true] {
                    for own in &shapes {
                        let key = KeyPrincipal { rolling, creator, creator_two_factor, shape: own.real(&lists) };
                        let principal = Principal::Key(key.clone());
                        let admitted = creator_two_factor || !team.require_two_factor;
                        // A key is bound by its creator's role, not by how they sign in (keys are not sessions).
                        let creator_as_user =
                            Principal::User { role: creator, two_factor: creator_two_factor, sso: true };
                        for action in all_actions() {
                            let ok = check(&principal, team, action, Target::Team, admitted && key_may(&key, action));
                            if ok {
                                assert!(
                                    decide(&creator_as_user, team, action, Target::Team).is_ok(),
                                    "{key:?} {action:?}"
                                );
                            }
                        }
                        // Who gets in is a person's to decide.
                        for on in [false, true] {
                            check(&principal, team, UpdateTeam, Target::TwoFactorRequirement { on }, false);
                        }
                        let may_manage = admitted && key_may(&key, ManageApiKeys);
                        let usable = usable(&key);
                        for target in &targets {
                            let shape = target.real(&lists);
                            let within = shape_within(target, own, &usable);
                            check(&principal, team, ManageApiKeys, Target::Key(&shape), may_manage && within);
                            let makes = may_manage && within && own.usage_limit.is_none();
                            check(&principal, team, ManageApiKeys, Target::NewKey(&shape), makes);
                        }
                        // A change: from one target to a narrower or wider one, by another key or itself.
                        for was in targets.iter().step_by(3) {
                            for will_be in targets.iter().step_by(7) {
                                let (w, b) = (was.real(&lists), will_be.real(&lists));
                                let same_bounds = w.scopes == b.scopes
                                    && w.usage_limit == b.usage_limit
                                    && w.rate_limit == b.rate_limit
                                    && w.allowed == b.allowed;
                                let within = shape_within(was, own, &usable) && shape_within(will_be, own, &usable);
                                for is_own in [false, true] {
                                    let target = Target::KeyChange { was: &w, will_be: &b, own: is_own };
                                    let expect = may_manage && within && (!is_own || same_bounds);
                                    check(&principal, team, ManageApiKeys, target, expect);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    assert!(checked > 1_000_000 && allowed > 10_000, "{checked} checked, {allowed} allowed");
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
            let expect = match actor {
                Actor::Member(role) => table(role, action),
                Actor::ApiKey { rolling, .. } => {
                    needs(action).is_some() && table(Admin, action) && (!rolling || is_read(action))
                }
            };
            assert_eq!(allows(actor, action), expect, "{actor:?} {action:?}");
            checked += 1;
        }
    }
    assert_eq!(checked, 5 * (19 + 3 * 3 + 9));
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
            let expect = allows(Actor::KEY, action) && needed.is_some_and(|n| n == scope || scope.implies() == Some(n));
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
    assert!(!allows(rolling, ChangeRole { target: Member, to: Admin }));
    assert!(allows(rolling, ReadApiKeys));
    assert!(allows(Actor::Member(Admin), ChangeRole { target: Member, to: Admin }));
    assert!(!allows(Actor::Member(Admin), ChangeRole { target: Member, to: Owner }));
    assert!(!allows(Actor::Member(Admin), ChangeRole { target: Owner, to: Admin }));
    assert!(!allows(Actor::Member(Admin), RemoveMember { target: Owner }));
    assert!(!allows(Actor::Member(Admin), Invite { role: Owner }));
    assert!(!allows(Actor::Member(Member), ReadInvitations));
    assert!(!allows(Actor::Member(Owner), VerifyKeys));
    assert_eq!(decide(&Principal::Service, TeamRules::default(), ReadApiKeys, Target::Team), Err(Deny::NotForService));
    let user = Principal::User { role: Owner, two_factor: true, sso: false };
    assert_eq!(decide(&user, TeamRules::default(), VerifyKeys, Target::Team), Err(Deny::ServiceOnly));
}

/// The denials name what to fix: the scope, the grace, the setting.
#[test]
fn denials_say_why() {
    use crate::scopes::Beyond;
    let lists = allowlists();
    let dev_narrow = KeyPrincipal {
        rolling: false,
        creator: Admin,
        creator_two_factor: false,
        shape: Shape {
            scopes: vec![Scope::ApiKeysWrite],
            environment: Environment::Development,
            usage_limit: None,
            rate: None,
            allowed: 0,
        }
        .real(&lists),
    };
    let key = Principal::Key(dev_narrow.clone());
    let rules = TeamRules::default();
    let prod_full = Shape {
        scopes: Scope::ALL.to_vec(),
        environment: Environment::Production,
        usage_limit: None,
        rate: None,
        allowed: 1,
    }
    .real(&lists);
    assert_eq!(decide(&key, rules, ReadWebhooks, Target::Team), Err(Deny::Scope(Scope::WebhooksRead)));
    assert!(matches!(
        decide(&key, rules, ManageApiKeys, Target::Key(&prod_full)),
        Err(Deny::Beyond { beyond: Beyond::Scope(_), .. })
    ));
    let prod_narrow = KeyShape { scopes: given(&[Scope::ApiKeysRead]), ..prod_full.clone() };
    assert_eq!(
        decide(&key, rules, ManageApiKeys, Target::NewKey(&prod_narrow)),
        Err(Deny::Beyond { beyond: Beyond::Environment, own_environment: Environment::Development })
    );
    let rolling = Principal::Key(KeyPrincipal { rolling: true, ..dev_narrow.clone() });
    assert_eq!(decide(&rolling, rules, ManageApiKeys, Target::Team), Err(Deny::Rolling));
    let limited = Principal::Key(KeyPrincipal {
        shape: KeyShape { usage_limit: Some(3), ..dev_narrow.shape.clone() },
        ..dev_narrow.clone()
    });
    let child = KeyShape { usage_limit: Some(3), ..dev_narrow.shape.clone() };
    assert_eq!(decide(&limited, rules, ManageApiKeys, Target::NewKey(&child)), Err(Deny::LimitedKeyMakesNoKeys));
    let narrower = KeyShape { usage_limit: Some(5), ..dev_narrow.shape.clone() };
    let change = Target::KeyChange { was: &dev_narrow.shape, will_be: &narrower, own: true };
    assert_eq!(decide(&key, rules, ManageApiKeys, change), Err(Deny::OwnSettings));
    let strict = TeamRules { require_two_factor: true, ..TeamRules::default() };
    assert_eq!(decide(&key, strict, ReadTeam, Target::Team), Err(Deny::TwoFactor { key: true }));
    // A team that requires single sign-on: keys are not sessions, owners keep a way in.
    let sso = TeamRules { require_sso: true, ..TeamRules::default() };
    assert_eq!(decide(&key, sso, ManageApiKeys, Target::Team), Ok(()));
    let password_admin = Principal::User { role: Admin, two_factor: true, sso: false };
    assert_eq!(decide(&password_admin, sso, ReadTeam, Target::Team), Err(Deny::SsoRequired));
    let sso_admin = Principal::User { role: Admin, two_factor: false, sso: true };
    assert_eq!(decide(&sso_admin, sso, ReadTeam, Target::Team), Ok(()));
    let password_owner = Principal::User { role: Owner, two_factor: false, sso: false };
    assert_eq!(decide(&password_owner, sso, UpdateTeam, Target::Team), Ok(()));
    let demoted = Principal::Key(KeyPrincipal { creator: Member, ..dev_narrow });
    assert_eq!(decide(&demoted, rules, ManageApiKeys, Target::Team), Err(Deny::Scope(Scope::ApiKeysWrite)));
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
    // A full key may what an admin may, but for the domains: who joins is people's business.
    assert!(admin.read_domains && !admin.manage_domains && owner.manage_domains && !member.read_domains);
    assert!(admin.read_sso && admin.manage_sso && owner.manage_sso && !member.read_sso);
    assert_eq!(
        permissions(Actor::KEY),
        TeamPermissions { read_domains: false, read_sso: false, manage_sso: false, ..admin.clone() }
    );
    let rolling = permissions(Actor::ApiKey { rolling: true, scopes: ScopeSet::FULL, creator: Admin });
    assert!(!rolling.manage_api_keys && rolling.invite_roles.is_empty());
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
/// not receive invitations or webhooks' business, keys only what their scopes read, and the
/// domains' events only people (no scope reads domains).
#[test]
fn webhook_events_need_the_read_of_their_family() {
    use portal_types::EventType;
    for event in EventType::ALL {
        let Some(read) = event_read_action(*event) else {
            assert_eq!(*event, EventType::WebhookTest);
            continue;
        };
        assert!(allows(Actor::Member(Admin), read), "{event:?}");
        if matches!(read, ReadDomains | ReadSso) {
            assert!(required_scope(read).is_none() && !allows(Actor::KEY, read), "{event:?}");
            continue;
        }
        assert!(required_scope(read).is_some_and(|s| !s.is_write()), "{event:?}");
    }
    assert!(!allows(Actor::Member(Member), event_read_action(EventType::InvitationCreated).unwrap()));
    assert!(allows(Actor::Member(Member), event_read_action(EventType::MemberJoined).unwrap()));
    let hooks_only: ScopeSet = [Scope::WebhooksWrite].into_iter().collect();
    let key = Actor::ApiKey { rolling: false, scopes: hooks_only, creator: Admin };
    assert!(!allows(key, event_read_action(EventType::ApiKeyCreated).unwrap()));
}
