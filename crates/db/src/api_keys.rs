//! API keys: stored as a keyed hash with a display hint, never the secret.

use portal_domain::scopes::{AllowList, ScopeSet, thresholds_from_stored};
use portal_types::{Environment, KeyStatus, RateLimit};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
};
use uuid::Uuid;

use crate::entity::api_key::{self, Entity as ApiKeys};
use crate::{Error, Result, Timestamp};

pub use api_key::Model as ApiKeyRow;

/// A stored key with its encoded columns read once: what the rest of the server works with.
/// The decoded fields stand in for the columns of the same name (`scopes`, `environment`,
/// `allowed_ips`, `alert_thresholds`); the row's other columns are reached through it.
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub row: ApiKeyRow,
    pub environment: Environment,
    pub rate_limit: Option<RateLimit>,
    pub scopes: ScopeSet,
    pub allowed_ips: AllowList,
    pub alert_thresholds: Vec<u8>,
}

impl StoredKey {
    /// Reads a row's encoded columns; a column no version of the server writes is an error.
    pub fn decode(row: ApiKeyRow) -> Result<Self> {
        let environment = Environment::parse(&row.environment).ok_or_else(|| {
            Error::Db(DbErr::Custom(format!("unknown environment {:?} in the database", row.environment)))
        })?;
        let column = |v: Option<i32>| v.and_then(|v| u32::try_from(v).ok());
        let rate_limit = match (column(row.rate_limit_per_second), column(row.rate_limit_burst)) {
            (Some(requests_per_second), Some(burst)) => Some(RateLimit { requests_per_second, burst }),
            _ => None,
        };
        Ok(Self {
            environment,
            rate_limit,
            scopes: ScopeSet::from_stored(&row.scopes),
            allowed_ips: AllowList::from_stored(row.allowed_ips.as_deref()),
            alert_thresholds: thresholds_from_stored(&row.alert_thresholds),
            row,
        })
    }

    /// The key's status at `now` ([`portal_domain::keys::status_of`]).
    pub fn status(&self, now: Timestamp) -> KeyStatus {
        portal_domain::keys::status_of(self.row.revoked_at, self.row.expires_at, self.row.grace_until, now)
    }

    /// The monthly limit, if any.
    pub fn usage_limit(&self) -> Option<u64> {
        self.row.usage_limit.and_then(|l| u64::try_from(l).ok())
    }
}

impl std::ops::Deref for StoredKey {
    type Target = ApiKeyRow;
    fn deref(&self) -> &ApiKeyRow {
        &self.row
    }
}

fn decode_all(rows: Vec<ApiKeyRow>) -> Result<Vec<StoredKey>> {
    rows.into_iter().map(StoredKey::decode).collect()
}

fn rate_columns(rate: Option<RateLimit>) -> (Option<i32>, Option<i32>) {
    let column = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
    (rate.map(|r| column(r.requests_per_second)), rate.map(|r| column(r.burst)))
}

pub struct NewKey<'a> {
    pub team_id: Uuid,
    pub name: &'a str,
    pub description: Option<&'a str>,
    pub environment: Environment,
    pub key_hash: &'a str,
    pub hint: &'a str,
    pub created_by: Option<Uuid>,
    /// The key that made it, if a key did.
    pub created_by_key: Option<Uuid>,
    pub expires_at: Option<Timestamp>,
    pub usage_limit: Option<i64>,
    pub rate_limit: Option<RateLimit>,
    /// As `ScopeSet::to_stored` writes them.
    pub scopes: &'a str,
    pub allowed_ips: Option<&'a str>,
    pub alert_thresholds: &'a str,
}

