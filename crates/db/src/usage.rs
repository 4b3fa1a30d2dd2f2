//! Usage counts of API keys in three tiers (minute, hour, day), each row with a latency
//! histogram, and per-key monthly counters. Everything is written with additive upserts
//! (`count = count + excluded.count`), so flushes of several instances sum up.

use std::collections::{HashMap, HashSet};

use portal_domain::usage::{Counts, Histogram, LATENCY_BUCKETS, Level, Span, Tier, WEEK, week_floor};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, LockType, OnConflict, Query, SelectStatement, UnionType};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbBackend, QueryResult, TransactionTrait};
use uuid::Uuid;

use crate::{Result, Timestamp};

/// The table of a tier's per-key counts.
pub fn table(tier: Tier) -> &'static str {
    match tier {
        Tier::Minute => "usage_minutes",
        Tier::Hour => "usage_hours",
        Tier::Day => "usage_days",
    }
}

/// The table of a tier's per-team sums (a team's dashboard reads these).
pub fn team_table(tier: Tier) -> &'static str {
    match tier {
        Tier::Minute => "usage_team_minutes",
        Tier::Hour => "usage_team_hours",
        Tier::Day => "usage_team_days",
    }
}

const MONTHS: &str = "usage_months";
/// Each key's requests and errors per week ([`week_floor`]), for the per-key shares of long ranges.
const WEEKS: &str = "usage_key_weeks";

fn histogram_columns() -> impl Iterator<Item = String> {
    (0..LATENCY_BUCKETS).map(|i| format!("h{i:02}"))
}

fn col(name: impl Into<String>) -> Alias {
    Alias::new(name.into())
}

/// Requests of one key in one minute with one status, as a meter buffered them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Increment {
    pub key_id: Uuid,
    pub team_id: Uuid,
    pub minute: Timestamp,
    pub status: u16,
    pub count: i64,
    pub latency_us_sum: i64,
    pub latency: Histogram,
}

/// Requests of a key in a month that counted against its limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthIncrement {
    pub key_id: Uuid,
    pub team_id: Uuid,
    pub month: Timestamp,
    pub requests: i64,
}

/// A key's requests since the last flush and its latest use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastUse {
    pub key_id: Uuid,
    pub requests: i64,
    pub at: Timestamp,
}

/// What one flush writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    pub counts: Vec<Increment>,
    pub months: Vec<MonthIncrement>,
    pub last_used: Vec<LastUse>,
}

/// Rows per multi-row insert: 46 values a row stays far below both databases' parameter limits.
const ROWS_PER_INSERT: usize = 200;

/// The keys of `ids` that exist. On PostgreSQL they stay locked against deletion until the
/// transaction ends (`FOR KEY SHARE`: what a foreign-key check takes, so it blocks no update),
/// and the insert that follows cannot fail on a key deleted meanwhile.
async fn existing_keys(txn: &DatabaseTransaction, ids: &HashSet<Uuid>) -> Result<HashSet<Uuid>> {
    let mut found = HashSet::with_capacity(ids.len());
    let mut ids: Vec<Uuid> = ids.iter().copied().collect();
    ids.sort_unstable();
    for chunk in ids.chunks(500) {
        let mut q = Query::select();
        q.column(col("id"))
            .from(col("api_keys"))
            .and_where(Expr::col(col("id")).is_in(chunk.iter().copied()))
            .order_by(col("id"), sea_orm::sea_query::Order::Asc);
        if txn.get_database_backend() == DbBackend::Postgres {
            q.lock(LockType::KeyShare);
        }
        for row in txn.query_all(&q).await? {
            found.insert(row.try_get_by_index::<Uuid>(0)?);
        }
    }
    Ok(found)
}

