//! The durable mail outbox: mails are queued in the transaction that causes them and delivered
//! by a background worker with retries.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Set,
};
use uuid::Uuid;

use crate::entity::mail_outbox::{self, Entity as Outbox};
use crate::{Result, Timestamp};

pub use mail_outbox::Model as QueuedMail;

/// A mail to queue.
#[derive(Debug, Clone)]
pub struct NewMail {
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
}

pub async fn enqueue(db: &impl ConnectionTrait, mail: NewMail, now: Timestamp) -> Result<Uuid> {
    let id = Uuid::new_v4();
    mail_outbox::ActiveModel {
        id: Set(id),
        recipient: Set(mail.recipient),
        subject: Set(mail.subject),
        text_body: Set(mail.text_body),
        html_body: Set(mail.html_body),
        attempts: Set(0),
        next_attempt_at: Set(now),
        sent_at: Set(None),
        last_error: Set(None),
        created_at: Set(now),
    }
    .insert(db)
    .await?;
    Ok(id)
}

/// Claims up to `limit` due mails for this worker: each claimed mail's next attempt moves to
/// `lease_until`, with a conditional update, so two instances never send the same mail at once.
pub async fn claim_due(
    db: &impl ConnectionTrait,
    now: Timestamp,
    lease_until: Timestamp,
    max_attempts: i32,
    limit: u64,
) -> Result<Vec<QueuedMail>> {
    let due = Outbox::find()
        .filter(mail_outbox::Column::SentAt.is_null())
        .filter(mail_outbox::Column::NextAttemptAt.lte(now))
        .filter(mail_outbox::Column::Attempts.lt(max_attempts))
        .order_by_asc(mail_outbox::Column::NextAttemptAt)
        .limit(limit)
        .all(db)
        .await?;
    let mut claimed = Vec::with_capacity(due.len());
    for mail in due {
        let res = Outbox::update_many()
            .col_expr(mail_outbox::Column::NextAttemptAt, Expr::value(lease_until))
            .filter(mail_outbox::Column::Id.eq(mail.id))
            .filter(mail_outbox::Column::NextAttemptAt.eq(mail.next_attempt_at))
            .filter(mail_outbox::Column::SentAt.is_null())
            .exec(db)
            .await?;
        if res.rows_affected == 1 {
            claimed.push(mail);
        }
    }
    Ok(claimed)
}

/// A delivered mail keeps only what an operator needs (recipient, subject, times, attempts):
/// its bodies carry live links (sign-up, reset, invitation), so they are dropped.
pub async fn mark_sent(db: &impl ConnectionTrait, id: Uuid, now: Timestamp) -> Result<()> {
    Outbox::update_many()
        .col_expr(mail_outbox::Column::SentAt, Expr::value(now))
        .col_expr(mail_outbox::Column::TextBody, Expr::value(""))
        .col_expr(mail_outbox::Column::HtmlBody, Expr::value(""))
        .col_expr(mail_outbox::Column::Attempts, Expr::col(mail_outbox::Column::Attempts).add(1))
        .col_expr(mail_outbox::Column::LastError, Expr::value(Option::<String>::None))
        .filter(mail_outbox::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Records a failed attempt. After the `last` one the mail is given up, and its bodies are
/// dropped as for a delivered one.
pub async fn mark_failed(
    db: &impl ConnectionTrait,
    id: Uuid,
    error: &str,
    retry_at: Timestamp,
    last: bool,
) -> Result<()> {
    let mut update = Outbox::update_many();
    if last {
        update = update
            .col_expr(mail_outbox::Column::TextBody, Expr::value(""))
            .col_expr(mail_outbox::Column::HtmlBody, Expr::value(""));
    }
    update
        .col_expr(mail_outbox::Column::NextAttemptAt, Expr::value(retry_at))
        .col_expr(mail_outbox::Column::Attempts, Expr::col(mail_outbox::Column::Attempts).add(1))
        .col_expr(mail_outbox::Column::LastError, Expr::value(error))
        .filter(mail_outbox::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Every mail in the outbox, delivered or not (for tests and operators).
pub async fn all(db: &impl ConnectionTrait) -> Result<Vec<QueuedMail>> {
    Ok(Outbox::find().order_by_asc(mail_outbox::Column::CreatedAt).all(db).await?)
}

/// Mails not yet delivered (for tests and operators).
pub async fn pending(db: &impl ConnectionTrait) -> Result<Vec<QueuedMail>> {
    Ok(Outbox::find().filter(mail_outbox::Column::SentAt.is_null()).all(db).await?)
}

/// The next time a queued mail falls due, if any.
pub async fn next_due(db: &impl ConnectionTrait, max_attempts: i32) -> Result<Option<Timestamp>> {
    Ok(Outbox::find()
        .filter(mail_outbox::Column::SentAt.is_null())
        .filter(mail_outbox::Column::Attempts.lt(max_attempts))
        .order_by_asc(mail_outbox::Column::NextAttemptAt)
        .one(db)
        .await?
        .map(|m| m.next_attempt_at))
}

/// How many mails wait to be sent, and when the oldest of them was queued (for the metrics).
pub async fn backlog(db: &impl ConnectionTrait) -> Result<(u64, Option<Timestamp>)> {
    let waiting = Outbox::find().filter(mail_outbox::Column::SentAt.is_null());
    let count = waiting.clone().count(db).await?;
    let oldest = waiting.order_by_asc(mail_outbox::Column::CreatedAt).one(db).await?.map(|m| m.created_at);
    Ok((count, oldest))
}
