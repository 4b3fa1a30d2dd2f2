//! What one decision of the policy costs: `cargo run --release -p portal-domain --example
//! policy_cost`. Times the decisions a request on the hot path makes (a full-access key reading
//! its team; a narrow key making a key, weighed against its own settings) and prints ns per call.

use std::hint::black_box;
use std::time::Instant;

use portal_domain::policy::{Action, KeyPrincipal, Principal, Role, Target, TeamRules, decide};
use portal_domain::scopes::{AllowList, KeyShape, ScopeSet};
use portal_types::{Environment, Scope};

fn per_call(name: &str, calls: u32, mut f: impl FnMut() -> bool) {
    let mut allowed = 0u32;
    let started = Instant::now();
    for _ in 0..calls {
        allowed += u32::from(black_box(f()));
    }
    let ns = started.elapsed().as_nanos() as f64 / f64::from(calls);
    println!("{name}: {ns:.1} ns per decision ({allowed} of {calls} allowed)");
}

fn main() {
    let shape = |scopes: ScopeSet, allowed: &[&str]| KeyShape {
        scopes,
        environment: Environment::Production,
        usage_limit: None,
        rate_limit: None,
        allowed: AllowList::parse("allowed_ips", &allowed.iter().map(|s| s.to_string()).collect::<Vec<_>>())
            .expect("the allowlists of this example parse"),
    };
    let key = |shape: KeyShape| KeyPrincipal { rolling: false, creator: Role::Admin, creator_two_factor: true, shape };
    let rules = TeamRules { require_two_factor: true, ..TeamRules::default() };
    let calls = 10_000_000;
    let full = key(shape(ScopeSet::FULL, &[]));
    per_call("a full-access key reads its team (principal built each time)", calls, || {
        let principal = Principal::Key(black_box(&full).clone());
        decide(&principal, rules, Action::ReadTeam, Target::Team).is_ok()
    });
    let narrow = Principal::Key(key(shape([Scope::ApiKeysWrite].into_iter().collect(), &["203.0.113.0/24"])));
    let child = shape([Scope::ApiKeysRead].into_iter().collect(), &["203.0.113.5"]);
    per_call("an allowlisted narrow key makes a key within its own", calls, || {
        decide(black_box(&narrow), rules, Action::ManageApiKeys, Target::NewKey(black_box(&child))).is_ok()
    });
    let user = Principal::User { role: Role::Admin, two_factor: true, sso: false };
    per_call("an admin changes a member's role", calls, || {
        let action = Action::ChangeRole { target: Role::Member, to: Role::Admin };
        decide(black_box(&user), rules, action, Target::Team).is_ok()
    });
}
