//! Webhook delivery: a background worker on every instance takes due deliveries from the outbox
//! (one instance per delivery at a time), signs them per Standard Webhooks, POSTs them with a
//! 15-second timeout, and records each attempt. Failures are tried again on Standard Webhooks'
//! schedule (honouring `Retry-After` on 429 and 503); 410 turns the endpoint off, and so do 5 days
//! of failures, with a mail to the team's owners and admins.
//!
//! Outgoing requests never reach loopback, private, link-local or metadata addresses unless
//! configured: names are checked after DNS resolution (the resolver drops such addresses), IP
//! literals and every redirect are checked too, and no proxy is used.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use portal_db::DatabaseConnection;
use portal_db::webhooks::{Delivery, NewAttempt};
use portal_domain::sealed::SecretBox;
use portal_domain::webhooks as standard;
use portal_types::{AuditAction, DeliveryState};
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::mail::Template;
use crate::webhook_slots::{Ended, Slots};

/// Seconds an answer may take.
const TIMEOUT: Duration = Duration::from_secs(15);
/// How long an instance holds a delivery it sends (longer than the timeout).
const HOLD_SECONDS: i64 = 60;
/// Bytes of an answer's body kept for the delivery log.
const EXCERPT_BYTES: usize = 1024;
/// Days of failures after which an endpoint is turned off.
const FAILING_DAYS: i64 = 5;
/// The longest `Retry-After` honoured.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

/// The key that seals endpoints' signing secrets, derived from the server secret.
pub fn secret_box(server_secret: &str) -> SecretBox {
    SecretBox::derive("partner-portal 2026 webhook signing secret v1", server_secret.as_bytes())
}

/// Where webhooks may go.
#[derive(Debug, Clone, Copy)]
pub struct Reach {
    pub allow_http: bool,
    pub allow_private: bool,
}

impl Reach {
    /// What the configuration allows (`PORTAL_WEBHOOK_ALLOW_HTTP`, `..._PRIVATE`); identity
    /// providers are reached the same way.
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self { allow_http: config.webhook_allow_http, allow_private: config.webhook_allow_private }
    }

    /// Why the portal would not call `url`; None when it may (its name is checked again when
    /// it is resolved).
    pub fn refusal(self, url: &reqwest::Url) -> Option<String> {
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => return Some("must be an https:// URL".to_owned()),
            _ => return Some("must be an https:// URL".to_owned()),
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Some("must not carry a user name or password".to_owned());
        }
        let ip = match url.host() {
            None => return Some("must name a host".to_owned()),
            Some(url::Host::Domain(name)) => {
                let name = name.trim_end_matches('.').to_ascii_lowercase();
                if !self.allow_private && (name == "localhost" || name.ends_with(".localhost")) {
                    return Some("must not be a loopback, private or link-local address".to_owned());
                }
                return None;
            }
            Some(url::Host::Ipv4(ip)) => std::net::IpAddr::V4(ip),
            Some(url::Host::Ipv6(ip)) => std::net::IpAddr::V6(ip),
        };
        (!self.allow_private && !standard::is_public(ip))
            .then(|| "must not be a loopback, private or link-local address".to_owned())
    }
}

/// Resolves names, keeping only addresses the portal may call.
struct PublicResolver {
    allow_private: bool,
}

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let host = name.as_str().to_owned();
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> =
                found.into_iter().filter(|a| allow_private || standard::is_public(a.ip())).collect();
            if allowed.is_empty() {
                let refused: Box<dyn std::error::Error + Send + Sync> =
                    format!("{host} resolves only to loopback, private or link-local addresses").into();
                return Err(refused);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Makes ring the process's TLS provider (rustls needs one chosen; reqwest is built without its
/// own so that aws-lc is not built). Every process of this workspace that builds a reqwest client
/// calls it first; calling it again does nothing.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The HTTP client of deliveries: no proxy, the checked resolver, redirects checked too.
pub fn client(reach: Reach) -> Result<reqwest::Client, reqwest::Error> {
    install_tls_provider();
    reqwest::Client::builder()
        .timeout(TIMEOUT)
        .connect_timeout(Duration::from_secs(10))
        .no_proxy()
        .user_agent(USER_AGENT)
        .dns_resolver(Arc::new(PublicResolver { allow_private: reach.allow_private }))
        .redirect(reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= 3 {
                attempt.error("more than 3 redirects")
            } else if let Some(why) = reach.refusal(attempt.url()) {
                attempt.error(format!("redirected to a URL that {why}"))
            } else {
                attempt.follow()
            }
        }))
        .build()
}

