//! Usage maths: what counts as an error, time buckets and ranges, which storage tier answers
//! which part of a range, mergeable latency histograms and their percentiles, summaries and CSV.
//!
//! Counts are stored per key, bucket and status in three tiers (minute, hour, day). Every tier
//! is written additively, so counts of several instances and flushes add up; a latency
//! histogram is a fixed array of counters, so it adds up the same way.

use chrono::{DateTime, Datelike, Duration, DurationRound, TimeDelta, Utc};
use portal_types::{Granularity, LatencyPercentiles, Outcomes, StatusCount, Usage, UsagePoint};

use crate::FieldError;

/// The longest range of a usage query.
pub const MAX_USAGE_DAYS: i64 = 90;
/// The longest range of a query with hour buckets.
pub const MAX_HOURLY_DAYS: i64 = 31;
/// The longest range of a query with minute buckets.
pub const MAX_MINUTE_HOURS: i64 = 24;

/// How a refusal for a spent monthly limit is stored. It is answered with 429 like a refusal for
/// rate, and read back as 429 ([`http_status`]), but the usage pages tell the two apart: one
/// asks to slow down, the other to raise the limit or wait for the month. (Counts stored before
/// this distinction hold both as 429, read as refusals for rate.)
pub const QUOTA_REFUSED: u16 = 1429;

/// The status as answered of a stored status.
pub fn http_status(stored: u16) -> u16 {
    if stored == QUOTA_REFUSED { 429 } else { stored }
}

/// Whether an answer counts as an error in usage figures: every 4xx and 5xx.
pub fn is_error(status: u16) -> bool {
    status >= 400
}

/// Adds `requests` answered with `stored` (a stored status) to what became of them.
pub fn add_outcome(outcomes: &mut Outcomes, stored: u16, requests: u64) {
    let slot = match stored {
        QUOTA_REFUSED => &mut outcomes.quota_exceeded,
        429 => &mut outcomes.rate_limited,
        401 | 403 => &mut outcomes.denied,
        s if s >= 500 => &mut outcomes.server_error,
        s if s >= 400 => &mut outcomes.client_error,
        _ => &mut outcomes.success,
    };
    *slot += requests;
}

fn step(g: Granularity) -> TimeDelta {
    match g {
        Granularity::Minute => TimeDelta::minutes(1),
        Granularity::Hour => TimeDelta::hours(1),
        Granularity::Day => TimeDelta::days(1),
    }
}

/// The start of the bucket holding `t`.
pub fn bucket_start(t: DateTime<Utc>, g: Granularity) -> DateTime<Utc> {
    t.duration_trunc(step(g)).unwrap_or(t)
}

/// The start of the minute holding `t` (the unit of stored counts).
pub fn minute_of(t: DateTime<Utc>) -> DateTime<Utc> {
    t.duration_trunc(TimeDelta::minutes(1)).unwrap_or(t)
}

/// The start of the calendar month (UTC) holding `t`, and of the next one.
pub fn month_bounds(t: DateTime<Utc>) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = |y: i32, m: u32| {
        chrono::NaiveDate::from_ymd_opt(y, m, 1).and_then(|d| d.and_hms_opt(0, 0, 0)).map(|n| n.and_utc()).unwrap_or(t)
    };
    let (y, m) = (t.year(), t.month());
    let next = if m == 12 { start(y + 1, 1) } else { start(y, m + 1) };
    (start(y, m), next)
}

/// A validated usage range: counts of `[bucket_start(from), to)` in buckets of `granularity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub granularity: Granularity,
}

