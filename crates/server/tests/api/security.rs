//! Fixes of the security review: each test failed before its fix.

use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

fn mode_of(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).permissions().mode() & 0o777
}

#[tokio::test]
async fn delivered_mails_keep_no_links_and_every_file_is_private() {
    let app = spawn_app().await;
    app.verified_user("ada@example.com").await;
    // The outbox of a delivered mail keeps who, what and when, not the body with its live link.
    let db = portal_db::connect(&app.database_url).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mails = loop {
        let mails = portal_db::mail::all(&db).await.unwrap();
        if !mails.is_empty() && mails.iter().all(|m| m.sent_at.is_some()) {
            break mails;
        }
        assert!(Instant::now() < deadline, "mails not marked delivered: {mails:?}");
        tokio::task::yield_now().await;
    };
    for mail in &mails {
        assert_eq!(mail.recipient, "ada@example.com");
        assert!(!mail.subject.is_empty());
        assert!(mail.text_body.is_empty() && mail.html_body.is_empty(), "{mail:?}");
    }

    assert_eq!(mode_of(&app.data_dir), 0o700, "data folder");
    assert_eq!(mode_of(&app.mail_dir()), 0o700, "mail folder");
    let files: Vec<_> = std::fs::read_dir(app.mail_dir()).unwrap().map(|e| e.unwrap().path()).collect();
    assert!(!files.is_empty());
    for file in files {
        assert_eq!(mode_of(&file), 0o600, "{}", file.display());
    }
    if backend() == "sqlite" {
        let path = app.database_url.trim_start_matches("sqlite://").split('?').next().unwrap().to_owned();
        assert_eq!(mode_of(Path::new(&path)), 0o600, "database");
        assert_eq!(mode_of(Path::new(&format!("{path}-wal"))), 0o600, "write-ahead log");
    }
}

