//! The escapes of issue 24, each reproduced as an attacker tried it: a key or a header doing
//! what its owner never granted. Each test failed on the build it was written against.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

async fn member_id(app: &TestApp, owner: &str, team: &str, email: &str) -> String {
    let res = app.get_as(owner, &format!("/api/v1/teams/{team}/members")).await;
    res.body["items"].as_array().unwrap().iter().find(|m| m["email"] == email).unwrap()["user_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn key_of(app: &TestApp, owner: &str, team: &str, id: &str) -> Value {
    app.get_as(owner, &format!("/api/v1/teams/{team}/api-keys/{id}")).await.body
}

/// Escape 4: a development key holding only `api_keys:write` may not touch a full-access
/// production key: not lift its allowlist or limits, not narrow its scopes, not roll, revoke or
/// report it. A key acts only on keys whose settings lie within its own.
#[tokio::test]
async fn a_narrow_key_cannot_weaken_a_wide_one() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let wide = json!({
        "name": "wide", "environment": "production", "expiration": "never", "usage_limit": 1000,
        "rate_limit": {"requests_per_second": 5, "burst": 5}, "allowed_ips": ["203.0.113.0/24"]
    });
    let (wide_id, _) = app.create_key(&owner, &team, wide).await;
    let narrow =
        json!({"name": "narrow", "environment": "development", "expiration": "never", "scopes": ["api_keys:write"]});
    let (_, narrow_key) = app.create_key(&owner, &team, narrow).await;
    let before = key_of(&app, &owner, &team, &wide_id).await;
    let path = format!("/api/v1/teams/{team}/api-keys/{wide_id}");
    for change in [
        UpdateApiKeyRequest { allowed_ips: Some(None), ..Default::default() },
        UpdateApiKeyRequest { usage_limit: Some(None), ..Default::default() },
        UpdateApiKeyRequest { rate_limit: Some(None), ..Default::default() },
        UpdateApiKeyRequest { scopes: Some(vec![Scope::TeamRead]), ..Default::default() },
        UpdateApiKeyRequest { name: Some("renamed".into()), ..Default::default() },
    ] {
        let res = app.op(Some(&narrow_key), ops::update_api_key(&team, &wide_id, &change)).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{change:?}: {}", res.body);
    }
    for (action, body) in
        [("revoke", json!({})), ("roll", json!({"grace_period_seconds": 0})), ("compromised", json!({}))]
    {
        let res = app.call(Method::POST, Some(&narrow_key), &format!("{path}/{action}"), Some(body)).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{action}: {}", res.body);
    }
    let after = key_of(&app, &owner, &team, &wide_id).await;
    assert_eq!(after, before, "the wide key is as it was");
}

/// Escape 5: a development key may not mint a production key, nor act on one.
#[tokio::test]
async fn a_key_acts_only_within_its_environment() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let (_, dev) = app.simple_key(&owner, &team, "dev").await;
    let path = format!("/api/v1/teams/{team}/api-keys");
    let prod = CreateApiKeyRequest { environment: Environment::Production, ..dev_key("prod") };
    let res = app.op(Some(&dev), ops::create_api_key(&team, &prod)).await;
    res.assert_problem(403, "forbidden");
    assert_eq!(res.field(), "environment");
    let keys = app.get_as(&owner, &path).await.body;
    assert_eq!(keys["items"].as_array().unwrap().len(), 1, "nothing was made: {keys}");
    // Its own environment is fine.
    assert_eq!(app.op(Some(&dev), ops::create_api_key(&team, &dev_key("dev 2"))).await.status, StatusCode::CREATED);
}

/// Escape 8: a key in its roll grace changes nobody's access: no role changes, no removals.
#[tokio::test]
async fn a_key_in_its_roll_grace_changes_nobodys_access() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    app.join(&owner, &team, "member@example.com", "member").await;
    let member = member_id(&app, &owner, &team, "member@example.com").await;
    let (key_id, old) = app.simple_key(&owner, &team, "rolled").await;
    let res = app
        .op(Some(&owner), ops::roll_api_key(&team, &key_id, &RollApiKeyRequest { grace_period_seconds: 86400 }))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let res = app.op(Some(&old), ops::update_member(&team, &member, &UpdateMemberRequest { role: Role::Admin })).await;
    res.assert_problem(403, "forbidden");
    let res = app.op(Some(&old), ops::remove_member(&team, &member)).await;
    res.assert_problem(403, "forbidden");
    // It still reads, as its grace promises.
    assert_eq!(app.get_as(&old, &format!("/api/v1/teams/{team}/members")).await.status, StatusCode::OK);
    let members = app.get_as(&owner, &format!("/api/v1/teams/{team}/members")).await.body;
    let row = members["items"].as_array().unwrap().iter().find(|m| m["user_id"] == member.as_str()).cloned();
    assert_eq!(row.unwrap()["role"], "member");
}