impl Range {
    /// Parses `from`, `to` (RFC 3339) and `granularity` (`minute` | `hour` | `day`) of a query; defaults:
    /// the 24 hours before now, hour buckets up to 2 days and day buckets beyond.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        granularity: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Self, FieldError> {
        let time = |field: &'static str, raw: Option<&str>| {
            raw.map(|s| {
                DateTime::parse_from_rfc3339(s)
                    .map(|t| t.to_utc())
                    .map_err(|_| FieldError::new(field, "must be an RFC 3339 time such as 2026-11-26T12:00:00Z"))
            })
            .transpose()
        };
        let to = time("to", to)?.unwrap_or(now);
        let from = time("from", from)?.unwrap_or(to - Duration::hours(24));
        if from >= to {
            return Err(FieldError::new("from", "must be before `to`"));
        }
        if to - from > Duration::days(MAX_USAGE_DAYS) + Duration::minutes(1) {
            return Err(FieldError::new("from", "must be at most 90 days before `to`"));
        }
        let granularity = match granularity {
            None if to - from <= Duration::days(2) => Granularity::Hour,
            None => Granularity::Day,
            Some("minute") => Granularity::Minute,
            Some("hour") => Granularity::Hour,
            Some("day") => Granularity::Day,
            Some(_) => return Err(FieldError::new("granularity", "must be `minute`, `hour` or `day`")),
        };
        if granularity == Granularity::Minute && to - from > Duration::hours(MAX_MINUTE_HOURS) {
            return Err(FieldError::new("granularity", "minute buckets cover at most 24 hours; use `hour`"));
        }
        if granularity == Granularity::Hour && to - from > Duration::days(MAX_HOURLY_DAYS) {
            return Err(FieldError::new("granularity", "hour buckets cover at most 31 days; use `day`"));
        }
        Ok(Self { from, to, granularity })
    }

    /// Refuses minute buckets that reach before `minutes_kept_from`, where minute counts are
    /// pruned (coarser buckets read the hour and day tiers there).
    pub fn check_kept(&self, minutes_kept_from: DateTime<Utc>, kept_days: u32) -> Result<(), FieldError> {
        if self.granularity == Granularity::Minute && self.start() < minutes_kept_from {
            return Err(FieldError::new(
                "from",
                format!("minute buckets are kept for {kept_days} days; use `hour` for older usage"),
            ));
        }
        Ok(())
    }

    /// The start of the first bucket.
    pub fn start(&self) -> DateTime<Utc> {
        bucket_start(self.from, self.granularity)
    }
}

/// A storage tier of usage counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Tier {
    Minute,
    Hour,
    Day,
}

impl Tier {
    pub const ALL: [Tier; 3] = [Tier::Minute, Tier::Hour, Tier::Day];

    /// Seconds a bucket of this tier spans.
    pub fn seconds(self) -> i64 {
        match self {
            Tier::Minute => 60,
            Tier::Hour => 3600,
            Tier::Day => 86_400,
        }
    }

    /// The start (Unix seconds) of this tier's bucket holding `t` (Unix seconds).
    pub fn floor(self, t: i64) -> i64 {
        t - t.rem_euclid(self.seconds())
    }
}

impl Tier {
    /// The start of the first bucket of this tier at or after `t`.
    pub fn ceil(self, t: i64) -> i64 {
        let floor = self.floor(t);
        if floor == t { t } else { floor + self.seconds() }
    }
}

/// The seconds of a week. Weeks start on Monday, 00:00 UTC.
pub const WEEK: i64 = 7 * 86_400;
/// 1970-01-05, the first Monday after the Unix epoch (a Thursday).
const FIRST_MONDAY: i64 = 4 * 86_400;

/// The start of the week holding `t` (Unix seconds).
pub fn week_floor(t: i64) -> i64 {
    t - (t - FIRST_MONDAY).rem_euclid(WEEK)
}

/// Stored counts a read may take: a tier's buckets, or a key's weeks (requests and errors only,
/// for the per-key shares of a team's usage).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    Tier(Tier),
    Week,
}

impl Level {
    fn floor(self, t: i64) -> i64 {
        match self {
            Level::Tier(tier) => tier.floor(t),
            Level::Week => week_floor(t),
        }
    }

    fn ceil(self, t: i64) -> i64 {
        let floor = self.floor(t);
        if floor == t {
            t
        } else {
            floor
                + match self {
                    Level::Tier(tier) => tier.seconds(),
                    Level::Week => WEEK,
                }
        }
    }
}

