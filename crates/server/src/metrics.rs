//! Prometheus metrics, through the `metrics` facade and `metrics-exporter-prometheus` (its text
//! format, rendered here; no HTTP listener of its own). Served at `/metrics` on
//! `PORTAL_METRICS_BIND` (a listener of its own, for the scraper only), or on the main listener
//! with the service token (`Authorization: Bearer <PORTAL_SERVICE_TOKEN>`); off otherwise.
//!
//! What is measured, in one place each:
//! - `portal_http_requests_total` and `portal_http_request_duration_seconds`, by route template
//!   (never the raw path: ids do not become labels), method and status class: the frame of every
//!   request ([`answered`]);
//! - `portal_key_verifications_total` by outcome (`valid`, `unknown`, `revoked`, `expired`,
//!   `rolled`, `rate_limited`, `quota_exceeded`, `ip_not_allowed`, `insufficient_scope`,
//!   `two_factor_required`): every request that presents an API key, read from its answer;
//! - `portal_sign_in_failures_total` by reason (`invalid_credentials`, `rate_limited`, ...);
//! - `portal_webhook_attempts_total` by result and `portal_webhook_attempt_duration_seconds`;
//!   `portal_webhook_breaker_opened_total`: endpoints that kept timing out, held back;
//! - `portal_usage_flush_rows` and `portal_usage_flush_duration_seconds` (histograms), and
//!   `portal_usage_flush_failures_total`;
//! - `portal_password_checks_refused_total`: sign-ins, sign-ups and password changes refused 503
//!   because the bounded password hashing was full;
//! - `portal_kept_pages_total` by result (`hit`, `reload`): list and usage pages answered from
//!   what was kept, or read again;
//! - at each scrape, from the database: the mail outbox and webhook queue, depth and age of the
//!   oldest item; and `portal_db_pool_connections` by pool (`writer`, `reader`) and state
//!   (`idle`, `busy`).

use std::collections::HashMap;
use std::sync::{OnceLock, RwLock};
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use portal_types::ErrorCode;

/// Latency buckets, in seconds: from a cached read (well under a millisecond) to a slow write.
const LATENCY_BUCKETS: [f64; 14] =
    [0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0];

/// How often histogram samples are drained into their buckets (as the exporter's own listener
/// would; it is not used here).
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process's recorder (once; every instance of a test process shares it).
pub fn install() {
    HANDLE.get_or_init(|| {
        let built = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), &LATENCY_BUCKETS)
            .and_then(|b| b.install_recorder());
        match built {
            Ok(handle) => {
                // The exporter keeps each histogram's samples until they are drained into its
                // buckets: without a scrape for a while they would pile up, 8 bytes a request.
                let upkeep = handle.clone();
                let spawned = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_EVERY);
                        upkeep.run_upkeep();
                    }
                });
                if let Err(e) = spawned {
                    tracing::warn!(error = %e, "metrics: the upkeep thread did not start");
                }
                Some(handle)
            }
            Err(e) => {
                tracing::warn!(error = %e, "metrics are off: the recorder could not be installed");
                None
            }
        }
    });
}

fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// What an answered request tells: its route template (`None`: no route matched), method,
/// status, how long it took, whether it presented an API key, and the problem code it answered.
pub struct Answer<'a> {
    pub route: Option<&'a str>,
    pub method: &'a str,
    pub status: u16,
    pub took: Duration,
    pub presented_key: bool,
    pub problem: Option<ErrorCode>,
}

/// A method as a label: the standard ones, `OTHER` for whatever else a client sends (a label
/// per invented method would grow the registry without bound).
fn method_label(method: &str) -> &'static str {
    match method {
        "GET" => "GET",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "HEAD" => "HEAD",
        "OPTIONS" => "OPTIONS",
        _ => "OTHER",
    }
}

/// The request metrics of one route, method and status class.
struct RouteHandles {
    requests: metrics::Counter,
    latency: metrics::Histogram,
}

type RouteHandleMap = HashMap<Box<str>, HashMap<(&'static str, &'static str), RouteHandles>>;

/// Runs `f` with the handles of `route`, `method` and `class`, registered on first use: the
/// registry is not searched (nor the labels built) on every request.
fn with_route(route: &str, method: &'static str, class: &'static str, f: impl FnOnce(&RouteHandles)) {
    static ROUTES: OnceLock<RwLock<RouteHandleMap>> = OnceLock::new();
    let routes = ROUTES.get_or_init(Default::default);
    if let Some(handles) =
        routes.read().unwrap_or_else(|e| e.into_inner()).get(route).and_then(|m| m.get(&(method, class)))
    {
        return f(handles);
    }
    let handles = RouteHandles {
        requests: metrics::counter!("portal_http_requests_total", "route" => route.to_owned(), "method" => method, "status_class" => class),
        latency: metrics::histogram!("portal_http_request_duration_seconds", "route" => route.to_owned(), "status_class" => class),
    };
    f(&handles);
    let mut routes = routes.write().unwrap_or_else(|e| e.into_inner());
    routes.entry(route.into()).or_default().entry((method, class)).or_insert(handles);
}

/// Records an answered request.
pub fn answered(answer: Answer<'_>) {
    let route = answer.route.unwrap_or("unmatched");
    with_route(route, method_label(answer.method), status_class(answer.status), |handles| {
        handles.requests.increment(1);
        handles.latency.record(answer.took.as_secs_f64());
    });
    if answer.presented_key {
        key_checked(key_outcome(answer.problem));
    }
    if let Some(code) = answer.problem
        && (route == "/api/v1/auth/login" || route == "/api/v1/auth/login/two-factor")
    {
        metrics::counter!("portal_sign_in_failures_total", "reason" => code.as_str()).increment(1);
    }
}