/// Writes a batch in `txn`: every tier, the monthly counters and the keys' totals and last use.
/// Counts of keys that no longer exist are dropped; returns how many requests that was.
///
/// Rows are written in key order, so that flushes of several instances lock rows in the same
/// order and never deadlock.
pub async fn write(txn: &DatabaseTransaction, batch: &Batch) -> Result<u64> {
    let ids: HashSet<Uuid> = batch
        .counts
        .iter()
        .map(|i| i.key_id)
        .chain(batch.months.iter().map(|m| m.key_id))
        .chain(batch.last_used.iter().map(|l| l.key_id))
        .collect();
    if ids.is_empty() {
        return Ok(0);
    }
    let live = existing_keys(txn, &ids).await?;
    let dropped: i64 = batch.counts.iter().filter(|i| !live.contains(&i.key_id)).map(|i| i.count).sum();
    for tier in Tier::ALL {
        // Per key and per team: (owner, bucket, status) → summed counts.
        let mut by_key: HashMap<(Uuid, i64, u16), Increment> = HashMap::new();
        let mut by_team: HashMap<(Uuid, i64, u16), Increment> = HashMap::new();
        for inc in batch.counts.iter().filter(|i| live.contains(&i.key_id)) {
            let bucket = tier.floor(inc.minute.timestamp());
            for (rows, owner) in [(&mut by_key, inc.key_id), (&mut by_team, inc.team_id)] {
                match rows.get_mut(&(owner, bucket, inc.status)) {
                    Some(row) => {
                        row.count += inc.count;
                        row.latency_us_sum += inc.latency_us_sum;
                        row.latency.merge(&inc.latency);
                    }
                    None => {
                        rows.insert((owner, bucket, inc.status), inc.clone());
                    }
                }
            }
        }
        for (rows, table, owner) in [(by_key, table(tier), Owner::Key), (by_team, team_table(tier), Owner::Team)] {
            let mut rows: Vec<_> = rows.into_iter().collect();
            rows.sort_unstable_by_key(|(k, _)| *k);
            for chunk in rows.chunks(ROWS_PER_INSERT) {
                upsert_counts(txn, table, owner, chunk).await?;
            }
        }
    }
    // Each key's weeks: requests and errors.
    let mut weeks: HashMap<(Uuid, i64), (Uuid, i64, i64)> = HashMap::new();
    for inc in batch.counts.iter().filter(|i| live.contains(&i.key_id)) {
        let week = weeks.entry((inc.key_id, week_floor(inc.minute.timestamp()))).or_insert((inc.team_id, 0, 0));
        week.1 += inc.count;
        if portal_domain::usage::is_error(inc.status) {
            week.2 += inc.count;
        }
    }
    let mut weeks: Vec<_> = weeks.into_iter().collect();
    weeks.sort_unstable_by_key(|(k, _)| *k);
    for chunk in weeks.chunks(ROWS_PER_INSERT) {
        let mut insert = Query::insert();
        insert.into_table(col(WEEKS)).columns(["key_id", "team_id", "bucket", "requests", "errors"].map(col));
        for ((key_id, bucket), (team_id, requests, errors)) in chunk {
            insert.values_panic([
                (*key_id).into(),
                (*team_id).into(),
                (*bucket).into(),
                (*requests).into(),
                (*errors).into(),
            ]);
        }
        insert.on_conflict(additive(
            WEEKS,
            ["key_id", "bucket"],
            ["requests", "errors"].into_iter().map(str::to_owned),
        ));
        txn.execute(&insert).await?;
    }
    let mut months: Vec<&MonthIncrement> = batch.months.iter().filter(|m| live.contains(&m.key_id)).collect();
    months.sort_unstable_by_key(|m| (m.key_id, m.month));
    for chunk in months.chunks(ROWS_PER_INSERT) {
        let mut insert = Query::insert();
        insert.into_table(col(MONTHS)).columns(["key_id", "team_id", "month", "requests", "leased"].map(col));
        for m in chunk {
            insert.values_panic([
                m.key_id.into(),
                m.team_id.into(),
                m.month.timestamp().into(),
                m.requests.into(),
                0i64.into(),
            ]);
        }
        insert.on_conflict(additive(MONTHS, ["key_id", "month"], ["requests"].into_iter().map(str::to_owned)));
        txn.execute(&insert).await?;
    }
    let mut last_used: Vec<&LastUse> = batch.last_used.iter().filter(|l| live.contains(&l.key_id)).collect();
    last_used.sort_unstable_by_key(|l| l.key_id);
    for last in last_used {
        crate::api_keys::add_requests(txn, last.key_id, last.requests, last.at).await?;
    }
    Ok(u64::try_from(dropped).unwrap_or(0))
}

