//! API keys: format, authentication, revocation, rolling, metering, limits, verification.

use std::time::{Duration, Instant};

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

struct Team {
    app: TestApp,
    owner: String,
    team: String,
}

async fn team_with_owner() -> Team {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    Team { app, owner, team }
}

#[tokio::test]
async fn a_new_key_is_shown_once_and_acts_as_admin_on_its_own_team_only() {
    let Team { app, owner, team } = team_with_owner().await;
    let body = CreateApiKeyRequest {
        name: "Production App".into(),
        description: Some("Checkout".into()),
        environment: Environment::Production,
        expiration: Expiration::Days90,
        usage_limit: None,
        rate_limit: None,
        scopes: None,
        allowed_ips: None,
        alert_thresholds: None,
    };
    let res = app.op(Some(&owner), ops::create_api_key(&team, &body)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.headers["cache-control"], "no-store");
    let secret = res.body["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("pp_prod_") && secret.len() == 57, "{secret}");
    let key = &res.body["key"];
    assert_eq!(key["hint"], &secret[..12]);
    assert_eq!(key["status"], "active");
    assert_eq!(key["environment"], "production");
    assert!(key["expires_at"].is_string());

    // The secret never appears again.
    let list = app.op(Some(&owner), ops::list_api_keys(&team, &Page::default(), &KeyQuery::default())).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    assert!(!list.body.to_string().contains(&secret[12..]), "{}", list.body);

    // The key reads and manages its team like an admin...
    let res = app.op(Some(&secret), ops::get_team(&team)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["role"], "admin");
    assert_eq!(res.body["permissions"]["delete_team"], false);
    assert_eq!(res.body["permissions"]["invite_roles"], json!(["member", "admin"]));
    let res = app
        .op(
            Some(&secret),
            ops::create_invitation(
                &team,
                &CreateInvitationRequest {
                    email: "new@example.com".to_string().into(),
                    role: Role::Member,
                    message: None,
                },
            ),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.body["invited_by_name"], "Production App");
    let teams = app.op(Some(&secret), ops::list_teams(&Page::default())).await;
    assert_eq!(teams.body["items"].as_array().unwrap().len(), 1);
    // ...but never beyond: no team deletion, no owner changes, nothing of other teams, no user endpoints.
    app.op(Some(&secret), ops::delete_team(&team)).await.assert_problem(403, "forbidden");
    let owner_id = app.op(Some(&owner), ops::get_me()).await.body["id"].as_str().unwrap().to_owned();
    app.op(Some(&secret), ops::update_member(&team, &owner_id, &UpdateMemberRequest { role: Role::Member }))
        .await
        .assert_problem(403, "forbidden");
    let other = app.create_team(&owner, "Other").await;
    app.op(Some(&secret), ops::get_team(&other)).await.assert_problem(404, "not_found");
    app.op(Some(&secret), ops::get_me()).await.assert_problem(403, "api_key_not_allowed");
    app.op(Some(&secret), ops::create_team(&CreateTeamRequest { name: "X".to_string().into(), description: None }))
        .await
        .assert_problem(403, "api_key_not_allowed");

    // What the key did shows in the activity with the key as actor.
    let activity = app.op(Some(&owner), ops::list_activity(&team, &Page::default(), &ActivityFilter::default())).await;
    let created = activity.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "invitation.created")
        .unwrap()
        .clone();
    assert_eq!(created["actor"]["kind"], "api_key");
    assert_eq!(created["actor"]["name"], "Production App");
    assert!(
        activity.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "key.created" && e["actor"]["kind"] == "user")
    );
}