pub async fn create(db: &impl ConnectionTrait, new: NewKey<'_>, now: Timestamp) -> Result<StoredKey> {
    let (rate_limit_per_second, rate_limit_burst) = rate_columns(new.rate_limit);
    api_key::ActiveModel {
        id: Set(Uuid::new_v4()),
        team_id: Set(new.team_id),
        name: Set(new.name.to_owned()),
        description: Set(new.description.map(str::to_owned)),
        environment: Set(new.environment.as_str().to_owned()),
        key_hash: Set(new.key_hash.to_owned()),
        hint: Set(new.hint.to_owned()),
        created_by: Set(new.created_by),
        created_by_key: Set(new.created_by_key),
        created_at: Set(now),
        expires_at: Set(new.expires_at),
        revoked_at: Set(None),
        grace_until: Set(None),
        replaced_by: Set(None),
        usage_limit: Set(new.usage_limit),
        last_used_at: Set(None),
        request_count: Set(0),
        rate_limit_per_second: Set(rate_limit_per_second),
        rate_limit_burst: Set(rate_limit_burst),
        scopes: Set(new.scopes.to_owned()),
        allowed_ips: Set(new.allowed_ips.map(str::to_owned)),
        alert_thresholds: Set(new.alert_thresholds.to_owned()),
        leaked_at: Set(None),
        leak_url: Set(None),
        leak_source: Set(None),
        compromised_at: Set(None),
        search_name: Set(search_text(new.name)),
    }
    .insert(db)
    .await
    .map_err(Error::from_insert)
    .and_then(StoredKey::decode)
}

pub async fn find(db: &impl ConnectionTrait, team_id: Uuid, id: Uuid) -> Result<Option<StoredKey>> {
    ApiKeys::find_by_id(id)
        .filter(api_key::Column::TeamId.eq(team_id))
        .one(db)
        .await?
        .map(StoredKey::decode)
        .transpose()
}

/// A key of the team, locked until the transaction ends (PostgreSQL; SQLite runs one write
/// transaction at a time): a change decided on what it reads is written before another is read.
pub async fn find_for_update(db: &impl ConnectionTrait, team_id: Uuid, id: Uuid) -> Result<Option<StoredKey>> {
    let found = ApiKeys::find_by_id(id).filter(api_key::Column::TeamId.eq(team_id)).lock_exclusive().one(db).await?;
    found.map(StoredKey::decode).transpose()
}

pub async fn find_by_hash(db: &impl ConnectionTrait, key_hash: &str) -> Result<Option<StoredKey>> {
    ApiKeys::find().filter(api_key::Column::KeyHash.eq(key_hash)).one(db).await?.map(StoredKey::decode).transpose()
}

/// A key's status as a list filter sees it (`now` decides expiry and grace).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusFilter {
    Active,
    Rolling,
    Rolled,
    Revoked,
    Expired,
    /// Usable (active or rolling) and expiring within `soon`.
    ExpiringSoon {
        soon: chrono::Duration,
    },
    /// Usable: active or rolling.
    Usable,
    /// Usable, and expiring within `within` or having counted `percent` of its monthly limit in
    /// the month starting at `month` (Unix seconds).
    Attention {
        within: chrono::Duration,
        percent: u64,
        month: i64,
    },
}

/// Where a filtered list starts and how it is ordered: each position is the last row of the
/// previous page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyOrder {
    /// Newest first, after (created_at, id).
    Created(Option<(Timestamp, Uuid)>),
    /// Most recently used first, never-used keys last (by id); after (last_used_at, id), where
    /// `None` as the time is a position among the never-used keys.
    LastUsed(Option<(Option<Timestamp>, Uuid)>),
    /// Most requests first, after (request_count, id).
    Requests(Option<(i64, Uuid)>),
}

/// What a key list is narrowed to; each `None` leaves it open.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct KeyFilter {
    /// Part of the name or the hint, any case.
    pub search: Option<String>,
    pub environment: Option<Environment>,
    pub status: Option<StatusFilter>,
}

/// Text as the key list searches it: lower-cased here, the same on SQLite (whose `lower()` folds
/// only ASCII) and PostgreSQL. Names are stored so (`search_name`); hints are ASCII.
pub fn search_text(text: &str) -> String {
    text.to_lowercase()
}

