#!/usr/bin/env bash
# Mutation check of the policy (issue 24): each rule of crates/domain/src/policy.rs (and of the
# key-shape relation it uses) is weakened in turn, and the policy tests must fail every time.
# `make mutants` runs it (about a minute in all once the crate is built); it restores every file.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p target/mutants
out=target/mutants
survived=0
P=crates/domain/src/policy.rs
S=crates/domain/src/scopes.rs
mut() { # name file python-replacement-old python-replacement-new
  name="$1"; file="$2"; old="$3"; new="$4"
  cp "$file" $out/backup
  python3 -c "
import sys
p,o,n=sys.argv[1:4]
s=open(p).read()
assert o in s, 'missing: '+o
open(p,'w').write(s.replace(o,n,1))" "$file" "$old" "$new" || { echo "$name: MUTATION NOT APPLIED"; cp $out/backup "$file"; return; }
  if cargo test -q -p portal-domain --lib policy >$out/"$name".log 2>&1; then echo "$name: SURVIVED"; survived=$((survived + 1)); else echo "$name: killed ($(grep -o 'policy::tests::[a-z_]*' $out/$name.log | sort -u | tr '\n' ' '))"; fi
  cp $out/backup "$file"
}
mut grace_changes_roles $P "            | Action::ChangeRole { .. }
" ""
mut ceiling_ignores_creator $P "creator.max(Role::Admin)" "Role::Admin"
mut key_target_unchecked $P "Target::Key(shape) => within(shape)," "Target::Key(_) => Ok(()),"
mut limited_key_mints $P "if !bound.may_make_keys() {" "if false && !bound.may_make_keys() {"
mut own_settings_free $P "if own && bounding(was)" "if false && bounding(was)"
mut change_after_unchecked $P "            within(was)?;
            within(will_be)" "            within(was)"
mut key_skips_two_factor $P "Principal::Key(key) if !key.creator_two_factor =>" "Principal::Key(key) if false && !key.creator_two_factor =>"
mut admin_removes_owner $P "(Role::Admin, RemoveMember { target }) => target != Role::Owner," "(Role::Admin, RemoveMember { .. }) => true,"
mut scope_unchecked $P "if !actor.scopes().contains(scope) {" "if false && !actor.scopes().contains(scope) {"
mut cap_not_applied $P "Actor::ApiKey { scopes, creator, .. } => scopes.intersect(scope_cap(creator))," "Actor::ApiKey { scopes, .. } => scopes,"
mut service_does_all $P "Principal::Service => return Err(Deny::NotForService)," "Principal::Service => return Ok(()),"
mut environment_crossing $S "        if self.environment != bound.environment {" "        if false && self.environment != bound.environment {"
mut allowlist_unchecked $S "        if !self.allowed.is_within(&bound.allowed) {" "        if false && !self.allowed.is_within(&bound.allowed) {"
mut usage_limit_unchecked $S "            && self.usage_limit.is_none_or(|n| n > own)" "            && false"
mut member_reads_webhooks $P "(Role::Member, _) => matches!(action, ReadTeam | ReadMembers" "(Role::Member, _) => matches!(action, ReadWebhooks | ReadTeam | ReadMembers"
mut owner_requires_without_two_factor $P "Target::TwoFactorRequirement { on: true } if !two_factor =>" "Target::TwoFactorRequirement { on: true } if false && !two_factor =>"
echo "$survived mutation(s) survived"
exit $((survived > 0))