#[tokio::test]
async fn malformed_and_unknown_keys_are_refused() {
    let Team { app, owner, team } = team_with_owner().await;
    let (_, secret) = app.simple_key(&owner, &team, "k").await;
    // The checksum's last character changed (to another one: 1 secret in 62 ends in `x`).
    let last = if secret.ends_with('x') { 'y' } else { 'x' };
    for bad in ["pp_dev_short", "pp_live_abc", &format!("{}{last}", &secret[..secret.len() - 1])] {
        let res = app.op(Some(bad), ops::get_team(&team)).await;
        res.assert_problem(401, "invalid_api_key");
    }
    // Right shape and checksum, but no such key.
    let unknown = portal_domain::keys::generate(portal_types::Environment::Development);
    app.op(Some(&unknown), ops::get_team(&team)).await.assert_problem(401, "invalid_api_key");
    for (field, body) in [
        ("name", json!({"name": "", "environment": "development", "expiration": "never"})),
        ("environment", json!({"name": "k", "environment": "staging", "expiration": "never"})),
        ("expiration", json!({"name": "k", "environment": "development", "expiration": "7d"})),
        ("usage_limit", json!({"name": "k", "environment": "development", "expiration": "never", "usage_limit": 0})),
    ] {
        let res = app.call(Method::POST, Some(&owner), &format!("/api/v1/teams/{team}/api-keys"), Some(body)).await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(res.field(), field);
    }
    assert_eq!(
        app.op(Some(&owner), ops::list_api_keys(&team, &Page::default(), &KeyQuery::default())).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn revoking_a_key_refuses_it_at_once() {
    let Team { app, owner, team } = team_with_owner().await;
    let (id, secret) = app.simple_key(&owner, &team, "leaked").await;
    assert_eq!(app.op(Some(&secret), ops::get_team(&team)).await.status, StatusCode::OK, "cached now");
    let res = app.op(Some(&owner), ops::revoke_api_key(&team, &id)).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["status"], "revoked");
    app.op(Some(&secret), ops::get_team(&team)).await.assert_problem(401, "key_revoked");
    // Revoking again changes nothing.
    let again = app.op(Some(&owner), ops::revoke_api_key(&team, &id)).await;
    assert_eq!(again.body["revoked_at"], res.body["revoked_at"]);
}

#[tokio::test]
async fn an_expired_key_is_refused() {
    let Team { app, owner, team } = team_with_owner().await;
    let (_, secret) =
        app.create_key(&owner, &team, json!({"name": "old", "environment": "development", "expiration": "30d"})).await;
    let db = portal_db::connect(&app.database_url).await.unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(&db, "UPDATE api_keys SET expires_at = created_at").await.unwrap();
    db.close().await.ok();
    app.op(Some(&secret), ops::get_team(&team)).await.assert_problem(401, "key_expired");
}

#[tokio::test]
async fn rolling_replaces_a_key_after_its_grace_period() {
    let Team { app, owner, team } = team_with_owner().await;
    let (id, old) = app.simple_key(&owner, &team, "rolling").await;
    let roll = |id: String, grace: u64| {
        let (app, owner, team) = (&app, owner.clone(), team.clone());
        async move {
            let body = RollApiKeyRequest { grace_period_seconds: grace };
            app.op(Some(&owner), ops::roll_api_key(&team, &id, &body)).await
        }
    };
    let res = roll(id.clone(), 3600).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let new = res.body["secret"].as_str().unwrap().to_owned();
    let new_id = res.body["key"]["id"].as_str().unwrap().to_owned();
    assert_eq!(res.body["key"]["name"], "rolling");
    assert_eq!(app.op(Some(&old), ops::get_team(&team)).await.status, StatusCode::OK, "old key works during grace");
    assert_eq!(app.op(Some(&new), ops::get_team(&team)).await.status, StatusCode::OK);
    let old_meta = app.op(Some(&owner), ops::get_api_key(&team, &id)).await;
    assert_eq!(old_meta.body["status"], "rolling");
    assert_eq!(old_meta.body["replaced_by"], new_id.as_str());
    roll(id.clone(), 60).await.assert_problem(409, "key_not_active");
    roll(new_id.clone(), 8 * 24 * 3600).await.assert_problem(422, "validation_failed");

    // Without grace, the old key stops at once.
    let res = roll(new_id, 0).await;
    let newest = res.body["secret"].as_str().unwrap().to_owned();
    app.op(Some(&new), ops::get_team(&team)).await.assert_problem(401, "key_rolled");
    assert_eq!(app.op(Some(&newest), ops::get_team(&team)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn every_key_request_is_metered_and_shows_in_usage() {
    let Team { app, owner, team } = team_with_owner().await;
    let (id, secret) = app.simple_key(&owner, &team, "metered").await;
    for _ in 0..5 {
        assert_eq!(app.op(Some(&secret), ops::get_team(&team)).await.status, StatusCode::OK);
    }
    for _ in 0..2 {
        let missing = uuid::Uuid::new_v4();
        app.op(Some(&secret), ops::remove_member(&team, missing)).await.assert_problem(404, "not_found");
    }
    // Requests no handler authenticated count too: an unknown route of the team.
    app.call(Method::GET, Some(&secret), &format!("/api/v1/teams/{team}/no-such-route"), None)
        .await
        .assert_problem(404, "route_not_found");
    // Keys act only on team resources: a user-only endpoint refuses the key and it is not metered.
    app.op(Some(&secret), ops::get_me()).await.assert_problem(403, "api_key_not_allowed");
    let usage = app.op(Some(&owner), ops::get_api_key_usage(&team, &id, &UsageRange::default())).await;
    assert_eq!(usage.status, StatusCode::OK, "{}", usage.body);
    let u = &usage.body;
    assert_eq!(u["total_requests"], 8, "{u}");
    assert_eq!(u["success"], 5);
    assert_eq!(u["error"], 3);
    assert!((u["error_rate"].as_f64().unwrap() - 3.0 / 8.0).abs() < 1e-9);
    assert_eq!(u["status_codes"], json!([{"status": 200, "count": 5}, {"status": 404, "count": 3}]));
    assert_eq!(u["granularity"], "hour");
    let series = u["series"].as_array().unwrap();
    assert_eq!(series.len(), 25, "every hour of the last 24, both ends partial");
    let summed: u64 = series.iter().map(|p| p["success"].as_u64().unwrap() + p["error"].as_u64().unwrap()).sum();
    assert_eq!(summed, 8);
    assert_eq!(u["used_this_month"], 8);

    let key = app.op(Some(&owner), ops::get_api_key(&team, &id)).await;
    assert_eq!(key.body["request_count"], 8);
    assert!(key.body["last_used_at"].is_string());

    let by_day = UsageRange { granularity: Some(Granularity::Day), ..Default::default() };
    let team_usage = app.op(Some(&owner), ops::get_team_usage(&team, &by_day)).await;
    assert_eq!(team_usage.status, StatusCode::OK, "{}", team_usage.body);
    assert_eq!(team_usage.body["usage"]["total_requests"], 8);
    assert_eq!(team_usage.body["keys"][0]["name"], "metered");
    assert_eq!(team_usage.body["keys"][0]["error"], 3);
    // Its last use is the key's own, as the key list has it.
    assert_eq!(team_usage.body["keys"][0]["last_used_at"], key.body["last_used_at"]);

    for (query, field) in [
        ("from=yesterday", "from"),
        ("granularity=week", "granularity"),
        ("from=2026-01-01T00:00:00Z&to=2026-06-01T00:00:00Z", "from"),
    ] {
        let res = app
            .call(Method::GET, Some(&owner), &format!("/api/v1/teams/{team}/api-keys/{id}/usage?{query}"), None)
            .await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(res.field(), field, "{query}");
    }
}

/// Usage alerts are percentages of the monthly limit: a key without a limit has none, and asking
/// for some without one is refused and changes nothing.
#[tokio::test]
async fn usage_alerts_need_a_monthly_limit() {
    let Team { app, owner, team } = team_with_owner().await;
    let refused = CreateApiKeyRequest { alert_thresholds: Some(vec![80].into()), ..dev_key("k") };
    let res = app.op(Some(&owner), ops::create_api_key(&team, &refused)).await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["field"], "alert_thresholds", "{}", res.body);
    assert!(res.body["detail"].as_str().unwrap().contains("monthly limit"), "{}", res.body);
    let listed = app.op(Some(&owner), ops::list_api_keys(&team, &Page::default(), &KeyQuery::default())).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 0, "a refused key is not made");

    // Without a limit: no alerts. With one: 80 and 100 unless said otherwise.
    let (plain, _) = app
        .create_key(&owner, &team, json!({"name": "plain", "environment": "development", "expiration": "never"}))
        .await;
    let key = |id: String| {
        let (app, owner, team) = (&app, &owner, &team);
        async move { app.op(Some(owner), ops::get_api_key(team, &id)).await }
    };
    assert_eq!(key(plain.clone()).await.body["alert_thresholds"], json!([]));
    let limited = json!({"name": "limited", "environment": "development", "expiration": "never", "usage_limit": 100});
    let (capped, _) = app.create_key(&owner, &team, limited).await;
    assert_eq!(key(capped.clone()).await.body["alert_thresholds"], json!([80, 100]));

    // Changing: alerts without a limit are refused, and the key keeps what it had.
    let patch = |id: String, body: UpdateApiKeyRequest| {
        let (app, owner, team) = (&app, &owner, &team);
        async move { app.op(Some(owner), ops::update_api_key(team, &id, &body)).await }
    };
    let alerts =
        |percent: u8| UpdateApiKeyRequest { alert_thresholds: Some(vec![percent].into()), ..Default::default() };
    let limit = |limit: Option<u64>| UpdateApiKeyRequest { usage_limit: Some(limit), ..Default::default() };
    let res = patch(plain.clone(), alerts(50)).await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.body["field"], "alert_thresholds");
    let res = patch(capped.clone(), UpdateApiKeyRequest { usage_limit: Some(None), ..alerts(50) }).await;
    res.assert_problem(422, "validation_failed");
    let still = key(capped.clone()).await.body;
    assert_eq!((still["usage_limit"].clone(), still["alert_thresholds"].clone()), (json!(100), json!([80, 100])));
    // Removing the limit removes them; a first limit brings the defaults; set ones stay.
    assert_eq!(patch(capped.clone(), limit(None)).await.body["alert_thresholds"], json!([]));
    assert_eq!(patch(plain.clone(), limit(Some(10))).await.body["alert_thresholds"], json!([80, 100]));
    assert_eq!(patch(plain.clone(), alerts(50)).await.body["alert_thresholds"], json!([50]));
    assert_eq!(patch(plain.clone(), limit(Some(20))).await.body["alert_thresholds"], json!([50]));
}

/// Removing a key's limit and setting its alerts at the same moment never leaves alerts without a
/// limit: each change is decided on the key as it stands when it is written (the row is locked).
#[tokio::test]
async fn concurrent_changes_never_leave_alerts_without_a_limit() {
    let Team { app, owner, team } = team_with_owner().await;
    let body = json!({"name": "raced", "environment": "development", "expiration": "never", "usage_limit": 100});
    let (id, _) = app.create_key(&owner, &team, body).await;
    let alerts = UpdateApiKeyRequest { alert_thresholds: Some(vec![50].into()), ..Default::default() };
    for round in 0..30 {
        let reset = app
            .op(
                Some(&owner),
                ops::update_api_key(
                    &team,
                    &id,
                    &UpdateApiKeyRequest { usage_limit: Some(Some(100)), ..Default::default() },
                ),
            )
            .await;
        assert_eq!(reset.status, StatusCode::OK, "{}", reset.body);
        let (unlimit, alerts) = tokio::join!(
            app.op(
                Some(&owner),
                ops::update_api_key(&team, &id, &UpdateApiKeyRequest { usage_limit: Some(None), ..Default::default() })
            ),
            app.op(Some(&owner), ops::update_api_key(&team, &id, &alerts)),
        );
        assert_eq!(unlimit.status, StatusCode::OK, "{}", unlimit.body);
        // The alerts either came first (and then went with the limit) or were refused.
        assert!(alerts.status == StatusCode::OK || alerts.field() == "alert_thresholds", "{}", alerts.body);
        let key = app.op(Some(&owner), ops::get_api_key(&team, &id)).await.body;
        assert!(
            key["usage_limit"].is_u64() || key["alert_thresholds"] == json!([]),
            "round {round}: alerts without a limit: {key}"
        );
    }
}

#[tokio::test]
async fn a_spent_usage_limit_answers_429_with_rate_limit_headers() {
    let Team { app, owner, team } = team_with_owner().await;
    let body = json!({"name": "limited", "environment": "production", "expiration": "never", "usage_limit": 3});
    let (_, secret) = app.create_key(&owner, &team, body).await;
    let header = |res: &Response, name: &str| res.headers[name].to_str().unwrap().to_owned();
    for remaining in [2, 1, 0] {
        let res = app.op(Some(&secret), ops::get_team(&team)).await;
        assert_eq!(res.status, StatusCode::OK);
        let policy = header(&res, "ratelimit-policy");
        assert!(policy.starts_with("\"monthly\";q=3;w="), "{policy}");
        let current = header(&res, "ratelimit");
        assert!(current.starts_with(&format!("\"monthly\";r={remaining};t=")), "{current}");
    }
    let res = app.op(Some(&secret), ops::get_team(&team)).await;
    res.assert_problem(429, "usage_limit_exceeded");
    assert!(header(&res, "ratelimit").starts_with("\"monthly\";r=0;t="), "{:?}", res.headers);
    let retry: u64 = header(&res, "retry-after").parse().unwrap();
    assert!(retry > 0 && retry <= 31 * 24 * 3600, "{retry}");
    // Refused requests never reach a handler: an unknown route of the team answers 429 too.
    let nowhere = format!("/api/v1/teams/{team}/no-such-route");
    app.call(Method::GET, Some(&secret), &nowhere, None).await.assert_problem(429, "usage_limit_exceeded");
    // Keys act only on team resources: elsewhere a key is refused as such, and not metered.
    app.op(Some(&secret), ops::get_me()).await.assert_problem(403, "api_key_not_allowed");
}

#[tokio::test]
async fn services_verify_keys_with_the_service_token() {
    let mut options = Options::default();
    options.flags.extend(["--service-token".to_owned(), "service-token-service-token-service-token".to_owned()]);
    let app = spawn_app_with(options).await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let (id, secret) = app.simple_key(&owner, &team, "verified").await;
    let verify = |token: &str, key: &str| {
        let (app, token, key) = (&app, token.to_owned(), key.to_owned());
        async move { app.op(Some(&token), ops::verify_api_key(&VerifyKeyRequest { key, client_ip: None })).await }
    };
    verify("wrong", &secret).await.assert_problem(401, "unauthorized");
    let service = "service-token-service-token-service-token";
    let ok = verify(service, &secret).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.body["valid"], true);
    assert_eq!(ok.body["team_id"], team.as_str());
    assert_eq!(ok.body["key_id"], id.as_str());
    assert_eq!(ok.body["environment"], "development");
    let bad = verify(service, "pp_dev_nonsense").await;
    assert_eq!((bad.body["valid"].as_bool(), bad.body["code"].as_str()), (Some(false), Some("invalid_api_key")));
    app.op(Some(&owner), ops::revoke_api_key(&team, &id)).await;
    let revoked = verify(service, &secret).await;
    assert_eq!((revoked.body["valid"].as_bool(), revoked.body["code"].as_str()), (Some(false), Some("key_revoked")));
    // Both outcomes were recorded as uses of the key.
    let usage = app.op(Some(&owner), ops::get_api_key_usage(&team, &id, &UsageRange::default())).await;
    assert_eq!(usage.body["status_codes"], json!([{"status": 200, "count": 1}, {"status": 401, "count": 1}]));
}

