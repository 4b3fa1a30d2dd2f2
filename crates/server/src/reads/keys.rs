//! The key list and a key as read: kept pages (with what this instance counted and has not
//! written yet spliced in), narrowed and sorted reads, and a key's answer.

use std::sync::OnceLock;

use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse};
use chrono::{DateTime, Duration, Utc};
use portal_db::api_keys::StoredKey;
use portal_types::{ApiKey, ErrorCode, KeySort, KeyStatus, LeakReport};
use uuid::Uuid;

pub use portal_db::api_keys::{KeyFilter, KeyOrder, StatusFilter};

pub fn key_not_found() -> ApiError {
    ApiError::new(ErrorCode::KeyNotFound, "No such API key in this team.")
}

use crate::access::TeamAccess;
use crate::error::{ApiError, ApiResult};
use crate::kept::{KeptJson, PAGE_HEAD, encoded_answer, next_change, page_json, spliced_answer};
use crate::paging::{
    decode_count_position, decode_position, encode_count_position, encode_position, next_cursor, rows_for,
};
use crate::services::pages::{PageKey, Weigh};
use crate::state::AppState;

/// How long before expiry a key is marked, and its owners mailed (also a day before).
pub const EXPIRY_WARNING_DAYS: i64 = 7;
/// A usable key not used for this long is marked unused.
const UNUSED_DAYS: i64 = 30;

pub fn to_wire(key: StoredKey, now: DateTime<Utc>) -> ApiResult<ApiKey> {
    let status = key.status(now);
    let usable = matches!(status, KeyStatus::Active | KeyStatus::Rolling);
    let StoredKey { row, environment, rate_limit, scopes, allowed_ips, alert_thresholds } = key;
    Ok(ApiKey {
        scopes: scopes.to_vec(),
        allowed_ips: allowed_ips.to_strings(),
        alert_thresholds,
        leaked: row.leaked_at.map(|reported_at| LeakReport {
            reported_at,
            url: row.leak_url.clone(),
            source: row.leak_source.clone().unwrap_or_default(),
        }),
        expiring_soon: usable && row.expires_at.is_some_and(|e| e - now <= Duration::days(EXPIRY_WARNING_DAYS)),
        unused: usable && row.last_used_at.is_none_or(|t| now - t >= Duration::days(UNUSED_DAYS)),
        creator: None,
        rate_limit,
        id: row.id,
        team_id: row.team_id,
        environment,
        status,
        name: row.name,
        description: row.description,
        hint: row.hint,
        created_at: row.created_at,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
        grace_until: row.grace_until,
        replaced_by: row.replaced_by,
        compromised_at: row.compromised_at,
        last_used_at: row.last_used_at,
        request_count: u64::try_from(row.request_count).unwrap_or(0),
        usage_limit: row.usage_limit.and_then(|l| u64::try_from(l).ok()),
    })
}

/// Where a list in `sort` starts: the position in `cursor` (the last row of the page before).
pub fn order_of(sort: KeySort, cursor: Option<&str>) -> ApiResult<KeyOrder> {
    Ok(match sort {
        KeySort::Created => KeyOrder::Created(cursor.map(decode_position).transpose()?),
        KeySort::LastUsed => KeyOrder::LastUsed(
            cursor
                .map(|c| decode_position(c).map(|(at, id)| ((at != DateTime::UNIX_EPOCH).then_some(at), id)))
                .transpose()?,
        ),
        KeySort::Requests => KeyOrder::Requests(cursor.map(decode_count_position).transpose()?),
    })
}

/// The cursor of a page whose last row is `row`: its position as stored, where the next page
/// goes on.
fn cursor_at(order: &KeyOrder, row: &StoredKey) -> String {
    match order {
        KeyOrder::Created(_) => encode_position(row.created_at, row.id),
        KeyOrder::LastUsed(_) => encode_position(row.last_used_at.unwrap_or(DateTime::UNIX_EPOCH), row.id),
        KeyOrder::Requests(_) => encode_count_position(row.request_count, row.id),
    }
}