/// `%text%` for LIKE, with `\`, `%` and `_` of the text matched as themselves.
fn contains_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in search_text(text).chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// A team's keys narrowed by `filter`, in `order`, at most `limit`.
pub async fn list_filtered(
    db: &impl ConnectionTrait,
    team_id: Uuid,
    filter: &KeyFilter,
    order: KeyOrder,
    limit: u64,
    now: Timestamp,
) -> Result<Vec<StoredKey>> {
    use api_key::Column as C;
    use sea_orm::Order;
    use sea_orm::sea_query::NullOrdering;
    use sea_orm::sea_query::{Func, LikeExpr};

    let mut q = ApiKeys::find().filter(C::TeamId.eq(team_id));
    if let Some(text) = filter.search.as_deref().filter(|t| !t.is_empty()) {
        let pattern = || LikeExpr::new(contains_pattern(text)).escape('\\');
        q = q.filter(
            Expr::col(C::SearchName).like(pattern()).or(Expr::expr(Func::lower(Expr::col(C::Hint))).like(pattern())),
        );
    }
    if let Some(environment) = filter.environment {
        q = q.filter(C::Environment.eq(environment.as_str()));
    }
    let unexpired = || C::ExpiresAt.is_null().or(C::ExpiresAt.gt(now));
    let usable = || C::RevokedAt.is_null().and(unexpired()).and(C::GraceUntil.is_null().or(C::GraceUntil.gt(now)));
    q = match filter.status {
        None => q,
        Some(StatusFilter::Revoked) => q.filter(C::RevokedAt.is_not_null()),
        Some(StatusFilter::Expired) => q.filter(C::RevokedAt.is_null()).filter(C::ExpiresAt.lte(now)),
        Some(StatusFilter::Active) => {
            q.filter(C::RevokedAt.is_null()).filter(unexpired()).filter(C::GraceUntil.is_null())
        }
        Some(StatusFilter::Rolling) => {
            q.filter(C::RevokedAt.is_null()).filter(unexpired()).filter(C::GraceUntil.gt(now))
        }
        Some(StatusFilter::Rolled) => {
            q.filter(C::RevokedAt.is_null()).filter(unexpired()).filter(C::GraceUntil.lte(now))
        }
        Some(StatusFilter::ExpiringSoon { soon }) => q.filter(usable()).filter(C::ExpiresAt.lte(now + soon)),
        Some(StatusFilter::Usable) => q.filter(usable()),
        Some(StatusFilter::Attention { within, percent, month }) => {
            // The month's counter against the key's limit, in the database: a key of any page
            // is found, however many keys the team has.
            let mut near = sea_orm::sea_query::Query::select();
            near.column(sea_orm::sea_query::Alias::new("key_id"))
                .from(sea_orm::sea_query::Alias::new("usage_months"))
                .and_where(Expr::col(sea_orm::sea_query::Alias::new("month")).eq(month))
                // `percent` is a number: written out, it cannot change the statement.
                .and_where(Expr::cust(format!("usage_months.requests * 100 >= api_keys.usage_limit * {percent}")));
            let limited = C::UsageLimit.is_not_null().and(C::Id.in_subquery(near));
            q.filter(usable()).filter(C::ExpiresAt.lte(now + within).or(limited))
        }
    };
    let q = match order {
        KeyOrder::Created(after) => {
            if let Some((at, id)) = after {
                q = q.filter(C::CreatedAt.lt(at).or(C::CreatedAt.eq(at).and(C::Id.lt(id))));
            }
            q.order_by_desc(C::CreatedAt).order_by_desc(C::Id)
        }
        KeyOrder::LastUsed(after) => {
            match after {
                None => {}
                Some((Some(at), id)) => {
                    q = q.filter(
                        C::LastUsedAt.lt(at).or(C::LastUsedAt.eq(at).and(C::Id.lt(id))).or(C::LastUsedAt.is_null()),
                    );
                }
                Some((None, id)) => q = q.filter(C::LastUsedAt.is_null()).filter(C::Id.lt(id)),
            }
            q.order_by_with_nulls(C::LastUsedAt, Order::Desc, NullOrdering::Last).order_by_desc(C::Id)
        }
        KeyOrder::Requests(after) => {
            if let Some((count, id)) = after {
                q = q.filter(C::RequestCount.lt(count).or(C::RequestCount.eq(count).and(C::Id.lt(id))));
            }
            q.order_by_desc(C::RequestCount).order_by_desc(C::Id)
        }
    };
    decode_all(q.limit(limit).all(db).await?)
}