/// `ON CONFLICT (keys) DO UPDATE SET c = table.c + excluded.c` for every additive column.
fn additive<const N: usize>(table: &str, keys: [&str; N], columns: impl Iterator<Item = String>) -> OnConflict {
    let mut on_conflict = OnConflict::columns(keys.map(col));
    for c in columns {
        on_conflict
            .value(col(c.clone()), Expr::col((col(table), col(c.clone()))).add(Expr::col((col("excluded"), col(c)))));
    }
    on_conflict
}

/// Whose rows a tier table holds.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Owner {
    Key,
    Team,
}

async fn upsert_counts(
    txn: &DatabaseTransaction,
    table: &str,
    owner: Owner,
    rows: &[((Uuid, i64, u16), Increment)],
) -> Result<()> {
    let mut insert = Query::insert();
    let (columns, conflict): (&[&str], [&str; 3]) = match owner {
        Owner::Key => (&["key_id", "team_id"], ["key_id", "bucket", "status"]),
        Owner::Team => (&["team_id"], ["team_id", "bucket", "status"]),
    };
    let counted = ["bucket", "status", "count", "latency_us_sum"].map(str::to_owned);
    insert.into_table(col(table)).columns(
        columns.iter().map(|c| (*c).to_owned()).chain(counted.iter().cloned()).chain(histogram_columns()).map(col),
    );
    for ((_, bucket, status), inc) in rows {
        let mut values: Vec<sea_orm::sea_query::Expr> = match owner {
            Owner::Key => vec![inc.key_id.into(), inc.team_id.into()],
            Owner::Team => vec![inc.team_id.into()],
        };
        values.extend([(*bucket).into(), i32::from(*status).into(), inc.count.into(), inc.latency_us_sum.into()]);
        values.extend(inc.latency.0.iter().map(|&n| i64::try_from(n).unwrap_or(i64::MAX).into()));
        insert.values_panic(values);
    }
    let additive_columns = ["count", "latency_us_sum"].map(str::to_owned).into_iter().chain(histogram_columns());
    insert.on_conflict(additive(table, conflict, additive_columns));
    txn.execute(&insert).await?;
    Ok(())
}

/// Whose usage: one key, or a whole team.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    Key(Uuid),
    Team(Uuid),
}

impl Scope {
    fn filter(self, q: &mut SelectStatement) {
        match self {
            Scope::Key(id) => q.and_where(Expr::col(col("key_id")).eq(id)),
            Scope::Team(id) => q.and_where(Expr::col(col("team_id")).eq(id)),
        };
    }
}

fn sum(column: impl Into<String>) -> Expr {
    Expr::from(Func::cast_as(Func::sum(Expr::col(col(column))), "BIGINT"))
}

fn get_u64(row: &QueryResult, idx: usize) -> Result<u64> {
    Ok(u64::try_from(row.try_get_by_index::<Option<i64>>(idx)?.unwrap_or(0)).unwrap_or(0))
}

fn timestamp(seconds: i64) -> Timestamp {
    chrono::DateTime::from_timestamp(seconds, 0).unwrap_or_default()
}