/// What the worker needs.
#[derive(Clone)]
pub struct Deliverer {
    pub db: DatabaseConnection,
    pub http: reqwest::Client,
    pub secrets: SecretBox,
    pub public_url: String,
    pub wake: Arc<Notify>,
    /// Wakes the mail worker after a mail was queued.
    pub mail_wake: Arc<Notify>,
    /// Multiplies the delays between attempts (1 but in tests).
    pub retry_scale: f64,
    /// Where deliveries may go: checked again at each send (an address in the URL itself meets
    /// no resolver that could drop it).
    pub reach: Reach,
}

/// How long a stopping instance waits for its running attempts; those still running are
/// dropped, their deliveries taken again by any instance once the hold ends.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// Runs until `stopped`: starts due deliveries as slots free up (fairly: see `webhook_slots`),
/// then waits for an attempt to end, a wake-up or a second.
pub async fn run(deliverer: Deliverer, mut stopped: watch::Receiver<bool>) {
    let mut slots = Slots::default();
    let mut running = Running::default();
    loop {
        if let Err(e) = deliverer.start_due(&mut slots, &mut running).await {
            tracing::warn!(error = %e, "webhooks: cannot read the outbox; retrying");
        }
        tokio::select! {
            Some(ended) = running.tasks.join_next_with_id(), if !running.tasks.is_empty() => {
                deliverer.ended(&mut slots, &mut running, ended).await;
            }
            _ = deliverer.wake.notified() => {}
            _ = tokio::time::sleep(Duration::from_secs(1)) => slots.forget_stale(Instant::now()),
            _ = stopped.changed() => {}
        }
        if *stopped.borrow() {
            let _ = tokio::time::timeout(STOP_GRACE, async {
                while let Some(ended) = running.tasks.join_next_with_id().await {
                    deliverer.ended(&mut slots, &mut running, ended).await;
                }
            })
            .await;
            running.tasks.shutdown().await;
            return;
        }
    }
}

/// The attempts running, and whose slot each holds (endpoint, team): a task that panicked gives
/// its slot back too.
#[derive(Default)]
struct Running {
    tasks: JoinSet<Ended>,
    slots: std::collections::HashMap<tokio::task::Id, (Uuid, Uuid)>,
}

/// How an attempt went.
struct Answer {
    status: Option<u16>,
    excerpt: Option<String>,
    error: Option<String>,
    retry_after: Option<Duration>,
    timed_out: bool,
}

impl Deliverer {
    /// Takes due deliveries the slots allow and starts each; returns when no more may start.
    async fn start_due(&self, slots: &mut Slots, running: &mut Running) -> Result<(), portal_db::Error> {
        while slots.free() > 0 {
            let now = Utc::now();
            let due = portal_db::webhooks::due(&self.db, now, 32, &slots.busy(Instant::now())).await?;
            let mut started = 0;
            for (delivery, team) in due {
                if !slots.take(delivery.endpoint_id, team, Instant::now()) {
                    continue;
                }
                let until = now + chrono::Duration::seconds(HOLD_SECONDS);
                if !portal_db::webhooks::claim(&self.db, delivery.id, now, until).await? {
                    slots.give_back(delivery.endpoint_id, team, Ended::Answered, Instant::now());
                    continue;
                }
                started += 1;
                let (me, endpoint) = (self.clone(), delivery.endpoint_id);
                let task = running.tasks.spawn(async move {
                    me.deliver(delivery).await.unwrap_or_else(|e| {
                        tracing::warn!(error = %e, "webhooks: a delivery could not be recorded; it is tried again");
                        Ended::Answered
                    })
                });
                running.slots.insert(task.id(), (endpoint, team));
            }
            if started == 0 {
                break;
            }
        }
        Ok(())
    }

