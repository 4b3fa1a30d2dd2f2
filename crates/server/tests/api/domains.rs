//! Verified domains against a real DNS server process (tests/support/dns_server.py, dnslib):
//! a team proves a domain with a TXT record, one team at a time, and only owners manage them.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt as _;

use crate::helpers::*;

/// An authoritative DNS server answering the TXT records this test sets.
pub struct DnsServer {
    _child: tokio::process::Child,
    port: u16,
    records: std::path::PathBuf,
}

impl DnsServer {
    pub async fn start() -> Self {
        let records = std::env::temp_dir().join(format!("pp-dns-{}.json", uuid::Uuid::new_v4()));
        std::fs::write(&records, "{}").unwrap();
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/dns_server.py");
        let mut child = tokio::process::Command::new("python3")
            .arg(script)
            .arg(&records)
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs the DNS server");
        let mut line = String::new();
        tokio::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).await.unwrap();
        Self { _child: child, port: line.trim().parse().expect("the DNS server prints its port"), records }
    }

    /// Makes `name` answer these TXT values (replacing what it answered).
    pub fn set(&self, name: &str, values: &[&str]) {
        let mut all: serde_json::Map<String, Value> =
            serde_json::from_str(&std::fs::read_to_string(&self.records).unwrap()).unwrap();
        all.insert(format!("{name}."), json!(values));
        let next = self.records.with_extension("next");
        std::fs::write(&next, serde_json::to_string(&all).unwrap()).unwrap();
        std::fs::rename(next, &self.records).unwrap();
    }

    pub fn flag(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.records);
    }
}