/// Escape 9: a key whose creator was demoted to member keeps only what a member may do, from
/// the role table itself: members do not read webhooks, so neither does the key.
#[tokio::test]
async fn a_demoted_creators_key_reads_only_what_a_member_may() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let admin = app.join(&owner, &team, "admin@example.com", "admin").await;
    let admin_id = member_id(&app, &owner, &team, "admin@example.com").await;
    let (_, key) = app.simple_key(&admin, &team, "admin's key").await;
    let hooks = format!("/api/v1/teams/{team}/webhooks");
    assert_eq!(app.get_as(&key, &hooks).await.status, StatusCode::OK);
    let demote =
        app.op(Some(&owner), ops::update_member(&team, &admin_id, &UpdateMemberRequest { role: Role::Member })).await;
    assert_eq!(demote.status, StatusCode::OK, "{}", demote.body);
    // What the member may not read, the key may not either; what a member reads, it does.
    assert_eq!(app.get_as(&admin, &hooks).await.status, StatusCode::FORBIDDEN);
    let res = app.get_as(&key, &hooks).await;
    res.assert_problem(403, "insufficient_scope");
    assert_eq!(res.body["required_scope"], "webhooks:read");
    app.get_as(&key, &format!("/api/v1/teams/{team}/invitations")).await.assert_problem(403, "insufficient_scope");
    for readable in ["", "/members", "/api-keys", "/usage", "/activity"] {
        let res = app.get_as(&key, &format!("/api/v1/teams/{team}{readable}")).await;
        assert_eq!(res.status, StatusCode::OK, "{readable}: {}", res.body);
    }
}

/// Escape 10: a key named `x;=1+2` in the activity and usage exports. Split on `;` (Excel's
/// separator in much of Europe), an unquoted cell started with `=`. Every text cell is quoted,
/// and none starts with a formula character.
#[tokio::test]
async fn csv_exports_quote_every_text_cell_for_any_separator() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let body = json!({"name": "x;=1+2", "environment": "development", "expiration": "never"});
    let (_, key) = app.create_key(&owner, &team, body).await;
    assert_eq!(app.get_as(&key, &format!("/api/v1/teams/{team}")).await.status, StatusCode::OK);
    let export = |path: String| {
        let app = &app;
        let owner = &owner;
        async move {
            let res = app.send(app.client.get(app.url(&path)).bearer_auth(owner).header("accept", "text/csv")).await;
            assert_eq!(res.status, StatusCode::OK, "{path}");
            res.body.as_str().unwrap().to_owned()
        }
    };
    let activity = export(format!("/api/v1/teams/{team}/activity")).await;
    let usage = export(format!("/api/v1/teams/{team}/usage")).await;
    for (what, text) in [("activity", &activity), ("usage", &usage)] {
        assert!(text.contains("\"x;'=1+2"), "{what}: the name is inside a quoted cell, defused: {text}");
        // Split as a `;` locale would, ignoring quotes: no cell may start a formula.
        for line in text.lines().skip(1) {
            for cell in line.split([';', ',']) {
                let cell = cell.trim_start_matches('"');
                assert!(!cell.starts_with(['=', '+', '@']), "{what}: {cell:?} in {line:?}");
            }
        }
    }
}

/// A team with a key allowlisted to 203.0.113.0/24: its owner's token, the team, and the key.
async fn office_key(app: &TestApp) -> (String, String, String) {
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let body = json!({"name": "office", "environment": "development", "expiration": "never", "allowed_ips": ["203.0.113.0/24"]});
    let (_, key) = app.create_key(&owner, &team, body).await;
    (owner, team, key)
}