    /// Gives an ended attempt's slot back; a breaker that opened postpones its endpoint's
    /// pending deliveries (for every instance: the time is stored).
    async fn ended(
        &self,
        slots: &mut Slots,
        running: &mut Running,
        ended: Result<(tokio::task::Id, Ended), tokio::task::JoinError>,
    ) {
        let (id, ended) = match ended {
            Ok((id, ended)) => (id, ended),
            Err(e) => (e.id(), Ended::Answered),
        };
        let Some((endpoint, team)) = running.slots.remove(&id) else { return };
        let Some(until) = slots.give_back(endpoint, team, ended, Instant::now()) else { return };
        let wait = until.saturating_duration_since(Instant::now());
        let at = Utc::now() + chrono::Duration::from_std(wait).unwrap_or_default();
        tracing::warn!(endpoint_id = %endpoint, seconds = wait.as_secs(), "webhooks: the endpoint keeps timing out; its deliveries wait");
        crate::metrics::webhook_breaker_opened();
        if let Err(e) = portal_db::webhooks::postpone_pending(&self.db, endpoint, at).await {
            tracing::warn!(error = %e, "webhooks: the deliveries of an endpoint whose breaker opened could not be postponed");
        }
    }

    async fn deliver(&self, delivery: Delivery) -> Result<Ended, portal_db::Error> {
        let db = &self.db;
        let (Some(endpoint), Some(event)) = (
            portal_db::webhooks::find_endpoint(db, delivery.endpoint_id).await?,
            portal_db::webhooks::find_event(db, delivery.event_id).await?,
        ) else {
            return Ok(Ended::Answered); // deleted meanwhile, with its deliveries
        };
        if !endpoint.enabled {
            portal_db::webhooks::fail_pending(db, endpoint.id, Utc::now()).await?;
            return Ok(Ended::Answered);
        }
        // Whoever subscribed the endpoint must still read what it is about to receive.
        if let Some(refusal) = self.subscriber_refusal(&endpoint, &event).await? {
            let now = Utc::now();
            tracing::info!(delivery_id = %delivery.id, endpoint_id = %endpoint.id, "webhook not sent: {refusal}");
            let record = NewAttempt {
                delivery_id: delivery.id,
                endpoint_id: endpoint.id,
                attempted_at: now,
                status_code: None,
                latency_ms: 0,
                response_excerpt: None,
                error: Some(refusal),
            };
            crate::metrics::webhook_attempt("refused", Duration::ZERO);
            portal_db::webhooks::record_attempt(db, record, (DeliveryState::Failed, None)).await?;
            return Ok(Ended::Answered);
        }
        let started = Instant::now();
        let attempted_at = Utc::now();
        let answer = self.send(&endpoint, &event, attempted_at).await;
        let latency_ms = u32::try_from(started.elapsed().as_millis()).unwrap_or(u32::MAX);
        let now = Utc::now();
        let attempt = delivery.attempts.unsigned_abs() + 1;
        let ended = if answer.timed_out { Ended::TimedOut } else { Ended::Answered };
        let succeeded = answer.status.is_some_and(|s| (200..300).contains(&s));
        let gone = answer.status == Some(410);
        let outcome = if succeeded {
            (DeliveryState::Delivered, None)
        } else if gone {
            (DeliveryState::Failed, None)
        } else {
            let jitter = f64::from(portal_domain::sealed::random::<1>()[0]) / 256.0;
            match standard::retry_delay(attempt, jitter) {
                Some(delay) => {
                    let delay = delay.mul_f64(self.retry_scale);
                    let delay = answer.retry_after.map_or(delay, |after| after.max(delay).min(MAX_RETRY_AFTER));
                    (DeliveryState::Pending, Some(now + chrono::Duration::from_std(delay).unwrap_or_default()))
                }
                None => (DeliveryState::Failed, None),
            }
        };
        tracing::info!(
            delivery_id = %delivery.id, endpoint_id = %endpoint.id, attempt, status = ?answer.status,
            error = answer.error.as_deref().unwrap_or(""), state = outcome.0.as_str(), "webhook attempt"
        );
        let result = match outcome.0 {
            DeliveryState::Delivered => "delivered",
            DeliveryState::Pending => "retrying",
            _ => "failed",
        };
        crate::metrics::webhook_attempt(result, started.elapsed());
        let record = NewAttempt {
            delivery_id: delivery.id,
            endpoint_id: endpoint.id,
            attempted_at,
            status_code: answer.status,
            latency_ms,
            response_excerpt: answer.excerpt,
            error: answer.error,
        };
        portal_db::webhooks::record_attempt(db, record, outcome).await?;
        let failing_since = portal_db::webhooks::note_outcome(db, endpoint.id, succeeded, now).await?;
        if gone {
            self.turn_off(&endpoint, "The endpoint answered 410 Gone.", now).await?;
        } else if failing_since.is_some_and(|since| now - since >= chrono::Duration::days(FAILING_DAYS)) {
            self.turn_off(&endpoint, "Every delivery failed for 5 days.", now).await?;
        }
        Ok(ended)
    }

