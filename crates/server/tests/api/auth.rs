use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn signup_verify_sign_in_and_read_the_account() {
    let app = spawn_app().await;
    // White space around an address is refused (`format: email`); case is not significant.
    app.signup(" ada@example.com", "Ada Lovelace", PASSWORD).await.assert_problem(422, "validation_failed");
    let res = app.signup("Ada@Example.com", "Ada Lovelace", PASSWORD).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);

    // Before the address is verified, sign-in is refused (after the password was checked).
    app.login_with(&new_client(), "ada@example.com", PASSWORD).await.assert_problem(403, "email_not_verified");

    let mail = app.wait_for_mail("ada@example.com", "Verify your e-mail address").await;
    assert!(mail.raw.contains("text/plain") && mail.raw.contains("text/html"), "both parts: {}", mail.raw);
    let link = mail.link("/verify-email?token=");
    assert!(link.starts_with("http://127.0.0.1:9/verify-email?token="), "{link}");
    let token = mail.token("/verify-email?token=");
    let res = app.post(&app.client, "/api/v1/auth/verify-email", json!({"token": token})).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    // The link works once.
    app.post(&app.client, "/api/v1/auth/verify-email", json!({"token": token}))
        .await
        .assert_problem(400, "invalid_token");

    let client = new_client();
    let res = app.login_with(&client, "ADA@example.com", PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["token_type"], "Bearer");
    assert_eq!(res.body["expires_in"], 900);
    let cookie = res.headers.get("set-cookie").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
    assert!(cookie.starts_with("pp_refresh="), "{cookie}");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/api/v1/auth"] {
        assert!(cookie.contains(attr), "{attr} missing in {cookie}");
    }
    let token = res.body["access_token"].as_str().unwrap();

    let me = app.get_as(token, "/api/v1/me").await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["email"], "ada@example.com");
    assert_eq!(me.body["name"], "Ada Lovelace");
    assert_eq!(me.body["email_verified"], true);

    let res =
        app.send(app.client.patch(app.url("/api/v1/me")).bearer_auth(token).json(&json!({"name": " Ada King "}))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(app.get_as(token, "/api/v1/me").await.body["name"], "Ada King");
    let res = app.send(app.client.patch(app.url("/api/v1/me")).bearer_auth(token).json(&json!({"name": ""}))).await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.field(), "name");
    assert_eq!(app.get_as(token, "/api/v1/me").await.body["name"], "Ada King", "a rejected change changes nothing");
}

#[tokio::test]
async fn me_requires_a_valid_access_token() {
    let app = spawn_app().await;
    let res = app.send(app.client.get(app.url("/api/v1/me"))).await;
    res.assert_problem(401, "unauthorized");
    assert_eq!(res.headers.get("www-authenticate").unwrap(), "Bearer");
    app.get_as("not-a-jwt", "/api/v1/me").await.assert_problem(401, "unauthorized");
}

#[tokio::test]
async fn signup_with_a_taken_address_reveals_nothing_and_tells_the_owner() {
    let app = spawn_app().await;
    app.verified_user("grace@example.com").await;
    let first = app.signup("other@example.com", "Other", PASSWORD).await;
    let again = app.signup("grace@example.com", "Mallory", "another password!").await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    assert_eq!(again.body, first.body, "same answer for new and taken addresses");
    app.wait_for_mail("grace@example.com", "You already have an account").await;
    // The account is unchanged: the original password still works, the new one does not.
    assert_eq!(app.login_with(&new_client(), "grace@example.com", PASSWORD).await.status, StatusCode::OK);
    app.login_with(&new_client(), "grace@example.com", "another password!")
        .await
        .assert_problem(401, "invalid_credentials");
}

#[tokio::test]
async fn sign_in_does_not_reveal_whether_an_account_exists() {
    let app = spawn_app().await;
    app.verified_user("alan@example.com").await;
    let wrong_password = app.login_with(&new_client(), "alan@example.com", "not the password").await;
    let no_account = app.login_with(&new_client(), "nobody@example.com", "not the password").await;
    wrong_password.assert_problem(401, "invalid_credentials");
    no_account.assert_problem(401, "invalid_credentials");
    // The same answer but for the request's own id.
    let without_id = |body: &serde_json::Value| {
        let mut body = body.clone();
        body.as_object_mut().unwrap().remove("request_id");
        body
    };
    assert_eq!(without_id(&wrong_password.body), without_id(&no_account.body));
}

