//! Per-minute usage counts of API keys, written with additive upserts.

use sea_orm::sea_query::{Expr, ExprTrait, Func, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};
use uuid::Uuid;

use crate::entity::usage_minute::{self, Entity as UsageMinutes};
use crate::{Result, Timestamp};

/// Requests of one key in one minute with one status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Increment {
    pub key_id: Uuid,
    pub team_id: Uuid,
    pub minute: Timestamp,
    pub status: u16,
    pub count: i64,
    pub latency_us_sum: i64,
}

/// Adds the counts: `count = count + n`, so flushes of several instances sum up.
pub async fn add(db: &impl ConnectionTrait, increments: &[Increment]) -> Result<()> {
    for inc in increments {
        let row = usage_minute::ActiveModel {
            key_id: Set(inc.key_id),
            team_id: Set(inc.team_id),
            minute: Set(inc.minute),
            status: Set(i32::from(inc.status)),
            count: Set(inc.count),
            latency_us_sum: Set(inc.latency_us_sum),
        };
        let on_conflict = OnConflict::columns([
            usage_minute::Column::KeyId,
            usage_minute::Column::Minute,
            usage_minute::Column::Status,
        ])
        .value(usage_minute::Column::Count, Expr::col((UsageMinutes, usage_minute::Column::Count)).add(inc.count))
        .value(
            usage_minute::Column::LatencyUsSum,
            Expr::col((UsageMinutes, usage_minute::Column::LatencyUsSum)).add(inc.latency_us_sum),
        )
        .to_owned();
        UsageMinutes::insert(row).on_conflict(on_conflict).exec_without_returning(db).await?;
    }
    Ok(())
}

/// Whose usage: one key, or a whole team.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    Key(Uuid),
    Team(Uuid),
}

/// One row of usage: (minute, status, count, latency µs sum).
pub type UsageRow = (Timestamp, u16, u64, u64);

/// Counts in `[from, to)` per minute and status (summed over keys for a team).
pub async fn rows(db: &impl ConnectionTrait, scope: Scope, from: Timestamp, to: Timestamp) -> Result<Vec<UsageRow>> {
    let mut q = UsageMinutes::find()
        .select_only()
        .column(usage_minute::Column::Minute)
        .column(usage_minute::Column::Status)
        .column_as(Expr::from(Func::cast_as(Func::sum(Expr::col(usage_minute::Column::Count)), "BIGINT")), "n")
        .column_as(Expr::from(Func::cast_as(Func::sum(Expr::col(usage_minute::Column::LatencyUsSum)), "BIGINT")), "lat")
        .filter(usage_minute::Column::Minute.gte(from))
        .filter(usage_minute::Column::Minute.lt(to))
        .group_by(usage_minute::Column::Minute)
        .group_by(usage_minute::Column::Status);
    q = match scope {
        Scope::Key(id) => q.filter(usage_minute::Column::KeyId.eq(id)),
        Scope::Team(id) => q.filter(usage_minute::Column::TeamId.eq(id)),
    };
    let raw: Vec<(Timestamp, i32, i64, i64)> = q.into_tuple().all(db).await?;
    Ok(raw
        .into_iter()
        .map(|(m, s, n, l)| {
            (m, u16::try_from(s).unwrap_or(0), u64::try_from(n).unwrap_or(0), u64::try_from(l).unwrap_or(0))
        })
        .collect())
}

/// Per key in `[from, to)`: (key id, requests, error requests) of a team.
pub async fn per_key(
    db: &impl ConnectionTrait,
    team_id: Uuid,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<(Uuid, u64, u64)>> {
    let raw: Vec<(Uuid, i32, i64)> = UsageMinutes::find()
        .select_only()
        .column(usage_minute::Column::KeyId)
        .column(usage_minute::Column::Status)
        .column_as(Expr::from(Func::cast_as(Func::sum(Expr::col(usage_minute::Column::Count)), "BIGINT")), "n")
        .filter(usage_minute::Column::TeamId.eq(team_id))
        .filter(usage_minute::Column::Minute.gte(from))
        .filter(usage_minute::Column::Minute.lt(to))
        .group_by(usage_minute::Column::KeyId)
        .group_by(usage_minute::Column::Status)
        .into_tuple()
        .all(db)
        .await?;
    let mut out: Vec<(Uuid, u64, u64)> = Vec::new();
    for (key, status, n) in raw {
        let n = u64::try_from(n).unwrap_or(0);
        let errors = if status >= 400 { n } else { 0 };
        match out.iter_mut().find(|(k, _, _)| *k == key) {
            Some(entry) => {
                entry.1 += n;
                entry.2 += errors;
            }
            None => out.push((key, n, errors)),
        }
    }
    Ok(out)
}

/// Requests of a key since `from` (the month's usage against its limit).
pub async fn count_since(db: &impl ConnectionTrait, key_id: Uuid, from: Timestamp) -> Result<u64> {
    let n: Option<Option<i64>> = UsageMinutes::find()
        .select_only()
        .column_as(Expr::from(Func::cast_as(Func::sum(Expr::col(usage_minute::Column::Count)), "BIGINT")), "n")
        .filter(usage_minute::Column::KeyId.eq(key_id))
        .filter(usage_minute::Column::Minute.gte(from))
        .into_tuple()
        .one(db)
        .await?;
    Ok(n.flatten().and_then(|n| u64::try_from(n).ok()).unwrap_or(0))
}