/// Counts per stored bucket and status in each span (summed over keys for a team), and per key
/// as well when `by_key`; at most `max_rows` rows per span when given.
pub async fn counts(
    db: &impl ConnectionTrait,
    scope: Scope,
    spans: &[Span],
    by_key: bool,
    max_rows: Option<u64>,
) -> Result<Vec<(Option<Uuid>, Counts)>> {
    let mut out = Vec::new();
    for span in spans {
        let mut q = Query::select();
        if let Some(max) = max_rows {
            q.limit(max);
        }
        // A team's sums come from its own rows, unless they are wanted per key.
        let team_sums = matches!(scope, Scope::Team(_)) && !by_key;
        q.from(col(if team_sums { team_table(span.tier) } else { table(span.tier) }));
        if by_key {
            q.column(col("key_id")).group_by_col(col("key_id"));
        }
        q.column(col("bucket")).column(col("status")).expr(sum("count")).expr(sum("latency_us_sum"));
        for h in histogram_columns() {
            q.expr(sum(h));
        }
        scope.filter(&mut q);
        q.and_where(Expr::col(col("bucket")).gte(span.from))
            .and_where(Expr::col(col("bucket")).lt(span.to))
            .group_by_col(col("bucket"))
            .group_by_col(col("status"));
        let first = usize::from(by_key);
        for row in db.query_all(&q).await? {
            let key = if by_key { Some(row.try_get_by_index::<Uuid>(0)?) } else { None };
            let mut latency = Histogram::default();
            for (i, slot) in latency.0.iter_mut().enumerate() {
                *slot = get_u64(&row, first + 4 + i)?;
            }
            out.push((
                key,
                Counts {
                    at: timestamp(row.try_get_by_index::<i64>(first)?),
                    status: u16::try_from(row.try_get_by_index::<i32>(first + 1)?).unwrap_or(0),
                    requests: get_u64(&row, first + 2)?,
                    latency_us_sum: get_u64(&row, first + 3)?,
                    latency,
                },
            ));
        }
    }
    Ok(out)
}

/// A key's share of a team's usage over a range, with what names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyShare {
    pub key_id: Uuid,
    pub name: String,
    pub environment: String,
    pub requests: u64,
    pub errors: u64,
    /// When the key was last used, as written (ever, not only in the spans).
    pub last_used_at: Option<Timestamp>,
}

/// Each key's share (requests, errors) of what `spans` read, for a team, with the key's name, in
/// one statement and a row per key: from the fewest stored buckets that hold it
/// ([`portal_domain::usage::cover`]: whole weeks between the edges, and today's day row when the
/// range runs to `now`). Keys deleted since are left out.
pub async fn per_key(
    db: &impl ConnectionTrait,
    team_id: Uuid,
    spans: &[Span],
    now: Timestamp,
) -> Result<Vec<KeyShare>> {
    let segments = portal_domain::usage::cover(spans, now.timestamp())
        .unwrap_or_else(|| spans.iter().map(|s| (Level::Tier(s.tier), s.from, s.to)).collect());
    let mut parts = segments.into_iter().map(|(level, from, to)| {
        let mut q = Query::select();
        match level {
            // An error is a status from 400 up (`portal_domain::usage::is_error`).
            Level::Tier(tier) => {
                q.from(col(table(tier))).column(col("key_id")).expr_as(Expr::col(col("count")), col("r")).expr_as(
                    Expr::case(Expr::col(col("status")).gte(400), Expr::col(col("count"))).finally(0i64),
                    col("e"),
                )
            }
            Level::Week => q
                .from(col(WEEKS))
                .column(col("key_id"))
                .expr_as(Expr::col(col("requests")), col("r"))
                .expr_as(Expr::col(col("errors")), col("e")),
        };
        q.and_where(Expr::col(col("team_id")).eq(team_id))
            .and_where(Expr::col(col("bucket")).gte(from))
            .and_where(Expr::col(col("bucket")).lt(to));
        q
    });
    let Some(mut counted) = parts.next() else {
        return Ok(Vec::new());
    };
    for part in parts {
        counted.union(UnionType::All, part);
    }
    // Summed per key first, then named: a join per stored row costs more than the sums.
    let mut summed = Query::select();
    summed
        .from_subquery(counted, col("c"))
        .column(col("key_id"))
        .expr_as(sum("r"), col("r"))
        .expr_as(sum("e"), col("e"));
    summed.group_by_col(col("key_id"));
    let mut q = Query::select();
    q.from_subquery(summed, col("s"))
        .inner_join(col("api_keys"), Expr::col((col("api_keys"), col("id"))).equals((col("s"), col("key_id"))))
        .column((col("api_keys"), col("id")))
        .column((col("api_keys"), col("name")))
        .column((col("api_keys"), col("environment")))
        .column((col("s"), col("r")))
        .column((col("s"), col("e")))
        .column((col("api_keys"), col("last_used_at")));
    let mut shares = Vec::new();
    for row in db.query_all(&q).await? {
        shares.push(KeyShare {
            key_id: row.try_get_by_index(0)?,
            name: row.try_get_by_index(1)?,
            environment: row.try_get_by_index(2)?,
            requests: get_u64(&row, 3)?,
            errors: get_u64(&row, 4)?,
            last_used_at: row.try_get_by_index(5)?,
        });
    }
    Ok(shares)
}

