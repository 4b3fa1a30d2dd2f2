//! Leaked-key reports (signed as GitHub signs them, or with the service token), keys reported
//! compromised, and the notices about keys: expiry warnings and usage alerts, once each.

use base64::Engine;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::{EncodePublicKey, LineEnding};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::Digest;

use crate::helpers::*;

const SERVICE_TOKEN: &str = "service-token-service-token-service-token";

fn github_key(seed: u8) -> SigningKey {
    SigningKey::from_bytes(&[seed; 32].into()).unwrap()
}

/// GitHub's public key document with the key of `seed` as `gh-1`.
fn key_document(seed: u8) -> String {
    let pem = github_key(seed).verifying_key().to_public_key_pem(LineEnding::LF).unwrap();
    json!({"public_keys": [{"key_identifier": "gh-1", "key": pem, "is_current": true}]}).to_string()
}

fn signature(seed: u8, body: &[u8]) -> String {
    let signature: Signature = github_key(seed).sign(body);
    base64::engine::general_purpose::STANDARD.encode(signature.to_der().as_bytes())
}

async fn report(app: &TestApp, body: &[u8], signed_with: Option<(u8, &[u8])>) -> Response {
    let mut req = app.client.post(app.url("/api/v1/keys/leaks")).header("content-type", "application/json");
    if let Some((seed, signed_body)) = signed_with {
        req = req
            .header("Github-Public-Key-Identifier", "gh-1")
            .header("Github-Public-Key-Signature", signature(seed, signed_body));
    }
    app.send(req.body(body.to_vec())).await
}

fn sha256_hex(s: &str) -> String {
    sha2::Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test]