#[tokio::test]
async fn refresh_rotates_and_a_reused_token_ends_the_session() {
    // No grace: any second use of a rotated token is a replay.
    let mut options = Options::default();
    options.flags.extend(["--refresh-reuse-grace-seconds".to_owned(), "0".to_owned()]);
    let app = spawn_app_with(options).await;
    let (_, browser) = app.signed_in("linus@example.com").await;
    let refresh = |client: reqwest::Client| {
        let app = &app;
        async move { app.send(client.post(app.url("/api/v1/auth/refresh"))).await }
    };
    // Keep the first refresh token to replay it, as a thief would.
    let jar_cookie = |res: &Response| {
        res.headers.get("set-cookie").and_then(|v| v.to_str().ok()).unwrap().split(';').next().unwrap().to_owned()
    };
    let first = refresh(browser.clone()).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let stolen = jar_cookie(&first);
    let me = app.get_as(first.body["access_token"].as_str().unwrap(), "/api/v1/me").await;
    assert_eq!(me.status, StatusCode::OK);

    let second = refresh(browser.clone()).await;
    assert_eq!(second.status, StatusCode::OK, "the rotated cookie works");

    let thief = app.send(app.client.post(app.url("/api/v1/auth/refresh")).header("cookie", stolen)).await;
    thief.assert_problem(401, "invalid_refresh_token");
    // Reuse revoked the whole family: the legitimate browser is signed out too.
    refresh(browser).await.assert_problem(401, "invalid_refresh_token");
    // Without any cookie: the same answer.
    refresh(new_client()).await.assert_problem(401, "invalid_refresh_token");
}