/// Requests that counted against monthly limits in the month starting at `month`.
pub async fn month_requests(db: &impl ConnectionTrait, scope: Scope, month: Timestamp) -> Result<u64> {
    let mut q = Query::select();
    q.from(col(MONTHS)).expr(sum("requests")).and_where(Expr::col(col("month")).eq(month.timestamp()));
    scope.filter(&mut q);
    match db.query_one(&q).await? {
        Some(row) => get_u64(&row, 0),
        None => Ok(0),
    }
}

/// Hands out up to `want` more of a key's quota for the month, never more than `limit` in all
/// (across every instance). Returns (granted now, handed out in all this month).
pub async fn lease(
    db: &sea_orm::DatabaseConnection,
    key_id: Uuid,
    team_id: Uuid,
    month: Timestamp,
    want: u64,
    limit: u64,
) -> Result<(u64, u64)> {
    let txn = db.begin().await?;
    let month = month.timestamp();
    let mut insert = Query::insert();
    insert
        .into_table(col(MONTHS))
        .columns(["key_id", "team_id", "month", "requests", "leased"].map(col))
        .values_panic([key_id.into(), team_id.into(), month.into(), 0i64.into(), 0i64.into()])
        .on_conflict(OnConflict::columns(["key_id", "month"].map(col)).do_nothing().to_owned());
    // "Nothing inserted" is an error to sea-orm's insert helpers, not to a plain execute.
    txn.execute(&insert).await?;
    let mut select = Query::select();
    select
        .from(col(MONTHS))
        .column(col("leased"))
        .and_where(Expr::col(col("key_id")).eq(key_id))
        .and_where(Expr::col(col("month")).eq(month));
    if txn.get_database_backend() == DbBackend::Postgres {
        select.lock_exclusive();
    }
    let leased = match txn.query_one(&select).await? {
        Some(row) => get_u64(&row, 0)?,
        None => limit,
    };
    let granted = Ord::min(want, limit.saturating_sub(leased));
    if granted > 0 {
        let mut update = Query::update();
        update
            .table(col(MONTHS))
            .value(col("leased"), Expr::col(col("leased")).add(i64::try_from(granted).unwrap_or(0)))
            .and_where(Expr::col(col("key_id")).eq(key_id))
            .and_where(Expr::col(col("month")).eq(month));
        txn.execute(&update).await?;
    }
    txn.commit().await?;
    Ok((granted, leased + granted))
}

/// Gives back quota an instance leased but did not use.
pub async fn release(db: &impl ConnectionTrait, key_id: Uuid, month: Timestamp, unused: u64) -> Result<()> {
    let mut update = Query::update();
    update
        .table(col(MONTHS))
        .value(col("leased"), Expr::col(col("leased")).sub(i64::try_from(unused).unwrap_or(0)))
        .and_where(Expr::col(col("key_id")).eq(key_id))
        .and_where(Expr::col(col("month")).eq(month.timestamp()));
    db.execute(&update).await?;
    Ok(())
}

/// Every table retention prunes: (table, its time column, its primary key), and the tier whose
/// retention applies (None: the monthly counters and the weeks, kept as long as the day tier).
pub fn pruned_tables() -> Vec<(Option<Tier>, &'static str, &'static str, &'static [&'static str])> {
    let mut tables = Vec::new();
    for tier in Tier::ALL {
        tables.push((Some(tier), table(tier), "bucket", &["key_id", "bucket", "status"][..]));
        tables.push((Some(tier), team_table(tier), "bucket", &["team_id", "bucket", "status"][..]));
    }
    tables.push((None, MONTHS, "month", &["key_id", "month"][..]));
    tables.push((None, WEEKS, "bucket", &["key_id", "bucket"][..]));
    tables
}