/// The fewest stored buckets that hold exactly what `spans` (a [`plan`]) read, for a sum over
/// the whole range (each key's share of a team's usage): the finer levels only at the edges, and
/// whole weeks between. `now` is when the read happens: when the range runs into the current
/// minute, nothing is stored after its end, so the last buckets may reach beyond it (today's day
/// row instead of its hours and this hour's minutes).
///
/// None when the spans do not join up (no plan makes such spans).
pub fn cover(spans: &[Span], now: i64) -> Option<Vec<(Level, i64, i64)>> {
    // What a span reads, as time: the buckets of its tier that start in [from, to).
    let time = |s: &Span| (s.tier.ceil(s.from), s.tier.ceil(s.to));
    let (Some(first), Some(last)) = (spans.first(), spans.last()) else {
        return Some(Vec::new());
    };
    if spans.windows(2).any(|w| time(&w[0]).1 != time(&w[1]).0) {
        return None;
    }
    let (mut a, mut b) = (time(first).0, time(last).1);
    if a >= b {
        return Some(Vec::new());
    }
    if b > Tier::Minute.floor(now) {
        b = Level::Week.ceil(b);
    }
    let levels = [Level::Tier(Tier::Minute), Level::Tier(Tier::Hour), Level::Tier(Tier::Day), Level::Week];
    let (mut left, mut right) = (Vec::new(), Vec::new());
    for pair in levels.windows(2) {
        let (fine, coarse) = (pair[0], pair[1]);
        let (up, down) = (coarse.ceil(a), coarse.floor(b));
        if up >= down {
            left.push((fine, a, b));
            a = b;
            break;
        }
        left.push((fine, a, up));
        right.push((fine, down, b));
        (a, b) = (up, down);
    }
    if a < b {
        left.push((Level::Week, a, b));
    }
    left.extend(right.into_iter().rev());
    left.retain(|(_, from, to)| from < to);
    Some(left)
}

/// A part of a range and the tier that answers it: `[from, to)` in Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub tier: Tier,
    pub from: i64,
    pub to: i64,
}

/// Which tier answers which part of `range`, coarsest first: whole days from the day tier
/// (day buckets only), whole hours from the hour tier, and the minutes of the last, partial hour
/// from the minute tier. When minute counts older than `minutes_kept_from` are pruned, the last
/// hour comes whole from the hour tier instead.
pub fn plan(range: &Range, minutes_kept_from: DateTime<Utc>) -> Vec<Span> {
    let start = range.start().timestamp();
    // Buckets are stored by whole seconds: a bucket that starts in `to`'s own second began
    // before `to` when `to` is a fraction into it.
    let to = range.to.timestamp() + i64::from(range.to.timestamp_subsec_nanos() > 0);
    let mut spans: Vec<Span> = Vec::with_capacity(3);
    let mut push = |tier: Tier, from: i64, until: i64| {
        if from >= until {
            return;
        }
        match spans.last_mut() {
            Some(last) if last.tier == tier && last.to == from => last.to = until,
            _ => spans.push(Span { tier, from, to: until }),
        }
    };
    if range.granularity == Granularity::Minute {
        // Minute buckets come from the minute tier alone ([`Range::check_kept`] refuses a range
        // reaching past its retention).
        push(Tier::Minute, start, to);
        return spans;
    }
    let hour_end = Tier::Hour.floor(to);
    let mut cursor = start;
    if range.granularity == Granularity::Day {
        let day_end = Tier::Day.floor(to).max(start);
        push(Tier::Day, cursor, day_end);
        cursor = day_end;
    }
    let hours_until = hour_end.max(cursor);
    push(Tier::Hour, cursor, hours_until);
    cursor = hours_until;
    if hour_end >= minutes_kept_from.timestamp() {
        push(Tier::Minute, cursor, to);
    } else {
        push(Tier::Hour, cursor, Tier::Hour.floor(to - 1) + Tier::Hour.seconds());
    }
    spans
}

/// Number of latency buckets.
pub const LATENCY_BUCKETS: usize = 40;

/// A latency histogram on a log scale: bucket 0 holds answers under 16 µs, bucket `i` holds
/// `[16·2^((i-1)/2), 16·2^(i/2))` µs (each bucket √2 wider than the last, so an estimate is
/// within about 20%), and the last bucket everything from 8.4 s up. Counters only: histograms
/// of instances, minutes, hours and days add up exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Histogram(pub [u64; LATENCY_BUCKETS]);