/// The first time after `now` when one of the team's keys changes status by itself, as a list
/// narrowed by status sees it: it expires, its grace period ends, or it comes within `soon` of
/// expiring. Revoked keys count too (a read again too early is harmless).
pub async fn next_status_change(
    db: &impl ConnectionTrait,
    team_id: Uuid,
    now: Timestamp,
    soon: chrono::Duration,
) -> Result<Option<Timestamp>> {
    use api_key::Column as C;
    let first_after = |column: C, after: Timestamp| async move {
        let first = ApiKeys::find()
            .select_only()
            .expr(Expr::col(column).min())
            .filter(C::TeamId.eq(team_id))
            .filter(column.gt(after))
            .into_tuple::<Option<Timestamp>>()
            .one(db)
            .await?;
        Ok::<_, Error>(first.flatten())
    };
    let expires = first_after(C::ExpiresAt, now).await?;
    let grace_ends = first_after(C::GraceUntil, now).await?;
    let comes_near = first_after(C::ExpiresAt, now + soon).await?.map(|t| t - soon);
    Ok([expires, grace_ends, comes_near].into_iter().flatten().min())
}

/// The team's keys among `ids`.
pub async fn of_team(db: &impl ConnectionTrait, team_id: Uuid, ids: &[Uuid]) -> Result<Vec<StoredKey>> {
    let mut keys = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let q = ApiKeys::find()
            .filter(api_key::Column::TeamId.eq(team_id))
            .filter(api_key::Column::Id.is_in(chunk.iter().copied()));
        keys.extend(q.all(db).await?);
    }
    decode_all(keys)
}

/// What `update` changes; `None` keeps a value, `Some(None)` removes it.
#[derive(Debug, Default)]
pub struct KeyChanges<'a> {
    pub name: Option<&'a str>,
    pub description: Option<Option<&'a str>>,
    pub usage_limit: Option<Option<i64>>,
    pub rate_limit: Option<Option<RateLimit>>,
    pub scopes: Option<&'a str>,
    pub allowed_ips: Option<Option<&'a str>>,
    pub alert_thresholds: Option<&'a str>,
}

/// Changes a key's name, description or limits.
pub async fn update(db: &impl ConnectionTrait, id: Uuid, changes: &KeyChanges<'_>) -> Result<()> {
    let mut update = ApiKeys::update_many().filter(api_key::Column::Id.eq(id));
    if let Some(name) = changes.name {
        update = update.col_expr(api_key::Column::Name, Expr::value(name));
        update = update.col_expr(api_key::Column::SearchName, Expr::value(search_text(name)));
    }
    if let Some(description) = changes.description {
        update = update.col_expr(api_key::Column::Description, Expr::value(description.map(str::to_owned)));
    }
    if let Some(limit) = changes.usage_limit {
        update = update.col_expr(api_key::Column::UsageLimit, Expr::value(limit));
    }
    if let Some(rate) = changes.rate_limit {
        let (per_second, burst) = rate_columns(rate);
        update = update
            .col_expr(api_key::Column::RateLimitPerSecond, Expr::value(per_second))
            .col_expr(api_key::Column::RateLimitBurst, Expr::value(burst));
    }
    if let Some(scopes) = changes.scopes {
        update = update.col_expr(api_key::Column::Scopes, Expr::value(scopes));
    }
    if let Some(ips) = changes.allowed_ips {
        update = update.col_expr(api_key::Column::AllowedIps, Expr::value(ips.map(str::to_owned)));
    }
    if let Some(thresholds) = changes.alert_thresholds {
        update = update.col_expr(api_key::Column::AlertThresholds, Expr::value(thresholds));
    }
    update.exec(db).await?;
    Ok(())
}

