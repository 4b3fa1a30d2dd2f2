//! Usage read models: a key's and a team's usage (totals, the monthly limit, requests over
//! time, error rate, status codes, latency percentiles), as JSON or CSV. Each part of a range is
//! read from the coarsest tier that answers it, so a 90-day read touches about 90 rows per
//! status. What a read takes from the database is kept until the team's usage or keys change;
//! what this instance counted and has not written yet is added from its buffer.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use portal_db::usage::{KeyShare, Scope};
use portal_domain::usage::{self as domain, Counts, CsvLine, MonthUse, Range, Span};
use portal_types::{Environment, KeyUsageSummary, TeamUsage, Usage};
use uuid::Uuid;

use crate::access::TeamAccess;
use crate::error::{ApiError, ApiResult};
use crate::services::pages::{PageKey, SpanKey, Weigh};
use crate::state::AppState;

/// A usage answer: JSON, or a CSV file with its name (without `.csv`).
pub enum Answer<T> {
    Json(T),
    Csv(String, String),
}

/// Stored rows a team CSV may cover (a line per bucket, key and status at most).
const MAX_CSV_ROWS: usize = 200_000;

/// The read plan of a range under the configured minute retention (minute buckets only where
/// minute counts are kept).
fn spans(state: &AppState, range: &Range, now: DateTime<Utc>) -> ApiResult<Vec<Span>> {
    let days = state.config.usage_retention.minutes;
    let kept = now - Duration::days(i64::from(days));
    range.check_kept(kept, days)?;
    Ok(domain::plan(range, kept))
}

async fn flush_meter(state: &AppState) {
    // The usage pages read what this instance served up to now, not up to its last flush.
    if let Err(e) = state.meter.flush().await {
        tracing::warn!(error = %e, "usage flush before a usage read failed");
    }
}

fn keys_by_id(keys: Vec<portal_db::api_keys::StoredKey>) -> HashMap<Uuid, portal_db::api_keys::StoredKey> {
    keys.into_iter().map(|k| (k.id, k)).collect()
}

/// What a usage page reads from the database, kept until the team's usage or keys change.
struct StoredUsage {
    counts: Vec<Counts>,
    /// Requests of the month that counted against limits.
    used: u64,
    /// Each key's share of the range, with its name, for a team.
    shares: HashMap<Uuid, KeyShare>,
}

impl Weigh for StoredUsage {
    fn weight(&self) -> usize {
        self.counts.weight() + self.shares.values().map(|s| 96 + s.name.len()).sum::<usize>()
    }
}

/// The spans of a read as a cache key. Buckets start on their tier's boundary, so a span's ends
/// rounded up to the next boundary select the same buckets: the key (and what it reads) stays the
/// same for the rest of the minute (or hour) however the range's seconds move.
fn span_key(spans: &[Span]) -> Vec<SpanKey> {
    let up = |t: i64, tier: portal_domain::usage::Tier| {
        let floor = tier.floor(t);
        if floor == t { t } else { floor + tier.seconds() }
    };
    spans.iter().map(|s| (s.tier, up(s.from, s.tier), up(s.to, s.tier))).collect()
}

fn line(c: &Counts) -> CsvLine<'_> {
    CsvLine { start: c.at, key: None, status: c.status, requests: c.requests, latency: c.latency }
}

/// One key's usage over `range` (`csv`: one line per bucket and status).
pub async fn of_key(
    state: &AppState,
    access: &TeamAccess,
    key_id: Uuid,
    range: Range,
    csv: bool,
    now: DateTime<Utc>,
) -> ApiResult<Answer<Usage>> {
    let team_id = access.team.id;
    let found = state
        .pages
        .cached_read(team_id, PageKey::Key(key_id), async {
            let found = portal_db::api_keys::find(&state.reads, team_id, key_id).await?;
            Ok::<_, portal_db::Error>(Vec::from_iter(found))
        })
        .await?;
    let key = found.first().ok_or_else(super::keys::key_not_found)?;
    let spans = spans(state, &range, now)?;
    if csv {
        // A line per stored row: everything this instance counted is written first.
        flush_meter(state).await;
        let rows = portal_db::usage::counts(&state.reads, Scope::Key(key.id), &spans, false, None).await?;
        let lines: Vec<CsvLine<'_>> = rows.iter().map(|(_, c)| line(c)).collect();
        return Ok(Answer::Csv(format!("usage-key-{}", key.id), domain::csv(range.granularity, &lines, false)));
    }
    // What this instance counted is read from its buffer, not written first: a usage read
    // costs no write. Flushes wait meanwhile, so nothing is counted twice or missed.
    let month = domain::month_bounds(now).0;
    let (stored, pending) = {
        let _no_flush = state.meter.hold_flushes().await;
        let what = PageKey::KeyUsage { key: key.id, spans: span_key(&spans), month: month.timestamp() };
        let (stored, since) = state
            .pages
            .cached_counted_read(team_id, what, async {
                let scope = Scope::Key(key.id);
                let (counts, used) = tokio::try_join!(
                    portal_db::usage::counts(&state.reads, scope, &spans, false, None),
                    portal_db::usage::month_requests(&state.reads, scope, month),
                )?;
                Ok::<_, portal_db::Error>(StoredUsage {
                    counts: counts.into_iter().map(|(_, c)| c).collect(),
                    used,
                    shares: HashMap::new(),
                })
            })
            .await?;
        (stored, state.meter.pending(team_id, Scope::Key(key.id), month, since))
    };
    let (rows, used) = (stored.counts.iter().chain(pending.rows.iter().map(|(_, c)| c)), stored.used + pending.month);
    let limit = key.usage_limit.and_then(|l| u64::try_from(l).ok());
    let usage: Usage = domain::summarise(&range, rows, MonthUse { limit, used });
    Ok(Answer::Json(usage))
}