#[tokio::test]
async fn an_existing_database_file_is_narrowed_to_its_owner() {
    if backend() != "sqlite" {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    std::fs::write(&path, b"").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let db = portal_db::connect(&format!("sqlite://{}?mode=rwc", path.display())).await.unwrap();
    portal_db::migrate(&db).await.unwrap();
    assert_eq!(mode_of(&path), 0o600);
}

#[tokio::test]
async fn request_logs_never_hold_the_tokens_of_mailed_links() {
    captured_logs();
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let token = app.invite(&owner, &team, "guest@example.com", "member").await;
    let res = app.op(None, ops::preview_invitation(&token)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let logs = captured_logs();
    assert!(logs.contains("/api/v1/invitations/[redacted]"), "the request was not logged:\n{logs}");
    assert!(!logs.contains(&token), "a token reached the log");
}

#[tokio::test]
async fn names_with_hidden_or_reordering_characters_are_refused() {
    let app = spawn_app().await;
    for name in ["Ada\u{202e}ecalevol", "Ad\u{200b}a", "\u{2066}Ada\u{2069}", "Ada\u{feff}"] {
        let res = app.signup("spoof@example.com", name, PASSWORD).await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(res.field(), "name");
    }
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let spoofs = [
        (Method::POST, "/api/v1/teams".to_owned(), json!({"name": "Payments\u{202e}nimda"})),
        (Method::PATCH, format!("/api/v1/teams/{team}"), json!({"name": "Acme\u{200d}"})),
        (Method::PATCH, "/api/v1/me".to_owned(), json!({"name": "Ada\u{200f}"})),
        (
            Method::POST,
            format!("/api/v1/teams/{team}/api-keys"),
            json!({"name": "prod\u{2067}key", "environment": "production", "expiration": "never"}),
        ),
    ];
    for (method, path, body) in spoofs {
        let res = app.call(method.clone(), Some(&owner), &path, Some(body)).await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(res.field(), "name", "{method} {path}");
    }
    // Nothing changed.
    let teams = app.get_as(&owner, "/api/v1/teams").await;
    assert_eq!(teams.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(teams.body["items"][0]["name"], "Acme");
    assert_eq!(app.get_as(&owner, "/api/v1/me").await.body["name"], "Ada Lovelace");
    let keys = app.get_as(&owner, &format!("/api/v1/teams/{team}/api-keys")).await;
    assert_eq!(keys.body["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn activity_shows_this_teams_sign_ins_since_joining_and_addresses_to_people_only() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    // Bob signs in twice before he joins: none of that is the team's business.
    let (bob_before, _) = app.signed_in("bob@example.com").await;
    let token = app.invite(&owner, &team, "bob@example.com", "admin").await;
    let accepted = app
        .op(Some(&bob_before), ops::accept_invitation(&AcceptInvitationRequest { token: token.to_string().into() }))
        .await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    let bob = app.login_with(&new_client(), "bob@example.com", PASSWORD).await;
    assert_eq!(bob.status, StatusCode::OK);
    let bob = bob.body["access_token"].as_str().unwrap().to_owned();

    let bob_id = app.get_as(&bob, "/api/v1/me").await.body["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/teams/{team}/activity?actor={bob_id}&action=auth.signed_in");
    let seen = app.get_as(&owner, &path).await;
    assert_eq!(seen.status, StatusCode::OK, "{}", seen.body);
    let sign_ins = seen.body["items"].as_array().unwrap();
    assert_eq!(sign_ins.len(), 1, "only the sign-in after joining: {}", seen.body);
    assert!(sign_ins[0]["ip"].is_string(), "owners see addresses: {}", seen.body);
    assert!(app.get_as(&bob, &path).await.body["items"][0]["ip"].is_string(), "so do admins");

    // A key reads the activity, never the addresses or user agents in it.
    let (_, secret) = app.simple_key(&owner, &team, "reader").await;
    let by_key = app.get_as(&secret, &format!("/api/v1/teams/{team}/activity")).await;
    assert_eq!(by_key.status, StatusCode::OK, "{}", by_key.body);
    let items = by_key.body["items"].as_array().unwrap();
    assert!(!items.is_empty());
    for item in items {
        assert!(item.get("ip").is_none() && item.get("user_agent").is_none(), "{item}");
    }
}

#[tokio::test]
async fn sign_in_is_throttled_per_account_whatever_the_address() {
    let app = spawn_app_with(Options::shared(None, &["--signin-failures-per-account", "3"])).await;
    app.verified_user("ada@example.com").await;
    app.verified_user("bob@example.com").await;
    for _ in 0..3 {
        app.login_with(&new_client(), "ada@example.com", "wrong password!")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    // Now even the right password waits: the guesser cannot tell.
    let res = app.login_with(&new_client(), "ada@example.com", PASSWORD).await;
    res.assert_problem(429, "rate_limited");
    let retry: u64 = res.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 15 * 60, "{retry}");
    // Other accounts are not affected.
    assert_eq!(app.login_with(&new_client(), "bob@example.com", PASSWORD).await.status, StatusCode::OK);

    // A stolen access token does not open another way to guess: wrong current passwords count.
    let bob = app.login_with(&new_client(), "bob@example.com", PASSWORD).await;
    let bob = bob.body["access_token"].as_str().unwrap().to_owned();
    let change = |current: &str| {
        ops::change_password(&ChangePasswordRequest {
            current_password: current.into(),
            new_password: "a brand new password".into(),
        })
    };
    for _ in 0..3 {
        let res = app.op(Some(&bob), change("guess guess")).await;
        res.assert_problem(422, "wrong_password");
    }
    let res = app.op(Some(&bob), change(PASSWORD)).await;
    res.assert_problem(429, "rate_limited");
    app.login_with(&new_client(), "bob@example.com", PASSWORD).await.assert_problem(429, "rate_limited");
}

#[tokio::test]
async fn password_changes_are_rate_limited_per_user() {
    let mut options = Options::shared(None, &[]);
    options.flags = vec!["--auth-rate-limit".into(), "3".into()];
    let app = spawn_app_with(options).await;
    let (token, _) = app.signed_in("ada@example.com").await;
    let body = ChangePasswordRequest { current_password: PASSWORD.into(), new_password: "short".into() };
    for _ in 0..3 {
        let res = app.op(Some(&token), ops::change_password(&body)).await;
        res.assert_problem(422, "validation_failed");
    }
    let res = app.op(Some(&token), ops::change_password(&body)).await;
    res.assert_problem(429, "rate_limited");
}

/// A refresh racing a sign-out must not leave a live session behind: whichever commits first,
/// the token the refresh handed out is dead once both are done.
#[tokio::test]
async fn a_refresh_racing_a_sign_out_never_leaves_a_live_session() {
    let app = spawn_app().await;
    app.verified_user("ada@example.com").await;
    let plain = reqwest::Client::new();
    let with_cookie = |path: &str, cookie: &str| {
        plain.post(app.url(path)).header(reqwest::header::COOKIE, format!("pp_refresh={cookie}"))
    };
    let mut raced = 0;
    for round in 0..40 {
        let login = app.login_with(&new_client(), "ada@example.com", PASSWORD).await;
        let cookie = refresh_cookie_of(&login).expect("sign-in sets the refresh cookie");
        let (refreshed, logged_out) = tokio::join!(
            app.send(with_cookie("/api/v1/auth/refresh", &cookie)),
            app.send(with_cookie("/api/v1/auth/logout", &cookie)),
        );
        assert_eq!(logged_out.status, StatusCode::NO_CONTENT);
        if refreshed.status != StatusCode::OK {
            refreshed.assert_problem(401, "invalid_refresh_token");
            continue;
        }
        raced += 1;
        let new = refresh_cookie_of(&refreshed).expect("a refresh rotates the cookie");
        let again = app.send(with_cookie("/api/v1/auth/refresh", &new)).await;
        assert_eq!(again.status, StatusCode::UNAUTHORIZED, "round {round}: the session outlived its sign-out");
    }
    assert!(raced > 0, "no refresh won the race: the test proved nothing");
}

#[tokio::test]
async fn the_upgrade_drops_the_bodies_of_mails_already_delivered() {
    use portal_migrations::{Migrator, MigratorTrait};

    let (_guard, url) = empty_database().await;
    let db = portal_db::connect(&url).await.unwrap();
    Migrator::up(&db, Some(4)).await.unwrap();
    let now = chrono::Utc::now();
    let mail = |to: &str| portal_db::mail::NewMail {
        recipient: to.to_owned(),
        subject: "Reset your password".to_owned(),
        text_body: "http://portal/reset-password?token=secret".to_owned(),
        html_body: "<a href=\"http://portal/reset-password?token=secret\">Reset</a>".to_owned(),
    };
    let sent = portal_db::mail::enqueue(&db, mail("sent@example.com"), now).await.unwrap();
    portal_db::mail::enqueue(&db, mail("queued@example.com"), now).await.unwrap();
    // As the old worker marked a delivery: the bodies stayed.
    use sea_orm::{ConnectionTrait, Statement};
    let backend = db.get_database_backend();
    let sql = if backend == sea_orm::DbBackend::Postgres {
        "UPDATE mail_outbox SET sent_at = $1 WHERE id = $2"
    } else {
        "UPDATE mail_outbox SET sent_at = ? WHERE id = ?"
    };
    db.execute_raw(Statement::from_sql_and_values(backend, sql, [now.into(), sent.into()])).await.unwrap();

    portal_db::migrate(&db).await.unwrap();
    for m in portal_db::mail::all(&db).await.unwrap() {
        if m.recipient == "sent@example.com" {
            assert!(m.text_body.is_empty() && m.html_body.is_empty(), "{m:?}");
        } else {
            assert!(m.text_body.contains("token="), "a mail still to send keeps its body");
        }
    }
}

/// A failed sign-in that a proxy forwarded for `forwarded`.
async fn login(app: &TestApp, email: &str, forwarded: &str) -> Response {
    let body = json!({"email": email, "password": "not the password"});
    app.send(app.client.post(app.url("/api/v1/auth/login")).header("x-forwarded-for", forwarded).json(&body)).await
}

/// Behind a trusted proxy the client's address comes from `X-Forwarded-For` (the right-most entry
/// that is no trusted proxy); from anyone else the header is ignored.
#[tokio::test]
async fn only_a_trusted_proxy_names_the_client() {
    let limited = |trusted: &[&str]| {
        let mut options = Options::shared(None, trusted);
        options.flags.retain(|f| f != "--auth-rate-limit" && f != "10000");
        options.flags.extend(["--auth-rate-limit".to_owned(), "2".to_owned()]);
        options
    };

    // No trusted proxy: every request is the peer's, whatever the header says.
    let app = spawn_app_with(limited(&[])).await;
    login(&app, "a@example.com", "203.0.113.1").await.assert_problem(401, "invalid_credentials");
    login(&app, "b@example.com", "203.0.113.2").await.assert_problem(401, "invalid_credentials");
    login(&app, "c@example.com", "203.0.113.3").await.assert_problem(429, "rate_limited");

    // Behind a trusted proxy: each client has its own budget, and the addresses are audited.
    let app = spawn_app_with(limited(&["--trusted-proxies", "127.0.0.1/32"])).await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let body = json!({"email": "owner@example.com", "password": PASSWORD});
    let req = app.client.post(app.url("/api/v1/auth/login")).header("x-forwarded-for", "198.51.100.77").json(&body);
    assert_eq!(app.send(req).await.status, StatusCode::OK);
    let path = format!("/api/v1/teams/{team}/activity?action=auth.signed_in");
    let seen = app.get_as(&owner, &path).await;
    assert_eq!(seen.body["items"][0]["ip"], "198.51.100.77", "{}", seen.body);

    login(&app, "a@example.com", "203.0.113.1").await.assert_problem(401, "invalid_credentials");
    login(&app, "b@example.com", "203.0.113.1").await.assert_problem(401, "invalid_credentials");
    login(&app, "c@example.com", "203.0.113.1").await.assert_problem(429, "rate_limited");
    // Writing another address in front does not escape: the proxy's own entry is the right-most.
    login(&app, "c@example.com", "192.0.2.99, 203.0.113.1").await.assert_problem(429, "rate_limited");
    // Another client behind the same proxy is not lumped in.
    login(&app, "c@example.com", "203.0.113.2").await.assert_problem(401, "invalid_credentials");
}

/// A key in its roll grace period (replaced, perhaps because it leaked) keeps working for what it
/// did, but may not mint, roll, change or revoke keys, nor invite anyone.
#[tokio::test]
async fn a_key_in_its_roll_grace_period_cannot_grow_anyones_access() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let (id, old) = app.simple_key(&owner, &team, "leaked").await;
    let (other_id, _) = app.simple_key(&owner, &team, "other").await;
    let keys = format!("/api/v1/teams/{team}/api-keys");
    let grace = RollApiKeyRequest { grace_period_seconds: 3600 };
    let rolled = app.op(Some(&owner), ops::roll_api_key(&team, &id, &grace)).await;
    assert_eq!(rolled.status, StatusCode::CREATED, "{}", rolled.body);
    let new_id = rolled.body["key"]["id"].as_str().unwrap().to_owned();

    // Reads go on working during the grace period.
    assert_eq!(app.get_as(&old, &format!("/api/v1/teams/{team}/members")).await.status, StatusCode::OK);
    let seen = app.get_as(&old, &format!("/api/v1/teams/{team}")).await;
    assert_eq!(seen.body["permissions"]["manage_api_keys"], false, "{}", seen.body);
    assert_eq!(seen.body["permissions"]["invite_roles"], json!([]), "{}", seen.body);

    let attempts = [
        (
            Method::POST,
            keys.clone(),
            Some(json!({"name": "minted", "environment": "production", "expiration": "never"})),
        ),
        (Method::POST, format!("{keys}/{id}/roll"), Some(json!({"grace_period_seconds": 0}))),
        (Method::POST, format!("{keys}/{new_id}/revoke"), None),
        (Method::POST, format!("{keys}/{other_id}/revoke"), None),
        (Method::PATCH, format!("{keys}/{other_id}"), Some(json!({"usage_limit": null, "name": "renamed"}))),
        (
            Method::POST,
            format!("/api/v1/teams/{team}/invitations"),
            Some(json!({"email": "outsider@example.com", "role": "admin"})),
        ),
    ];
    for (method, path, body) in attempts {
        let res = app.call(method.clone(), Some(&old), &path, body).await;
        res.assert_problem(403, "forbidden");
        assert!(res.body["detail"].as_str().unwrap().contains("grace period"), "{method} {path}: {}", res.body);
    }
    // Nothing was created, revoked or sent.
    let listed = app.get_as(&owner, &keys).await;
    let names: Vec<&str> =
        listed.body["items"].as_array().unwrap().iter().map(|k| k["name"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 3, "{names:?}");
    assert!(!names.contains(&"minted"));
    assert_eq!(app.get_as(&owner, &format!("{keys}/{new_id}")).await.body["status"], "active");
    assert_eq!(app.get_as(&owner, &format!("{keys}/{other_id}")).await.body["status"], "active");
    assert!(!app.mails().iter().any(|m| is_invitation_to(m, "outsider@example.com")));
}