/// How much longer than its tier's retention a table's rows are kept: a week's row holds days
/// up to a week after its start, and goes only when the last of them would.
pub fn kept_beyond(table: &str) -> i64 {
    if table == WEEKS { WEEK } else { 0 }
}

/// The table of flush ids, and its time column (for [`prune`]).
pub const FLUSHES: (&str, &str, &[&str]) = ("usage_flushes", "flushed_at", &["id"]);

/// Records flush `id` in `txn`, before its counts are written. False when a transaction with
/// that id committed already: then its counts are in, and must not be written again.
pub async fn claim_flush(txn: &DatabaseTransaction, id: Uuid, now: Timestamp) -> Result<bool> {
    let (table, time, _) = FLUSHES;
    let mut insert = Query::insert();
    insert
        .into_table(col(table))
        .columns([col("id"), col(time)])
        .values_panic([id.into(), now.timestamp().into()])
        .on_conflict(OnConflict::column(col("id")).do_nothing().to_owned());
    Ok(txn.execute(&insert).await?.rows_affected() == 1)
}

/// Deletes at most `batch` rows of `table` whose `time` is older than `before`; returns how
/// many went.
pub async fn prune(
    db: &impl ConnectionTrait,
    table: &str,
    time: &str,
    keys: &[&str],
    before: Timestamp,
    batch: u64,
) -> Result<u64> {
    let mut old = Query::select();
    old.from(col(table))
        .columns(keys.iter().map(|k| col(*k)))
        .and_where(Expr::col(col(time)).lt(before.timestamp()))
        .limit(batch);
    let mut delete = Query::delete();
    delete.from_table(col(table)).and_where(Expr::tuple(keys.iter().map(|k| Expr::col(col(*k)))).in_subquery(old));
    Ok(db.execute(&delete).await?.rows_affected())
}

/// A replacement (of a rolled or compromised key) takes over its month's quota: the quota
/// belongs to the key's lineage. The replacement starts with what the old key took (`leased`: it
/// covers every request the old key was answered, flushed or not), and the old key takes no new
/// quota: its row is marked as holding the whole `limit` (None: no limit, nothing to hold back).
/// Run it in the transaction of the roll; on PostgreSQL the old row is locked, so that a lease
/// being taken for the old key at that moment is counted before or refused after.
pub async fn inherit_month(
    txn: &DatabaseTransaction,
    from_key: Uuid,
    to_key: Uuid,
    team_id: Uuid,
    month: Timestamp,
    limit: Option<u64>,
) -> Result<()> {
    let month = month.timestamp();
    let mut ensure = Query::insert();
    ensure
        .into_table(col(MONTHS))
        .columns(["key_id", "team_id", "month", "requests", "leased"].map(col))
        .values_panic([from_key.into(), team_id.into(), month.into(), 0i64.into(), 0i64.into()])
        .on_conflict(OnConflict::columns(["key_id", "month"].map(col)).do_nothing().to_owned());
    txn.execute(&ensure).await?;
    let mut select = Query::select();
    select
        .from(col(MONTHS))
        .column(col("leased"))
        .and_where(Expr::col(col("key_id")).eq(from_key))
        .and_where(Expr::col(col("month")).eq(month));
    if txn.get_database_backend() == DbBackend::Postgres {
        select.lock_exclusive();
    }
    let taken = match txn.query_one(&select).await? {
        Some(row) => get_u64(&row, 0)?,
        None => 0,
    };
    let as_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let insert = Query::insert()
        .into_table(col(MONTHS))
        .columns(["key_id", "team_id", "month", "requests", "leased"].map(col))
        .values_panic([to_key.into(), team_id.into(), month.into(), 0i64.into(), as_i64(taken).into()])
        .to_owned();
    txn.execute(&insert).await?;
    if let Some(limit) = limit.filter(|&l| l > taken) {
        let mut hold = Query::update();
        hold.table(col(MONTHS))
            .value(col("leased"), as_i64(limit))
            .and_where(Expr::col(col("key_id")).eq(from_key))
            .and_where(Expr::col(col("month")).eq(month));
        txn.execute(&hold).await?;
    }
    Ok(())
}