/// A page of the team's keys, narrowed by `filter`, in `order`: the kept answer, with this
/// instance's unwritten uses of its keys spliced in.
///
/// Every narrowing and order is kept on its own until the team changes. A list narrowed by
/// status is also read again when one of the team's keys (on the page or not) changes status
/// by itself. A list ordered by use is the order of this instance's latest flush: the buffered
/// counts are written first (at most twice a second), and a page read before a flush is not
/// served after it; the counts it shows are exact.
pub async fn page(
    state: &AppState,
    req: &HttpRequest,
    team_id: Uuid,
    filter: KeyFilter,
    order: KeyOrder,
    limit: u64,
) -> ApiResult<HttpResponse> {
    // Ordered by use, or narrowed by the month's use: the counts are written first.
    let by_use =
        !matches!(order, KeyOrder::Created(_)) || matches!(filter.status, Some(StatusFilter::Attention { .. }));
    if by_use {
        state.meter.write_counts().await?;
    }
    // A flush writes the buffered counts and moves the team's kept reads on together.
    let _no_flush = state.meter.hold_flushes().await;
    let flushes = by_use.then(|| state.meter.flushes().now);
    let what = PageKey::ApiKeys { filter: filter.clone(), order, limit, flushes };
    let (kept, since) = state
        .pages
        .cached_counted_read(team_id, what, async {
            let now = Utc::now();
            let mut rows =
                portal_db::api_keys::list_filtered(&state.reads, team_id, &filter, order, rows_for(limit), now).await?;
            let next_cursor = next_cursor(&mut rows, limit, |r| cursor_at(&order, r));
            let items = rows
                .iter()
                .map(|r| Ok(serde_json::to_vec(&to_wire(r.clone(), now)?).map_err(ApiError::internal)?.into()))
                .collect::<ApiResult<Vec<Bytes>>>()?;
            // A key off the page comes into a list narrowed by status when its status changes.
            let enters = match filter.status {
                None => None,
                Some(StatusFilter::Attention { within, .. }) => {
                    portal_db::api_keys::next_status_change(&state.reads, team_id, now, within).await?
                }
                Some(_) => portal_db::api_keys::next_status_change(&state.reads, team_id, now, soon()).await?,
            };
            let until = next_change(now, changes_by_itself(&rows).chain(enters));
            let page = KeptJson::encoded(page_json(items.iter().map(|i| i.as_ref()), next_cursor.as_deref())?, until);
            let around = items.iter().map(|_| OnceLock::new()).collect();
            Ok::<_, ApiError>(KeptKeyPage { rows, items, next_cursor, page, around })
        })
        .await?;
    // The kept answer holds what was written when it was read; a key this instance used since is
    // encoded again with that use.
    let ids: Vec<Uuid> = kept.rows.iter().map(|r| r.id).collect();
    let pending = state.meter.pending_uses(team_id, &ids, since);
    if pending.iter().all(Option::is_none) {
        return Ok(kept.page.respond(req));
    }
    let now = Utc::now();
    let mut fresh: Vec<Option<Vec<u8>>> = Vec::with_capacity(ids.len());
    for (row, pending) in kept.rows.iter().zip(pending) {
        fresh.push(match pending {
            None => None,
            Some(pending) => {
                let mut row = row.clone();
                add_use(&mut row, pending);
                Some(serde_json::to_vec(&to_wire(row, now)?).map_err(ApiError::internal)?)
            }
        });
    }
    let items = kept.items.iter().zip(&fresh).map(|(kept, fresh)| fresh.as_deref().unwrap_or(kept.as_ref()));
    let body = page_json(items, kept.next_cursor.as_deref())?;
    // Mostly one key is in use (the one asking): the rest of the page is compressed once.
    let mut changed = fresh.iter().enumerate().filter_map(|(i, f)| f.as_ref().map(|f| (i, f.len())));
    if let (Some((i, len)), None) = (changed.next(), changed.next()) {
        let start = PAGE_HEAD.len() + kept.items[..i].iter().map(|item| item.len() + 1).sum::<usize>();
        return Ok(spliced_answer(req, body, (start, start + len), &kept.around[i]));
    }
    Ok(encoded_answer(req, body))
}