/// Several tabs reloading at once refresh with the same cookie: within the grace period that is
/// not a replay, and every tab keeps the session.
#[tokio::test]
async fn tabs_refreshing_at_once_keep_the_session() {
    let app = spawn_app().await;
    let (_, browser) = app.signed_in("tabs@example.com").await;
    let cookie = app.send(browser.post(app.url("/api/v1/auth/refresh"))).await;
    let cookie = cookie.headers["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let tab = || app.send(app.client.post(app.url("/api/v1/auth/refresh")).header("cookie", cookie.clone()));
    let (a, b, c) = tokio::join!(tab(), tab(), tab());
    for res in [&a, &b, &c] {
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    }
    // The session is still alive: the browser's own newest cookie works.
    let newest = c.headers["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_owned();
    let res = app.send(app.client.post(app.url("/api/v1/auth/refresh")).header("cookie", newest)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
}

#[tokio::test]
async fn sign_out_ends_the_session() {
    let app = spawn_app().await;
    let (access, browser) = app.signed_in("ken@example.com").await;
    assert_eq!(app.get_as(&access, "/api/v1/me").await.status, StatusCode::OK);
    let res = app.send(browser.post(app.url("/api/v1/auth/logout"))).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    app.send(browser.post(app.url("/api/v1/auth/refresh"))).await.assert_problem(401, "invalid_refresh_token");
    // The access token dies with its session, not 15 minutes later.
    let refused = app.get_as(&access, "/api/v1/me").await;
    refused.assert_problem(401, "unauthorized");
    assert!(refused.body["detail"].as_str().unwrap().contains("session has ended"), "{}", refused.body);
}

#[tokio::test]
async fn changing_the_password_keeps_this_session_and_ends_the_others() {
    let app = spawn_app().await;
    let (token, this_browser) = app.signed_in("barbara@example.com").await;
    let other_browser = new_client();
    let other = app.login_with(&other_browser, "barbara@example.com", PASSWORD).await;
    let other_token = other.body["access_token"].as_str().unwrap().to_owned();

    let change = |current: &str, new: &str| {
        app.client
            .post(app.url("/api/v1/me/password"))
            .bearer_auth(&token)
            .json(&json!({"current_password": current, "new_password": new}))
    };
    let res = app.send(change("wrong password", "a brand new password")).await;
    res.assert_problem(422, "wrong_password");
    assert_eq!(res.field(), "current_password");
    let res = app.send(change(PASSWORD, "short")).await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.field(), "new_password");
    assert_eq!(
        app.login_with(&new_client(), "barbara@example.com", PASSWORD).await.status,
        StatusCode::OK,
        "unchanged"
    );

    assert_eq!(app.send(change(PASSWORD, "a brand new password")).await.status, StatusCode::NO_CONTENT);
    app.login_with(&new_client(), "barbara@example.com", PASSWORD).await.assert_problem(401, "invalid_credentials");
    assert_eq!(
        app.login_with(&new_client(), "barbara@example.com", "a brand new password").await.status,
        StatusCode::OK
    );
    assert_eq!(app.send(this_browser.post(app.url("/api/v1/auth/refresh"))).await.status, StatusCode::OK);
    app.send(other_browser.post(app.url("/api/v1/auth/refresh"))).await.assert_problem(401, "invalid_refresh_token");
    assert_eq!(app.get_as(&token, "/api/v1/me").await.status, StatusCode::OK);
    app.get_as(&other_token, "/api/v1/me").await.assert_problem(401, "unauthorized");
}

#[tokio::test]
async fn forgotten_password_link_works_once_and_ends_all_sessions() {
    let app = spawn_app().await;
    let (access, browser) = app.signed_in("margaret@example.com").await;

    let unknown = app.post(&app.client, "/api/v1/auth/forgot-password", json!({"email": "nobody@example.com"})).await;
    let known = app.post(&app.client, "/api/v1/auth/forgot-password", json!({"email": "margaret@example.com"})).await;
    assert_eq!(unknown.status, StatusCode::ACCEPTED);
    assert_eq!(known.body, unknown.body, "the answer does not reveal the account");
    let token = app.wait_for_mail("margaret@example.com", "Reset your password").await.token("/reset-password?token=");
    assert!(app.mails().iter().all(|m| !m.raw.contains("nobody@example.com")), "no mail for unknown accounts");

    // A rejected password does not use up the link.
    let res = app.post(&app.client, "/api/v1/auth/reset-password", json!({"token": token, "password": "short"})).await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.field(), "password");

    let reset = json!({"token": token, "password": "my new long password"});
    let res = app.post(&app.client, "/api/v1/auth/reset-password", reset.clone()).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    app.post(&app.client, "/api/v1/auth/reset-password", reset).await.assert_problem(400, "invalid_token");
    app.post(&app.client, "/api/v1/auth/reset-password", json!({"token": "x", "password": "my new long password"}))
        .await
        .assert_problem(400, "invalid_token");

    app.send(browser.post(app.url("/api/v1/auth/refresh"))).await.assert_problem(401, "invalid_refresh_token");
    app.get_as(&access, "/api/v1/me").await.assert_problem(401, "unauthorized");
    app.login_with(&new_client(), "margaret@example.com", PASSWORD).await.assert_problem(401, "invalid_credentials");
    assert_eq!(
        app.login_with(&new_client(), "margaret@example.com", "my new long password").await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn resend_verification_mails_a_new_link_only_to_unverified_accounts() {
    let app = spawn_app().await;
    app.signup("hedy@example.com", "Hedy", PASSWORD).await;
    app.wait_for_mail("hedy@example.com", "Verify your e-mail address").await;
    let res = app.post(&app.client, "/api/v1/auth/resend-verification", json!({"email": "hedy@example.com"})).await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.mails().iter().filter(|m| m.subject() == "Verify your e-mail address").count() < 2 {
        assert!(Instant::now() < deadline, "second verification mail never arrived");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let newest = app.mails().into_iter().rev().find(|m| m.subject() == "Verify your e-mail address").unwrap();
    let res = app
        .post(&app.client, "/api/v1/auth/verify-email", json!({"token": newest.token("/verify-email?token=")}))
        .await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn sign_in_is_rate_limited_per_client() {
    let app =
        spawn_app_with(Options { flags: vec!["--auth-rate-limit".into(), "3".into()], ..Options::default() }).await;
    for _ in 0..3 {
        app.login_with(&new_client(), "eve@example.com", "guess guess guess")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    let res = app.login_with(&new_client(), "eve@example.com", "guess guess guess").await;
    res.assert_problem(429, "rate_limited");
    let retry: u64 = res.headers.get("retry-after").unwrap().to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
}

/// argon2id runs on the blocking pool: while many sign-ins hash, other requests stay fast.
#[tokio::test]
async fn other_requests_stay_fast_while_many_sign_ins_hash() {
    // As many sign-ins of one account at once as the hashing takes (one running per core, 8
    // waiting each; more are refused 503 `busy`, see operations.rs), at most 24: each holds a
    // slot of the account's failure budget while its password is checked, so the budget is
    // raised above that for this test.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let at_once = (cores * (1 + portal_server::security::PasswordHasherPool::QUEUE_PER_WORKER)).min(24);
    let mut options = Options::default();
    options.flags.extend(["--signin-failures-per-account".into(), "100".into()]);
    let app = spawn_app_with(options).await;
    app.verified_user("load@example.com").await;
    let logins: Vec<_> = (0..at_once)
        .map(|_| {
            let client = new_client();
            let url = app.url("/api/v1/auth/login");
            tokio::spawn(async move {
                let res = client
                    .post(url)
                    .json(&json!({"email": "load@example.com", "password": PASSWORD}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), StatusCode::OK);
                Instant::now()
            })
        })
        .collect();
    // Measure while the hashes are queued and running (checked below).
    let mut worst = Duration::ZERO;
    let probe_start = Instant::now();
    for _ in 0..10 {
        let t = Instant::now();
        let res = app.client.get(app.url("/healthz")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        worst = worst.max(t.elapsed());
    }
    let probes_done = Instant::now();
    let mut last_login = probe_start;
    for login in logins {
        last_login = last_login.max(login.await.unwrap());
    }
    assert!(last_login > probes_done, "the sign-ins must still have been hashing while /healthz was probed");
    assert!(worst < Duration::from_millis(250), "slowest /healthz during 24 sign-ins took {worst:?}");
}