/// The team's usage over `range`, with each key's share (`csv`: one line per bucket, key and
/// status).
pub async fn of_team(
    state: &AppState,
    access: &TeamAccess,
    range: Range,
    csv: bool,
    now: DateTime<Utc>,
) -> ApiResult<Answer<TeamUsage>> {
    let team_id = access.team.id;
    let spans = spans(state, &range, now)?;
    if csv {
        flush_meter(state).await;
        let max = Some(MAX_CSV_ROWS as u64 + 1);
        let rows = portal_db::usage::counts(&state.reads, Scope::Team(team_id), &spans, true, max).await?;
        if rows.len() > MAX_CSV_ROWS {
            return Err(ApiError::validation(
                "from",
                format!("covers more than {MAX_CSV_ROWS} lines of CSV: choose a shorter range or day buckets"),
            ));
        }
        let mut ids: Vec<Uuid> = rows.iter().filter_map(|(id, _)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        let keys = keys_by_id(portal_db::api_keys::of_team(&state.reads, team_id, &ids).await?);
        let named: Vec<(String, &str, &str)> = rows
            .iter()
            .map(|(id, _)| {
                let key = id.and_then(|id| keys.get(&id));
                let env = key.map_or("", |k| k.environment.as_str());
                (id.map(|i| i.to_string()).unwrap_or_default(), key.map_or("", |k| k.name.as_str()), env)
            })
            .collect();
        let lines: Vec<CsvLine<'_>> = rows
            .iter()
            .zip(&named)
            .map(|((_, c), (id, name, env))| CsvLine { key: Some((id.as_str(), name, env)), ..line(c) })
            .collect();
        return Ok(Answer::Csv(format!("usage-team-{team_id}"), domain::csv(range.granularity, &lines, true)));
    }
    // As for a key: this instance's unwritten counts come from its buffer, under a hold on
    // flushes, instead of a write before every read.
    let month = domain::month_bounds(now).0;
    let (pending, per_key, stored, last_use) = {
        let _no_flush = state.meter.hold_flushes().await;
        let what = PageKey::TeamUsage { spans: span_key(&spans), month: month.timestamp() };
        let (stored, since) = state
            .pages
            .cached_counted_read(team_id, what, async {
                // Reads wait for this after every flush: its parts run side by side (on a
                // connection each).
                let scope = Scope::Team(team_id);
                let (counts, shares, used) = tokio::try_join!(
                    portal_db::usage::counts(&state.reads, scope, &spans, false, None),
                    portal_db::usage::per_key(&state.reads, team_id, &spans, now),
                    portal_db::usage::month_requests(&state.reads, scope, month),
                )?;
                Ok::<_, portal_db::Error>(StoredUsage {
                    counts: counts.into_iter().map(|(_, c)| c).collect(),
                    used,
                    shares: shares.into_iter().map(|s| (s.key_id, s)).collect(),
                })
            })
            .await?;
        let mut per_key: HashMap<Uuid, (u64, u64)> =
            stored.shares.values().map(|s| (s.key_id, (s.requests, s.errors))).collect();
        let pending = state.meter.pending(team_id, Scope::Team(team_id), month, since);
        let (from, to) = (range.start(), range.to);
        for (key_id, c) in pending.rows.iter().filter(|(_, c)| c.at >= from && c.at < to) {
            let error = if domain::is_error(c.status) { c.requests } else { 0 };
            let entry = per_key.entry(*key_id).or_default();
            entry.0 += c.requests;
            entry.1 += error;
        }
        // The last use as written, or this instance's since (the same overlay as the key list's).
        let ids: Vec<Uuid> = per_key.keys().copied().collect();
        let unwritten = state.meter.pending_uses(team_id, &ids, since);
        let last_use: HashMap<Uuid, DateTime<Utc>> =
            ids.iter().zip(unwritten).filter_map(|(id, pending)| pending.map(|(_, at)| (*id, at))).collect();
        (pending, per_key, stored, last_use)
    };
    let (rows, used) = (stored.counts.iter().chain(pending.rows.iter().map(|(_, c)| c)), stored.used + pending.month);
    // Keys whose only requests are still in this instance's buffer are not among the kept ones.
    let unnamed: Vec<Uuid> = per_key.keys().copied().filter(|id| !stored.shares.contains_key(id)).collect();
    let more = match unnamed.is_empty() {
        true => Default::default(),
        false => {
            let read = portal_db::api_keys::of_team(&state.reads, team_id, &unnamed);
            state.pages.cached_read(team_id, PageKey::KeyNames(unnamed.clone()), read).await?
        }
    };
    let named = |id: &Uuid| match stored.shares.get(id) {
        Some(share) => Some((share.name.clone(), Environment::parse(&share.environment)?, share.last_used_at)),
        None => more.iter().find(|k| k.id == *id).map(|k| (k.name.clone(), k.environment, k.last_used_at)),
    };
    let mut summaries: Vec<KeyUsageSummary> = per_key
        .into_iter()
        .filter_map(|(id, (total, error))| {
            let (name, environment, written) = named(&id)?;
            let last_used_at = written.max(last_use.get(&id).copied());
            Some(KeyUsageSummary { key_id: id, name, environment, total_requests: total, error, last_used_at })
        })
        .collect();
    summaries.sort_by(|a, b| b.total_requests.cmp(&a.total_requests).then(a.name.cmp(&b.name)));
    let usage = domain::summarise(&range, rows, MonthUse { limit: None, used });
    Ok(Answer::Json(TeamUsage { usage, keys: summaries }))
}