#[tokio::test]
async fn buffered_counts_are_flushed_on_graceful_shutdown() {
    let Team { mut app, owner, team } = team_with_owner().await;
    let (id, secret) = app.simple_key(&owner, &team, "shutdown").await;
    let requests = 40;
    for _ in 0..requests {
        assert_eq!(app.op(Some(&secret), ops::get_team(&team)).await.status, StatusCode::OK);
    }
    app.shutdown().await;
    let db = portal_db::connect(&app.database_url).await.unwrap();
    let month = portal_domain::usage::month_bounds(chrono::Utc::now()).0;
    let count =
        portal_db::usage::month_requests(&db, portal_db::usage::Scope::Key(id.parse().unwrap()), month).await.unwrap();
    assert_eq!(count, requests);
    db.close().await.ok();
}

/// Two instances on one PostgreSQL database: a revocation on one reaches the other within a
/// second, and both instances' counts add up exactly.
#[tokio::test]
async fn two_instances_share_revocations_and_counts() {
    if backend() != "postgres" {
        eprintln!("two_instances_share_revocations_and_counts runs on PostgreSQL only (PORTAL_TEST_DATABASE=postgres)");
        return;
    }
    let a = spawn_app_with(Options::shared(None, &[])).await;
    let (owner, _) = a.signed_in("owner@example.com").await;
    let team = a.create_team(&owner, "Acme").await;
    let b = spawn_app_with(Options::shared(Some(a.database_url.clone()), &[])).await;
    let (id, secret) = a.simple_key(&owner, &team, "shared").await;
    let path = format!("/api/v1/teams/{team}");
    let per_instance = 150;
    let hammer = |app: &TestApp| {
        let (client, url, secret) = (new_client(), app.url(&path), secret.clone());
        async move {
            for _ in 0..per_instance {
                let status = client.get(&url).bearer_auth(&secret).send().await.unwrap().status();
                assert_eq!(status, StatusCode::OK);
            }
        }
    };
    tokio::join!(hammer(&a), hammer(&b));
    // Both have the key cached now. Revoke through A; B must refuse within one second.
    let res = a.op(Some(&owner), ops::revoke_api_key(&team, &id)).await;
    assert_eq!(res.status, StatusCode::OK);
    let revoked_at = Instant::now();
    loop {
        let res = b.op(Some(&secret), ops::get_team(&team)).await;
        if res.status == StatusCode::UNAUTHORIZED {
            assert_eq!(res.code(), "key_revoked");
            eprintln!("the revocation reached instance B after {:?}", revoked_at.elapsed());
            break;
        }
        assert!(revoked_at.elapsed() < Duration::from_secs(1), "instance B still accepts the revoked key after 1 s");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Every answered request of both instances counted once (plus B's refusals).
    let usage = a.op(Some(&owner), ops::get_api_key_usage(&team, &id, &UsageRange::default())).await;
    let ok = usage.body["status_codes"].as_array().unwrap().iter().find(|c| c["status"] == 200).unwrap()["count"]
        .as_u64()
        .unwrap();
    // B's own buffer may not be flushed yet: wait (bounded) for B's flush, which runs every 500 ms.
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut ok = ok;
    while ok < 2 * per_instance && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let usage = a.op(Some(&owner), ops::get_api_key_usage(&team, &id, &UsageRange::default())).await;
        ok = usage.body["status_codes"].as_array().unwrap().iter().find(|c| c["status"] == 200).unwrap()["count"]
            .as_u64()
            .unwrap();
    }
    assert_eq!(ok, 2 * per_instance);
}

/// Every page of a narrowed key list, followed by its cursors: the names in order.
async fn all_pages(app: &TestApp, owner: &str, team: &str, query: KeyQuery) -> Vec<String> {
    let (mut names, mut cursor) = (Vec::new(), None::<String>);
    loop {
        let call = ops::list_api_keys(team, &Page::at(2, cursor.take()), &query);
        let path = call.path.clone();
        let res = app.op(Some(owner), call).await;
        assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.body);
        names.extend(res.body["items"].as_array().unwrap().iter().map(|k| k["name"].as_str().unwrap().to_owned()));
        match res.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return names,
        }
        assert!(names.len() < 100, "{query:?}: the cursors go round: {names:?}");
    }
}

