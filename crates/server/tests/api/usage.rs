//! Usage you can bill on: a meter no tenant can stop, exact monthly limits.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

/// Sends `n` requests at once with `key` to `path` and returns their statuses.
async fn burst(app: &TestApp, key: &str, path: &str, n: usize) -> Vec<StatusCode> {
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (client, url, key) = (app.client.clone(), app.url(path), key.to_owned());
        set.spawn(async move { client.get(url).bearer_auth(key).send().await.expect("request").status() });
    }
    set.join_all().await
}

async fn total_requests(app: &TestApp, owner: &str, team: &str, key_id: &str) -> u64 {
    let res = app.op(Some(owner), ops::get_api_key_usage(team, key_id, &UsageRange::default())).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body["total_requests"].as_u64().unwrap()
}

/// Deleting a team while its key is busy used to stop the meter of every team: the flush failed
/// on the deleted key's counts, put the whole batch back, and failed again forever.
#[tokio::test]
async fn deleting_a_team_mid_traffic_keeps_other_teams_counts_exact() {
    // Flushes happen only when a CSV export asks for one, or at shutdown, so the deleted key's
    // counts are certainly still buffered when its team goes (and the shutdown flush must drop
    // them to keep the others).
    captured_logs(); // (starts the capture: a failure below prints what the meter logged)
    let mut app = spawn_app_with(Options::shared(None, &["--usage-flush-ms", "60000"])).await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let doomed = app.create_team(&owner, "Doomed").await;
    let kept = app.create_team(&owner, "Kept").await;
    let (_, doomed_key) = app.simple_key(&owner, &doomed, "doomed").await;
    let (kept_id, kept_key) = app.simple_key(&owner, &kept, "kept").await;
    for _ in 0..5 {
        let res = app.op(Some(&doomed_key), ops::get_team(&doomed)).await;
        assert_eq!(res.status, StatusCode::OK);
    }
    // 30 concurrent requests with the doomed key while its team is deleted.
    let members = format!("/api/v1/teams/{doomed}/members");
    let (statuses, deleted) =
        tokio::join!(burst(&app, &doomed_key, &members, 30), app.op(Some(&owner), ops::delete_team(&doomed)));
    assert_eq!(deleted.status, StatusCode::NO_CONTENT, "{}", deleted.body);
    assert_eq!(statuses.len(), 30);
    for status in burst(&app, &kept_key, &format!("/api/v1/teams/{kept}"), 10).await {
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(total_requests(&app, &owner, &kept, &kept_id).await, 10, "the other team's counts are exact");

    // A restart keeps them, and the meter still runs.
    for status in burst(&app, &kept_key, &format!("/api/v1/teams/{kept}"), 4).await {
        assert_eq!(status, StatusCode::OK);
    }
    app.shutdown().await;
    let again = spawn_app_with(Options::shared(Some(app.database_url.clone()), &[])).await;
    let res = again.login_with(&again.client, "owner@example.com", PASSWORD).await;
    let owner = res.body["access_token"].as_str().unwrap().to_owned();
    let total = total_requests(&again, &owner, &kept, &kept_id).await;
    if total != 14 {
        use sea_orm::ConnectionTrait as _;
        // Seen once on PostgreSQL under CI load (28: every count twice), not reproduced since:
        // what was stored, and what the meter said.
        let db = portal_db::connect(&again.database_url).await.unwrap();
        let mut stored = Vec::new();
        for table in ["usage_minutes", "usage_hours"] {
            let sql = format!("SELECT bucket, count FROM {table} WHERE key_id = '{kept_id}'");
            for row in db.query_all_raw(sea_orm::Statement::from_string(db.get_database_backend(), sql)).await.unwrap()
            {
                let [bucket, count] =
                    [0, 1].map(|i| row.try_get_by_index::<i64>(i).map_or_else(|e| e.to_string(), |v| v.to_string()));
                stored.push(format!("{table}: bucket {bucket}, count {count}"));
            }
        }
        let logged: Vec<String> =
            captured_logs().lines().filter(|l| l.contains("usage") || l.contains("flush")).map(str::to_owned).collect();
        panic!(
            "buffered counts survive a graceful stop: {total} requests, not 14\nstored: {stored:#?}\nlogged: {logged:#?}"
        );
    }
    for status in burst(&again, &kept_key, &format!("/api/v1/teams/{kept}"), 5).await {
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(total_requests(&again, &owner, &kept, &kept_id).await, 19);
    let key = again.op(Some(&owner), ops::get_api_key(&kept, &kept_id)).await;
    assert_eq!(key.body["request_count"], 19);
}

/// A monthly limit of N never serves more than N answers that are not 429, whatever the
/// concurrency.
#[tokio::test]
async fn a_monthly_limit_is_exact_under_64_concurrent_requests() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let limit = 20;
    let body = json!({"name": "limited", "environment": "production", "expiration": "never", "usage_limit": limit});
    let (id, secret) = app.create_key(&owner, &team, body).await;
    let mut served = 0;
    // A database-backed read keeps many requests between the key check and the answer.
    for _ in 0..2 {
        for status in burst(&app, &secret, &format!("/api/v1/teams/{team}/members"), 64).await {
            match status {
                StatusCode::TOO_MANY_REQUESTS => {}
                StatusCode::OK => served += 1,
                other => panic!("unexpected {other}"),
            }
        }
    }
    assert_eq!(served, limit, "exactly the limit is served");
    let usage = app.op(Some(&owner), ops::get_api_key_usage(&team, &id, &UsageRange::default())).await;
    assert_eq!(usage.body["used_this_month"], limit, "{}", usage.body);
    assert_eq!(usage.body["remaining"], 0);
    assert_eq!(usage.body["total_requests"], 128, "refused requests are metered too");
}

/// Two instances on one PostgreSQL database share a monthly limit of 1,000: together they serve
/// at most 1% more.
#[tokio::test]
async fn two_instances_share_a_monthly_limit() {
    if backend() != "postgres" {
        eprintln!("two_instances_share_a_monthly_limit runs on PostgreSQL only (PORTAL_TEST_DATABASE=postgres)");
        return;
    }
    let a = spawn_app_with(Options::shared(None, &[])).await;
    let b = spawn_app_with(Options::shared(Some(a.database_url.clone()), &[])).await;
    let (owner, _) = a.signed_in("owner@example.com").await;
    let team = a.create_team(&owner, "Acme").await;
    let limit = 1000u64;
    let body = json!({"name": "shared", "environment": "production", "expiration": "never", "usage_limit": limit});
    let (_, secret) = a.create_key(&owner, &team, body).await;
    // 32 clients per instance, each sending until it is refused.
    let mut set = tokio::task::JoinSet::new();
    for app in [&a, &b] {
        for _ in 0..32 {
            let (client, url, secret) = (new_client(), app.url(&format!("/api/v1/teams/{team}")), secret.clone());
            set.spawn(async move {
                let mut served = 0u64;
                loop {
                    let status = client.get(&url).bearer_auth(&secret).send().await.expect("request").status();
                    match status {
                        StatusCode::OK => served += 1,
                        StatusCode::TOO_MANY_REQUESTS => return served,
                        other => panic!("unexpected {other}"),
                    }
                }
            });
        }
    }
    let served: u64 = set.join_all().await.into_iter().sum();
    eprintln!("two instances served {served} requests under a limit of {limit}");
    assert!(served <= limit + limit / 100, "served {served} under a limit of {limit}");
    assert!(served >= limit - limit / 100, "served only {served} of {limit}");
}

fn header(res: &Response, name: &str) -> String {
    res.headers.get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

/// A per-key rate limit: bursts pass, then 429 `rate_limited` with the IETF draft fields and
/// `Retry-After`; changing it takes effect at once; keys without one carry no such fields.
#[tokio::test]
async fn a_rate_limit_refuses_beyond_its_burst_and_can_be_changed() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let body = json!({"name": "paced", "environment": "production", "expiration": "never",
        "rate_limit": {"requests_per_second": 1, "burst": 3}});
    let (id, secret) = app.create_key(&owner, &team, body).await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let res = app.op(Some(&secret), ops::get_team(&team)).await;
        if res.status == StatusCode::OK {
            assert_eq!(header(&res, "ratelimit-policy"), "\"rate\";q=3;w=3");
            assert!(header(&res, "ratelimit").starts_with("\"rate\";r="), "{:?}", res.headers);
        } else {
            res.assert_problem(429, "rate_limited");
            assert_eq!(header(&res, "retry-after"), "1");
            assert_eq!(header(&res, "ratelimit"), "\"rate\";r=0;t=1");
        }
        statuses.push(res.status.as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429, 429], "a burst of 3, then one a second");

    // An admin can change the limit, and it applies at once; the key itself cannot.
    let key_path = format!("/api/v1/teams/{team}/api-keys/{id}");
    for (body, field) in [
        (json!({"rate_limit": {"requests_per_second": 0, "burst": 5}}), "rate_limit"),
        (json!({"rate_limit": {"requests_per_second": 5}}), "rate_limit.burst"),
        (json!({"usage_limit": 0}), "usage_limit"),
        (json!({"name": ""}), "name"),
        (json!({"scopes": []}), "scopes"),
    ] {
        let res = app.call(Method::PATCH, Some(&owner), &key_path, Some(body)).await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(res.field(), field);
    }
    let generous = RateLimit { requests_per_second: 1000, burst: 1000 };
    let generous = UpdateApiKeyRequest { rate_limit: Some(Some(generous)), ..Default::default() };
    let res = app.op(Some(&owner), ops::update_api_key(&team, &id, &generous)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["rate_limit"], json!({"requests_per_second": 1000, "burst": 1000}));
    for _ in 0..5 {
        let res = app.op(Some(&secret), ops::get_team(&team)).await;
        assert_eq!(res.status, StatusCode::OK);
        assert_eq!(header(&res, "ratelimit-policy"), "\"rate\";q=1000;w=1");
    }
    app.op(
        Some(&secret),
        ops::update_api_key(&team, &id, &UpdateApiKeyRequest { rate_limit: Some(None), ..Default::default() }),
    )
    .await
    .assert_problem(403, "forbidden");
    let unlimited = UpdateApiKeyRequest {
        rate_limit: Some(None),
        description: Some(Some("no limits".into())),
        ..Default::default()
    };
    let res = app.op(Some(&owner), ops::update_api_key(&team, &id, &unlimited)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body.get("rate_limit").is_none(), "{}", res.body);
    assert_eq!(res.body["description"], "no limits");
    let res = app.op(Some(&secret), ops::get_team(&team)).await;
    assert!(res.headers.get("ratelimit").is_none() && res.headers.get("ratelimit-policy").is_none());
    let activity = app.op(Some(&owner), ops::list_activity(&team, &Page::default(), &ActivityFilter::default())).await;
    let updated = activity.body["items"].as_array().unwrap().iter().filter(|e| e["action"] == "key.updated").count();
    assert_eq!(updated, 2, "each change is audited");
}