/// Revokes a key found public and records where. `false` when it was already revoked (then
/// nothing changes: the first report stays on record).
pub async fn mark_leaked(
    db: &impl ConnectionTrait,
    id: Uuid,
    now: Timestamp,
    url: Option<&str>,
    source: &str,
) -> Result<bool> {
    let res = ApiKeys::update_many()
        .col_expr(api_key::Column::RevokedAt, Expr::value(now))
        .col_expr(api_key::Column::LeakedAt, Expr::value(now))
        .col_expr(api_key::Column::LeakUrl, Expr::value(url.map(str::to_owned)))
        .col_expr(api_key::Column::LeakSource, Expr::value(source.to_owned()))
        .filter(api_key::Column::Id.eq(id))
        .filter(api_key::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Keys that are neither revoked nor rolled and expire in `(after, until]`.
pub async fn expiring(db: &impl ConnectionTrait, after: Timestamp, until: Timestamp) -> Result<Vec<StoredKey>> {
    let rows = ApiKeys::find()
        .filter(api_key::Column::ExpiresAt.gt(after))
        .filter(api_key::Column::ExpiresAt.lte(until))
        .filter(api_key::Column::RevokedAt.is_null())
        .filter(api_key::Column::ReplacedBy.is_null())
        .all(db)
        .await?;
    decode_all(rows)
}

/// Records that `notice` (e.g. `expires:7d`, `usage:2026-11:80`) was sent for a key. `true` for
/// the one caller that recorded it first, on any instance: only that one sends it.
pub async fn claim_notice(db: &impl ConnectionTrait, key_id: Uuid, notice: &str, now: Timestamp) -> Result<bool> {
    use sea_orm::sea_query::{OnConflict, Query};
    let insert = Query::insert()
        .into_table("key_notices")
        .columns(["key_id", "notice", "sent_at"])
        .values_panic([key_id.into(), notice.into(), now.into()])
        .on_conflict(OnConflict::columns(["key_id", "notice"]).do_nothing().to_owned())
        .to_owned();
    let res = db.execute(&insert).await?;
    Ok(res.rows_affected() == 1)
}

/// Revokes a key that is not revoked yet; `false` if it already was.
pub async fn revoke(db: &impl ConnectionTrait, id: Uuid, now: Timestamp) -> Result<bool> {
    let res = ApiKeys::update_many()
        .col_expr(api_key::Column::RevokedAt, Expr::value(now))
        .filter(api_key::Column::Id.eq(id))
        .filter(api_key::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Revokes every key `root` made, and every key those made, at `now`: what a leaked or
/// compromised key made goes with it. Returns the keys this revoked (not those revoked before).
pub async fn revoke_descendants(db: &impl ConnectionTrait, root: Uuid, now: Timestamp) -> Result<Vec<StoredKey>> {
    let mut revoked = Vec::new();
    let mut frontier = vec![root];
    // A key is made after the key that made it, so the tree has no cycle; the depth is bounded
    // anyway, should the data say otherwise.
    for _ in 0..64 {
        if frontier.is_empty() {
            break;
        }
        let children = ApiKeys::find().filter(api_key::Column::CreatedByKey.is_in(frontier.clone())).all(db).await?;
        for child in &children {
            if revoke(db, child.id, now).await? {
                revoked.push(child.clone());
            }
        }
        frontier = children.into_iter().map(|c| c.id).collect();
    }
    decode_all(revoked)
}

/// Records that a key was reported compromised at `now` and, if it has none yet, its
/// replacement. A second report keeps the first one's time and replacement.
pub async fn mark_compromised(
    db: &impl ConnectionTrait,
    id: Uuid,
    now: Timestamp,
    replacement: Option<Uuid>,
) -> Result<()> {
    use sea_orm::sea_query::Func;
    let first = |column: api_key::Column, value: sea_orm::Value| {
        Expr::from(Func::coalesce([Expr::col(column), Expr::val(value)]))
    };
    ApiKeys::update_many()
        .col_expr(api_key::Column::CompromisedAt, first(api_key::Column::CompromisedAt, now.into()))
        .col_expr(api_key::Column::ReplacedBy, first(api_key::Column::ReplacedBy, replacement.into()))
        .filter(api_key::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Marks a key as rolled: it works until `grace_until`, replaced by `replaced_by`. `false` when
/// it was revoked or rolled meanwhile.
pub async fn mark_rolled(
    db: &impl ConnectionTrait,
    id: Uuid,
    replaced_by: Uuid,
    grace_until: Timestamp,
) -> Result<bool> {
    let res = ApiKeys::update_many()
        .col_expr(api_key::Column::GraceUntil, Expr::value(grace_until))
        .col_expr(api_key::Column::ReplacedBy, Expr::value(replaced_by))
        .filter(api_key::Column::Id.eq(id))
        .filter(api_key::Column::RevokedAt.is_null())
        .filter(api_key::Column::ReplacedBy.is_null())
        .exec(db)
        .await?;
    Ok(res.rows_affected == 1)
}

/// Adds `requests` to a key's total and moves its last use forward to `last_used`, in one
/// additive statement, so several instances may flush at once.
pub async fn add_requests(db: &impl ConnectionTrait, id: Uuid, requests: i64, last_used: Timestamp) -> Result<()> {
    let newer = api_key::Column::LastUsedAt.is_null().or(api_key::Column::LastUsedAt.lt(last_used));
    let last = Expr::case(newer, Expr::value(last_used)).finally(Expr::col(api_key::Column::LastUsedAt));
    ApiKeys::update_many()
        .col_expr(api_key::Column::RequestCount, Expr::col(api_key::Column::RequestCount).add(requests))
        .col_expr(api_key::Column::LastUsedAt, last.into())
        .filter(api_key::Column::Id.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

/// Usable keys with a monthly limit that have counted at least 1% of it in the month starting
/// at `month`, with what they counted: the candidates for usage alerts.
pub async fn near_their_limit(db: &impl ConnectionTrait, month: Timestamp) -> Result<Vec<(StoredKey, u64)>> {
    use sea_orm::{DbBackend, FromQueryResult, Statement};
    let backend = db.get_database_backend();
    let sql = match backend {
        DbBackend::Postgres => {
            "SELECT k.id, m.requests FROM api_keys k JOIN usage_months m ON m.key_id = k.id AND m.month = $1 \
             WHERE k.usage_limit IS NOT NULL AND k.revoked_at IS NULL AND m.requests * 100 >= k.usage_limit"
        }
        _ => {
            "SELECT k.id, m.requests FROM api_keys k JOIN usage_months m ON m.key_id = k.id AND m.month = ? \
             WHERE k.usage_limit IS NOT NULL AND k.revoked_at IS NULL AND m.requests * 100 >= k.usage_limit"
        }
    };
    #[derive(FromQueryResult)]
    struct Used {
        id: Uuid,
        requests: i64,
    }
    let used = Used::find_by_statement(Statement::from_sql_and_values(backend, sql, [month.timestamp().into()]))
        .all(db)
        .await?;
    let keys = ApiKeys::find().filter(api_key::Column::Id.is_in(used.iter().map(|u| u.id))).all(db).await?;
    decode_all(keys)?
        .into_iter()
        .filter_map(|k| {
            let requests = used.iter().find(|u| u.id == k.id)?.requests;
            Some(Ok((k, u64::try_from(requests).unwrap_or(0))))
        })
        .collect()
}
