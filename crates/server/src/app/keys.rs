//! Key use cases: make, change, revoke, roll and report a key compromised. The policy decides
//! whether the caller may touch the key at all ([`Target`]); what is left here is what the change
//! is: which rows, which activity, what every instance must forget.

use chrono::{DateTime, Duration, Utc};
use portal_db::api_keys::{KeyChanges, NewKey, StoredKey};
use portal_domain::keys as domain;
use portal_domain::policy::{Action, Target};
use portal_domain::scopes::{AllowList, KeyShape, ScopeSet, alert_thresholds, thresholds_to_stored};
use portal_types::{AuditAction, Environment, ErrorCode, KeyStatus, RateLimit};
use uuid::Uuid;

use super::{Begin, TeamTx};
use crate::error::{ApiError, ApiResult};
use crate::extract::Principal;
use crate::reads::keys::key_not_found;
use crate::services::change::Change;

/// A key of the team, read in the unit of work (`for_update`: locked until it commits).
async fn find(tx: &TeamTx<'_>, key_id: Uuid, for_update: bool) -> ApiResult<StoredKey> {
    let found = if for_update {
        portal_db::api_keys::find_for_update(tx.db(), tx.team_id(), key_id).await?
    } else {
        portal_db::api_keys::find(tx.db(), tx.team_id(), key_id).await?
    };
    found.ok_or_else(key_not_found)
}

/// The settings of a stored key, as the policy bounds them.
pub fn shape_of(row: &StoredKey) -> ApiResult<KeyShape> {
    Ok(KeyShape {
        scopes: row.scopes,
        environment: row.environment,
        usage_limit: row.usage_limit.map(i64::unsigned_abs),
        rate_limit: row.rate_limit,
        allowed: row.allowed_ips.clone(),
    })
}

/// A key made or rolled by a key never outlives that key: its expiry is cut to the maker's.
fn clamp_expiry(by: &Principal, expires_at: Option<DateTime<Utc>>) -> Option<DateTime<Utc>> {
    match by {
        Principal::Key(key) if key.expires_at.is_some() => {
            let own = key.expires_at;
            expires_at.map_or(own, |e| own.map(|o| e.min(o)))
        }
        _ => expires_at,
    }
}

/// The person who answers for a key made now: the signed-in user, or for a key made by a key,
/// that key's own creator (so demoting them caps both).
fn creator_of(by: &Principal) -> Option<Uuid> {
    match by {
        Principal::User(user) => Some(user.user_id),
        Principal::Key(key) => key.created_by,
    }
}

/// A key to make, as the request gave it (parsed, not yet weighed against the caller).
pub struct NewKeyRequest {
    pub name: String,
    pub description: Option<String>,
    pub environment: Environment,
    /// Days until it expires; None: never.
    pub lifetime_days: Option<i64>,
    pub usage_limit: Option<i64>,
    pub rate_limit: Option<RateLimit>,
    pub scopes: ScopeSet,
    pub allowed: AllowList,
    pub alert_thresholds: Option<Vec<u8>>,
}

/// A key about to be written: its settings and who answers for it.
struct Template<'a> {
    name: &'a str,
    description: Option<&'a str>,
    expires_at: Option<DateTime<Utc>>,
    shape: KeyShape,
    usage_limit: Option<i64>,
    thresholds: Vec<u8>,
    created_by: Option<Uuid>,
    /// The key that made it, if a key did: it goes when that key leaks.
    created_by_key: Option<Uuid>,
}

/// Writes a key with a fresh secret: the only time the secret is known.
async fn issue(tx: &TeamTx<'_>, template: Template<'_>) -> ApiResult<(StoredKey, String)> {
    let secret = domain::generate(template.shape.environment);
    let row = portal_db::api_keys::create(
        tx.db(),
        NewKey {
            team_id: tx.team_id(),
            name: template.name,
            description: template.description,
            environment: template.shape.environment,
            key_hash: &tx.state.auth_cache.hash(&secret),
            hint: &domain::hint(&secret),
            created_by: template.created_by,
            created_by_key: template.created_by_key,
            expires_at: template.expires_at,
            usage_limit: template.usage_limit,
            rate_limit: template.shape.rate_limit,
            scopes: &template.shape.scopes.to_stored(),
            allowed_ips: template.shape.allowed.to_stored().as_deref(),
            alert_thresholds: &thresholds_to_stored(&template.thresholds),
        },
        tx.now,
    )
    .await?;
    Ok((row, secret))
}