/// A monthly limit changed later applies at once, up and down.
#[tokio::test]
async fn a_changed_monthly_limit_applies_at_once() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let body = json!({"name": "limited", "environment": "production", "expiration": "never", "usage_limit": 2});
    let (id, secret) = app.create_key(&owner, &team, body).await;
    let get = || app.op(Some(&secret), ops::get_team(&team));
    assert_eq!(get().await.status, StatusCode::OK);
    assert_eq!(get().await.status, StatusCode::OK);
    get().await.assert_problem(429, "usage_limit_exceeded");
    let res = app
        .op(
            Some(&owner),
            ops::update_api_key(&team, &id, &UpdateApiKeyRequest { usage_limit: Some(Some(4)), ..Default::default() }),
        )
        .await;
    assert_eq!(res.body["usage_limit"], 4, "{}", res.body);
    assert_eq!(get().await.status, StatusCode::OK);
    // The last allowed request says none remain until the month ends; the next one is refused
    // until then (the two answers may fall in different seconds).
    let last = get().await;
    let refused = get().await;
    refused.assert_problem(429, "usage_limit_exceeded");
    let resets: i64 = header(&last, "ratelimit").strip_prefix("\"monthly\";r=0;t=").unwrap().parse().unwrap();
    let retry: i64 = header(&refused, "retry-after").parse().unwrap();
    assert!((resets - retry).abs() <= 1, "{resets} vs {retry}");
    app.op(
        Some(&owner),
        ops::update_api_key(&team, &id, &UpdateApiKeyRequest { usage_limit: Some(None), ..Default::default() }),
    )
    .await;
    assert_eq!(get().await.status, StatusCode::OK);
    let usage = app.op(Some(&owner), ops::get_api_key_usage(&team, &id, &UsageRange::default())).await;
    assert_eq!(usage.body["used_this_month"], 5, "{}", usage.body);
}