    /// Why the endpoint may not receive `event` now (None: it may): the user or key that
    /// subscribed it may no longer read the event's family (they were demoted or left, the key
    /// was narrowed, capped or revoked). Endpoints made before subscribers were recorded pass.
    async fn subscriber_refusal(
        &self,
        endpoint: &portal_db::webhooks::Endpoint,
        event: &portal_db::webhooks::Event,
    ) -> Result<Option<String>, portal_db::Error> {
        use portal_db::webhooks::Subscriber;
        let read = portal_types::EventType::parse(&event.event_type).and_then(portal_domain::policy::event_read_action);
        let Some(read) = read else { return Ok(None) };
        let db = &self.db;
        let actor = match Subscriber::of(endpoint) {
            None => return Ok(None),
            Some(Subscriber::User(user)) => match portal_db::teams::membership_of(db, endpoint.team_id, user).await? {
                Some(membership) => portal_domain::policy::Actor::Member(membership.role),
                None => return Ok(Some(format!("{NOT_SENT}the person who subscribed this endpoint left the team."))),
            },
            Some(Subscriber::Key(key)) => {
                let actor = match portal_db::api_keys::find(db, endpoint.team_id, key).await? {
                    Some(row) => crate::keys::actor_of(db, &row, Utc::now()).await?,
                    None => None,
                };
                let Some(actor) = actor else {
                    return Ok(Some(format!("{NOT_SENT}the API key that subscribed this endpoint no longer works.")));
                };
                actor
            }
        };
        Ok((!portal_domain::policy::allows(actor, read)).then(|| {
            format!(
                "{NOT_SENT}whoever subscribed this endpoint may no longer read `{}` events; subscribe it again.",
                event.event_type
            )
        }))
    }