#[tokio::test]
async fn a_domain_is_verified_by_its_txt_record_and_by_one_team_at_a_time() {
    let dns = DnsServer::start().await;
    let app = spawn_app_with(Options::shared(None, &["--dns-resolver", &dns.flag()])).await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let domains = format!("/api/v1/teams/{team}/domains");

    // Bad names are refused, naming the field; nothing is added.
    for bad in
        ["", "localhost", "exa mple.com", "bücher.de", "a..com", "example.123", &format!("{}.com", "a".repeat(64))]
    {
        let res = app.call(Method::POST, Some(&owner), &domains, Some(json!({"domain": bad}))).await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(res.field(), "domain", "{bad}: {}", res.body);
    }
    let res = app.call(Method::POST, Some(&owner), &domains, Some(json!({"domain": "a.com", "extra": 1}))).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert_eq!(app.op(Some(&owner), ops::list_domains(&team)).await.body["items"], json!([]));

    // Added in lower case, waiting for its record.
    let add = |domain: &str| AddDomainRequest { domain: domain.into() };
    let res = app.op(Some(&owner), ops::add_domain(&team, &add("Example.COM."))).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let domain = res.body.clone();
    let id = domain["id"].as_str().unwrap().to_owned();
    assert_eq!(domain["domain"], "example.com");
    assert_eq!(domain["txt_name"], "_partner-portal.example.com");
    let value = domain["txt_value"].as_str().unwrap().to_owned();
    assert!(value.starts_with("pp-verify=") && value.len() == 42, "{value}");
    assert!(domain.get("verified_at").is_none());
    app.op(Some(&owner), ops::add_domain(&team, &add("example.com"))).await.assert_problem(409, "conflict");

    // No record, then a wrong one: not verified, and the answer says why.
    let verify = || app.op(Some(&owner), ops::verify_domain(&team, &id));
    let res = verify().await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body.get("verified_at").is_none());
    let why = res.body["check_error"].as_str().unwrap();
    assert!(why.contains("No TXT record _partner-portal.example.com was found"), "{why}");
    dns.set("_partner-portal.example.com", &["pp-verify=0000"]);
    let why = verify().await.body["check_error"].as_str().unwrap().to_owned();
    assert!(why.contains("holds \"pp-verify=0000\""), "{why}");

    // The right record among others verifies it, once.
    dns.set("_partner-portal.example.com", &["v=spf1 -all", &value]);
    let res = verify().await;
    let verified_at = res.body["verified_at"].as_str().expect("verified").to_owned();
    assert!(res.body.get("check_error").is_none(), "{}", res.body);
    assert_eq!(verify().await.body["verified_at"], verified_at.as_str());

    // Another team may add it, but not verify it while this team holds it.
    let (other_owner, _) = app.signed_in("other@example.com").await;
    let other = app.create_team(&other_owner, "Other").await;
    let theirs = app.op(Some(&other_owner), ops::add_domain(&other, &add("example.com"))).await;
    assert_eq!(theirs.status, StatusCode::CREATED, "{}", theirs.body);
    let theirs_id = theirs.body["id"].as_str().unwrap().to_owned();
    dns.set("_partner-portal.example.com", &[&value, theirs.body["txt_value"].as_str().unwrap()]);
    app.op(Some(&other_owner), ops::verify_domain(&other, &theirs_id)).await.assert_problem(409, "conflict");
    let listed = app.op(Some(&other_owner), ops::list_domains(&other)).await;
    assert!(listed.body["items"][0].get("verified_at").is_none(), "{}", listed.body);

    // The join rule: one of three.
    let automatic = UpdateDomainRequest { join_rule: DomainJoinRule::Automatic };
    let res = app.op(Some(&owner), ops::update_domain(&team, &id, &automatic)).await;
    assert_eq!(res.body["join_rule"], "automatic", "{}", res.body);
    let res =
        app.call(Method::PATCH, Some(&owner), &format!("{domains}/{id}"), Some(json!({"join_rule": "everyone"}))).await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.field(), "join_rule");

    // Admins see the domains, only owners change them; members and keys do not see them.
    let admin = app.join(&owner, &team, "admin@example.com", "admin").await;
    let member = app.join(&owner, &team, "member@example.com", "member").await;
    let (_, key) = app.simple_key(&owner, &team, "full").await;
    assert_eq!(app.op(Some(&admin), ops::list_domains(&team)).await.status, StatusCode::OK);
    app.op(Some(&admin), ops::add_domain(&team, &add("admin.example"))).await.assert_problem(403, "forbidden");
    app.op(Some(&admin), ops::verify_domain(&team, &id)).await.assert_problem(403, "forbidden");
    app.op(Some(&admin), ops::update_domain(&team, &id, &automatic)).await.assert_problem(403, "forbidden");
    app.op(Some(&admin), ops::remove_domain(&team, &id)).await.assert_problem(403, "forbidden");
    app.op(Some(&member), ops::list_domains(&team)).await.assert_problem(403, "forbidden");
    assert_eq!(app.op(Some(&key), ops::list_domains(&team)).await.status, StatusCode::FORBIDDEN);
    // Another team's owner reaches nothing of this team's.
    app.op(Some(&other_owner), ops::verify_domain(&team, &id)).await.assert_problem(404, "not_found");

    // Every step is in the activity.
    let activity = app.op(Some(&owner), ops::list_activity(&team, &Page::default(), &ActivityFilter::default())).await;
    let actions: Vec<&str> =
        activity.body["items"].as_array().unwrap().iter().filter_map(|e| e["action"].as_str()).collect();
    for (action, times) in
        [("domain.added", 1), ("domain.check_failed", 2), ("domain.verified", 1), ("domain.join_rule_changed", 1)]
    {
        assert_eq!(actions.iter().filter(|a| **a == action).count(), times, "{action} in {actions:?}");
    }

    // Removed here, it can be verified by the other team.
    let res = app.op(Some(&owner), ops::remove_domain(&team, &id)).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    let res = app.op(Some(&other_owner), ops::verify_domain(&other, &theirs_id)).await;
    assert!(res.body["verified_at"].is_string(), "{}", res.body);
}