/// A key with `old`'s settings under `name`, for a roll or a compromised key's replacement,
/// answering to `created_by`. Its lifetime is the old key's, cut to the caller's if a key.
fn same_settings<'a>(
    tx: &TeamTx<'_>,
    old: &'a StoredKey,
    name: &'a str,
    created_by: Option<Uuid>,
) -> ApiResult<Template<'a>> {
    Ok(Template {
        name,
        description: old.description.as_deref(),
        expires_at: clamp_expiry(tx.by, old.expires_at.map(|e| tx.now + (e - old.created_at))),
        shape: shape_of(old)?,
        usage_limit: old.usage_limit,
        thresholds: old.alert_thresholds.clone(),
        created_by,
        // A replacement stands where the old key stood in the tree of keys made by keys.
        created_by_key: old.created_by_key,
    })
}

/// Makes a key; the answer carries its secret, once.
pub async fn create(begin: Begin<'_>, request: NewKeyRequest) -> ApiResult<(StoredKey, String)> {
    let thresholds = alert_thresholds(
        "alert_thresholds",
        request.usage_limit.map(i64::unsigned_abs),
        request.alert_thresholds.as_deref(),
        None,
    )?;
    let mut tx = begin.open(false).await?;
    let shape = KeyShape {
        scopes: request.scopes,
        environment: request.environment,
        usage_limit: request.usage_limit.map(i64::unsigned_abs),
        rate_limit: request.rate_limit,
        allowed: request.allowed,
    };
    tx.allow(Action::ManageApiKeys, Target::NewKey(&shape))?;
    let template = Template {
        name: &request.name,
        description: request.description.as_deref(),
        expires_at: clamp_expiry(tx.by, request.lifetime_days.map(|d| tx.now + Duration::days(d))),
        shape,
        usage_limit: request.usage_limit,
        thresholds,
        created_by: creator_of(tx.by),
        created_by_key: match tx.by {
            Principal::Key(key) => Some(key.key_id),
            Principal::User(_) => None,
        },
    };
    let (row, secret) = issue(&tx, template).await?;
    let summary = format!("{} ({}, {})", row.name, row.hint, request.environment.as_str());
    tx.record(AuditAction::KeyCreated, "api_key", row.id, summary);
    tx.commit().await?;
    Ok((row, secret))
}

/// What a key's change asks for; None leaves a setting as it is.
#[derive(Default)]
pub struct KeyUpdate {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub usage_limit: Option<Option<i64>>,
    pub rate_limit: Option<Option<RateLimit>>,
    pub scopes: Option<ScopeSet>,
    pub allowed: Option<AllowList>,
    pub alert_thresholds: Option<Vec<u8>>,
}

/// Changes a key's name, description, limits, scopes, allowlist or alerts; limits take effect at
/// once on every instance.
pub async fn update(begin: Begin<'_>, key_id: Uuid, update: KeyUpdate) -> ApiResult<StoredKey> {
    let mut tx = begin.allowed(Action::ManageApiKeys).await?;
    // Locked: the alerts are decided on the limit as it stands when they are written.
    let before = find(&tx, key_id, true).await?;
    let was = shape_of(&before)?;
    let will_be = KeyShape {
        scopes: update.scopes.unwrap_or(was.scopes),
        usage_limit: update.usage_limit.map_or(was.usage_limit, |l| l.map(i64::unsigned_abs)),
        rate_limit: update.rate_limit.unwrap_or(was.rate_limit),
        allowed: update.allowed.clone().unwrap_or_else(|| was.allowed.clone()),
        environment: was.environment,
    };
    let own = matches!(tx.by, Principal::Key(key) if key.key_id == key_id);
    tx.allow(Action::ManageApiKeys, Target::KeyChange { was: &was, will_be: &will_be, own })?;
    let kept = before.alert_thresholds.clone();
    let thresholds = alert_thresholds(
        "alert_thresholds",
        update.usage_limit.unwrap_or(before.usage_limit).map(|l| l.unsigned_abs()),
        update.alert_thresholds.as_deref(),
        Some((before.usage_limit.map(|l| l.unsigned_abs()), &kept)),
    )?;
    let stored_scopes = update.scopes.map(ScopeSet::to_stored);
    let stored_ips = update.allowed.as_ref().map(AllowList::to_stored);
    let stored_thresholds = (thresholds != kept).then(|| thresholds_to_stored(&thresholds));
    let changes = KeyChanges {
        name: update.name.as_deref(),
        description: update.description.as_ref().map(|d| d.as_deref()),
        usage_limit: update.usage_limit,
        rate_limit: update.rate_limit,
        scopes: stored_scopes.as_deref(),
        allowed_ips: stored_ips.as_ref().map(Option::as_deref),
        alert_thresholds: stored_thresholds.as_deref(),
    };
    portal_db::api_keys::update(tx.db(), key_id, &changes).await?;
    let after = find(&tx, key_id, false).await?;
    let changed = what_changed(&before, &after);
    if !changed.is_empty() {
        let summary = format!("{} ({}): {}", after.name, after.hint, changed.join("; "));
        tx.record(AuditAction::KeyUpdated, "api_key", key_id, summary);
    }
    tx.announce(Change::Key(key_id));
    tx.announce(Change::Reads(tx.team_id()));
    tx.commit().await?;
    Ok(after)
}