/// Latency is reported as percentiles with sub-millisecond precision, for the range and per
/// bucket, and the usage endpoints answer CSV on request.
#[tokio::test]
async fn usage_has_latency_percentiles_and_exports_csv() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let (id, secret) = app.simple_key(&owner, &team, "=cmd|' /C calc'!A0").await;
    for _ in 0..20 {
        assert_eq!(app.op(Some(&secret), ops::get_team(&team)).await.status, StatusCode::OK);
    }
    let nowhere = format!("/api/v1/teams/{team}/nowhere");
    app.call(Method::GET, Some(&secret), &nowhere, None).await.assert_problem(404, "route_not_found");
    let usage = app.op(Some(&owner), ops::get_api_key_usage(&team, &id, &UsageRange::default())).await;
    let latency = &usage.body["latency"];
    let (p50, p95, p99) =
        (latency["p50_ms"].as_f64().unwrap(), latency["p95_ms"].as_f64().unwrap(), latency["p99_ms"].as_f64().unwrap());
    assert!(p50 > 0.0 && p50 <= p95 && p95 <= p99 && p99 < 1000.0, "{latency}");
    let busy: Vec<_> =
        usage.body["series"].as_array().unwrap().iter().filter(|p| p["success"].as_u64().unwrap() > 0).collect();
    assert_eq!(busy.len(), 1);
    assert!(busy[0]["latency"]["p50_ms"].as_f64().unwrap() > 0.0, "{}", busy[0]);

    let csv = app
        .send(
            app.client
                .get(app.url(&format!("/api/v1/teams/{team}/api-keys/{id}/usage?format=csv")))
                .bearer_auth(&owner),
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    assert_eq!(header(&csv, "content-type"), "text/csv; charset=utf-8");
    assert!(header(&csv, "content-disposition").starts_with("attachment; filename=\"usage-key-"));
    let text = csv.body.as_str().unwrap().to_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "bucket_start,status,requests,p50_ms,p95_ms,p99_ms");
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[1].contains(",200,20,") && lines[2].contains(",404,1,"), "{text}");

    let team_csv = app
        .send(
            app.client
                .get(app.url(&format!("/api/v1/teams/{team}/usage")))
                .bearer_auth(&owner)
                .header("accept", "text/csv"),
        )
        .await;
    let text = team_csv.body.as_str().unwrap().to_owned();
    assert!(text.starts_with("bucket_start,key_id,key_name,environment,status,requests,"), "{text}");
    assert!(
        text.contains(&format!(",\"{id}\",\"'=cmd|' /C calc'!A0\",\"development\",200,20,")),
        "a formula is defused, every text cell quoted: {text}"
    );

    let bad = app.call(Method::GET, Some(&owner), &format!("/api/v1/teams/{team}/usage?format=xml"), None).await;
    bad.assert_problem(422, "validation_failed");
    assert_eq!(bad.field(), "format");
}