/// Verifying and removing a domain raise webhook events, delivered signed to a real receiver;
/// a key cannot subscribe to them (no scope reads domains).
#[tokio::test]
async fn domain_events_reach_webhook_endpoints_of_those_who_may_read_domains() {
    let dns = DnsServer::start().await;
    let flags = ["--dns-resolver", &dns.flag(), "--webhook-allow-http", "--webhook-allow-private"];
    let app = spawn_app_with(Options::shared(None, &flags)).await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let receiver = crate::webhooks::Receiver::start(None).await;
    let types = vec![EventType::DomainVerified, EventType::DomainRemoved];
    let hook = CreateWebhookEndpointRequest {
        url: receiver.url().into(),
        description: None,
        event_types: types.clone(),
        enabled: None,
    };
    let (_, key) = app.simple_key(&owner, &team, "full").await;
    let res = app.op(Some(&key), ops::create_webhook_endpoint(&team, &hook)).await;
    res.assert_problem(403, "forbidden");
    assert_eq!(res.field(), "event_types");
    let res = app.op(Some(&owner), ops::create_webhook_endpoint(&team, &hook)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    receiver.control(json!({"secret": res.body["secret"]})).await;

    let added = app.op(Some(&owner), ops::add_domain(&team, &AddDomainRequest { domain: "example.net".into() })).await;
    let id = added.body["id"].as_str().unwrap().to_owned();
    dns.set("_partner-portal.example.net", &[added.body["txt_value"].as_str().unwrap()]);
    assert!(app.op(Some(&owner), ops::verify_domain(&team, &id)).await.body["verified_at"].is_string());
    assert_eq!(app.op(Some(&owner), ops::remove_domain(&team, &id)).await.status, StatusCode::NO_CONTENT);
    let received = receiver.wait_for("both events", |r| r.len() >= 2).await;
    // Deliveries are not ordered (each event is tried on its own), so the two are compared as a set.
    let mut kinds: Vec<&str> = received.iter().map(|r| r["event"]["type"].as_str().unwrap()).collect();
    kinds.sort_unstable();
    assert_eq!(kinds, ["domain.removed", "domain.verified"]);
    for r in &received {
        assert_eq!(r["verified"], true, "{r}");
        assert_eq!(r["event"]["data"]["object_type"], "domain");
        assert_eq!(r["event"]["data"]["object_id"], id.as_str());
    }
}

/// A DNS server that does not answer: the lookup fails, and the answer says so.
#[tokio::test]
async fn an_unreachable_dns_server_is_named_in_the_check() {
    // A port nobody serves: nothing answers there (UDP gets no reply; ICMP refusals end it sooner).
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent = socket.local_addr().unwrap().to_string();
    let app = spawn_app_with(Options::shared(None, &["--dns-resolver", &silent])).await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let added = app.op(Some(&owner), ops::add_domain(&team, &AddDomainRequest { domain: "example.org".into() })).await;
    let id = added.body["id"].as_str().unwrap().to_owned();
    let res = app.op(Some(&owner), ops::verify_domain(&team, &id)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let why = res.body["check_error"].as_str().unwrap();
    assert!(why.starts_with("The lookup of _partner-portal.example.org failed"), "{why}");
    drop(socket);
}

/// Verified domains are looked up again: one whose record is gone past the grace period is no
/// longer verified (owners mailed, activity and another team may verify it); one whose record
/// stays is confirmed again.
#[tokio::test]
async fn a_verified_domain_whose_record_is_gone_lapses_after_the_grace_period() {
    let dns = DnsServer::start().await;
    let flags = ["--dns-resolver", &dns.flag(), "--domain-recheck-seconds", "1", "--domain-grace-seconds", "2"];
    let app = spawn_app_with(Options::shared(None, &flags)).await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let mut ids = Vec::new();
    for name in ["kept.example", "gone.example"] {
        let added = app.op(Some(&owner), ops::add_domain(&team, &AddDomainRequest { domain: name.into() })).await;
        let id = added.body["id"].as_str().unwrap().to_owned();
        dns.set(&format!("_partner-portal.{name}"), &[added.body["txt_value"].as_str().unwrap()]);
        assert!(app.op(Some(&owner), ops::verify_domain(&team, &id)).await.body["verified_at"].is_string());
        ids.push(id);
    }
    dns.set("_partner-portal.gone.example", &[]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let listed = loop {
        let listed = app.op(Some(&owner), ops::list_domains(&team)).await.body;
        let gone = listed["items"].as_array().unwrap().iter().find(|d| d["domain"] == "gone.example").unwrap();
        if gone.get("verified_at").is_none() {
            break listed;
        }
        assert!(std::time::Instant::now() < deadline, "gone.example still verified: {listed}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    let kept = listed["items"].as_array().unwrap().iter().find(|d| d["domain"] == "kept.example").unwrap();
    assert!(kept["verified_at"].is_string(), "{listed}");
    assert!(kept["checked_at"].as_str().unwrap() > kept["verified_at"].as_str().unwrap(), "looked up again: {kept}");
    let gone = listed["items"].as_array().unwrap().iter().find(|d| d["domain"] == "gone.example").unwrap();
    assert!(gone["check_error"].as_str().unwrap().contains("No TXT record"), "{gone}");

    let mail = app.wait_for_mail("owner@example.com", "gone.example is no longer verified").await;
    assert!(mail.decoded.contains("_partner-portal.gone.example"), "{}", mail.decoded);
    let activity = app.op(Some(&owner), ops::list_activity(&team, &Page::default(), &ActivityFilter::default())).await;
    let actions: Vec<&str> =
        activity.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"domain.lapsed") && actions.contains(&"domain.check_failed"), "{actions:?}");

    // Another team may verify it now.
    let (other_owner, _) = app.signed_in("other@example.net").await;
    let other = app.create_team(&other_owner, "Other").await;
    let added =
        app.op(Some(&other_owner), ops::add_domain(&other, &AddDomainRequest { domain: "gone.example".into() })).await;
    dns.set("_partner-portal.gone.example", &[added.body["txt_value"].as_str().unwrap()]);
    let theirs = added.body["id"].as_str().unwrap().to_owned();
    let res = app.op(Some(&other_owner), ops::verify_domain(&other, &theirs)).await;
    assert!(res.body["verified_at"].is_string(), "{}", res.body);
}

/// A verified domain whose rule lets its people join: the team is offered to a verified account
/// at the domain, who joins as a member; invitations only offers nothing; nobody else joins.
#[tokio::test]
async fn people_at_a_verified_domain_join_when_its_rule_lets_them() {
    let dns = DnsServer::start().await;
    let app = spawn_app_with(Options::shared(None, &["--dns-resolver", &dns.flag()])).await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let added = app.op(Some(&owner), ops::add_domain(&team, &AddDomainRequest { domain: "acme.example".into() })).await;
    let domain = added.body["id"].as_str().unwrap().to_owned();
    dns.set("_partner-portal.acme.example", &[added.body["txt_value"].as_str().unwrap()]);
    assert!(app.op(Some(&owner), ops::verify_domain(&team, &domain)).await.body["verified_at"].is_string());
    let (ada, _) = app.signed_in("ada@acme.example").await;

    // Invitations only (the default): nothing offered, nothing joined.
    assert_eq!(app.op(Some(&ada), ops::list_joinable_teams()).await.body["items"], json!([]));
    app.op(Some(&ada), ops::join_team(&team)).await.assert_problem(404, "not_found");

    let suggest = UpdateDomainRequest { join_rule: DomainJoinRule::Suggest };
    assert_eq!(app.op(Some(&owner), ops::update_domain(&team, &domain, &suggest)).await.status, StatusCode::OK);
    let offered = app.op(Some(&ada), ops::list_joinable_teams()).await.body;
    assert_eq!(offered["items"][0]["team_id"], team.as_str(), "{offered}");
    assert_eq!(offered["items"][0]["team_name"], "Acme");
    assert_eq!(offered["items"][0]["domain"], "acme.example");
    assert_eq!(offered["items"][0]["join_rule"], "suggest");
    let joined = app.op(Some(&ada), ops::join_team(&team)).await;
    assert_eq!(joined.status, StatusCode::OK, "{}", joined.body);
    assert_eq!(joined.body["role"], "member");
    assert_eq!(app.op(Some(&ada), ops::list_joinable_teams()).await.body["items"], json!([]));
    app.op(Some(&ada), ops::join_team(&team)).await.assert_problem(409, "already_member");

    // An address elsewhere joins nothing; a key cannot join (it is no person).
    let (eve, _) = app.signed_in("eve@elsewhere.example").await;
    app.op(Some(&eve), ops::join_team(&team)).await.assert_problem(404, "not_found");
    let (_, key) = app.simple_key(&owner, &team, "full").await;
    app.op(Some(&key), ops::join_team(&team)).await.assert_problem(403, "api_key_not_allowed");
    let activity = app.op(Some(&owner), ops::list_activity(&team, &Page::default(), &ActivityFilter::default())).await;
    assert!(activity.body.to_string().contains("ada@acme.example as member (verified domain acme.example)"));
}
