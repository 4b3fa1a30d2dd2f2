//! Per-key rate limits shared by every instance (`rate_limit_states`, PostgreSQL): the generic
//! cell rate algorithm in one conditional upsert on the database's clock, so that any number of
//! instances together admit exactly what one would, whatever their own clocks say.
//!
//! A key's state is its theoretical arrival time `tat`. A request at `now` is admitted when
//! `max(tat, now) + interval - now <= tolerance` (`tolerance` = interval × burst), and then moves
//! `tat` there; a refused request changes nothing.

use sea_orm::{ConnectionTrait, DbBackend, Statement};
use uuid::Uuid;

use crate::Result;

/// What the shared state said of one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Admitted; the state is now `ahead` microseconds past the database's now.
    Admitted { ahead: i64 },
    /// Refused; the state is `ahead` microseconds past now (it frees up by `ahead + interval -
    /// tolerance`).
    Refused { ahead: i64 },
}

const NOW_US: &str = "(extract(epoch from now()) * 1000000)::bigint";

/// One request of `key_id` under `interval` and `tolerance` (microseconds). PostgreSQL only.
pub async fn take(db: &impl ConnectionTrait, key_id: Uuid, interval: i64, tolerance: i64) -> Result<Admission> {
    let admit = format!(
        "INSERT INTO rate_limit_states AS s (key_id, tat) VALUES ($1, {NOW_US} + $2) \
         ON CONFLICT (key_id) DO UPDATE SET tat = GREATEST(s.tat, {NOW_US}) + $2 \
         WHERE GREATEST(s.tat, {NOW_US}) + $2 - {NOW_US} <= $3 \
         RETURNING s.tat - {NOW_US} AS ahead"
    );
    let values = [key_id.into(), interval.into(), tolerance.into()];
    let row = db.query_one_raw(Statement::from_sql_and_values(DbBackend::Postgres, admit, values)).await?;
    if let Some(row) = row {
        return Ok(Admission::Admitted { ahead: row.try_get("", "ahead")? });
    }
    let state = format!("SELECT tat - {NOW_US} AS ahead FROM rate_limit_states WHERE key_id = $1");
    let row = db.query_one_raw(Statement::from_sql_and_values(DbBackend::Postgres, state, [key_id.into()])).await?;
    Ok(Admission::Refused { ahead: row.map(|r| r.try_get("", "ahead")).transpose()?.unwrap_or(0) })
}

/// Deletes the states that fell behind `now` more than `idle_seconds` ago (their keys are idle:
/// a fresh state admits the same), at most `batch`.
pub async fn prune(db: &impl ConnectionTrait, idle_seconds: i64, batch: u64) -> Result<u64> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(0);
    }
    let sql = format!(
        "DELETE FROM rate_limit_states WHERE key_id IN \
         (SELECT key_id FROM rate_limit_states WHERE tat < {NOW_US} - $1 LIMIT $2)"
    );
    let values = [(idle_seconds * 1_000_000).into(), i64::try_from(batch).unwrap_or(i64::MAX).into()];
    Ok(db.execute_raw(Statement::from_sql_and_values(DbBackend::Postgres, sql, values)).await?.rows_affected())
}