/// The usage pages tell a rate from a spent monthly limit (both answered 429), and denials from
/// other client errors; minute buckets cover the last hour of an incident.
#[tokio::test]
async fn usage_splits_outcomes_and_has_minute_buckets() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let paced = json!({"name": "paced", "environment": "production", "expiration": "never",
        "rate_limit": {"requests_per_second": 1, "burst": 2}});
    let (paced, paced_secret) = app.create_key(&owner, &team, paced).await;
    let capped = json!({"name": "capped", "environment": "production", "expiration": "never", "usage_limit": 1});
    let (capped, capped_secret) = app.create_key(&owner, &team, capped).await;
    let (plain, plain_secret) = app.simple_key(&owner, &team, "plain").await;
    async fn statuses(app: &TestApp, team: &str, secret: &str) -> Vec<u16> {
        let mut seen = Vec::new();
        for _ in 0..3 {
            seen.push(app.op(Some(secret), ops::get_team(team)).await.status.as_u16());
        }
        seen
    }
    assert_eq!(statuses(&app, &team, &paced_secret).await, [200, 200, 429]);
    assert_eq!(statuses(&app, &team, &capped_secret).await, [200, 429, 429]);
    let nowhere = format!("/api/v1/teams/{team}/nowhere");
    app.call(Method::GET, Some(&plain_secret), &nowhere, None).await.assert_problem(404, "route_not_found");
    assert_eq!(app.op(Some(&owner), ops::revoke_api_key(&team, &plain)).await.status, StatusCode::OK);
    app.op(Some(&plain_secret), ops::get_team(&team)).await.assert_problem(401, "key_revoked");

    async fn usage(app: &TestApp, owner: &str, team: &str, id: &str, range: UsageRange) -> serde_json::Value {
        let res = app.op(Some(owner), ops::get_api_key_usage(team, id, &range)).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        res.body
    }
    let outcomes = |success: u64, rate: u64, quota: u64, denied: u64, client: u64| {
        json!({"success": success, "rate_limited": rate, "quota_exceeded": quota, "denied": denied,
            "client_error": client, "server_error": 0})
    };
    assert_eq!(usage(&app, &owner, &team, &paced, UsageRange::default()).await["outcomes"], outcomes(2, 1, 0, 0, 0));
    let capped_usage = usage(&app, &owner, &team, &capped, UsageRange::default()).await;
    assert_eq!(capped_usage["outcomes"], outcomes(1, 0, 2, 0, 0));
    assert_eq!(capped_usage["status_codes"], json!([{"status": 429, "count": 2}, {"status": 200, "count": 1}]));
    assert_eq!(usage(&app, &owner, &team, &plain, UsageRange::default()).await["outcomes"], outcomes(0, 0, 0, 1, 1));
    let team_usage = app.op(Some(&owner), ops::get_team_usage(&team, &UsageRange::default())).await;
    assert_eq!(team_usage.body["usage"]["outcomes"], outcomes(3, 1, 2, 1, 1), "{}", team_usage.body);

    // The CSV keeps the answered status.
    let csv = app
        .send(
            app.client
                .get(app.url(&format!("/api/v1/teams/{team}/api-keys/{capped}/usage?format=csv")))
                .bearer_auth(&owner),
        )
        .await;
    let text = csv.body.as_str().unwrap().to_owned();
    assert!(text.contains(",429,2,") && !text.contains("1429"), "{text}");

    // The last hour in minutes: 60 buckets, every request in the current one.
    let now = chrono::Utc::now();
    let last_hour = UsageRange {
        from: Some(now - chrono::Duration::hours(1)),
        to: Some(now),
        granularity: Some(Granularity::Minute),
    };
    let minutes = usage(&app, &owner, &team, &paced, last_hour).await;
    assert_eq!(minutes["granularity"], "minute");
    let series = minutes["series"].as_array().unwrap();
    assert!((60..=61).contains(&series.len()), "{}", series.len());
    let counted: u64 = series.iter().map(|p| p["success"].as_u64().unwrap() + p["error"].as_u64().unwrap()).sum();
    assert_eq!(counted, 3);
    assert_eq!(minutes["outcomes"], outcomes(2, 1, 0, 0, 0));

    // Minute buckets cover a day at most, and only where minute counts are kept.
    let key_usage = format!("/api/v1/teams/{team}/api-keys/{paced}/usage");
    let time = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    for (from, to, field) in [
        (now - chrono::Duration::hours(25), now, "granularity"),
        (now - chrono::Duration::days(9), now - chrono::Duration::days(8), "from"),
    ] {
        let path = format!("{key_usage}?granularity=minute&from={}&to={}", time(from), time(to));
        let res = app.call(Method::GET, Some(&owner), &path, None).await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(res.field(), field, "{}", res.body);
    }
}