async fn signed_leak_reports_revoke_record_mail_and_mark_the_key() {
    let keys = key_document(7);
    let app = spawn_app_with(Options::shared(
        None,
        &["--secret-scanning-public-keys", &keys, "--service-token", SERVICE_TOKEN],
    ))
    .await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    app.join(&owner, &team, "admin@example.com", "admin").await;
    app.join(&owner, &team, "member@example.com", "member").await;
    let (leaked_id, leaked) = app.simple_key(&owner, &team, "CI deploy").await;
    let (other_id, other) = app.simple_key(&owner, &team, "backend").await;
    let team_path = format!("/api/v1/teams/{team}");
    assert_eq!(app.get_as(&leaked, &team_path).await.status, StatusCode::OK);

    let unknown = portal_domain::keys::generate(portal_types::Environment::Production);
    let body = json!([
        {"token": leaked, "type": "partner_portal_api_key", "url": "https://github.com/acme/app/blob/abc/.env", "source": "content"},
        {"token": unknown, "type": "partner_portal_api_key", "url": "https://github.com/acme/app/blob/abc/x", "source": "content"},
        {"token": "pp_dev_not-even-a-key", "type": "partner_portal_api_key"},
    ])
    .to_string();

    // Refused, and nothing changes: no signature, a signature of another key, a tampered body.
    report(&app, body.as_bytes(), None).await.assert_problem(401, "invalid_signature");
    report(&app, body.as_bytes(), Some((9, body.as_bytes()))).await.assert_problem(401, "invalid_signature");
    let tampered = body.replace("abc/.env", "abc/.env2");
    report(&app, tampered.as_bytes(), Some((7, body.as_bytes()))).await.assert_problem(401, "invalid_signature");
    let as_user = app.client.post(app.url("/api/v1/keys/leaks")).bearer_auth(&owner).json(&json!([]));
    app.send(as_user).await.assert_problem(401, "invalid_signature");
    assert_eq!(app.get_as(&leaked, &team_path).await.status, StatusCode::OK);

    // Signed by GitHub's key: ours is revoked at once, the others are false positives.
    let res = report(&app, body.as_bytes(), Some((7, body.as_bytes()))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(
        res.body,
        json!([
            {"token_hash": sha256_hex(&leaked), "token_type": "partner_portal_api_key", "label": "true_positive"},
            {"token_hash": sha256_hex(&unknown), "token_type": "partner_portal_api_key", "label": "false_positive"},
            {"token_hash": sha256_hex("pp_dev_not-even-a-key"), "token_type": "partner_portal_api_key", "label": "false_positive"},
        ])
    );
    app.get_as(&leaked, &team_path).await.assert_problem(401, "key_revoked");
    assert_eq!(app.get_as(&other, &team_path).await.status, StatusCode::OK);
    let key = app.get_as(&owner, &format!("{team_path}/api-keys/{leaked_id}")).await.body;
    assert_eq!(key["status"], "revoked");
    assert_eq!(key["leaked"]["url"], "https://github.com/acme/app/blob/abc/.env");
    assert_eq!(key["leaked"]["source"], "github: content");
    let activity = app.get_as(&owner, &format!("{team_path}/activity?action=api_key.leaked")).await.body;
    let entries = activity["items"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{activity}");
    assert!(entries[0]["summary"].as_str().unwrap().contains("https://github.com/acme/app/blob/abc/.env"));
    let subject = "API key \"CI deploy\" was found public and has been revoked";
    for to in ["owner@example.com", "admin@example.com"] {
        let mail = app.wait_for_mail(to, subject).await;
        assert!(mail.raw.contains(&format!("/api-keys/{leaked_id}")), "{}", mail.raw);
    }

    // Reported again (GitHub, then our own scanner): still ours, nothing changes, no new mail.
    report(&app, body.as_bytes(), Some((7, body.as_bytes()))).await;
    let again = json!([{"token": leaked, "type": "partner_portal_api_key", "url": "https://gist.github.com/x"}]);
    let verdict = app.api_as(SERVICE_TOKEN).report_leaked_keys(&serde_json::from_value::<Vec<_>>(again).unwrap()).await;
    assert_eq!(verdict.unwrap()[0].label, portal_types::LeakLabel::TruePositive);
    let key = app.get_as(&owner, &format!("{team_path}/api-keys/{leaked_id}")).await.body;
    assert_eq!(key["leaked"]["url"], "https://github.com/acme/app/blob/abc/.env");
    let activity = app.get_as(&owner, &format!("{team_path}/activity?action=api_key.leaked")).await.body;
    assert_eq!(activity["items"].as_array().unwrap().len(), 1);

    // Our own scanner reports with the service token.
    let ours = vec![portal_types::LeakedToken {
        token: other.clone(),
        kind: "pp".into(),
        url: Some("https://pastebin.example/abc".into()),
        source: None,
    }];
    let verdict = app.api_as(SERVICE_TOKEN).report_leaked_keys(&ours).await.unwrap();
    assert_eq!(verdict[0].label, portal_types::LeakLabel::TruePositive);
    app.get_as(&other, &team_path).await.assert_problem(401, "key_revoked");
    let key = app.get_as(&owner, &format!("{team_path}/api-keys/{other_id}")).await.body;
    assert_eq!(key["leaked"]["source"], "service");
    // The mails are queued in the transaction that revoked the key: count the outbox.
    let db = portal_db::connect(&app.database_url).await.unwrap();
    let mut leak_mails: Vec<(String, String)> = portal_db::mail::all(&db)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.subject.contains("was found public"))
        .map(|m| (m.subject, m.recipient))
        .collect();
    leak_mails.sort();
    let expected = |key: &str| format!("API key \"{key}\" was found public and has been revoked");
    assert_eq!(
        leak_mails,
        vec![
            (expected("CI deploy"), "admin@example.com".to_owned()),
            (expected("CI deploy"), "owner@example.com".to_owned()),
            (expected("backend"), "admin@example.com".to_owned()),
            (expected("backend"), "owner@example.com".to_owned()),
        ],
        "two keys, two managers each; the member gets none"
    );

    // A body that is no array of reports.
    let bad = br#"{"token": "x"}"#;
    report(&app, bad, Some((7, bad))).await.assert_problem(422, "validation_failed");
}

#[tokio::test]
async fn reporting_a_key_compromised_revokes_it_and_offers_a_replacement() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let member = app.join(&owner, &team, "member@example.com", "member").await;
    let body = json!({
        "name": "prod", "environment": "production", "expiration": "30d", "usage_limit": 50,
        "scopes": ["team:read", "usage:read"], "allowed_ips": ["127.0.0.1", "::1"], "alert_thresholds": [50]
    });
    let (id, secret) = app.create_key(&owner, &team, body).await;
    let compromised = |id: &str, replacement: Option<&str>| {
        let body = ReportCompromisedRequest { replacement_name: replacement.map(Into::into) };
        ops::report_compromised_api_key(&team, id, &body)
    };
    app.op(Some(&member), compromised(&id, None)).await.assert_problem(403, "forbidden");
    let res = app.op(Some(&owner), compromised(&id, Some("prod 2"))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["key"]["status"], "revoked");
    let new = &res.body["replacement"];
    assert_eq!(new["key"]["name"], "prod 2");
    for field in ["scopes", "allowed_ips", "alert_thresholds", "usage_limit", "environment"] {
        assert_eq!(new["key"][field], res.body["key"][field], "{field}");
    }
    app.get_as(&secret, &format!("/api/v1/teams/{team}")).await.assert_problem(401, "key_revoked");
    // The key says it was compromised, and which key took over from it.
    let old = app.op(Some(&owner), ops::get_api_key(&team, &id)).await.body;
    assert!(old["compromised_at"].is_string(), "{old}");
    assert_eq!(old["replaced_by"], new["key"]["id"], "{old}");
    assert!(new["key"].get("compromised_at").is_none());
    let replacement = new["secret"].as_str().unwrap();
    assert_eq!(app.get_as(replacement, &format!("/api/v1/teams/{team}")).await.status, StatusCode::OK);
    let activity = app.get_as(&owner, &format!("/api/v1/teams/{team}/activity?action=api_key.compromised")).await;
    assert_eq!(activity.body["items"].as_array().unwrap().len(), 1, "{}", activity.body);
    // Without a name: revoked, no replacement. Bad names change nothing.
    let (id2, _) = app.simple_key(&owner, &team, "other").await;
    let res = app.op(Some(&owner), compromised(&id2, Some("  "))).await;
    assert_eq!((res.status.as_u16(), res.body["field"].as_str()), (422, Some("replacement_name")));
    let res = app.op(Some(&owner), compromised(&id2, None)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.get("replacement").is_none() && res.body["key"]["status"] == "revoked");
    assert!(res.body["key"]["compromised_at"].is_string() && res.body["key"].get("replaced_by").is_none());
    // Reported again: the first report's time and replacement stay.
    let again = app.op(Some(&owner), compromised(&id, Some("prod 3"))).await;
    assert_eq!(again.body["key"]["compromised_at"], old["compromised_at"]);
    assert_eq!(again.body["key"]["replaced_by"], new["key"]["id"]);
}