impl Default for Histogram {
    fn default() -> Self {
        Self([0; LATENCY_BUCKETS])
    }
}

impl Histogram {
    /// The bucket of an answer that took `us` microseconds.
    pub fn bucket_of(us: u64) -> usize {
        if us < 16 {
            return 0;
        }
        let k = 63 - us.leading_zeros() as usize; // floor(log2(us)), at least 4
        let upper_half = u128::from(us) * u128::from(us) >= 1u128 << (2 * k + 1);
        (2 * k + usize::from(upper_half) - 7).min(LATENCY_BUCKETS - 1)
    }

    /// The lower bound of bucket `i` in microseconds.
    pub fn floor_us(i: usize) -> f64 {
        if i == 0 { 0.0 } else { 16.0 * 2f64.powf((i as f64 - 1.0) / 2.0) }
    }

    pub fn record(&mut self, us: u64) {
        self.0[Self::bucket_of(us)] += 1;
    }

    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.0.iter_mut().zip(other.0) {
            *a += b;
        }
    }

    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// The `q`-quantile (0 < q ≤ 1) in milliseconds, interpolated within its bucket; None when
    /// the histogram is empty.
    pub fn quantile_ms(&self, q: f64) -> Option<f64> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let rank = (q * total as f64).max(1.0);
        let mut below = 0u64;
        for (i, &n) in self.0.iter().enumerate() {
            if n == 0 {
                continue;
            }
            if (below + n) as f64 >= rank {
                let lo = Self::floor_us(i);
                let us = if i + 1 == LATENCY_BUCKETS {
                    lo
                } else {
                    lo + (rank - below as f64) / n as f64 * (Self::floor_us(i + 1) - lo)
                };
                return Some((us / 1000.0 * 1000.0).round() / 1000.0);
            }
            below += n;
        }
        None
    }

    /// p50, p95 and p99; None when the histogram is empty.
    pub fn percentiles(&self) -> Option<LatencyPercentiles> {
        Some(LatencyPercentiles {
            p50_ms: self.quantile_ms(0.50)?,
            p95_ms: self.quantile_ms(0.95)?,
            p99_ms: self.quantile_ms(0.99)?,
        })
    }
}

/// Counts of one bucket and status, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counts {
    /// Start of the stored bucket (minute, hour or day).
    pub at: DateTime<Utc>,
    pub status: u16,
    pub requests: u64,
    pub latency_us_sum: u64,
    pub latency: Histogram,
}

/// What a usage answer says about the month's limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthUse {
    pub limit: Option<u64>,
    /// Requests this month that counted against the limit.
    pub used: u64,
}

/// Every bucket of `range` with its successes, errors and percentiles; totals, error rate,
/// status codes and percentiles of the whole range.
pub fn summarise<'a>(range: &Range, rows: impl IntoIterator<Item = &'a Counts>, month: MonthUse) -> Usage {
    let first = range.start();
    let width = step(range.granularity).num_seconds();
    let mut series = Vec::new();
    let mut t = first;
    while t < range.to {
        series.push((UsagePoint { start: t, success: 0, error: 0, latency: None }, Histogram::default()));
        t += step(range.granularity);
    }
    let (mut total, mut error, mut latency_us) = (0u64, 0u64, 0u64);
    let mut overall = Histogram::default();
    let mut codes: Vec<StatusCount> = Vec::new();
    let mut outcomes = Outcomes::default();
    for row in rows.into_iter().filter(|r| r.at >= first && r.at < range.to) {
        let Some((point, hist)) =
            usize::try_from((row.at - first).num_seconds() / width).ok().and_then(|i| series.get_mut(i))
        else {
            continue;
        };
        if is_error(row.status) {
            point.error += row.requests;
            error += row.requests;
        } else {
            point.success += row.requests;
        }
        hist.merge(&row.latency);
        overall.merge(&row.latency);
        total += row.requests;
        latency_us += row.latency_us_sum;
        add_outcome(&mut outcomes, row.status, row.requests);
        let status = http_status(row.status);
        match codes.iter_mut().find(|c| c.status == status) {
            Some(c) => c.count += row.requests,
            None => codes.push(StatusCount { status, count: row.requests }),
        }
    }
    codes.sort_by(|a, b| b.count.cmp(&a.count).then(a.status.cmp(&b.status)));
    Usage {
        from: range.from,
        to: range.to,
        granularity: range.granularity,
        total_requests: total,
        success: total - error,
        error,
        error_rate: if total == 0 { 0.0 } else { error as f64 / total as f64 },
        average_latency_ms: if total == 0 { 0.0 } else { latency_us as f64 / total as f64 / 1000.0 },
        latency: overall.percentiles(),
        usage_limit: month.limit,
        used_this_month: month.used,
        remaining: month.limit.map(|l| l.saturating_sub(month.used)),
        series: series.into_iter().map(|(point, hist)| UsagePoint { latency: hist.percentiles(), ..point }).collect(),
        status_codes: codes,
        outcomes,
    }
}