/// History is read from hour and day rollups; expired counts are pruned per tier.
#[tokio::test]
async fn long_ranges_read_rollups_and_retention_prunes_each_tier() {
    use portal_db::usage::{Batch, Increment, write};
    use portal_domain::usage::Histogram;

    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let (id, _) = app.simple_key(&owner, &team, "history").await;
    let now = chrono::Utc::now();
    let db = portal_db::connect(&app.database_url).await.unwrap();
    let (key_id, team_id) = (id.parse().unwrap(), team.parse().unwrap());
    let mut latency = Histogram::default();
    latency.record(2_000);
    let at = |days: i64, status: u16, count: i64| Increment {
        key_id,
        team_id,
        minute: portal_domain::usage::minute_of(now - chrono::Duration::days(days)),
        status,
        count,
        latency_us_sum: 2_000 * count,
        latency: Histogram(latency.0.map(|n| n * count as u64)),
    };
    let batch = Batch {
        counts: vec![at(3, 200, 7), at(40, 200, 11), at(40, 500, 2), at(100, 200, 13), at(800, 200, 17)],
        ..Batch::default()
    };
    let txn = portal_db::TransactionTrait::begin(&db).await.unwrap();
    assert_eq!(write(&txn, &batch).await.unwrap(), 0);
    txn.commit().await.unwrap();
    // Whole seconds, as a person would give them.
    let from = |days: i64| {
        let from = chrono::SubsecRound::trunc_subsecs(now - chrono::Duration::days(days), 0);
        UsageRange { from: Some(from), ..UsageRange::default() }
    };
    let read = |range: UsageRange| {
        let (app, owner, team, id) = (&app, owner.clone(), team.clone(), id.clone());
        async move { app.op(Some(&owner), ops::get_api_key_usage(&team, &id, &range)).await.body }
    };
    let ninety = read(from(90)).await;
    assert_eq!(ninety["total_requests"], 20, "{ninety}");
    assert_eq!(ninety["error"], 2);
    assert_eq!(ninety["granularity"], "day");
    assert_eq!(ninety["latency"]["p50_ms"].as_f64().map(|p| (1.5..2.5).contains(&p)), Some(true), "{ninety}");
    let hourly = read(UsageRange { granularity: Some(Granularity::Hour), ..from(5) }).await;
    assert_eq!(hourly["total_requests"], 7, "{hourly}");

    let counts = |table: &'static str| {
        let db = db.clone();
        async move {
            let sql = format!("SELECT COUNT(*) AS n FROM {table}");
            let row = sea_orm::ConnectionTrait::query_one_raw(
                &db,
                sea_orm::Statement::from_string(db.get_database_backend(), sql),
            )
            .await
            .unwrap()
            .unwrap();
            row.try_get::<i64>("", "n").unwrap()
        }
    };
    let retention = portal_server::config::UsageRetention { minutes: 7, hours: 90, days: 730 };
    let removed = portal_server::retention::prune(&db, retention).await.unwrap();
    // Minutes older than 7 days (40, 40, 100, 800), hours older than 90 days (100, 800), days older
    // than 730 (800): each in the key's and in the team's tables; and the key's week 800 days ago.
    assert_eq!(removed, 2 * (4 + 2 + 1) + 1);
    assert_eq!(counts("usage_key_weeks").await, 3, "the weeks 3, 40 and 100 days ago");
    assert_eq!((counts("usage_minutes").await, counts("usage_hours").await, counts("usage_days").await), (1, 3, 4));
    let team_rows =
        (counts("usage_team_minutes").await, counts("usage_team_hours").await, counts("usage_team_days").await);
    assert_eq!(team_rows, (1, 3, 4));
    let team = app.op(Some(&owner), ops::get_team_usage(&team, &from(90))).await;
    assert_eq!(team.body["usage"]["total_requests"], 20, "the team's sums agree with its keys'");
    // The key's share comes from its weeks between the range's edges: the same.
    assert_eq!(
        (team.body["keys"][0]["total_requests"].clone(), team.body["keys"][0]["error"].clone()),
        (json!(20), json!(2)),
        "{}",
        team.body
    );
    let after = read(from(90)).await;
    assert_eq!(after["total_requests"], 20, "days answer the long range after minutes and hours expired");
    db.close().await.ok();
}