/// Escape 1: behind a proxy that appends `X-Forwarded-For` (nginx, ALB, Traefik, Caddy), a client
/// added its own `Forwarded: for=203.0.113.5` and passed a key allowlisted to 203.0.113.0/24.
/// Only the one header the proxy writes (`PORTAL_CLIENT_IP_HEADER`) is read.
#[tokio::test]
async fn only_the_header_the_proxy_writes_names_the_client() {
    let app = spawn_app_with(Options::shared(None, &["--trusted-proxies", "127.0.0.1/32"])).await;
    let (_, team, key) = office_key(&app).await;
    let path = format!("/api/v1/teams/{team}");
    let forged = app
        .client
        .get(app.url(&path))
        .bearer_auth(&key)
        .header("forwarded", "for=203.0.113.5")
        .header("x-forwarded-for", "198.51.100.9");
    app.send(forged).await.assert_problem(403, "ip_not_allowed");
    let from_office = app.client.get(app.url(&path)).bearer_auth(&key).header("x-forwarded-for", "203.0.113.5");
    assert_eq!(app.send(from_office).await.status, StatusCode::OK);

    // A proxy that writes one address in its own header (Cloudflare, `X-Real-IP`): only that.
    let app = spawn_app_with(Options::shared(
        None,
        &["--trusted-proxies", "127.0.0.1/32", "--client-ip-header", "cf-connecting-ip"],
    ))
    .await;
    let (owner, team, key) = office_key(&app).await;
    let path = format!("/api/v1/teams/{team}");
    let forged = app
        .client
        .get(app.url(&path))
        .bearer_auth(&key)
        .header("x-forwarded-for", "203.0.113.5")
        .header("forwarded", "for=203.0.113.5")
        .header("cf-connecting-ip", "198.51.100.9");
    app.send(forged).await.assert_problem(403, "ip_not_allowed");
    let real = app.client.get(app.url(&path)).bearer_auth(&key).header("cf-connecting-ip", "203.0.113.5");
    assert_eq!(app.send(real).await.status, StatusCode::OK);
    // The address written into the activity log is the one the proxy named.
    let rename = app
        .client
        .patch(app.url(&path))
        .bearer_auth(&owner)
        .json(&json!({"name": "Acme 2"}))
        .header("x-forwarded-for", "203.0.113.5")
        .header("cf-connecting-ip", "198.51.100.9");
    assert_eq!(app.send(rename).await.status, StatusCode::OK);
    let activity = app.get_as(&owner, &format!("/api/v1/teams/{team}/activity")).await;
    assert_eq!(activity.body["items"][0]["action"], "team.updated");
    assert_eq!(activity.body["items"][0]["ip"], "198.51.100.9", "{}", activity.body);
}