/// Default retention of each tier, in days (Unkey's shape: fine data briefly, coarse data long).
pub const DEFAULT_RETENTION_DAYS: [(Tier, u32); 3] = [(Tier::Minute, 7), (Tier::Hour, 90), (Tier::Day, 730)];

/// One line of a usage CSV: a bucket of the requested granularity, a status, and optionally
/// the key (team exports).
#[derive(Debug, Clone)]
pub struct CsvLine<'a> {
    pub start: DateTime<Utc>,
    /// (key id, key name, environment) in team exports.
    pub key: Option<(&'a str, &'a str, &'a str)>,
    pub status: u16,
    pub requests: u64,
    pub latency: Histogram,
}

fn csv_ms(out: &mut String, value: Option<f64>) {
    if let Some(ms) = value {
        out.push_str(&format!("{ms:.3}"));
    }
}

/// A usage export: one line per bucket, (key,) and status with requests and percentiles.
/// Lines are merged per bucket of `granularity`, in time order.
pub fn csv(granularity: Granularity, lines: &[CsvLine<'_>], with_key: bool) -> String {
    let mut merged: std::collections::HashMap<(DateTime<Utc>, Option<&str>, u16), CsvLine<'_>> =
        std::collections::HashMap::new();
    for line in lines {
        let (start, status) = (bucket_start(line.start, granularity), http_status(line.status));
        match merged.entry((start, line.key.map(|k| k.0), status)) {
            std::collections::hash_map::Entry::Occupied(mut m) => {
                let m = m.get_mut();
                m.requests += line.requests;
                m.latency.merge(&line.latency);
            }
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(CsvLine { start, status, ..line.clone() });
            }
        }
    }
    let mut merged: Vec<CsvLine<'_>> = merged.into_values().collect();
    merged.sort_by(|a, b| (a.start, a.key.map(|k| k.1), a.status).cmp(&(b.start, b.key.map(|k| k.1), b.status)));
    let mut out = String::from(if with_key {
        "bucket_start,key_id,key_name,environment,status,requests,p50_ms,p95_ms,p99_ms\r\n"
    } else {
        "bucket_start,status,requests,p50_ms,p95_ms,p99_ms\r\n"
    });
    for line in &merged {
        out.push_str(&line.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        out.push(',');
        if with_key {
            let (id, name, env) = line.key.unwrap_or(("", "", ""));
            crate::csv::text_cell(&mut out, id);
            out.push(',');
            crate::csv::text_cell(&mut out, name);
            out.push(',');
            crate::csv::text_cell(&mut out, env);
            out.push(',');
        }
        out.push_str(&format!("{},{},", line.status, line.requests));
        let p = line.latency.percentiles();
        csv_ms(&mut out, p.map(|p| p.p50_ms));
        out.push(',');
        csv_ms(&mut out, p.map(|p| p.p95_ms));
        out.push(',');
        csv_ms(&mut out, p.map(|p| p.p99_ms));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn counts(t: DateTime<Utc>, status: u16, requests: u64) -> Counts {
        let mut latency = Histogram::default();
        latency.0[Histogram::bucket_of(300)] = requests;
        Counts { at: t, status, requests, latency_us_sum: 300 * requests, latency }
    }

    #[test]
    fn summaries_fill_every_bucket_and_split_errors() {
        let from = at("2026-11-01T10:30:00Z");
        let range = Range { from, to: from + Duration::hours(3), granularity: Granularity::Hour };
        let rows = vec![
            counts(from + Duration::minutes(1), 200, 5),
            counts(from + Duration::minutes(2), 404, 2),
            counts(from + Duration::minutes(95), 500, 1),
            counts(range.to + Duration::minutes(1), 200, 100),
        ];
        let u = summarise(&range, &rows, MonthUse { limit: Some(10), used: 4 });
        let s = &u.series;
        assert_eq!(s.len(), 4, "10:00, 11:00, 12:00, 13:00");
        assert_eq!((s[0].success, s[0].error), (5, 2));
        assert_eq!((s[1].success, s[1].error, s[1].latency), (0, 0, None));
        assert_eq!((s[2].success, s[2].error), (0, 1));
        assert_eq!((u.total_requests, u.error, u.remaining), (8, 3, Some(6)));
        assert_eq!(u.status_codes[0], StatusCount { status: 200, count: 5 });
        let p = u.latency.unwrap();
        assert!(p.p50_ms > 0.2 && p.p50_ms < 0.4, "{p:?}");
        let day = Range { from, to: from + Duration::days(2), granularity: Granularity::Day };
        assert_eq!(summarise(&day, &[] as &[Counts], MonthUse { limit: None, used: 0 }).series.len(), 3);
    }

    #[test]
    fn ranges_are_validated_with_the_field_named() {
        let now = at("2026-11-27T12:00:00Z");
        let r = Range::parse(None, None, None, now).unwrap();
        assert_eq!((r.from, r.to, r.granularity), (now - Duration::hours(24), now, Granularity::Hour));
        let week = Range::parse(Some("2026-11-20T12:00:00Z"), None, None, now).unwrap();
        assert_eq!(week.granularity, Granularity::Day);
        for (from, to, g, field) in [
            (Some("yesterday"), None, None, "from"),
            (None, Some("2026-13-01"), None, "to"),
            (Some("2026-11-28T00:00:00Z"), None, None, "from"),
            (Some("2026-01-01T00:00:00Z"), None, None, "from"),
            (None, None, Some("week"), "granularity"),
            (Some("2026-10-01T00:00:00Z"), None, Some("hour"), "granularity"),
        ] {
            assert_eq!(Range::parse(from, to, g, now).unwrap_err().field, field, "{from:?} {to:?} {g:?}");
        }
    }

    #[test]
    fn plans_read_the_coarsest_tier_that_answers() {
        let now = at("2026-11-27T15:42:10Z");
        let kept = now - Duration::days(7);
        let ts = |s: &str| at(s).timestamp();
        let range = Range { from: now - Duration::days(30), to: now, granularity: Granularity::Day };
        assert_eq!(
            plan(&range, kept),
            vec![
                Span { tier: Tier::Day, from: ts("2026-10-28T00:00:00Z"), to: ts("2026-11-27T00:00:00Z") },
                Span { tier: Tier::Hour, from: ts("2026-11-27T00:00:00Z"), to: ts("2026-11-27T15:00:00Z") },
                Span { tier: Tier::Minute, from: ts("2026-11-27T15:00:00Z"), to: now.timestamp() },
            ]
        );
        let range = Range { from: now - Duration::hours(24), to: now, granularity: Granularity::Hour };
        assert_eq!(
            plan(&range, kept),
            vec![
                Span { tier: Tier::Hour, from: ts("2026-11-26T15:00:00Z"), to: ts("2026-11-27T15:00:00Z") },
                Span { tier: Tier::Minute, from: ts("2026-11-27T15:00:00Z"), to: now.timestamp() },
            ]
        );
        // A range that ends a fraction of a second into a minute reads that minute: requests
        // served at 15:43:00.2 and read at 15:43:00.7 are counted (a CI run read 0 of 3).
        let now = at("2026-11-27T15:43:00.700Z");
        let range = Range { from: now - Duration::hours(24), to: now, granularity: Granularity::Hour };
        assert_eq!(
            plan(&range, kept).last(),
            Some(&Span { tier: Tier::Minute, from: ts("2026-11-27T15:00:00Z"), to: ts("2026-11-27T15:43:01Z") })
        );
        let rows = vec![counts(at("2026-11-27T15:43:00Z"), 200, 3)];
        assert_eq!(summarise(&range, &rows, MonthUse { limit: None, used: 3 }).total_requests, 3);
        // A range that ends on the hour needs no minutes.
        let range =
            Range { from: at("2026-11-27T10:00:00Z"), to: at("2026-11-27T12:00:00Z"), granularity: Granularity::Hour };
        assert_eq!(
            plan(&range, kept),
            vec![Span { tier: Tier::Hour, from: ts("2026-11-27T10:00:00Z"), to: ts("2026-11-27T12:00:00Z") }]
        );
        // Minutes of a long-gone hour are pruned: that hour comes whole from the hour tier.
        let old = at("2026-09-01T10:30:00Z");
        let range = Range { from: old - Duration::hours(2), to: old, granularity: Granularity::Hour };
        assert_eq!(
            plan(&range, kept),
            vec![Span { tier: Tier::Hour, from: ts("2026-09-01T08:00:00Z"), to: ts("2026-09-01T11:00:00Z") }]
        );
    }

    #[test]
    fn histogram_buckets_grow_by_root_two() {
        assert_eq!(Histogram::bucket_of(0), 0);
        assert_eq!(Histogram::bucket_of(15), 0);
        assert_eq!(Histogram::bucket_of(16), 1);
        assert_eq!(Histogram::bucket_of(22), 1);
        assert_eq!(Histogram::bucket_of(23), 2);
        assert_eq!(Histogram::bucket_of(32), 3);
        assert_eq!(Histogram::bucket_of(u64::MAX), LATENCY_BUCKETS - 1);
        for us in [1u64, 16, 100, 999, 12_345, 1_000_000, 8_000_000] {
            let i = Histogram::bucket_of(us);
            assert!(Histogram::floor_us(i) <= us as f64, "{us} in {i}");
            assert!(i + 1 == LATENCY_BUCKETS || (us as f64) < Histogram::floor_us(i + 1), "{us} in {i}");
        }
    }

    #[test]
    fn percentiles_are_within_a_bucket_and_merge_exactly() {
        let mut a = Histogram::default();
        for us in 1..=1000u64 {
            a.record(us * 10); // 10 µs .. 10 ms, uniform
        }
        let p = a.percentiles().unwrap();
        for (got, want) in [(p.p50_ms, 5.0), (p.p95_ms, 9.5), (p.p99_ms, 9.9)] {
            assert!((got - want).abs() / want < 0.2, "{got} vs {want}");
        }
        assert!(p.p50_ms <= p.p95_ms && p.p95_ms <= p.p99_ms);
        let mut b = Histogram::default();
        b.record(250);
        let mut merged = a;
        merged.merge(&b);
        assert_eq!(merged.total(), 1001);
        assert_eq!(Histogram::default().percentiles(), None);
        // Sub-millisecond answers keep their precision.
        let mut fast = Histogram::default();
        fast.record(120);
        let p = fast.percentiles().unwrap();
        assert!(p.p50_ms > 0.09 && p.p50_ms < 0.13, "{p:?}");
    }

    #[test]
    fn csv_merges_buckets_and_defuses_formulas() {
        let t = at("2026-11-27T10:05:00Z");
        let mut h = Histogram::default();
        h.record(400);
        let lines = vec![
            CsvLine {
                start: t,
                key: Some(("k1", "=HYPERLINK(\"x\")", "production")),
                status: 200,
                requests: 2,
                latency: h,
            },
            CsvLine {
                start: t + Duration::minutes(5),
                key: Some(("k1", "=HYPERLINK(\"x\")", "production")),
                status: 200,
                requests: 3,
                latency: h,
            },
            CsvLine {
                start: t,
                key: Some(("k1", "=HYPERLINK(\"x\")", "production")),
                status: 500,
                requests: 1,
                latency: Histogram::default(),
            },
        ];
        let out = csv(Granularity::Hour, &lines, true);
        let rows: Vec<&str> = out.lines().collect();
        assert_eq!(rows.len(), 3, "{out}");
        assert_eq!(rows[0], "bucket_start,key_id,key_name,environment,status,requests,p50_ms,p95_ms,p99_ms");
        assert!(
            rows[1].starts_with("2026-11-27T10:00:00Z,\"k1\",\"'=HYPERLINK(\"\"x\"\")\",\"production\",200,5,0."),
            "{}",
            rows[1]
        );
        assert!(rows[2].ends_with(",500,1,,,"), "{}", rows[2]);
    }

    /// A key's share read by [`cover`] (weeks between the edges) is exactly what the plan's spans
    /// read, for any range and any moment of reading, given minute counts anywhere up to now.
    #[test]
    fn a_cover_reads_what_the_plan_reads_in_fewer_buckets() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = |below: i64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            i64::try_from(seed % u64::try_from(below).unwrap()).unwrap()
        };
        let in_level = |level: Level, minute: i64, from: i64, to: i64| (from..to).contains(&level.floor(minute));
        for case in 0..2_000 {
            let now = at("2026-01-01T00:00:00Z").timestamp() + next(365 * 86_400);
            let to = if case % 2 == 0 { now } else { now - next(3 * 86_400) };
            let from = to - next(if case % 3 == 0 { 2 * 86_400 } else { 120 * 86_400 });
            let time = |t: i64| DateTime::from_timestamp(t, 0).unwrap();
            let granularity =
                if to - from <= 2 * 86_400 && case % 4 < 2 { Granularity::Hour } else { Granularity::Day };
            let range = Range { from: time(from), to: time(to), granularity };
            let spans = plan(&range, time(now - 7 * 86_400));
            let segments = cover(&spans, now).expect("a plan's spans join up");
            for w in segments.windows(2) {
                assert_eq!(w[0].2, w[1].1, "case {case}: {segments:?}");
            }
            for &(level, a, b) in &segments {
                assert!(level.floor(a) == a && level.floor(b) == b, "case {case}: {level:?} {a}..{b} aligned");
            }
            if to == now && now % 60 != 0 && granularity == Granularity::Day {
                assert!(segments.len() <= 3, "case {case}: days, weeks, days: {segments:?}");
            }
            // Requests in minutes up to now, the edges of every span and segment among them.
            let mut minutes: Vec<i64> = (0..200).map(|_| Tier::Minute.floor(now - next(130 * 86_400))).collect();
            for t in spans.iter().flat_map(|s| [s.from, s.to]).chain(segments.iter().flat_map(|s| [s.1, s.2])) {
                minutes.extend([t - 60, t, t + 60].map(|m| Tier::Minute.floor(m)).into_iter().filter(|&m| m <= now));
            }
            let planned = minutes
                .iter()
                .filter(|&&m| spans.iter().any(|s| in_level(Level::Tier(s.tier), m, s.from, s.to)))
                .count();
            let covered = minutes.iter().filter(|&&m| segments.iter().any(|&(l, a, b)| in_level(l, m, a, b))).count();
            assert_eq!(planned, covered, "case {case}: {range:?} {spans:?} {segments:?}");
        }
        assert_eq!(week_floor(at("2026-12-06T23:59:59Z").timestamp()), at("2026-11-30T00:00:00Z").timestamp());
        assert_eq!(week_floor(at("2026-12-07T00:00:00Z").timestamp()), at("2026-12-07T00:00:00Z").timestamp());
    }

    #[test]
    fn months_start_on_the_first() {
        let (start, next) = month_bounds(at("2026-12-15T08:00:00Z"));
        assert_eq!(start.to_rfc3339(), "2026-12-01T00:00:00+00:00");
        assert_eq!(next.to_rfc3339(), "2027-01-01T00:00:00+00:00");
    }
}
