//! Leaked-key reports from secret scanners: every key of ours in a report is revoked at once on
//! every instance with the keys it made, recorded in its team's activity, mailed to the team's
//! owners and admins, and shown on the key.

use chrono::Utc;
use portal_db::TransactionTrait;
use portal_types::{LeakFeedback, LeakLabel, LeakedToken};

use crate::error::ApiResult;
use crate::extract::Client;
use crate::notices::{Notice, key_link, mail_managers};
use crate::services::change::Change;
use crate::state::AppState;

/// Handles a report (from the service when `service`, else from GitHub): one verdict per token,
/// in order.
pub async fn report(
    state: &AppState,
    client: &Client,
    reports: &[LeakedToken],
    service: bool,
) -> ApiResult<Vec<LeakFeedback>> {
    let mut feedback = Vec::with_capacity(reports.len());
    let mut revoked = 0;
    for report in reports {
        let found = if portal_domain::keys::parse(&report.token).is_ok() {
            portal_db::api_keys::find_by_hash(&state.db, &state.auth_cache.hash(&report.token)).await?
        } else {
            None
        };
        let label = if found.is_some() { LeakLabel::TruePositive } else { LeakLabel::FalsePositive };
        if let Some(key) = found {
            revoked += u32::from(revoke_leaked(state, client, &key, report, service).await?);
        }
        feedback.push(LeakFeedback {
            token_hash: crate::leaks::token_hash(&report.token),
            token_type: report.kind.clone(),
            label,
        });
    }
    if revoked > 0 {
        state.mail_wake.notify_one();
    }
    Ok(feedback)
}

/// Revokes a leaked key (if it still works), records where it was found, and mails its team.
/// Returns whether this report revoked it.
async fn revoke_leaked(
    state: &AppState,
    client: &Client,
    key: &portal_db::api_keys::StoredKey,
    report: &LeakedToken,
    service: bool,
) -> ApiResult<bool> {
    let now = Utc::now();
    let source: String = match (&report.source, service) {
        (Some(source), false) => format!("github: {source}"),
        (None, false) => "github".to_owned(),
        (Some(source), true) => format!("service: {source}"),
        (None, true) => "service".to_owned(),
    };
    let source: String = source.chars().filter(|c| !c.is_control()).take(64).collect();
    let url = report.url.as_deref().map(|u| u.chars().filter(|c| !c.is_control()).take(2000).collect::<String>());
    let txn = state.db.begin().await?;
    if !portal_db::api_keys::mark_leaked(&txn, key.id, now, url.as_deref(), &source).await? {
        // Revoked before: the first report stays on record, nobody is mailed twice.
        txn.rollback().await?;
        return Ok(false);
    }
    // What the key made goes with it: whoever holds the leaked key may hold those too.
    let descendants = portal_db::api_keys::revoke_descendants(&txn, key.id, now).await?;
    let also = super::keys::made_by_it(&descendants);
    let place = url.as_deref().unwrap_or("an undisclosed place");
    let summary = format!("{} ({}) found public at {place} ({source}); revoked{also}", key.name, key.hint);
    portal_db::audit::record(
        &txn,
        portal_db::audit::NewEntry {
            team_id: Some(key.team_id),
            actor: None,
            action: portal_types::AuditAction::KeyLeaked,
            target_type: "api_key",
            target_id: Some(key.id.to_string()),
            summary: Some(summary),
            ip: Some(&client.ip),
            user_agent: client.user_agent.as_deref(),
        },
        now,
    )
    .await?;
    let notice = Notice {
        subject: format!("API key \"{}\" was found public and has been revoked", key.name),
        paragraphs: vec![
            format!(
                "A secret scanner found the API key \"{}\" ({}…, {}) at {place} and reported it ({source}).",
                key.name,
                key.hint,
                key.environment.as_str()
            ),
            "We revoked the key at once: requests made with it are refused. Create a replacement, update the \
             systems that used the old key, remove the secret from where it was found, and check the old key's \
             last requests on its usage page."
                .to_owned(),
        ]
        .into_iter()
        .chain((!descendants.is_empty()).then(|| {
            let names: Vec<String> = descendants.iter().map(|d| format!("\"{}\" ({}…)", d.name, d.hint)).collect();
            format!("The keys it made were revoked with it: {}.", names.join(", "))
        }))
        .collect(),
        action: "Open the key",
        link: key_link(&state.config.public_url, key),
    };
    mail_managers(&txn, key.team_id, &notice, now).await?;
    let mut changes = vec![Change::Key(key.id), Change::Reads(key.team_id)];
    changes.extend(descendants.iter().map(|d| Change::Key(d.id)));
    state.invalidation.commit(txn, &changes).await?;
    Ok(true)
}