    async fn send(
        &self,
        endpoint: &portal_db::webhooks::Endpoint,
        event: &portal_db::webhooks::Event,
        now: DateTime<Utc>,
    ) -> Answer {
        let failed = |error: String| Answer {
            status: None,
            excerpt: None,
            error: Some(error),
            retry_after: None,
            timed_out: false,
        };
        let Ok(url) = reqwest::Url::parse(&endpoint.url) else {
            return failed(format!("{NOT_SENT}the URL does not parse"));
        };
        if let Some(why) = self.reach.refusal(&url) {
            return failed(format!("{NOT_SENT}the URL {why}"));
        }
        let mut signatures = Vec::new();
        for (sealed, live) in [
            (Some(&endpoint.secret), true),
            (endpoint.previous_secret.as_ref(), endpoint.previous_secret_until.is_some_and(|until| until > now)),
        ] {
            let Some(sealed) = sealed.filter(|_| live) else { continue };
            let Some(key) = self
                .secrets
                .open(endpoint.id.as_bytes(), sealed)
                .and_then(|s| String::from_utf8(s).ok())
                .and_then(|s| standard::secret_key(&s))
            else {
                return failed(format!("{NOT_SENT}the signing secret does not open with this server's key"));
            };
            signatures.push(standard::sign(&key, &message_id(event.id), now.timestamp(), event.payload.as_bytes()));
        }
        let mut request = self.http.post(url).body(event.payload.clone());
        for (name, value) in request_headers(event.id, now.timestamp(), signatures.join(" ")) {
            request = request.header(name, value);
        }
        let mut response = match request.send().await {
            Ok(response) => response,
            Err(e) => return Answer { timed_out: e.is_timeout(), ..failed(printable(&describe(&e))) },
        };
        let status = response.status().as_u16();
        let retry_after = matches!(status, 429 | 503)
            .then(|| response.headers().get("retry-after")?.to_str().ok()?.trim().parse::<u64>().ok())
            .flatten()
            .map(Duration::from_secs);
        // Only the first bytes are read: a huge answer costs nothing.
        let mut body = Vec::new();
        while body.len() < EXCERPT_BYTES {
            match tokio::time::timeout(TIMEOUT, response.chunk()).await {
                Ok(Ok(Some(chunk))) => body.extend_from_slice(&chunk),
                _ => break,
            }
        }
        body.truncate(EXCERPT_BYTES);
        let excerpt = (!body.is_empty()).then(|| printable(&String::from_utf8_lossy(&body)));
        Answer { status: Some(status), excerpt, error: None, retry_after, timed_out: false }
    }

    /// Turns an endpoint off, fails its pending deliveries, records it, and mails the team's
    /// owners and admins.
    async fn turn_off(
        &self,
        endpoint: &portal_db::webhooks::Endpoint,
        reason: &str,
        now: DateTime<Utc>,
    ) -> Result<(), portal_db::Error> {
        use portal_db::TransactionTrait as _;
        let txn = self.db.begin().await?;
        if !portal_db::webhooks::disable(&txn, endpoint.id, reason, now).await? {
            return Ok(());
        }
        portal_db::webhooks::fail_pending(&txn, endpoint.id, now).await?;
        let entry = portal_db::audit::NewEntry {
            team_id: Some(endpoint.team_id),
            actor: None,
            action: AuditAction::WebhookDisabled,
            target_type: "endpoint",
            target_id: Some(endpoint.id.to_string()),
            summary: Some(format!("{}: {reason}", shown_url(&endpoint.url))),
            ip: None,
            user_agent: None,
        };
        portal_db::audit::record(&txn, entry, now).await?;
        let link = format!("{}/teams/{}/webhooks", self.public_url, endpoint.team_id);
        let paragraph = format!(
            "Partner Portal turned off the webhook endpoint {} of your team. {reason} No events are sent to it \
             until someone turns it on again.",
            shown_url(&endpoint.url)
        );
        for (name, email) in portal_db::teams::managers(&txn, endpoint.team_id).await? {
            let greeting = format!("Hi {name},");
            let mail = Template {
                to: &email,
                subject: "A webhook endpoint was turned off",
                greeting: &greeting,
                paragraphs: &[&paragraph],
                action: "Review the endpoint",
                link: &link,
                footer: "You receive this as an owner or admin of the team.",
            };
            portal_db::mail::enqueue(&txn, mail.render(), now).await?;
        }
        txn.commit().await?;
        self.mail_wake.notify_one();
        tracing::warn!(endpoint_id = %endpoint.id, reason, "webhook endpoint turned off");
        Ok(())
    }
}

