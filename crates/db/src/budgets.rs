//! Request budgets per key and fixed window (`rate_budgets`): counted by one conditional upsert,
//! so that concurrent requests and other instances never spend more than the budget.

use sea_orm::ConnectionTrait;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};

use crate::Result;

const TABLE: &str = "rate_budgets";

fn col(name: &str) -> Alias {
    Alias::new(name)
}

/// Takes one of `limit` slots of `key`'s window starting at `window_start` (seconds since the
/// epoch): true when one was free. One statement, atomic on both databases.
pub async fn reserve(db: &impl ConnectionTrait, key: &str, window_start: i64, limit: u32) -> Result<bool> {
    let mut insert = Query::insert();
    insert
        .into_table(col(TABLE))
        .columns([col("key"), col("window_start"), col("used")])
        .values_panic([key.into(), window_start.into(), 1i32.into()])
        .on_conflict(
            OnConflict::columns([col("key"), col("window_start")])
                .value(col("used"), Expr::col((col(TABLE), col("used"))).add(1))
                .action_and_where(Expr::col((col(TABLE), col("used"))).lt(i64::from(limit)))
                .to_owned(),
        )
        .returning_col(col("used"));
    Ok(db.query_one(&insert).await?.is_some())
}

/// Gives back a slot taken by [`reserve`] (the attempt it guarded went well).
pub async fn release(db: &impl ConnectionTrait, key: &str, window_start: i64) -> Result<()> {
    let mut update = Query::update();
    update
        .table(col(TABLE))
        .value(col("used"), Expr::col(col("used")).sub(1))
        .and_where(Expr::col(col("key")).eq(key))
        .and_where(Expr::col(col("window_start")).eq(window_start))
        .and_where(Expr::col(col("used")).gt(0));
    db.execute(&update).await?;
    Ok(())
}

/// Deletes windows that started before `before` (seconds since the epoch), at most `batch`.
pub async fn prune(db: &impl ConnectionTrait, before: i64, batch: u64) -> Result<u64> {
    let mut old = Query::select();
    old.from(col(TABLE))
        .columns([col("key"), col("window_start")])
        .and_where(Expr::col(col("window_start")).lt(before))
        .limit(batch);
    let mut delete = Query::delete();
    delete
        .from_table(col(TABLE))
        .and_where(Expr::tuple([Expr::col(col("key")), Expr::col(col("window_start"))]).in_subquery(old));
    Ok(db.execute(&delete).await?.rows_affected())
}