/// A key's change in words, for the activity.
fn what_changed(before: &StoredKey, after: &StoredKey) -> Vec<String> {
    let mut changed = Vec::new();
    if before.name != after.name {
        changed.push(format!("name: {} → {}", before.name, after.name));
    }
    if before.description != after.description {
        changed.push("description".to_owned());
    }
    if before.usage_limit != after.usage_limit {
        let show = |l: Option<i64>| l.map_or_else(|| "none".to_owned(), |l| l.to_string());
        changed.push(format!("monthly limit: {} → {}", show(before.usage_limit), show(after.usage_limit)));
    }
    if before.rate_limit != after.rate_limit {
        let show = |r: Option<RateLimit>| {
            r.map_or_else(|| "none".to_owned(), |r| format!("{}/s, burst {}", r.requests_per_second, r.burst))
        };
        changed.push(format!("rate limit: {} → {}", show(before.rate_limit), show(after.rate_limit)));
    }
    if before.scopes != after.scopes {
        changed.push(format!("scopes: {} → {}", before.row.scopes, after.row.scopes));
    }
    if before.allowed_ips != after.allowed_ips {
        let show = |ips: &Option<String>| ips.clone().unwrap_or_else(|| "anywhere".to_owned());
        changed.push(format!(
            "allowed addresses: {} → {}",
            show(&before.row.allowed_ips),
            show(&after.row.allowed_ips)
        ));
    }
    if before.alert_thresholds != after.alert_thresholds {
        changed.push(format!("alert thresholds: {} → {}", before.row.alert_thresholds, after.row.alert_thresholds));
    }
    changed
}

/// Revokes a key at once, on every instance. Revoking twice changes nothing.
pub async fn revoke(begin: Begin<'_>, key_id: Uuid) -> ApiResult<StoredKey> {
    let mut tx = begin.allowed(Action::ManageApiKeys).await?;
    let row = find(&tx, key_id, false).await?;
    tx.allow(Action::ManageApiKeys, Target::Key(&shape_of(&row)?))?;
    if portal_db::api_keys::revoke(tx.db(), key_id, tx.now).await? {
        tx.record(AuditAction::KeyRevoked, "api_key", key_id, format!("{} ({})", row.name, row.hint));
    }
    let row = find(&tx, key_id, false).await?;
    tx.announce(Change::Key(key_id));
    tx.announce(Change::Reads(tx.team_id()));
    tx.commit().await?;
    Ok(row)
}