/// Upgrading a portal that has per-minute counts (schema 3) carries them into every tier, per key
/// and per team, and into the monthly counters (refusals by the key check excluded).
#[tokio::test]
async fn the_upgrade_carries_existing_counts_into_every_tier() {
    use portal_migrations::{Migrator, MigratorTrait};
    use sea_orm::{ConnectionTrait, Statement};

    let (_guard, url) = empty_database().await;
    let db = portal_db::connect(&url).await.unwrap();
    Migrator::up(&db, Some(3)).await.unwrap();
    let backend = db.get_database_backend();
    let (team, key, user) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let now = chrono::Utc::now();
    let month = portal_domain::usage::month_bounds(now).0;
    let exec = |sql: &str, values: Vec<sea_orm::Value>| {
        let (db, stmt) = (db.clone(), Statement::from_sql_and_values(backend, sql, values));
        async move { db.execute_raw(stmt).await.unwrap() }
    };
    let p = |i: usize| if backend == sea_orm::DbBackend::Postgres { format!("${i}") } else { "?".to_owned() };
    exec(
        &format!(
            "INSERT INTO teams (id, name, created_by, created_at, updated_at) VALUES ({}, 'Old', {}, {}, {})",
            p(1),
            p(2),
            p(3),
            p(4)
        ),
        vec![team.into(), user.into(), now.into(), now.into()],
    )
    .await;
    exec(
        &format!(
            "INSERT INTO api_keys (id, team_id, name, environment, key_hash, hint, created_at, request_count) \
             VALUES ({}, {}, 'old key', 'production', 'hash', 'pp_prod_abcd', {}, 0)",
            p(1),
            p(2),
            p(3)
        ),
        vec![key.into(), team.into(), now.into()],
    )
    .await;
    // This month: 5 + 3 successes in one hour, 2 refused (401); 40 days ago: 7.
    let minute = portal_domain::usage::minute_of(month + chrono::Duration::minutes(61));
    let old = portal_domain::usage::minute_of(now - chrono::Duration::days(40));
    for (at, status, count) in
        [(minute, 200, 5i64), (minute + chrono::Duration::minutes(1), 200, 3), (minute, 401, 2), (old, 200, 7)]
    {
        exec(
            &format!(
                "INSERT INTO usage_minutes (key_id, team_id, minute, status, count, latency_us_sum) VALUES ({}, {}, {}, {}, {}, {})",
                p(1),
                p(2),
                p(3),
                p(4),
                p(5),
                p(6)
            ),
            vec![key.into(), team.into(), at.into(), status.into(), count.into(), (count * 300).into()],
        )
        .await;
    }
    Migrator::up(&db, None).await.unwrap();
    use portal_db::usage::{Scope, counts, month_requests};
    use portal_domain::usage::{Span, Tier};
    let all = |tier| vec![Span { tier, from: 0, to: now.timestamp() + 86_400 }];
    let total = |rows: Vec<(Option<uuid::Uuid>, portal_domain::usage::Counts)>| {
        rows.iter().map(|(_, c)| c.requests).sum::<u64>()
    };
    for tier in Tier::ALL {
        assert_eq!(total(counts(&db, Scope::Key(key), &all(tier), false, None).await.unwrap()), 17, "{tier:?}");
        assert_eq!(total(counts(&db, Scope::Team(team), &all(tier), false, None).await.unwrap()), 17, "{tier:?}");
    }
    let hours = counts(&db, Scope::Key(key), &all(Tier::Hour), false, None).await.unwrap();
    let hour_start = month + chrono::Duration::hours(1);
    let hour = hours.iter().find(|(_, c)| c.at == hour_start && c.status == 200).expect("the hour of the two minutes");
    assert_eq!((hour.1.requests, hour.1.latency_us_sum), (8, 2_400));
    assert_eq!(month_requests(&db, Scope::Key(key), month).await.unwrap(), 8, "the 401s never counted against a limit");
    // The key's weeks are filled from its days: its share of the team reads them.
    let shares = portal_db::usage::per_key(&db, team, &all(Tier::Day), now).await.unwrap();
    let share = |s: &portal_db::usage::KeyShare| (s.key_id, s.name.clone(), s.requests, s.errors);
    assert_eq!(shares.iter().map(share).collect::<Vec<_>>(), [(key, "old key".to_owned(), 17, 2)], "from weeks");
    db.close().await.ok();
}