/// How near its expiry a key is "expiring soon".
pub fn soon() -> Duration {
    Duration::days(EXPIRY_WARNING_DAYS)
}

/// The `attention` narrowing at `now`: working keys expiring within
/// [`portal_types::ATTENTION_EXPIRY_DAYS`], or having used [`portal_types::ATTENTION_LIMIT_PERCENT`]
/// of their monthly limit this month.
pub fn attention(now: DateTime<Utc>) -> StatusFilter {
    StatusFilter::Attention {
        within: Duration::days(portal_types::ATTENTION_EXPIRY_DAYS),
        percent: portal_types::ATTENTION_LIMIT_PERCENT,
        month: portal_domain::usage::month_bounds(now).0.timestamp(),
    }
}

/// When each key's answer changes by itself (`to_wire`): it expires, its grace period ends, it
/// becomes "expiring soon" or "unused".
fn changes_by_itself(rows: &[StoredKey]) -> impl Iterator<Item = DateTime<Utc>> + '_ {
    rows.iter().filter(|r| r.revoked_at.is_none()).flat_map(|r| {
        [
            r.expires_at,
            r.grace_until,
            r.expires_at.map(|e| e - Duration::days(EXPIRY_WARNING_DAYS)),
            r.last_used_at.map(|t| t + Duration::days(UNUSED_DAYS)),
        ]
        .into_iter()
        .flatten()
    })
}

/// A page of keys as kept: the rows, each key's answer as written, and the whole page's answer
/// (which knows when one of them changes by itself).
struct KeptKeyPage {
    rows: Vec<StoredKey>,
    items: Vec<Bytes>,
    next_cursor: Option<String>,
    page: KeptJson,
    /// Per key: the page before and after it, compressed, for answers where only it changed.
    around: Vec<OnceLock<(Bytes, Bytes)>>,
}

impl Weigh for KeptKeyPage {
    fn weight(&self) -> usize {
        self.page.weight() + self.items.iter().map(|i| i.len() + 512).sum::<usize>()
    }

    fn fresh(&self) -> bool {
        self.page.fresh()
    }
}

/// One key of the team, with this instance's unwritten uses.
pub async fn get(state: &AppState, access: &TeamAccess, key_id: Uuid) -> ApiResult<ApiKey> {
    let row = {
        let _no_flush = state.meter.hold_flushes().await;
        let mut row =
            portal_db::api_keys::find(&state.reads, access.team.id, key_id).await?.ok_or_else(key_not_found)?;
        add_pending_use(&state.meter, &mut row);
        row
    };
    let created_by = row.row.created_by;
    let mut key = to_wire(row, Utc::now())?;
    if let Some(user_id) = created_by {
        key.creator = creator(state, access.team.id, user_id).await?;
    }
    Ok(key)
}

/// The key's creator as the key page shows them: still a member, and whether they sign in
/// through the team's identity provider.
async fn creator(state: &AppState, team_id: Uuid, user_id: Uuid) -> ApiResult<Option<portal_types::KeyCreator>> {
    let Some(user) = portal_db::users::find(&state.reads, user_id).await? else { return Ok(None) };
    Ok(Some(portal_types::KeyCreator {
        user_id,
        name: user.name,
        member: portal_db::teams::membership_of(&state.reads, team_id, user_id).await?.is_some(),
        sso_linked: portal_db::sso::linked_in_team(&state.reads, team_id, user_id).await?,
    }))
}

/// Adds what this instance counted of a key and has not written yet to its stored totals. Call
/// it under `hold_flushes`, with the read of the row.
fn add_pending_use(meter: &crate::services::meter::MeterService, row: &mut StoredKey) {
    if let Some(pending) = meter.pending_use(row.team_id, row.id) {
        add_use(row, pending);
    }
}

fn add_use(row: &mut StoredKey, (requests, at): (u64, DateTime<Utc>)) {
    let row = &mut row.row;
    row.request_count = row.request_count.saturating_add(i64::try_from(requests).unwrap_or(0));
    row.last_used_at = Some(row.last_used_at.map_or(at, |t| t.max(at)));
}