/// Replaces a key: a new key with the same settings; the old one keeps working for the grace
/// period (never past its own expiry), then stops. The month's quota passes to the replacement.
pub async fn roll(begin: Begin<'_>, key_id: Uuid, grace_period_seconds: u64) -> ApiResult<(StoredKey, String)> {
    let mut tx = begin.allowed(Action::ManageApiKeys).await?;
    let old = find(&tx, key_id, false).await?;
    tx.allow(Action::ManageApiKeys, Target::Key(&shape_of(&old)?))?;
    if old.status(tx.now) != KeyStatus::Active {
        return Err(ApiError::new(ErrorCode::KeyNotActive, "Only an active key can be rolled."));
    }
    let grace_until = domain::grace_until(tx.now, grace_period_seconds, old.expires_at)?;
    // The replacement answers to the same person as the old key.
    let template = same_settings(&tx, &old, &old.name, old.created_by)?;
    let (new, secret) = issue(&tx, template).await?;
    inherit_month(&tx, &old, new.id).await?;
    if !portal_db::api_keys::mark_rolled(tx.db(), key_id, new.id, grace_until).await? {
        return Err(ApiError::new(ErrorCode::KeyNotActive, "The key was revoked or rolled meanwhile."));
    }
    let summary = format!(
        "{} ({} → {}), old key works until {}",
        old.name,
        old.hint,
        new.hint,
        grace_until.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    );
    tx.record(AuditAction::KeyRolled, "api_key", key_id, summary);
    tx.announce(Change::Key(key_id));
    tx.announce(Change::Reads(tx.team_id()));
    tx.commit().await?;
    Ok((new, secret))
}

/// The month's quota belongs to the lineage: a replacement takes over what `old` used and
/// leased, so that rolling neither resets nor doubles a limit.
async fn inherit_month(tx: &TeamTx<'_>, old: &StoredKey, new: Uuid) -> ApiResult<()> {
    let month = portal_domain::usage::month_bounds(tx.now).0;
    let limit = old.usage_limit.map(i64::unsigned_abs);
    Ok(portal_db::usage::inherit_month(tx.db(), old.id, new, tx.team_id(), month, limit).await?)
}

/// A key reported compromised: revoked, and the keys it made with it.
pub struct Compromised {
    pub key: StoredKey,
    pub replacement: Option<(StoredKey, String)>,
}

/// Reports a key compromised: it and every key it made are revoked at once on every instance,
/// the incident is recorded, and with `replacement_name` a replacement with the same settings
/// is made (its secret shown once).
pub async fn report_compromised(
    begin: Begin<'_>,
    key_id: Uuid,
    replacement_name: Option<String>,
) -> ApiResult<Compromised> {
    let mut tx = begin.allowed(Action::ManageApiKeys).await?;
    let old = find(&tx, key_id, false).await?;
    tx.allow(Action::ManageApiKeys, Target::Key(&shape_of(&old)?))?;
    let revoked_now = portal_db::api_keys::revoke(tx.db(), key_id, tx.now).await?;
    // What the key made goes with it: a compromised key's children are in the same hands.
    let descendants = portal_db::api_keys::revoke_descendants(tx.db(), key_id, tx.now).await?;
    let summary = format!(
        "{} ({}) reported compromised{}{}",
        old.name,
        old.hint,
        if revoked_now { " and revoked" } else { " (already revoked)" },
        made_by_it(&descendants)
    );
    tx.record(AuditAction::KeyCompromised, "api_key", key_id, summary);
    let replacement = match replacement_name {
        None => None,
        Some(name) => {
            let template = same_settings(&tx, &old, &name, creator_of(tx.by))?;
            let (row, secret) = issue(&tx, template).await?;
            // The replacement takes over the month's quota, as a roll's does.
            inherit_month(&tx, &old, row.id).await?;
            let summary = format!("{} ({}), replacing the compromised {}", row.name, row.hint, old.hint);
            tx.record(AuditAction::KeyCreated, "api_key", row.id, summary);
            Some((row, secret))
        }
    };
    let replaced_by = replacement.as_ref().map(|(row, _)| row.id);
    portal_db::api_keys::mark_compromised(tx.db(), key_id, tx.now, replaced_by).await?;
    let key = find(&tx, key_id, false).await?;
    tx.announce(Change::Key(key_id));
    tx.announce(Change::Reads(tx.team_id()));
    for descendant in &descendants {
        tx.announce(Change::Key(descendant.id));
    }
    tx.commit().await?;
    Ok(Compromised { key, replacement })
}

/// "; also revoked, made by it: a (pp_dev_ab), b (pp_dev_cd)" for an activity summary or a
/// mail; empty when the key made none that still worked.
pub fn made_by_it(descendants: &[StoredKey]) -> String {
    if descendants.is_empty() {
        return String::new();
    }
    let names: Vec<String> = descendants.iter().map(|d| format!("{} ({})", d.name, d.hint)).collect();
    format!("; also revoked, made by it: {}", names.join(", "))
}