/// Escape 11: 20 wrong passwords for one account sent at once got 20 answers of 401 with a
/// budget of 10 (the budget was checked, argon2 ran, then the failure was counted). A slot is
/// reserved before the password is checked, and the budget is kept in the database, so that it
/// holds across instances too.
#[tokio::test]
async fn the_sign_in_failure_budget_holds_at_once_and_across_instances() {
    let app = spawn_app_with(Options::shared(None, &[])).await;
    app.verified_user("eve@example.com").await;
    let attempts: Vec<_> = (0..20)
        .map(|_| {
            let (client, url) = (new_client(), app.url("/api/v1/auth/login"));
            tokio::spawn(async move {
                let body = json!({"email": "eve@example.com", "password": "not the password at all"});
                client.post(url).json(&body).send().await.unwrap().status().as_u16()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for attempt in attempts {
        statuses.push(attempt.await.unwrap());
    }
    statuses.sort_unstable();
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 10, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 10, "{statuses:?}");
    // Another instance of the same deployment refuses too, even the right password.
    let other = spawn_app_with(Options::shared(Some(app.database_url.clone()), &[])).await;
    other
        .login_with(&new_client(), "eve@example.com", "not the password at all")
        .await
        .assert_problem(429, "rate_limited");
    other.login_with(&new_client(), "eve@example.com", PASSWORD).await.assert_problem(429, "rate_limited");
}

/// The per-address sign-in limit holds across instances as well.
#[tokio::test]
async fn the_per_address_sign_in_limit_holds_across_instances() {
    let options = |database: Option<String>| {
        let mut options = Options::shared(database, &[]);
        let at = options.flags.iter().position(|f| f == "--auth-rate-limit").unwrap();
        options.flags[at + 1] = "4".into();
        options
    };
    let a = spawn_app_with(options(None)).await;
    let b = spawn_app_with(options(Some(a.database_url.clone()))).await;
    for app in [&a, &b, &a, &b] {
        app.login_with(&new_client(), "nobody@example.com", "guess guess guess")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    for app in [&a, &b] {
        app.login_with(&new_client(), "nobody@example.com", "guess guess guess")
            .await
            .assert_problem(429, "rate_limited");
    }
}

/// Past windows of the request budgets are pruned: the table does not grow with every address.
#[tokio::test]
async fn past_request_budgets_are_pruned() {
    let app = spawn_app().await;
    for _ in 0..3 {
        app.login_with(&new_client(), "nobody@example.com", "guess guess guess")
            .await
            .assert_problem(401, "invalid_credentials");
    }
    let db = portal_db::connect(&app.database_url).await.unwrap();
    let now = chrono::Utc::now();
    assert_eq!(portal_server::retention::prune_budgets(&db, now).await.unwrap(), 0, "this window is kept");
    let later = portal_server::retention::prune_budgets(&db, now + chrono::Duration::days(2)).await.unwrap();
    assert_eq!(later, 2, "the address's window and the account's");
}

/// Requests of `secret` on the team that were answered (not 429), out of `tries`.
async fn served(app: &TestApp, secret: &str, team: &str, tries: usize) -> usize {
    let mut served = 0;
    for _ in 0..tries {
        if app.get_as(secret, &format!("/api/v1/teams/{team}")).await.status != StatusCode::TOO_MANY_REQUESTS {
            served += 1;
        }
    }
    served
}

/// Escape 2: a key with a limit of 3 rolled itself, and its replacement rolled itself: 9
/// requests answered. The month's quota belongs to the lineage: the replacement inherits what
/// the old key took, and the old key takes no new quota in its grace.
#[tokio::test]
async fn rolling_never_multiplies_a_monthly_limit() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let body = json!({"name": "limited", "environment": "development", "expiration": "never", "usage_limit": 3});
    let (first_id, first) = app.create_key(&owner, &team, body).await;
    let roll = |id: String, secret: String| {
        let (app, team) = (&app, &team);
        async move {
            let res = app
                .op(Some(&secret), ops::roll_api_key(team, id, &RollApiKeyRequest { grace_period_seconds: 86400 }))
                .await;
            assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
            (res.body["key"]["id"].as_str().unwrap().to_owned(), res.body["secret"].as_str().unwrap().to_owned())
        }
    };
    let (second_id, second) = roll(first_id, first.clone()).await;
    let (_, third) = roll(second_id, second.clone()).await;
    // Two requests went to the rolls; whatever is left of 3 is all the three keys get.
    let answered = 2
        + served(&app, &first, &team, 4).await
        + served(&app, &second, &team, 4).await
        + served(&app, &third, &team, 4).await;
    assert_eq!(answered, 3, "the lineage's month: 3 answered in all");
}

/// Escape 3: a key with a limit of 3 made a child with a limit of 3: 6 answered. A key with a
/// monthly limit makes no keys (they would not share its limit).
#[tokio::test]
async fn a_limited_key_mints_no_keys() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let body = json!({"name": "limited", "environment": "development", "expiration": "never", "usage_limit": 3});
    let (_, limited) = app.create_key(&owner, &team, body).await;
    let child = CreateApiKeyRequest { usage_limit: Some(3), ..dev_key("child") };
    let res = app.op(Some(&limited), ops::create_api_key(&team, &child)).await;
    res.assert_problem(403, "forbidden");
    assert_eq!(res.field(), "usage_limit");
    let keys = app.get_as(&owner, &format!("/api/v1/teams/{team}/api-keys")).await.body;
    assert_eq!(keys["items"].as_array().unwrap().len(), 1, "no child: {keys}");
}

/// Escape 6: a key made by a key that a leak report (or "Report compromised") revokes kept
/// working. The whole subtree goes with it, and the activity names each key that went.
#[tokio::test]
async fn a_leaked_or_compromised_key_takes_the_keys_it_made_with_it() {
    const SERVICE_TOKEN: &str = "service-token-service-token-service-token";
    let app = spawn_app_with(Options::shared(None, &["--service-token", SERVICE_TOKEN])).await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let child_of = |parent: String, name: &'static str| {
        let (app, team) = (&app, &team);
        async move {
            let res = app.op(Some(&parent), ops::create_api_key(team, &dev_key(name))).await;
            assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
            res.body["secret"].as_str().unwrap().to_owned()
        }
    };
    let team_path = format!("/api/v1/teams/{team}");

    // Reported compromised: its child and grandchild stop at once.
    let (root_id, root) = app.simple_key(&owner, &team, "root").await;
    let child = child_of(root.clone(), "child").await;
    let grandchild = child_of(child.clone(), "grandchild").await;
    let (_, bystander) = app.simple_key(&owner, &team, "bystander").await;
    let res = app
        .op(Some(&owner), ops::report_compromised_api_key(&team, &root_id, &ReportCompromisedRequest::default()))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    for secret in [&root, &child, &grandchild] {
        app.get_as(secret, &team_path).await.assert_problem(401, "key_revoked");
    }
    assert_eq!(app.get_as(&bystander, &team_path).await.status, StatusCode::OK, "keys not made by it stay");
    let activity = app.get_as(&owner, &format!("{team_path}/activity?action=api_key.compromised")).await;
    let summary = activity.body["items"][0]["summary"].as_str().unwrap().to_owned();
    assert!(summary.contains("child") && summary.contains("grandchild"), "{summary}");

    // Found leaked: the same.
    let (_, leaked) = app.simple_key(&owner, &team, "leaked").await;
    let made = child_of(leaked.clone(), "made by the leaked key").await;
    let report = json!([{"token": leaked, "type": "partner_portal_api_key", "url": "https://example.com/leak", "source": "content"}]);
    let req = app.client.post(app.url("/api/v1/keys/leaks")).bearer_auth(SERVICE_TOKEN).json(&report);
    assert_eq!(app.send(req).await.status, StatusCode::OK);
    app.get_as(&made, &team_path).await.assert_problem(401, "key_revoked");
    let activity = app.get_as(&owner, &format!("{team_path}/activity?action=api_key.leaked")).await;
    let summary = activity.body["items"][0]["summary"].as_str().unwrap().to_owned();
    assert!(summary.contains("made by the leaked key"), "{summary}");
}

/// `/keys/verify` for an allowlisted key without `client_ip` is no silent pass: `valid: false`,
/// `ip_not_allowed`. A key's scopes in the answer are those it may use now (capped by its
/// creator's role).
#[tokio::test]
async fn verify_refuses_an_allowlisted_key_without_an_address_and_reports_usable_scopes() {
    const SERVICE_TOKEN: &str = "service-token-service-token-service-token";
    let app = spawn_app_with(Options::shared(None, &["--service-token", SERVICE_TOKEN])).await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let body = json!({"name": "office", "environment": "development", "expiration": "never", "allowed_ips": ["203.0.113.0/24"]});
    let (_, office) = app.create_key(&owner, &team, body).await;
    let verify = |body: Value| {
        let req = app.client.post(app.url("/api/v1/keys/verify")).bearer_auth(SERVICE_TOKEN).json(&body);
        app.send(req)
    };
    let res = verify(json!({"key": office})).await;
    assert_eq!(
        (res.body["valid"].clone(), res.body["code"].clone()),
        (json!(false), json!("ip_not_allowed")),
        "{}",
        res.body
    );
    let res = verify(json!({"key": office, "client_ip": "203.0.113.7"})).await;
    assert_eq!(res.body["valid"], true, "{}", res.body);
    // A demoted admin's key: what a member may read, not what it was given.
    let admin = app.join(&owner, &team, "admin@example.com", "admin").await;
    let (_, key) = app.simple_key(&admin, &team, "admin's").await;
    let admin_id = member_id(&app, &owner, &team, "admin@example.com").await;
    app.op(Some(&owner), ops::update_member(&team, &admin_id, &UpdateMemberRequest { role: Role::Member })).await;
    let res = verify(json!({"key": key})).await;
    assert_eq!(
        res.body["scopes"],
        json!(["team:read", "members:read", "api_keys:read", "usage:read", "activity:read"])
    );
}

/// A key does not change its own limits, scopes or allowlist, not even to narrow them (the
/// owner's settings are the owner's); its name it may change.
#[tokio::test]
async fn a_key_leaves_its_own_settings_alone() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let body = json!({"name": "self", "environment": "development", "expiration": "never", "usage_limit": 100});
    let (id, key) = app.create_key(&owner, &team, body).await;
    let before = key_of(&app, &owner, &team, &id).await;
    for change in [
        UpdateApiKeyRequest { usage_limit: Some(Some(10)), ..Default::default() },
        UpdateApiKeyRequest { scopes: Some(vec![Scope::TeamRead]), ..Default::default() },
        UpdateApiKeyRequest { allowed_ips: Some(Some(vec!["203.0.113.9".to_owned()].into())), ..Default::default() },
    ] {
        let res = app.op(Some(&key), ops::update_api_key(&team, &id, &change)).await;
        res.assert_problem(403, "forbidden");
        assert!(res.body["detail"].as_str().unwrap().contains("its own"), "{change:?}: {}", res.body);
    }
    let after = key_of(&app, &owner, &team, &id).await;
    for setting in ["usage_limit", "scopes", "allowed_ips"] {
        assert_eq!(after[setting], before[setting], "{setting}");
    }
    let res = app
        .op(
            Some(&key),
            ops::update_api_key(
                &team,
                &id,
                &UpdateApiKeyRequest { name: Some("renamed".to_string().into()), ..Default::default() },
            ),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
}