/// Every outcome of a key check, as labelled.
const KEY_OUTCOMES: [&str; 10] = [
    "valid",
    "unknown",
    "revoked",
    "expired",
    "rolled",
    "rate_limited",
    "quota_exceeded",
    "ip_not_allowed",
    "insufficient_scope",
    "two_factor_required",
];

/// Counts a key check by its outcome; the counters are looked up once (every key request).
fn key_checked(outcome: &'static str) {
    static COUNTERS: OnceLock<Vec<metrics::Counter>> = OnceLock::new();
    let counters = COUNTERS.get_or_init(|| {
        KEY_OUTCOMES.iter().map(|o| metrics::counter!("portal_key_verifications_total", "outcome" => *o)).collect()
    });
    if let Some(i) = KEY_OUTCOMES.iter().position(|o| *o == outcome) {
        counters[i].increment(1);
    }
}

/// The outcome of a key check, from the problem the request answered (none, or one that is not
/// about the key: the key was valid).
fn key_outcome(problem: Option<ErrorCode>) -> &'static str {
    match problem {
        Some(ErrorCode::InvalidApiKey) => "unknown",
        Some(ErrorCode::KeyRevoked) => "revoked",
        Some(ErrorCode::KeyExpired) => "expired",
        Some(ErrorCode::KeyRolled) => "rolled",
        Some(ErrorCode::RateLimited) => "rate_limited",
        Some(ErrorCode::UsageLimitExceeded) => "quota_exceeded",
        Some(ErrorCode::IpNotAllowed) => "ip_not_allowed",
        Some(ErrorCode::InsufficientScope) => "insufficient_scope",
        Some(ErrorCode::TwoFactorRequired) => "two_factor_required",
        _ => "valid",
    }
}

/// Records a webhook attempt: `delivered`, `retrying`, `failed` (for good) or `refused` (the
/// address is not one the portal may call), and how long the endpoint took.
pub fn webhook_attempt(result: &'static str, took: Duration) {
    metrics::counter!("portal_webhook_attempts_total", "result" => result).increment(1);
    metrics::histogram!("portal_webhook_attempt_duration_seconds").record(took.as_secs_f64());
}

/// Counts an endpoint's circuit breaker opening (it kept timing out).
pub fn webhook_breaker_opened() {
    metrics::counter!("portal_webhook_breaker_opened_total").increment(1);
}

/// Records a usage flush: how many rows it wrote and how long its transaction took; or that it
/// failed (its counts stay in flight and are written again).
pub fn usage_flushed(outcome: Result<(usize, Duration), ()>) {
    match outcome {
        Ok((rows, took)) => {
            metrics::histogram!("portal_usage_flush_rows").record(rows as f64);
            metrics::histogram!("portal_usage_flush_duration_seconds").record(took.as_secs_f64());
        }
        Err(()) => metrics::counter!("portal_usage_flush_failures_total").increment(1),
    }
}

/// Counts a password check refused because too many wait already (503 `busy`).
pub fn password_checks_refused() {
    metrics::counter!("portal_password_checks_refused_total").increment(1);
}

/// Counts a kept-page read: answered from what was kept (`hit`) or read from the database
/// (`reload`). The counters are looked up once: this is on the path of every list read.
pub fn kept_page(hit: bool) {
    static COUNTERS: OnceLock<[metrics::Counter; 2]> = OnceLock::new();
    let [hits, reloads] = COUNTERS.get_or_init(|| {
        [
            metrics::counter!("portal_kept_pages_total", "result" => "hit"),
            metrics::counter!("portal_kept_pages_total", "result" => "reload"),
        ]
    });
    if hit { hits } else { reloads }.increment(1);
}

/// Each pool's connections, open and idle, read now.
fn sample_pools(pools: [(&'static str, &portal_db::DatabaseConnection); 2]) {
    for (pool, db) in pools {
        let (open, idle) = portal_db::pool_use(db);
        metrics::gauge!("portal_db_pool_connections", "pool" => pool, "state" => "idle").set(f64::from(idle));
        metrics::gauge!("portal_db_pool_connections", "pool" => pool, "state" => "busy")
            .set(f64::from(open.saturating_sub(idle)));
    }
}

/// The queues' depth and the age of their oldest item, read now.
async fn sample_queues(db: &portal_db::DatabaseConnection) -> Result<(), portal_db::Error> {
    let now = chrono::Utc::now();
    let age = |oldest: Option<chrono::DateTime<chrono::Utc>>| {
        oldest.map_or(0.0, |at| (now - at).num_milliseconds().max(0) as f64 / 1000.0)
    };
    let (mails, oldest_mail) = portal_db::mail::backlog(db).await?;
    metrics::gauge!("portal_mail_outbox_depth").set(mails as f64);
    metrics::gauge!("portal_mail_outbox_oldest_age_seconds").set(age(oldest_mail));
    let (deliveries, oldest_delivery) = portal_db::webhooks::backlog(db).await?;
    metrics::gauge!("portal_webhook_queue_depth").set(deliveries as f64);
    metrics::gauge!("portal_webhook_queue_oldest_age_seconds").set(age(oldest_delivery));
    Ok(())
}

/// The Prometheus text of every metric, the queues and pools sampled first; None when metrics
/// are off.
pub async fn render(db: &portal_db::DatabaseConnection, reads: &portal_db::DatabaseConnection) -> Option<String> {
    let handle = HANDLE.get()?.as_ref()?;
    sample_pools([("writer", db), ("reader", reads)]);
    if let Err(e) = sample_queues(db).await {
        tracing::warn!(error = %e, "the queues could not be sampled for the metrics");
    }
    Some(handle.render())
}
