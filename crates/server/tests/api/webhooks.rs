//! Webhooks against a real receiver process (tests/support/webhook_receiver.py) that verifies
//! the Standard Webhooks signatures with its own code: retries, 410, an unreachable endpoint,
//! private addresses, secret rotation, redelivery, and two instances delivering once.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt as _;

use crate::helpers::*;

/// The receiver process; killed when dropped.
pub(crate) struct Receiver {
    _child: tokio::process::Child,
    port: u16,
    http: reqwest::Client,
}

impl Receiver {
    pub(crate) async fn start(port: Option<u16>) -> Self {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/webhook_receiver.py");
        let mut command = tokio::process::Command::new("python3");
        command.arg(script).stdout(std::process::Stdio::piped()).kill_on_drop(true);
        if let Some(port) = port {
            command.arg(port.to_string());
        }
        let mut child = command.spawn().expect("python3 runs the receiver");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        tokio::io::BufReader::new(stdout).read_line(&mut line).await.unwrap();
        Self { _child: child, port: line.trim().parse().expect("the receiver prints its port"), http: new_client() }
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}/hook", self.port)
    }

    pub(crate) async fn control(&self, control: Value) {
        let res =
            self.http.post(format!("http://127.0.0.1:{}/control", self.port)).json(&control).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::NO_CONTENT);
    }

    async fn received(&self) -> Vec<Value> {
        let res = self.http.get(format!("http://127.0.0.1:{}/received", self.port)).send().await.unwrap();
        res.json::<Vec<Value>>().await.unwrap()
    }

    /// Waits (at most 30 s) until `done` holds for what arrived.
    pub(crate) async fn wait_for(&self, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let received = self.received().await;
            if done(&received) {
                return received;
            }
            assert!(Instant::now() < deadline, "{what}: received {received:#?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn webhook_options(database_url: Option<String>) -> Options {
    Options::shared(database_url, &["--webhook-allow-http", "--webhook-allow-private", "--webhook-retry-scale", "0.01"])
}

struct Setup {
    app: TestApp,
    owner: String,
    team: String,
}

async fn team_app(options: Options) -> Setup {
    let app = spawn_app_with(options).await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Hooks").await;
    Setup { app, owner, team }
}

/// The body of a new endpoint for `url` and `types`, without a description.
fn hook(url: &str, types: &[EventType]) -> CreateWebhookEndpointRequest {
    CreateWebhookEndpointRequest { url: url.into(), description: None, event_types: types.to_vec(), enabled: None }
}

/// Creates an endpoint for `types` and hands its secret to the receiver: (endpoint id, secret).
async fn endpoint(s: &Setup, receiver: &Receiver, url: &str, types: &[&str]) -> (String, String) {
    let types: Vec<EventType> = types.iter().map(|t| EventType::parse(t).expect("an event type")).collect();
    let body = CreateWebhookEndpointRequest { description: Some("Our CRM".into()), ..hook(url, &types) };
    let res = s.app.op(Some(&s.owner), ops::create_webhook_endpoint(&s.team, &body)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let secret = res.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"));
    receiver.control(json!({"secret": secret})).await;
    (res.body["endpoint"]["id"].as_str().unwrap().to_owned(), secret)
}

async fn deliveries(s: &Setup, endpoint: &str) -> Vec<Value> {
    let res = s.app.get_as(&s.owner, &format!("/api/v1/teams/{}/webhooks/{endpoint}/deliveries", s.team)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body["items"].as_array().unwrap().clone()
}

async fn wait_for_deliveries(s: &Setup, endpoint: &str, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let items = deliveries(s, endpoint).await;
        if done(&items) {
            return items;
        }
        assert!(Instant::now() < deadline, "{what}: {items:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_change_is_delivered_signed_and_retried_until_it_succeeds() {
    let s = team_app(webhook_options(None)).await;
    let receiver = Receiver::start(None).await;
    let (hook, _) = endpoint(&s, &receiver, &receiver.url(), &["api_key.created", "api_key.revoked"]).await;
    receiver.control(json!({"script": [500, 500]})).await;

    let (key_id, _) = s.app.simple_key(&s.owner, &s.team, "CRM key").await;
    let received = receiver.wait_for("three attempts", |r| r.len() >= 3).await;
    assert_eq!(received.iter().map(|r| r["status"].as_u64().unwrap()).collect::<Vec<_>>(), [500, 500, 200]);
    for r in &received {
        assert_eq!(r["verified"], true, "the receiver's own HMAC check: {r}");
        assert_eq!(r["id"], received[0]["id"], "every attempt has the same webhook-id");
    }
    let event = &received[2]["event"];
    assert_eq!(event["type"], "api_key.created");
    assert_eq!(event["version"], 1);
    assert_eq!(event["data"]["team_id"], s.team.as_str());
    assert_eq!(event["data"]["object_type"], "api_key");
    assert_eq!(event["data"]["object_id"], key_id.as_str());
    assert_eq!(event["data"]["actor"]["type"], "user");

    // The log shows the delivery with its three attempts, newest first.
    let log =
        wait_for_deliveries(&s, &hook, "delivered", |d| d.first().is_some_and(|d| d["state"] == "delivered")).await;
    assert_eq!(log.len(), 1, "{log:#?}");
    let attempts = log[0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.iter().map(|a| a["status_code"].as_u64().unwrap()).collect::<Vec<_>>(), [200, 500, 500]);
    assert_eq!(attempts[1]["response_excerpt"], "answered 500");
    // Each attempt shows the request as the receiver got it, the signature redacted.
    assert_eq!(log[0]["request_body"], received[2]["body"]);
    for (attempt, got) in attempts.iter().zip(received.iter().rev()) {
        let headers: serde_json::Map<String, Value> = attempt["request_headers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| (h["name"].as_str().unwrap().to_owned(), h["value"].clone()))
            .collect();
        assert_eq!(headers["webhook-signature"], "v1,<redacted>");
        for (name, value) in got["headers"].as_object().unwrap() {
            assert_eq!(&headers[name], value, "{name}");
        }
        assert_eq!(headers.len(), got["headers"].as_object().unwrap().len() + 1, "{headers:?}");
    }
    // Narrowed to failed deliveries: none here; a state that does not exist is refused.
    let path = format!("/api/v1/teams/{}/webhooks/{hook}/deliveries", s.team);
    let failed = s
        .app
        .op(Some(&s.owner), ops::list_webhook_deliveries(&s.team, &hook, &Page::default(), Some(DeliveryState::Failed)))
        .await;
    assert_eq!(failed.body["items"], json!([]), "{}", failed.body);
    for state in ["lost", ""] {
        let bad = s.app.call(Method::GET, Some(&s.owner), &format!("{path}?state={state}"), None).await;
        bad.assert_problem(422, "validation_failed");
        assert_eq!(bad.field(), "state");
    }
    let stats =
        s.app.get_as(&s.owner, &format!("/api/v1/teams/{}/webhooks/{hook}", s.team)).await.body["stats"].clone();
    assert_eq!((stats["attempts"].as_u64(), stats["succeeded"].as_u64()), (Some(3), Some(1)), "{stats}");

    // An event type the endpoint did not ask for is not sent; one it asked for is.
    let team_path = format!("/api/v1/teams/{}", s.team);
    let rename = UpdateTeamRequest { name: Some("Hooks 2".into()), ..Default::default() };
    s.app.op(Some(&s.owner), ops::update_team(&s.team, &rename)).await;
    s.app.op(Some(&s.owner), ops::revoke_api_key(&s.team, &key_id)).await;
    let received = receiver.wait_for("the revocation", |r| r.len() >= 4).await;
    assert_eq!(received[3]["event"]["type"], "api_key.revoked");
    assert_eq!(received.len(), 4, "no team.updated: {received:#?}");

    // Redelivery: the same event id again, as a new delivery.
    let first = deliveries(&s, &hook).await.last().unwrap()["id"].as_str().unwrap().to_owned();
    let res = s.app.op(Some(&s.owner), ops::redeliver_webhook(&s.team, &hook, &first)).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    let received = receiver.wait_for("the redelivery", |r| r.len() >= 5).await;
    assert_eq!(received[4]["id"], received[0]["id"]);
    assert_eq!(received[4]["verified"], true);

    // A test event.
    let res = s.app.op(Some(&s.owner), ops::send_test_webhook(&s.team, &hook)).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    let received = receiver.wait_for("the test event", |r| r.len() >= 6).await;
    assert_eq!(received[5]["event"]["type"], "webhook.test");
    wait_for_deliveries(&s, &hook, "all finished", |d| d.len() == 4 && d.iter().all(|d| d["state"] == "delivered"))
        .await;
    s.app.assert_pages_end_exactly(&s.owner, &format!("{team_path}/webhooks/{hook}/deliveries")).await;

    // The log keeps 30 days.
    let db = portal_db::connect(&s.app.database_url).await.unwrap();
    let now = chrono::Utc::now();
    portal_server::retention::prune_sessions(&db, now + chrono::Duration::days(29)).await.unwrap();
    assert_eq!(deliveries(&s, &hook).await.len(), 4);
    portal_server::retention::prune_sessions(&db, now + chrono::Duration::days(31)).await.unwrap();
    assert_eq!(deliveries(&s, &hook).await.len(), 0);
}

/// An endpoint whose deliveries have all failed for 5 days is turned off at the next failure.
#[tokio::test]
async fn five_days_of_failures_turn_the_endpoint_off() {
    let s = team_app(webhook_options(None)).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let body = hook(&format!("http://127.0.0.1:{port}/hook"), &[EventType::InvitationCreated]);
    let res = s.app.op(Some(&s.owner), ops::create_webhook_endpoint(&s.team, &body)).await;
    let hook = res.body["endpoint"]["id"].as_str().unwrap().to_owned();
    let since = chrono::Utc::now() - chrono::Duration::days(5) - chrono::Duration::minutes(1);
    set_time(&s.app.database_url, "webhook_endpoints", "failing_since", Some(&hook), since).await;
    s.app.invite(&s.owner, &s.team, "new@example.com", "member").await;
    s.app.wait_for_mail("owner@example.com", "A webhook endpoint was turned off").await;
    let endpoint = s.app.get_as(&s.owner, &format!("/api/v1/teams/{}/webhooks/{hook}", s.team)).await.body;
    assert_eq!(endpoint["enabled"], false, "{endpoint}");
    assert!(endpoint["disabled_reason"].as_str().unwrap().contains("5 days"), "{endpoint}");
    let log = deliveries(&s, &hook).await;
    assert_eq!(log[0]["state"], "failed", "no more tries: {log:#?}");
}

#[tokio::test]
async fn gone_turns_the_endpoint_off_and_mails_the_owners() {
    let s = team_app(webhook_options(None)).await;
    let receiver = Receiver::start(None).await;
    let (hook, _) = endpoint(&s, &receiver, &receiver.url(), &["member.role_changed", "invitation.created"]).await;
    receiver.control(json!({"script": [410]})).await;
    s.app.invite(&s.owner, &s.team, "new@example.com", "member").await;
    receiver.wait_for("one attempt", |r| r.len() == 1).await;
    let path = format!("/api/v1/teams/{}/webhooks/{hook}", s.team);
    let deadline = Instant::now() + Duration::from_secs(30);
    let endpoint = loop {
        let res = s.app.get_as(&s.owner, &path).await;
        if res.body["enabled"] == false {
            break res.body;
        }
        assert!(Instant::now() < deadline, "still on: {}", res.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(endpoint["disabled_reason"].as_str().unwrap().contains("410"), "{endpoint}");
    s.app.wait_for_mail("owner@example.com", "A webhook endpoint was turned off").await;
    // Nothing more is sent to it; turning it on again clears the reason.
    s.app.invite(&s.owner, &s.team, "other@example.com", "member").await;
    let log = deliveries(&s, &hook).await;
    assert!(log.iter().all(|d| d["state"] == "failed"), "{log:#?}");
    assert_eq!(receiver.received().await.len(), 1);
    s.app.op(Some(&s.owner), ops::send_test_webhook(&s.team, &hook)).await.assert_problem(409, "conflict");
    let on = UpdateWebhookEndpointRequest { enabled: Some(true), ..Default::default() };
    let on = s.app.op(Some(&s.owner), ops::update_webhook_endpoint(&s.team, &hook, &on)).await;
    assert_eq!(on.body["enabled"], true, "{}", on.body);
    assert!(on.body.get("disabled_reason").is_none(), "{}", on.body);
    // "Failed only" leaves the test delivered after it out.
    let failed = log.len();
    s.app.op(Some(&s.owner), ops::send_test_webhook(&s.team, &hook)).await;
    wait_for_deliveries(&s, &hook, "the test delivered", |d| d[0]["state"] == "delivered").await;
    let only = |state| ops::list_webhook_deliveries(&s.team, &hook, &Page::default(), Some(state));
    let res = s.app.op(Some(&s.owner), only(DeliveryState::Failed)).await;
    let states: Vec<&Value> = res.body["items"].as_array().unwrap().iter().map(|d| &d["state"]).collect();
    assert_eq!(states, vec![&json!("failed"); failed], "{}", res.body);
    let res = s.app.op(Some(&s.owner), only(DeliveryState::Delivered)).await;
    assert_eq!(res.body["items"][0]["event_type"], "webhook.test", "{}", res.body);
    assert_eq!(res.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn nothing_is_lost_while_the_endpoint_is_unreachable() {
    let s = team_app(webhook_options(None)).await;
    // A port nobody listens on, yet.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let body = hook(&format!("http://127.0.0.1:{port}/hook"), &[EventType::InvitationCreated]);
    let res = s.app.op(Some(&s.owner), ops::create_webhook_endpoint(&s.team, &body)).await;
    let hook = res.body["endpoint"]["id"].as_str().unwrap().to_owned();
    let secret = res.body["secret"].as_str().unwrap().to_owned();
    s.app.invite(&s.owner, &s.team, "new@example.com", "member").await;
    let log = wait_for_deliveries(&s, &hook, "a failed attempt", |d| {
        d.first().is_some_and(|d| !d["attempts"].as_array().unwrap().is_empty())
    })
    .await;
    assert_eq!(log[0]["state"], "pending", "{log:#?}");
    let error = log[0]["attempts"][0]["error"].as_str().unwrap();
    assert!(error.contains("connect"), "{error}");
    // It comes back: the next attempt delivers.
    let receiver = Receiver::start(Some(port)).await;
    receiver.control(json!({"secret": secret})).await;
    let received = receiver.wait_for("the delivery", |r| !r.is_empty()).await;
    assert_eq!(received.len(), 1);
    assert_eq!(received[0]["verified"], true);
    assert_eq!(received[0]["event"]["type"], "invitation.created");
    wait_for_deliveries(&s, &hook, "delivered", |d| d[0]["state"] == "delivered").await;
}

#[tokio::test]
async fn private_addresses_are_refused_unless_allowed() {
    let app = spawn_app_with(Options::shared(None, &["--webhook-allow-http"])).await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Hooks").await;
    let path = format!("/api/v1/teams/{team}/webhooks");
    for url in [
        "http://127.0.0.1:9000/hook",
        "http://10.0.0.8/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://localhost:8080/hook",
        "ftp://example.com/hook",
        "https://user:pass@example.com/hook",
        "not a url",
    ] {
        let res =
            app.op(Some(&owner), ops::create_webhook_endpoint(&team, &hook(url, &[EventType::TeamUpdated]))).await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(res.field(), "url", "{url}: {}", res.body);
    }
    assert_eq!(app.get_as(&owner, &path).await.body["items"], json!([]), "nothing was created");
    // Without http allowed, https only.
    let strict = spawn_app().await;
    let (owner, _) = strict.signed_in("owner@example.com").await;
    let team = strict.create_team(&owner, "Hooks").await;
    let body = hook("http://example.com/hook", &[EventType::TeamUpdated]);
    let res = strict.op(Some(&owner), ops::create_webhook_endpoint(&team, &body)).await;
    res.assert_problem(422, "validation_failed");
    assert!(res.body["detail"].as_str().unwrap().contains("https"), "{}", res.body);
}

/// A name that resolves to a private address is refused when resolved, at delivery.
#[tokio::test]
async fn a_name_resolving_to_a_private_address_is_refused_at_delivery() {
    let host = std::fs::read_to_string("/etc/hostname").unwrap_or_default().trim().to_owned();
    let addresses: Vec<std::net::IpAddr> =
        tokio::net::lookup_host((host.as_str(), 80)).await.map(|a| a.map(|a| a.ip()).collect()).unwrap_or_default();
    if host.is_empty() || addresses.is_empty() || addresses.iter().any(|ip| portal_domain::webhooks::is_public(*ip)) {
        eprintln!("skipped: this machine's name {host:?} does not resolve to private addresses only ({addresses:?})");
        return;
    }
    let s = team_app(Options::shared(None, &["--webhook-allow-http"])).await;
    let body = hook(&format!("http://{host}:9/hook"), &[EventType::InvitationCreated]);
    let res = s.app.op(Some(&s.owner), ops::create_webhook_endpoint(&s.team, &body)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let hook = res.body["endpoint"]["id"].as_str().unwrap().to_owned();
    s.app.invite(&s.owner, &s.team, "new@example.com", "member").await;
    let log = wait_for_deliveries(&s, &hook, "a refused attempt", |d| {
        d.first().is_some_and(|d| !d["attempts"].as_array().unwrap().is_empty())
    })
    .await;
    let error = log[0]["attempts"][0]["error"].as_str().unwrap();
    assert!(error.contains("private"), "{error}");
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_old_one_during_the_grace() {
    let s = team_app(webhook_options(None)).await;
    let receiver = Receiver::start(None).await;
    let (hook, old) = endpoint(&s, &receiver, &receiver.url(), &["team.updated"]).await;
    let rotate = |grace_hours: u32| {
        ops::rotate_webhook_secret(&s.team, &hook, &RotateWebhookSecretRequest { grace_hours: Some(grace_hours) })
    };
    s.app.op(Some(&s.owner), rotate(200)).await.assert_problem(422, "validation_failed");
    let res = s.app.op(Some(&s.owner), rotate(1)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let new = res.body["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    assert!(res.body["endpoint"]["previous_secret_until"].is_string());
    // A receiver that knows only the new secret verifies; so does one that knows only the old.
    receiver.control(json!({"secret": new})).await;
    let rename = UpdateTeamRequest { name: Some("Renamed".into()), ..Default::default() };
    s.app.op(Some(&s.owner), ops::update_team(&s.team, &rename)).await;
    let received = receiver.wait_for("the event", |r| !r.is_empty()).await;
    assert_eq!(received[0]["signatures"], 2);
    assert_eq!(received[0]["verified"], true);
    receiver.control(json!({"secret": old})).await;
    let rename = UpdateTeamRequest { name: Some("Again".into()), ..Default::default() };
    s.app.op(Some(&s.owner), ops::update_team(&s.team, &rename)).await;
    let received = receiver.wait_for("the second event", |r| r.len() >= 2).await;
    assert_eq!(received[1]["verified"], true);
    // With no grace, only the new secret signs.
    let res = s.app.op(Some(&s.owner), rotate(0)).await;
    let newest = res.body["secret"].as_str().unwrap().to_owned();
    receiver.control(json!({"secret": new})).await;
    let rename = UpdateTeamRequest { name: Some("Third".into()), ..Default::default() };
    s.app.op(Some(&s.owner), ops::update_team(&s.team, &rename)).await;
    let received = receiver.wait_for("the third event", |r| r.len() >= 3).await;
    assert_eq!(received[2]["signatures"], 1);
    assert_eq!(received[2]["verified"], false, "the replaced secret no longer signs");
    let _ = newest;
}

#[tokio::test]
async fn who_may_manage_webhooks() {
    let s = team_app(webhook_options(None)).await;
    let member = s.app.join(&s.owner, &s.team, "member@example.com", "member").await;
    let admin = s.app.join(&s.owner, &s.team, "admin@example.com", "admin").await;
    let path = format!("/api/v1/teams/{}/webhooks", s.team);
    let body = hook("https://example.com/hook", &[EventType::TeamUpdated]);
    let create = || ops::create_webhook_endpoint(&s.team, &body);
    s.app.op(Some(&member), ops::list_webhook_endpoints(&s.team)).await.assert_problem(403, "forbidden");
    s.app.op(Some(&member), create()).await.assert_problem(403, "forbidden");
    let res = s.app.op(Some(&admin), create()).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    // A key needs the scopes; a read-only key reads, a full-access key writes.
    let (_, read_only) = s
        .app
        .create_key(
            &s.owner,
            &s.team,
            json!({"name": "ro", "environment": "development", "expiration": "never", "scopes": ["webhooks:read"]}),
        )
        .await;
    assert_eq!(s.app.get_as(&read_only, &path).await.body["items"].as_array().unwrap().len(), 1);
    let denied = s.app.op(Some(&read_only), create()).await;
    denied.assert_problem(403, "insufficient_scope");
    assert_eq!(denied.body["required_scope"], "webhooks:write");
    let (_, full) = s.app.simple_key(&s.owner, &s.team, "full").await;
    assert_eq!(s.app.op(Some(&full), create()).await.status, StatusCode::CREATED);
    // Bad input changes nothing.
    for (bad, field) in [
        (json!({"url": "https://example.com", "event_types": []}), "event_types"),
        (json!({"url": "https://example.com", "event_types": ["nope"]}), "event_types[0]"),
        (json!({"url": "", "event_types": ["team.updated"]}), "url"),
    ] {
        let res = s.app.call(Method::POST, Some(&s.owner), &path, Some(bad)).await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(res.field(), field, "{}", res.body);
    }
    assert_eq!(s.app.get_as(&s.owner, &path).await.body["items"].as_array().unwrap().len(), 2);
}

/// Two instances share the outbox: each event reaches the endpoint exactly once, whichever
/// instance raised it and whichever sends it.
#[tokio::test]
async fn two_instances_deliver_each_event_exactly_once() {
    if backend() != "postgres" {
        return;
    }
    let s = team_app(webhook_options(None)).await;
    let b = spawn_app_with(webhook_options(Some(s.app.database_url.clone()))).await;
    let receiver = Receiver::start(None).await;
    endpoint(&s, &receiver, &receiver.url(), &["invitation.created"]).await;
    // Slow answers: both instances' workers are at work at the same time.
    receiver.control(json!({"delay_ms": 300})).await;
    for i in 0..20 {
        let instance = if i % 2 == 0 { &s.app } else { &b };
        let body = CreateInvitationRequest {
            email: format!("guest{i}@example.com").into(),
            role: Role::Member,
            message: None,
        };
        let res = instance.op(Some(&s.owner), ops::create_invitation(&s.team, &body)).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    }
    receiver.wait_for("20 events", |r| r.len() >= 20).await;
    // Both instances stop; a stopping worker finishes what it sends. Whatever either sent is in
    // now, duplicates too.
    let mut s = s;
    let mut b = b;
    s.app.shutdown().await;
    b.shutdown().await;
    let received = receiver.received().await;
    let ids: std::collections::HashSet<&str> = received.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!((ids.len(), received.len()), (20, 20), "{received:#?}");
    assert!(received.iter().all(|r| r["verified"] == true));
}

/// Scheduled events come from the notice task: a key about to expire, then expired.
#[tokio::test]
async fn a_key_about_to_expire_and_expired_raises_events() {
    let mut options = webhook_options(None);
    options.flags.extend(["--notice-interval-ms".into(), "50".into()]);
    let s = team_app(options).await;
    let receiver = Receiver::start(None).await;
    endpoint(&s, &receiver, &receiver.url(), &["api_key.expiring", "api_key.expired"]).await;
    let body = json!({"name": "short-lived", "environment": "production", "expiration": "30d"});
    let (key_id, _) = s.app.create_key(&s.owner, &s.team, body).await;
    let soon = chrono::Utc::now() + chrono::Duration::hours(12);
    set_time(&s.app.database_url, "api_keys", "expires_at", Some(&key_id), soon).await;
    let received = receiver.wait_for("expiring", |r| !r.is_empty()).await;
    assert_eq!(received[0]["event"]["type"], "api_key.expiring");
    assert_eq!(received[0]["event"]["data"]["object_id"], key_id.as_str());
    assert!(received[0]["event"]["data"].get("actor").is_none(), "the portal itself");
    let past = chrono::Utc::now() - chrono::Duration::minutes(1);
    set_time(&s.app.database_url, "api_keys", "expires_at", Some(&key_id), past).await;
    let received = receiver.wait_for("expired", |r| r.len() >= 2).await;
    assert_eq!(received[1]["event"]["type"], "api_key.expired");
    assert_eq!(received.len(), 2, "each once: {received:#?}");
    assert!(received.iter().all(|r| r["verified"] == true));
}

/// What a hostile endpoint answers cannot stop its delivery from being recorded (a NUL byte,
/// which PostgreSQL refuses in text), and a token in the URL's query stays out of the activity.
#[tokio::test]
async fn hostile_answers_are_recorded_and_url_tokens_stay_out_of_the_activity() {
    let s = team_app(webhook_options(None)).await;
    let receiver = Receiver::start(None).await;
    let url = format!("{}?token=very-secret", receiver.url());
    let (hook, _) = endpoint(&s, &receiver, &url, &["invitation.created"]).await;
    receiver.control(json!({"reply": "bad\u{0}body\u{1b}[31m"})).await;
    s.app.invite(&s.owner, &s.team, "new@example.com", "member").await;
    receiver.wait_for("the delivery", |r| !r.is_empty()).await;
    let log =
        wait_for_deliveries(&s, &hook, "delivered", |d| d.first().is_some_and(|d| d["state"] == "delivered")).await;
    assert_eq!(log[0]["attempts"].as_array().unwrap().len(), 1, "{log:#?}");
    assert_eq!(log[0]["attempts"][0]["response_excerpt"], "badbody[31m");
    let activity = s.app.get_as(&s.owner, &format!("/api/v1/teams/{}/activity", s.team)).await;
    assert!(activity.body.to_string().contains("webhook.created"), "{}", activity.body);
    assert!(!activity.body.to_string().contains("very-secret"), "{}", activity.body);
    assert_eq!(receiver.received().await.len(), 1, "sent once");
}

/// A 429 or 503 with `Retry-After` waits at least that long (the schedule's 50 ms here would be
/// shorter); the secret never shows in the logs.
#[tokio::test]
async fn retry_after_is_honoured_and_secrets_stay_out_of_the_logs() {
    captured_logs();
    let s = team_app(webhook_options(None)).await;
    let receiver = Receiver::start(None).await;
    let (_, secret) = endpoint(&s, &receiver, &receiver.url(), &["invitation.created"]).await;
    receiver.control(json!({"secret": secret, "script": [503], "retry_after": 2})).await;
    s.app.invite(&s.owner, &s.team, "new@example.com", "member").await;
    let received = receiver.wait_for("two attempts", |r| r.len() >= 2).await;
    assert_eq!(received[0]["status"], 503);
    assert_eq!(received[1]["status"], 200);
    let waited = received[1]["at"].as_f64().unwrap() - received[0]["at"].as_f64().unwrap();
    assert!(waited >= 1.9, "retried after {waited:.2} s, before Retry-After's 2 s");
    let key = secret.trim_start_matches("whsec_");
    assert!(!captured_logs().contains(key), "the signing secret is in the logs");
}

/// The upgrade gives full-access keys the webhook scopes and read-only keys `webhooks:read`, so
/// the presets keep meaning what they meant; custom keys stay as they are.
#[tokio::test]
async fn the_upgrade_extends_the_presets_to_webhooks() {
    use portal_migrations::{Migrator, MigratorTrait};

    let (_guard, url) = empty_database().await;
    let db = portal_db::connect(&url).await.unwrap();
    Migrator::up(&db, Some(9)).await.unwrap();
    let now = chrono::Utc::now();
    let ada = portal_db::users::create(&db, "ada@example.com", "Ada", "x", now).await.unwrap().id;
    // The team as version 9 stored it (today's code writes columns that came later).
    let team = uuid::Uuid::new_v4();
    let insert = sea_orm::sea_query::Query::insert()
        .into_table(sea_orm::sea_query::Alias::new("teams"))
        .columns(["id", "name", "created_by", "created_at", "updated_at"].map(sea_orm::sea_query::Alias::new))
        .values_panic([team.into(), "Acme".into(), ada.into(), now.into(), now.into()])
        .to_owned();
    sea_orm::ConnectionTrait::execute(&db, &insert).await.unwrap();
    let old_full = "team:read members:read members:write invitations:read invitations:write api_keys:read api_keys:write usage:read activity:read";
    let old_read = "team:read members:read invitations:read api_keys:read usage:read activity:read";
    let mut ids = Vec::new();
    // The keys as version 9 stored them.
    for (i, scopes) in [old_full, old_read, "team:read usage:read"].into_iter().enumerate() {
        let id = uuid::Uuid::new_v4();
        let insert = sea_orm::sea_query::Query::insert()
            .into_table(sea_orm::sea_query::Alias::new("api_keys"))
            .columns(
                ["id", "team_id", "name", "environment", "key_hash", "hint", "created_by", "created_at", "scopes"]
                    .map(sea_orm::sea_query::Alias::new),
            )
            .values_panic([
                id.into(),
                team.into(),
                format!("key {i}").into(),
                "development".into(),
                format!("hash-{i}").into(),
                "pp_dev_abcd".into(),
                ada.into(),
                now.into(),
                scopes.into(),
            ])
            .to_owned();
        sea_orm::ConnectionTrait::execute(&db, &insert).await.unwrap();
        ids.push(id);
    }
    portal_db::migrate(&db).await.unwrap();
    let mut after = Vec::new();
    for id in ids {
        after.push(portal_db::api_keys::find(&db, team, id).await.unwrap().unwrap().row.scopes);
    }
    assert_eq!(after[0], format!("{old_full} webhooks:read webhooks:write"));
    assert_eq!(after[1], format!("{old_read} webhooks:read"));
    assert_eq!(after[2], "team:read usage:read");
}

/// Issue 24, escape 7: a key holding only `webhooks:write` (403 on members, invitations, keys)
/// subscribed to `invitation.created` and `api_key.created` and received invitees' addresses and
/// keys' names. Subscribing needs the read of each event family.
#[tokio::test]
async fn subscribing_needs_the_read_of_every_event_family() {
    let s = team_app(webhook_options(None)).await;
    let body = |types: &[EventType]| ops::create_webhook_endpoint(&s.team, &hook("https://example.com/hook", types));
    let key = |scopes: &[&str]| {
        let body = json!({"name": "hooks", "environment": "development", "expiration": "never", "scopes": scopes});
        s.app.create_key(&s.owner, &s.team, body)
    };
    let (_, hooks_only) = key(&["webhooks:write"]).await;
    for (types, scope) in [
        (&[EventType::InvitationCreated][..], "invitations:read"),
        (&[EventType::MemberJoined, EventType::ApiKeyCreated][..], "api_keys:read"),
        (&[EventType::TeamUpdated][..], "team:read"),
    ] {
        let res = s.app.op(Some(&hooks_only), body(types)).await;
        res.assert_problem(403, "insufficient_scope");
        assert_eq!((res.field(), res.body["required_scope"].as_str()), ("event_types", Some(scope)), "{types:?}");
    }
    let (_, hooks_and_members) = key(&["webhooks:write", "members:read"]).await;
    let res = s.app.op(Some(&hooks_and_members), body(&[EventType::MemberJoined])).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    // Changing the event types is subscribing too.
    let id = res.body["endpoint"]["id"].as_str().unwrap();
    let change =
        UpdateWebhookEndpointRequest { event_types: Some(vec![EventType::InvitationCreated]), ..Default::default() };
    let res = s.app.op(Some(&hooks_and_members), ops::update_webhook_endpoint(&s.team, id, &change)).await;
    res.assert_problem(403, "insufficient_scope");
    assert_eq!(
        s.app.op(Some(&hooks_only), ops::list_webhook_endpoints(&s.team)).await.body["items"].as_array().unwrap().len(),
        1
    );
}

/// Every delivery checks the subscriber's rights again: an admin who subscribed to invitations
/// and was demoted to member (who may not read them) no longer has them delivered; the log says
/// why. What a member may read is still delivered.
#[tokio::test]
async fn a_subscriber_who_lost_the_right_stops_receiving_that_family() {
    let s = team_app(webhook_options(None)).await;
    let receiver = Receiver::start(None).await;
    let admin = s.app.join(&s.owner, &s.team, "admin@example.com", "admin").await;
    let body = hook(&receiver.url(), &[EventType::InvitationCreated, EventType::MemberRoleChanged]);
    let res = s.app.op(Some(&admin), ops::create_webhook_endpoint(&s.team, &body)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    receiver.control(json!({"secret": res.body["secret"]})).await;
    let hook = res.body["endpoint"]["id"].as_str().unwrap().to_owned();
    let members = s.app.get_as(&s.owner, &format!("/api/v1/teams/{}/members", s.team)).await.body;
    let admin_id =
        members["items"].as_array().unwrap().iter().find(|m| m["email"] == "admin@example.com").unwrap()["user_id"]
            .as_str()
            .unwrap()
            .to_owned();
    let demote = UpdateMemberRequest { role: Role::Member };
    assert_eq!(s.app.op(Some(&s.owner), ops::update_member(&s.team, &admin_id, &demote)).await.status, StatusCode::OK);
    s.app.invite(&s.owner, &s.team, "someone@example.com", "member").await;
    let log = wait_for_deliveries(&s, &hook, "both events tried", |items| {
        items.len() == 2 && items.iter().all(|d| d["state"] != "pending")
    })
    .await;
    let of = |kind: &str| log.iter().find(|d| d["event_type"] == kind).unwrap().clone();
    assert_eq!(of("member.role_changed")["state"], "delivered", "{log:#?}");
    let refused = of("invitation.created");
    assert_eq!(refused["state"], "failed", "{log:#?}");
    assert!(refused["attempts"][0]["error"].as_str().unwrap().contains("may no longer read"), "{refused:#}");
    assert_eq!(refused["attempts"][0]["request_headers"], json!([]), "no request was made: {refused:#}");
    let received = receiver.received().await;
    assert_eq!(received.len(), 1, "only the role change: {received:#?}");
}

/// A listener that accepts connections and never answers them (a hung or hostile endpoint).
struct Hanging {
    port: u16,
    accepted: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Hanging {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counted = accepted.clone();
        let task = tokio::spawn(async move {
            let mut held = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                held.push(socket);
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        });
        Self { port, accepted, task }
    }

    fn accepted(&self) -> usize {
        self.accepted.load(std::sync::atomic::Ordering::SeqCst)
    }
}

impl Drop for Hanging {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Ten endpoints of one team that take the connection and never answer, with three events
/// each, hold only that team's share of the delivery slots: another team's event arrives within
/// 2 s (it waited up to 59 s behind them when all teams shared one batch).
#[tokio::test]
async fn a_team_whose_endpoints_hang_delays_only_itself() {
    let s = team_app(webhook_options(None)).await;
    let hanging = Hanging::start().await;
    for n in 0..10 {
        let url = format!("http://127.0.0.1:{}/hook/{n}", hanging.port);
        let res = s
            .app
            .op(Some(&s.owner), ops::create_webhook_endpoint(&s.team, &hook(&url, &[EventType::ApiKeyCreated])))
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    }
    let (other, _) = s.app.signed_in("other@example.com").await;
    let other_team = s.app.create_team(&other, "Elsewhere").await;
    let receiver = Receiver::start(None).await;
    let res = s
        .app
        .op(
            Some(&other),
            ops::create_webhook_endpoint(&other_team, &hook(&receiver.url(), &[EventType::ApiKeyCreated])),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    receiver.control(json!({"secret": res.body["secret"]})).await;

    for n in 0..3 {
        s.app.simple_key(&s.owner, &s.team, &format!("hung key {n}")).await;
    }
    // The hung endpoints hold their share of the slots (four at once for the team).
    let deadline = Instant::now() + Duration::from_secs(10);
    while hanging.accepted() < 4 {
        assert!(Instant::now() < deadline, "the hung endpoints were never called: {}", hanging.accepted());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let asked = Instant::now();
    s.app.simple_key(&other, &other_team, "unrelated").await;
    let received = receiver.wait_for("the other team's event", |r| !r.is_empty()).await;
    let took = asked.elapsed();
    eprintln!("the other team's event arrived {took:?} after its change, {} hung connections open", hanging.accepted());
    assert_eq!(received[0]["event"]["type"], "api_key.created");
    assert!(took <= Duration::from_secs(2), "another team's event took {took:?}");
    assert_eq!(hanging.accepted(), 4, "no more than the team's share at once");
}

/// Test sends and redeliveries are budgeted per team and hour: the sixty-first is refused 429
/// and queues nothing.
#[tokio::test]
async fn test_sends_and_redeliveries_are_limited_per_team() {
    let s = team_app(webhook_options(None)).await;
    let receiver = Receiver::start(None).await;
    let (hook_id, _) = endpoint(&s, &receiver, &receiver.url(), &["api_key.created"]).await;
    for _ in 0..60 {
        let res = s.app.op(Some(&s.owner), ops::send_test_webhook(&s.team, &hook_id)).await;
        assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    }
    let all = format!("/api/v1/teams/{}/webhooks/{hook_id}/deliveries?limit=100", s.team);
    let count = || async { s.app.get_as(&s.owner, &all).await.body["items"].as_array().unwrap().len() };
    assert_eq!(count().await, 60);
    let res = s.app.op(Some(&s.owner), ops::send_test_webhook(&s.team, &hook_id)).await;
    res.assert_problem(429, "rate_limited");
    assert!(res.headers.contains_key("retry-after"));
    let any = deliveries(&s, &hook_id).await[0]["id"].as_str().unwrap().to_owned();
    s.app.op(Some(&s.owner), ops::redeliver_webhook(&s.team, &hook_id, &any)).await.assert_problem(429, "rate_limited");
    assert_eq!(count().await, 60, "nothing more was queued");
}