/// `PORTAL_RATE_LIMIT_SCOPE`: by default each instance keeps its own rate-limit state, so two
/// instances admit a burst each; with `cluster` they share one state in PostgreSQL and admit
/// exactly one burst between them, whichever instance a request meets.
#[tokio::test]
async fn a_cluster_scoped_rate_limit_is_shared_by_the_instances() {
    if backend() != "postgres" {
        return;
    }
    for (scope, bursts) in [("instance", 2), ("cluster", 1)] {
        let flags = ["--rate-limit-scope", scope];
        let a = spawn_app_with(Options::shared(None, &flags)).await;
        let b = spawn_app_with(Options::shared(Some(a.database_url.clone()), &flags)).await;
        let (owner, _) = a.signed_in("owner@example.com").await;
        let team = a.create_team(&owner, "Acme").await;
        let body = json!({"name": "paced", "environment": "production", "expiration": "never",
            "rate_limit": {"requests_per_second": 1, "burst": 3}});
        let (_, secret) = a.create_key(&owner, &team, body).await;
        let started = std::time::Instant::now();
        let mut admitted = 0;
        for n in 0..12 {
            let instance = if n % 2 == 0 { &a } else { &b };
            let res = instance.op(Some(&secret), ops::get_team(&team)).await;
            if res.status == StatusCode::OK {
                admitted += 1;
                assert!(header(&res, "ratelimit").starts_with("\"rate\";r="), "{:?}", res.headers);
            } else {
                res.assert_problem(429, "rate_limited");
                assert_eq!(header(&res, "retry-after"), "1");
                assert_eq!(header(&res, "ratelimit"), "\"rate\";r=0;t=1");
            }
        }
        // One more request comes back each second: a slow run may see it.
        let refilled = started.elapsed().as_secs() as usize * bursts;
        let expected = 3 * bursts;
        assert!(
            (expected..=expected + refilled).contains(&admitted),
            "{scope}: {admitted} admitted, expected {expected} (+{refilled} refilled)"
        );
    }
}