/// Text an endpoint sent, as the log keeps it: no control characters but line breaks and tabs
/// (PostgreSQL refuses a NUL in text, and a refused record would send the delivery again and
/// again).
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\t')).collect()
}

/// The URL as shown to people and in the activity log: without its query and fragment, which may
/// carry a token.
pub fn shown_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            parsed.set_query(None);
            parsed.set_fragment(None);
            parsed.to_string()
        }
        Err(_) => url.split(['?', '#']).next().unwrap_or_default().to_owned(),
    }
}

/// The `user-agent` of webhook requests.
pub const USER_AGENT: &str = "PartnerPortal-Webhooks/1";

/// How the error of an attempt that sent no request begins.
pub const NOT_SENT: &str = "Not sent: ";

/// Whether an attempt that ended with `error` made its request (it may have had no answer).
pub fn made_request(error: Option<&str>) -> bool {
    // Earlier versions wrote these three without the prefix, or in lower case.
    let unsent = |e: &str| {
        e.get(..NOT_SENT.len()).is_some_and(|p| p.eq_ignore_ascii_case(NOT_SENT))
            || e.starts_with("the URL does not parse")
            || e.starts_with("the signing secret does not open")
    };
    !error.is_some_and(unsent)
}

/// The headers of a webhook request, with `signature` as its `webhook-signature` (every
/// signature, or a redacted one for the delivery log).
pub fn request_headers(event: uuid::Uuid, timestamp: i64, signature: String) -> [(&'static str, String); 5] {
    [
        ("content-type", "application/json".to_owned()),
        ("user-agent", USER_AGENT.to_owned()),
        ("webhook-id", message_id(event)),
        ("webhook-timestamp", timestamp.to_string()),
        ("webhook-signature", signature),
    ]
}

/// The `webhook-signature` the delivery log shows: its scheme, never the signature.
pub const REDACTED_SIGNATURE: &str = "v1,<redacted>";

/// `webhook-id`: the same for every attempt and redelivery of an event, so receivers can drop
/// duplicates.
pub fn message_id(event: uuid::Uuid) -> String {
    format!("msg_{}", event.simple())
}

/// A transport error as the delivery log shows it (never the URL's query, which may hold a token).
fn describe(error: &reqwest::Error) -> String {
    let kind = if error.is_timeout() {
        "timed out after 15 s"
    } else if error.is_redirect() {
        "refused redirect"
    } else if error.is_connect() {
        "could not connect"
    } else {
        "request failed"
    };
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(error);
    let mut detail = String::new();
    while let Some(e) = cause {
        detail = e.to_string();
        cause = e.source();
    }
    if detail.is_empty() { kind.to_owned() } else { format!("{kind}: {detail}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirects_and_urls_to_private_places_are_refused() {
        let strict = Reach { allow_http: false, allow_private: false };
        let refused = |reach: Reach, url: &str| reach.refusal(&reqwest::Url::parse(url).unwrap());
        for url in [
            "http://example.com/hook",
            "https://127.0.0.1/hook",
            "https://10.1.2.3/",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/",
            "https://[fd00::1]/",
            "https://localhost/",
            "https://api.localhost/",
            "https://user:pw@example.com/",
            "ftp://example.com/",
        ] {
            assert!(refused(strict, url).is_some(), "{url}");
        }
        assert_eq!(refused(strict, "https://example.com/hook?token=x"), None);
        let open = Reach { allow_http: true, allow_private: true };
        assert_eq!(refused(open, "http://127.0.0.1:8080/hook"), None);
        assert_eq!(shown_url("https://example.com/hook?token=secret#x"), "https://example.com/hook");
        assert_eq!(printable("a\u{0}b\nc\u{1b}"), "ab\nc");
    }
}
