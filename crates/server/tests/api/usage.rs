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
    let res = app.call(Method::GET, Some(owner), &format!("/api/v1/teams/{team}/api-keys/{key_id}/usage"), None).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body["total_requests"].as_u64().unwrap()
}

/// Deleting a team while its key is busy used to stop the meter of every team: the flush failed
/// on the deleted key's counts, put the whole batch back, and failed again forever.
#[tokio::test]
async fn deleting_a_team_mid_traffic_keeps_other_teams_counts_exact() {
    // Flushes happen only when a usage read asks for one (or at shutdown), so the deleted key's
    // counts are certainly still buffered when its team goes.
    let mut app = spawn_app_with(Options::shared(None, &["--usage-flush-ms", "60000"])).await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let doomed = app.create_team(&owner, "Doomed").await;
    let kept = app.create_team(&owner, "Kept").await;
    let (_, doomed_key) = app.simple_key(&owner, &doomed, "doomed").await;
    let (kept_id, kept_key) = app.simple_key(&owner, &kept, "kept").await;
    for _ in 0..5 {
        let res = app.call(Method::GET, Some(&doomed_key), &format!("/api/v1/teams/{doomed}"), None).await;
        assert_eq!(res.status, StatusCode::OK);
    }
    // 30 concurrent requests with the doomed key while its team is deleted.
    let (members, team_path) = (format!("/api/v1/teams/{doomed}/members"), format!("/api/v1/teams/{doomed}"));
    let (statuses, deleted) =
        tokio::join!(burst(&app, &doomed_key, &members, 30), app.call(Method::DELETE, Some(&owner), &team_path, None));
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
    assert_eq!(total_requests(&again, &owner, &kept, &kept_id).await, 14, "buffered counts survive a graceful stop");
    for status in burst(&again, &kept_key, &format!("/api/v1/teams/{kept}"), 5).await {
        assert_eq!(status, StatusCode::OK);
    }
    assert_eq!(total_requests(&again, &owner, &kept, &kept_id).await, 19);
    let key = again.call(Method::GET, Some(&owner), &format!("/api/v1/teams/{kept}/api-keys/{kept_id}"), None).await;
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
    let usage = app.call(Method::GET, Some(&owner), &format!("/api/v1/teams/{team}/api-keys/{id}/usage"), None).await;
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
