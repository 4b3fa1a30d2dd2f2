//! Mails about keys to the owners and admins of their team: a key found leaked, a key about to
//! expire (7 days and 1 day before), a monthly limit crossing an alert threshold. Expiry and
//! usage notices are sent once each, whatever the number of instances: each is claimed in
//! `key_notices` in the transaction that queues its mails, and only the instance whose claim
//! inserted the row sends.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use portal_db::api_keys::StoredKey;
use portal_db::{ConnectionTrait, DatabaseConnection, TransactionTrait};
use portal_domain::scopes::thresholds_reached;
use portal_types::{EventType, WebhookEventData};
use tokio::sync::Notify;

use crate::mail::Template;

/// What a notice says.
pub struct Notice<'a> {
    pub subject: String,
    pub paragraphs: Vec<String>,
    pub action: &'a str,
    pub link: String,
}

/// The key's page in the web app.
pub fn key_link(public_url: &str, key: &StoredKey) -> String {
    format!("{public_url}/teams/{}/api-keys/{}", key.team_id, key.id)
}

/// Queues `notice` to every owner and admin of the key's team.
pub async fn mail_managers(
    db: &impl ConnectionTrait,
    team_id: uuid::Uuid,
    notice: &Notice<'_>,
    now: DateTime<Utc>,
) -> Result<usize, portal_db::Error> {
    let managers = portal_db::teams::managers(db, team_id).await?;
    let paragraphs: Vec<&str> = notice.paragraphs.iter().map(String::as_str).collect();
    for (name, email) in &managers {
        let greeting = format!("Hi {name},");
        let mail = Template {
            to: email,
            subject: &notice.subject,
            greeting: &greeting,
            paragraphs: &paragraphs,
            action: notice.action,
            link: &notice.link,
            footer: "You get this mail as an owner or admin of the team.",
        };
        portal_db::mail::enqueue(db, mail.render(), now).await?;
    }
    Ok(managers.len())
}

/// Claims `notice` for `key` and, if this caller is the first, queues its mails, in one
/// transaction. Returns whether it was sent.
async fn send_once(
    db: &DatabaseConnection,
    key: &StoredKey,
    (claim, event): (&str, EventType),
    notice: Option<Notice<'_>>,
    now: DateTime<Utc>,
) -> Result<bool, portal_db::Error> {
    let txn = db.begin().await?;
    if !portal_db::api_keys::claim_notice(&txn, key.id, claim, now).await? {
        txn.rollback().await?;
        return Ok(false);
    }
    if let Some(notice) = &notice {
        mail_managers(&txn, key.team_id, notice, now).await?;
    }
    // The team's webhook endpoints hear of it too, once, with the mail.
    let data = WebhookEventData {
        team_id: key.team_id,
        actor: None,
        object_type: "api_key".to_owned(),
        object_id: Some(key.id.to_string()),
        summary: Some(match &notice {
            Some(notice) => notice.subject.clone(),
            None => format!("API key \"{}\" has expired", key.name),
        }),
    };
    portal_db::webhooks::raise_event(&txn, event, data, now).await?;
    txn.commit().await?;
    Ok(true)
}

fn describe(key: &StoredKey) -> String {
    format!("\"{}\" ({}…, {})", key.name, key.hint, key.environment.as_str())
}

/// Sends every notice that is due now; returns how many were sent by this call.
pub async fn send_due(db: &DatabaseConnection, public_url: &str, now: DateTime<Utc>) -> Result<u32, portal_db::Error> {
    let mut sent = 0;
    // Expiry: one warning a week before and one a day before (a key made with less time left
    // gets only the warnings still ahead of it).
    for key in portal_db::api_keys::expiring(db, now, now + chrono::Duration::days(7)).await? {
        let Some(expires) = key.expires_at else { continue };
        let left = expires - now;
        let (claim, when) = if left <= chrono::Duration::days(1) {
            ("expires:1d", "within a day".to_owned())
        } else if key.created_at <= expires - chrono::Duration::days(7) {
            // Normally 7; less when the portal was down when the week began.
            ("expires:7d", format!("in {} days", (left.num_hours() + 23) / 24))
        } else {
            continue;
        };
        let notice = Notice {
            subject: format!("API key \"{}\" expires {when}", key.name),
            paragraphs: vec![
                format!("The API key {} expires on {} UTC.", describe(&key), expires.format("%Y-%m-%d %H:%M")),
                "Roll it to get a replacement with the same settings, and update the systems that use it before \
                 then. If nothing uses it any more, let it expire or revoke it."
                    .to_owned(),
            ],
            action: "Open the key",
            link: key_link(public_url, &key),
        };
        sent += u32::from(send_once(db, &key, (claim, EventType::ApiKeyExpiring), Some(notice), now).await?);
    }
    // Expired within the last day: an event (the mails went before).
    for key in portal_db::api_keys::expiring(db, now - chrono::Duration::days(1), now).await? {
        send_once(db, &key, ("expired", EventType::ApiKeyExpired), None, now).await?;
    }
    // Usage: each threshold once per calendar month.
    let month = portal_domain::usage::month_bounds(now).0;
    for (key, used) in portal_db::api_keys::near_their_limit(db, month).await? {
        let Some(limit) = key.usage_limit.and_then(|l| u64::try_from(l).ok()) else { continue };
        for percent in thresholds_reached(&key.alert_thresholds.clone(), used, limit) {
            let claim = format!("usage:{}:{percent}", month.format("%Y-%m"));
            let notice = Notice {
                subject: format!("API key \"{}\" has used {percent}% of its monthly limit", key.name),
                paragraphs: vec![
                    format!(
                        "The API key {} has made {used} of its {limit} requests this month ({percent}% alert).",
                        describe(&key)
                    ),
                    if percent >= 100 {
                        "Requests beyond the limit are refused with 429 until the month ends, or until you raise \
                         the limit."
                            .to_owned()
                    } else {
                        "At the limit, requests are refused with 429 until the month ends. Raise the limit if \
                         this is expected; check the key's usage if it is not."
                            .to_owned()
                    },
                ],
                action: "See the key's usage",
                link: key_link(public_url, &key),
            };
            let claimed = (claim.as_str(), EventType::UsageThresholdReached);
            sent += u32::from(send_once(db, &key, claimed, Some(notice), now).await?);
        }
    }
    Ok(sent)
}

/// Looks for due notices every `every` until `stop`, waking the mail worker when it queued some.
pub async fn run(
    db: DatabaseConnection,
    public_url: String,
    every: Duration,
    mail_wake: Arc<Notify>,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => match send_due(&db, &public_url, Utc::now()).await {
                Ok(0) => {}
                Ok(sent) => {
                    tracing::info!(sent, "key notices queued");
                    mail_wake.notify_one();
                }
                Err(e) => tracing::warn!(error = %e, "looking for due key notices failed"),
            },
            _ = stop.changed() => return,
        }
    }
}