/// A key list searched for `text`.
fn search(text: &str) -> KeyQuery {
    KeyQuery { search: Some(text.to_owned()), ..KeyQuery::default() }
}

/// A key list narrowed to `status`.
fn status(status: KeyStatusFilter) -> KeyQuery {
    KeyQuery { status: Some(status), ..KeyQuery::default() }
}

/// A key list in the order of `sort`.
fn sort(sort: KeySort) -> KeyQuery {
    KeyQuery { sort: Some(sort), ..KeyQuery::default() }
}

/// A key list narrowed to `environment`.
fn environment(environment: Environment) -> KeyQuery {
    KeyQuery { environment: Some(environment), ..KeyQuery::default() }
}

#[tokio::test]
async fn key_lists_are_searched_filtered_and_sorted_through_every_page() {
    let Team { app, owner, team } = team_with_owner().await;
    let keys_path = format!("/api/v1/teams/{team}/api-keys");
    let mut ids = std::collections::HashMap::new();
    for (name, environment) in [
        ("Checkout web", "production"),
        ("checkout worker", "production"),
        ("Billing 100%", "development"),
        ("billing_x", "development"),
        ("Reports", "development"),
        ("Old", "development"),
        ("Rolled one", "production"),
        ("Soon", "production"),
        ("Past", "development"),
    ] {
        let body = json!({"name": name, "environment": environment, "expiration": "90d"});
        ids.insert(name, app.create_key(&owner, &team, body).await);
    }
    // Another team's key never shows.
    let other = app.create_team(&owner, "Other").await;
    app.simple_key(&owner, &other, "Checkout elsewhere").await;

    // Uses: Reports 3, Checkout web 2, Billing 100% 1, the rest none (counted before they are
    // written: the list adds this instance's pending uses).
    for (name, uses) in [("Billing 100%", 1), ("Checkout web", 2), ("Reports", 3)] {
        for _ in 0..uses {
            let res = app.op(Some(&ids[name].1), ops::get_team(&team)).await;
            assert_eq!(res.status, StatusCode::OK);
        }
    }
    assert_eq!(app.op(Some(&owner), ops::revoke_api_key(&team, &ids["Old"].0)).await.status, StatusCode::OK);
    let roll = RollApiKeyRequest { grace_period_seconds: 3600 };
    let res = app.op(Some(&owner), ops::roll_api_key(&team, &ids["Rolled one"].0, &roll)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let now = chrono::Utc::now();
    set_time(&app.database_url, "api_keys", "expires_at", Some(&ids["Soon"].0), now + chrono::Duration::days(3)).await;
    set_time(&app.database_url, "api_keys", "expires_at", Some(&ids["Past"].0), now - chrono::Duration::hours(1)).await;

    // Search: any case, name or hint; `%` and `_` are themselves.
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(sorted(all_pages(&app, &owner, &team, search("CHECKOUT")).await), ["Checkout web", "checkout worker"]);
    assert_eq!(all_pages(&app, &owner, &team, search("100%")).await, ["Billing 100%"]);
    assert_eq!(all_pages(&app, &owner, &team, search("g_x")).await, ["billing_x"]);
    let hint = &ids["Reports"].1[..10];
    assert_eq!(all_pages(&app, &owner, &team, search(hint)).await, ["Reports"]);
    // Beyond ASCII too (SQLite's own lower() folds only ASCII), after a rename.
    let rename = UpdateApiKeyRequest { name: Some("Ärger Öl".into()), ..Default::default() };
    let res = app.op(Some(&owner), ops::update_api_key(&team, &ids["billing_x"].0, &rename)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(all_pages(&app, &owner, &team, search("äRGER ö")).await, ["Ärger Öl"]);

    // Filters, alone and together; the rolled key's replacement is active.
    assert_eq!(
        sorted(all_pages(&app, &owner, &team, environment(Environment::Production)).await),
        ["Checkout web", "Rolled one", "Rolled one", "Soon", "checkout worker"]
    );
    assert_eq!(all_pages(&app, &owner, &team, status(KeyStatusFilter::Revoked)).await, ["Old"]);
    assert_eq!(all_pages(&app, &owner, &team, status(KeyStatusFilter::Rolling)).await, ["Rolled one"]);
    assert_eq!(all_pages(&app, &owner, &team, status(KeyStatusFilter::Expired)).await, ["Past"]);
    assert_eq!(all_pages(&app, &owner, &team, status(KeyStatusFilter::ExpiringSoon)).await, ["Soon"]);
    let soon_in_development =
        KeyQuery { environment: Some(Environment::Development), ..status(KeyStatusFilter::ExpiringSoon) };
    assert_eq!(all_pages(&app, &owner, &team, soon_in_development).await, [] as [&str; 0]);
    let active = all_pages(&app, &owner, &team, status(KeyStatusFilter::Active)).await;
    assert_eq!(active.len(), 7, "{active:?}");
    assert!(!active.iter().any(|n| ["Old", "Past"].contains(&n.as_str())), "{active:?}");
    // Every key that still works (the web app's default): the active ones and the rolling one.
    let usable = sorted(all_pages(&app, &owner, &team, status(KeyStatusFilter::Usable)).await);
    assert_eq!(usable, sorted([active, vec!["Rolled one".to_owned()]].concat()));

    // Sorted by requests and by last use, through pages of two: every key once, in order.
    let by_requests = all_pages(&app, &owner, &team, sort(KeySort::Requests)).await;
    assert_eq!(by_requests.len(), 10, "{by_requests:?}");
    assert_eq!(by_requests[..3], ["Reports", "Checkout web", "Billing 100%"]);
    let by_use = all_pages(&app, &owner, &team, sort(KeySort::LastUsed)).await;
    assert_eq!(by_use.len(), 10, "{by_use:?}");
    assert_eq!(by_use[..3], ["Reports", "Checkout web", "Billing 100%"]);
    assert_eq!(sorted(by_use.clone()), sorted(by_requests.clone()));
    let newest = KeyQuery { sort: Some(KeySort::Created), status: Some(KeyStatusFilter::Active), ..search("checkout") };
    let newest = all_pages(&app, &owner, &team, newest).await;
    assert_eq!(newest, ["checkout worker", "Checkout web"]);

    // Bad values name their parameter, with what is accepted.
    for (query, field) in [
        ("status=gone", "status"),
        ("environment=staging", "environment"),
        ("sort=name", "sort"),
        (&format!("q={}", "x".repeat(101)), "q"),
        ("sort=requests&cursor=zz", "cursor"),
    ] {
        let res = app.call(Method::GET, Some(&owner), &format!("{keys_path}?{query}"), None).await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(res.body["field"], field, "{query}: {}", res.body);
    }
    let res = app.call(Method::GET, Some(&owner), &format!("{keys_path}?status=gone"), None).await;
    assert!(res.body["detail"].as_str().unwrap().contains("expiring_soon"), "{}", res.body);
}

/// `status=attention` finds every working key that expires within 14 days or has used 80% of
/// its monthly limit this month, on any page, with this instance's unwritten uses counted.
#[tokio::test]
async fn the_attention_narrowing_finds_expiring_and_nearly_spent_keys() {
    let Team { app, owner, team } = team_with_owner().await;
    let mut ids = std::collections::HashMap::new();
    for (name, limit) in [
        ("Nearly spent", Some(5)),
        ("Half", Some(10)),
        ("Spent", Some(2)),
        ("Ten days", None),
        ("Twenty days", None),
        ("Revoked spent", Some(1)),
        ("Plain", None),
    ] {
        let body = json!({"name": name, "environment": "production", "expiration": "30d", "usage_limit": limit});
        ids.insert(name, app.create_key(&owner, &team, body).await);
    }
    let other = app.create_team(&owner, "Other").await;
    let body = json!({"name": "Elsewhere spent", "environment": "production", "expiration": "never", "usage_limit": 1});
    let (_, elsewhere) = app.create_key(&owner, &other, body).await;
    let use_key = |secret: String, team: String, n: usize| {
        let app = &app;
        async move {
            for _ in 0..n {
                app.op(Some(&secret), ops::get_team(&team)).await;
            }
        }
    };
    use_key(ids["Nearly spent"].1.clone(), team.clone(), 4).await;
    use_key(ids["Half"].1.clone(), team.clone(), 5).await;
    use_key(ids["Spent"].1.clone(), team.clone(), 3).await;
    use_key(ids["Revoked spent"].1.clone(), team.clone(), 1).await;
    use_key(elsewhere, other.clone(), 1).await;
    assert_eq!(app.op(Some(&owner), ops::revoke_api_key(&team, &ids["Revoked spent"].0)).await.status, StatusCode::OK);
    let now = chrono::Utc::now();
    set_time(&app.database_url, "api_keys", "expires_at", Some(&ids["Ten days"].0), now + chrono::Duration::days(10))
        .await;
    set_time(
        &app.database_url,
        "api_keys",
        "expires_at",
        Some(&ids["Twenty days"].0),
        now + chrono::Duration::days(20),
    )
    .await;

    let attention = || async {
        let mut names = all_pages(&app, &owner, &team, status(KeyStatusFilter::Attention)).await;
        names.sort();
        names
    };
    assert_eq!(attention().await, ["Nearly spent", "Spent", "Ten days"]);
    // Three more requests take "Half" to 80%. A list narrowed by use writes the buffered counts
    // first at most twice a second (as one ordered by use): a read finds it within that.
    use_key(ids["Half"].1.clone(), team.clone(), 3).await;
    let written = std::time::Instant::now();
    loop {
        let found = attention().await;
        if found == ["Half", "Nearly spent", "Spent", "Ten days"] {
            break;
        }
        assert_eq!(found, ["Nearly spent", "Spent", "Ten days"]);
        assert!(written.elapsed() < std::time::Duration::from_secs(2), "still without Half after 2 s");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