/// Moves a key's expiry and creation, as stored by the portal.
async fn set_key_times(
    db: &sea_orm::DatabaseConnection,
    id: &str,
    expires: chrono::DateTime<chrono::Utc>,
    created: chrono::DateTime<chrono::Utc>,
) {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
    let update = Query::update()
        .table(Alias::new("api_keys"))
        .value(Alias::new("expires_at"), expires)
        .value(Alias::new("created_at"), created)
        .and_where(Expr::col(Alias::new("id")).eq(id.parse::<uuid::Uuid>().unwrap()))
        .to_owned();
    let done = sea_orm::ConnectionTrait::execute(db, &update).await.unwrap();
    assert_eq!(done.rows_affected(), 1);
}

fn count(mails: &[portal_db::mail::QueuedMail], subject: &str) -> usize {
    mails.iter().filter(|m| m.subject == subject).count()
}

/// Expiry warnings (7 days and 1 day ahead) and usage alerts (per month and threshold) are
/// queued once each, even when several instances look at the same moment.
#[tokio::test]
async fn key_notices_are_sent_once_whatever_the_number_of_instances() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    app.join(&owner, &team, "admin@example.com", "admin").await;
    let key = |name: &str, limit: Option<u64>| json!({"name": name, "environment": "development", "expiration": "30d", "usage_limit": limit});
    let (week_id, _) = app.create_key(&owner, &team, key("week", None)).await;
    let (day_id, _) = app.create_key(&owner, &team, key("day", None)).await;
    let (_, busy) = app.create_key(&owner, &team, key("busy", Some(5))).await;
    let db = portal_db::connect(&app.database_url).await.unwrap();
    let now = chrono::Utc::now();
    for (id, expires) in [(&week_id, now + chrono::Duration::days(6)), (&day_id, now + chrono::Duration::hours(20))] {
        set_key_times(&db, id, expires, now - chrono::Duration::days(20)).await;
    }
    for _ in 0..4 {
        assert_eq!(app.get_as(&busy, &format!("/api/v1/teams/{team}")).await.status, StatusCode::OK);
    }
    // Written to the database: a CSV export writes what the instance buffered first.
    let res = app.get_as(&owner, &format!("/api/v1/teams/{team}/usage?format=csv")).await;
    assert_eq!(res.status, StatusCode::OK);

    // Eight "instances" look at once, three times over.
    let url = app.base.clone();
    let mut sent = 0;
    for _ in 0..3 {
        let looks = (0..8).map(|_| {
            let (db, url) = (db.clone(), url.clone());
            tokio::spawn(async move { portal_server::notices::send_due(&db, &url, chrono::Utc::now()).await })
        });
        for look in futures_util::future::join_all(looks).await {
            sent += look.unwrap().unwrap();
        }
    }
    assert_eq!(sent, 3, "the week warning, the day warning, the 80% alert: each once");
    let mails = portal_db::mail::all(&db).await.unwrap();
    assert_eq!(count(&mails, "API key \"week\" expires in 6 days"), 2, "owner and admin");
    assert_eq!(count(&mails, "API key \"day\" expires within a day"), 2);
    assert_eq!(count(&mails, "API key \"busy\" has used 80% of its monthly limit"), 2);
    assert_eq!(count(&mails, "API key \"busy\" has used 100% of its monthly limit"), 0);

    // The fifth request reaches 100%: one more alert, once.
    app.get_as(&busy, &format!("/api/v1/teams/{team}")).await;
    app.get_as(&owner, &format!("/api/v1/teams/{team}/usage?format=csv")).await;
    let looks = (0..8).map(|_| {
        let (db, url) = (db.clone(), url.clone());
        tokio::spawn(async move { portal_server::notices::send_due(&db, &url, chrono::Utc::now()).await })
    });
    let sent: u32 = futures_util::future::join_all(looks).await.into_iter().map(|r| r.unwrap().unwrap()).sum();
    assert_eq!(sent, 1);
    let mails = portal_db::mail::all(&db).await.unwrap();
    assert_eq!(count(&mails, "API key \"busy\" has used 100% of its monthly limit"), 2);
    assert_eq!(mails.iter().filter(|m| m.subject.starts_with("API key")).count(), 8);

    // The key list marks what expires within 7 days, and what is unused.
    let list = app.get_as(&owner, &format!("/api/v1/teams/{team}/api-keys")).await.body;
    let flags = |name: &str| -> (Value, Value) {
        let key = list["items"].as_array().unwrap().iter().find(|k| k["name"] == name).unwrap();
        (key["expiring_soon"].clone(), key["unused"].clone())
    };
    assert_eq!(flags("week"), (json!(true), json!(true)));
    assert_eq!(flags("busy"), (json!(false), json!(false)));
}

/// The background task sends notices by itself: a portal looking every 100 ms mails an
/// expiry warning without anyone asking.
#[tokio::test]
async fn the_portal_sends_due_notices_on_its_own() {
    let app = spawn_app_with(Options::shared(None, &["--notice-interval-ms", "100"])).await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let (id, _) =
        app.create_key(&owner, &team, json!({"name": "soon", "environment": "development", "expiration": "30d"})).await;
    let db = portal_db::connect(&app.database_url).await.unwrap();
    let now = chrono::Utc::now();
    set_key_times(&db, &id, now + chrono::Duration::hours(3), now - chrono::Duration::days(20)).await;
    let mail = app.wait_for_mail("owner@example.com", "API key \"soon\" expires within a day").await;
    assert!(mail.raw.contains(&format!("/api-keys/{id}")));
}
