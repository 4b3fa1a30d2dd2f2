//! Every team endpoint, called as anonymous, outsider, member, admin and owner.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::*;

const CALLERS: [&str; 5] = ["anonymous", "outsider", "member", "admin", "owner"];

#[tokio::test]
async fn authorization_matrix_of_team_endpoints() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let (outsider, _) = app.signed_in("outsider@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let admin = app.join(&owner, &team, "admin@example.com", "admin").await;
    let member = app.join(&owner, &team, "member@example.com", "member").await;
    app.join(&owner, &team, "victim1@example.com", "member").await;
    app.join(&owner, &team, "victim2@example.com", "member").await;
    let res = app.op(Some(&owner), ops::list_members(&team, &Page::default())).await;
    let id_of = |email: &str| {
        res.body["items"].as_array().unwrap().iter().find(|m| m["email"] == email).unwrap()["user_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (victim1, victim2) = (id_of("victim1@example.com"), id_of("victim2@example.com"));
    let invitation = |email: &str| {
        let (app, owner, team, email) = (&app, owner.clone(), team.clone(), email.to_owned());
        async move {
            let res = app
                .op(
                    Some(&owner),
                    ops::create_invitation(
                        &team,
                        &CreateInvitationRequest { email: email.to_string().into(), role: Role::Member, message: None },
                    ),
                )
                .await;
            res.body["id"].as_str().unwrap().to_owned()
        }
    };
    let (inv1, inv2, inv3) =
        (invitation("i1@example.com").await, invitation("i2@example.com").await, invitation("i3@example.com").await);

    let (key, _) = app.simple_key(&owner, &team, "matrix").await;
    let (roll1, _) = app.simple_key(&owner, &team, "roll1").await;
    let (roll2, _) = app.simple_key(&owner, &team, "roll2").await;
    let token = |caller: &str| match caller {
        "outsider" => Some(outsider.clone()),
        "member" => Some(member.clone()),
        "admin" => Some(admin.clone()),
        "owner" => Some(owner.clone()),
        _ => None,
    };
    let t = &team;
    // (method, path for each caller, body for each caller, expected statuses in CALLERS order)
    type PathFor = Box<dyn Fn(&str) -> String>;
    type BodyFor = Box<dyn Fn(&str) -> Option<Value>>;
    type Case = (Method, PathFor, BodyFor, [u16; 5]);
    let same = |p: String| -> PathFor { Box::new(move |_| p.clone()) };
    let none = || -> BodyFor { Box::new(|_| None) };
    let cases: Vec<Case> = vec![
        (Method::GET, same(format!("/api/v1/teams/{t}")), none(), [401, 404, 200, 200, 200]),
        (
            Method::PATCH,
            same(format!("/api/v1/teams/{t}")),
            Box::new(|_| Some(json!({"name": "Renamed"}))),
            [401, 404, 403, 403, 200],
        ),
        (Method::GET, same(format!("/api/v1/teams/{t}/members")), none(), [401, 404, 200, 200, 200]),
        (
            Method::PATCH,
            same(format!("/api/v1/teams/{t}/members/{victim2}")),
            Box::new(|_| Some(json!({"role": "admin"}))),
            [401, 404, 403, 200, 200],
        ),
        (
            Method::DELETE,
            {
                let (t, v1, v2) = (t.clone(), victim1.clone(), victim2.clone());
                Box::new(move |c| format!("/api/v1/teams/{t}/members/{}", if c == "owner" { &v2 } else { &v1 }))
            },
            none(),
            [401, 404, 403, 204, 204],
        ),
        (Method::GET, same(format!("/api/v1/teams/{t}/invitations")), none(), [401, 404, 403, 200, 200]),
        (
            Method::POST,
            same(format!("/api/v1/teams/{t}/invitations")),
            Box::new(|c| Some(json!({"email": format!("new-{c}@example.com"), "role": "member"}))),
            [401, 404, 403, 201, 201],
        ),
        (Method::POST, same(format!("/api/v1/teams/{t}/invitations/{inv3}/resend")), none(), [401, 404, 403, 200, 200]),
        (
            Method::DELETE,
            {
                let (t, i1, i2) = (t.clone(), inv1.clone(), inv2.clone());
                Box::new(move |c| format!("/api/v1/teams/{t}/invitations/{}", if c == "owner" { &i2 } else { &i1 }))
            },
            none(),
            [401, 404, 403, 204, 204],
        ),
        (Method::GET, same(format!("/api/v1/teams/{t}/activity")), none(), [401, 404, 200, 200, 200]),
        (Method::GET, same("/api/v1/teams".into()), none(), [401, 200, 200, 200, 200]),
        (
            Method::POST,
            same("/api/v1/invitations/accept".into()),
            Box::new(|_| Some(json!({"token": "x"}))),
            [401, 404, 404, 404, 404],
        ),
        (Method::GET, same(format!("/api/v1/teams/{t}/api-keys")), none(), [401, 404, 200, 200, 200]),
        (
            Method::POST,
            same(format!("/api/v1/teams/{t}/api-keys")),
            Box::new(|c| {
                Some(json!({"name": format!("key of {c}"), "environment": "development", "expiration": "never"}))
            }),
            [401, 404, 403, 201, 201],
        ),
        (Method::GET, same(format!("/api/v1/teams/{t}/api-keys/{key}")), none(), [401, 404, 200, 200, 200]),
        (
            Method::PATCH,
            same(format!("/api/v1/teams/{t}/api-keys/{key}")),
            Box::new(|_| {
                Some(json!({"usage_limit": 1000000, "rate_limit": {"requests_per_second": 100, "burst": 200}}))
            }),
            [401, 404, 403, 200, 200],
        ),
        (Method::GET, same(format!("/api/v1/teams/{t}/api-keys/{key}/usage")), none(), [401, 404, 200, 200, 200]),
        (Method::GET, same(format!("/api/v1/teams/{t}/usage")), none(), [401, 404, 200, 200, 200]),
        (
            Method::POST,
            {
                let (t, k1, k2) = (t.clone(), roll1.clone(), roll2.clone());
                Box::new(move |c| format!("/api/v1/teams/{t}/api-keys/{}/roll", if c == "owner" { &k2 } else { &k1 }))
            },
            Box::new(|_| Some(json!({"grace_period_seconds": 0}))),
            [401, 404, 403, 201, 201],
        ),
        (Method::POST, same(format!("/api/v1/teams/{t}/api-keys/{key}/revoke")), none(), [401, 404, 403, 200, 200]),
        // Last: deleting the team.
        (Method::DELETE, same(format!("/api/v1/teams/{t}")), none(), [401, 404, 403, 403, 204]),
    ];
    let mut failures = Vec::new();
    for (method, path, body, expected) in &cases {
        for (caller, want) in CALLERS.iter().zip(expected) {
            let res = app.call(method.clone(), token(caller).as_deref(), &path(caller), body(caller)).await;
            if res.status.as_u16() != *want {
                failures.push(format!(
                    "{method} {} as {caller}: {} (want {want}) {}",
                    path(caller),
                    res.status,
                    res.body
                ));
            } else if *want >= 400 {
                assert_eq!(res.headers["content-type"], "application/problem+json");
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(cases.len() * CALLERS.len(), 105);
}

/// Every team endpoint called with a valid key, a revoked key, an expired key and a key of
/// another team.
#[tokio::test]
async fn authorization_matrix_of_api_keys() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let other_team = app.create_team(&owner, "Other").await;
    app.join(&owner, &team, "victim1@example.com", "member").await;
    app.join(&owner, &team, "victim2@example.com", "member").await;
    let members = app.op(Some(&owner), ops::list_members(&team, &Page::default())).await;
    let id_of = |email: &str| {
        members.body["items"].as_array().unwrap().iter().find(|m| m["email"] == email).unwrap()["user_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (victim1, victim2) = (id_of("victim1@example.com"), id_of("victim2@example.com"));
    let inv = {
        let res = app
            .op(
                Some(&owner),
                ops::create_invitation(
                    &team,
                    &CreateInvitationRequest {
                        email: "i@example.com".to_string().into(),
                        role: Role::Member,
                        message: None,
                    },
                ),
            )
            .await;
        res.body["id"].as_str().unwrap().to_owned()
    };
    let inv2 = {
        let res = app
            .op(
                Some(&owner),
                ops::create_invitation(
                    &team,
                    &CreateInvitationRequest {
                        email: "j@example.com".to_string().into(),
                        role: Role::Member,
                        message: None,
                    },
                ),
            )
            .await;
        res.body["id"].as_str().unwrap().to_owned()
    };
    let (_, valid) = app.simple_key(&owner, &team, "valid").await;
    let (revoked_id, revoked) = app.simple_key(&owner, &team, "revoked").await;
    app.op(Some(&owner), ops::revoke_api_key(&team, &revoked_id)).await;
    let (_, expired) = app
        .create_key(&owner, &team, json!({"name": "expired", "environment": "development", "expiration": "30d"}))
        .await;
    let db = portal_db::connect(&app.database_url).await.unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(
        &db,
        "UPDATE api_keys SET expires_at = created_at WHERE name = 'expired'",
    )
    .await
    .ok();
    db.close().await.ok();
    let (_, foreign) = app.simple_key(&owner, &other_team, "foreign").await;
    let (target_id, _) = app.simple_key(&owner, &team, "target").await;
    let (roll_id, _) = app.simple_key(&owner, &team, "to-roll").await;

    let t = &team;
    let cases: Vec<(Method, String, Option<Value>, [u16; 4])> = vec![
        (Method::GET, format!("/api/v1/teams/{t}"), None, [200, 401, 401, 404]),
        (Method::PATCH, format!("/api/v1/teams/{t}"), Some(json!({"name": "Renamed"})), [403, 401, 401, 404]),
        (Method::GET, format!("/api/v1/teams/{t}/members"), None, [200, 401, 401, 404]),
        (
            Method::PATCH,
            format!("/api/v1/teams/{t}/members/{victim2}"),
            Some(json!({"role": "admin"})),
            [200, 401, 401, 404],
        ),
        (
            Method::PATCH,
            format!("/api/v1/teams/{t}/members/{victim2}"),
            Some(json!({"role": "owner"})),
            [403, 401, 401, 404],
        ),
        (Method::DELETE, format!("/api/v1/teams/{t}/members/{victim1}"), None, [204, 401, 401, 404]),
        (Method::GET, format!("/api/v1/teams/{t}/invitations"), None, [200, 401, 401, 404]),
        (
            Method::POST,
            format!("/api/v1/teams/{t}/invitations"),
            Some(json!({"email": "k@example.com", "role": "admin"})),
            [201, 401, 401, 404],
        ),
        (Method::POST, format!("/api/v1/teams/{t}/invitations/{inv}/resend"), None, [200, 401, 401, 404]),
        (Method::DELETE, format!("/api/v1/teams/{t}/invitations/{inv2}"), None, [204, 401, 401, 404]),
        (Method::GET, format!("/api/v1/teams/{t}/activity"), None, [200, 401, 401, 404]),
        (Method::GET, "/api/v1/teams".into(), None, [200, 401, 401, 200]),
        (Method::GET, format!("/api/v1/teams/{t}/api-keys"), None, [200, 401, 401, 404]),
        (
            Method::POST,
            format!("/api/v1/teams/{t}/api-keys"),
            // Its own environment: a development key makes no production key (tests/api/escapes.rs).
            Some(json!({"name": "by key", "environment": "development", "expiration": "30d"})),
            [201, 401, 401, 404],
        ),
        (Method::GET, format!("/api/v1/teams/{t}/api-keys/{target_id}"), None, [200, 401, 401, 404]),
        (
            Method::PATCH,
            format!("/api/v1/teams/{t}/api-keys/{target_id}"),
            Some(json!({"name": "renamed by a key", "usage_limit": 500})),
            [200, 401, 401, 404],
        ),
        (Method::GET, format!("/api/v1/teams/{t}/api-keys/{target_id}/usage"), None, [200, 401, 401, 404]),
        (Method::GET, format!("/api/v1/teams/{t}/usage"), None, [200, 401, 401, 404]),
        (
            Method::POST,
            format!("/api/v1/teams/{t}/api-keys/{roll_id}/roll"),
            Some(json!({"grace_period_seconds": 60})),
            [201, 401, 401, 404],
        ),
        (Method::POST, format!("/api/v1/teams/{t}/api-keys/{target_id}/revoke"), None, [200, 401, 401, 404]),
        // Keys act only under /api/v1/teams: elsewhere any key is refused as a key.
        (Method::GET, "/api/v1/me".into(), None, [403, 403, 403, 403]),
        (Method::DELETE, format!("/api/v1/teams/{t}"), None, [403, 401, 401, 404]),
    ];
    let keys = [("valid", &valid), ("revoked", &revoked), ("expired", &expired), ("other-team", &foreign)];
    let mut failures = Vec::new();
    for (method, path, body, expected) in &cases {
        for ((name, key), want) in keys.iter().zip(expected) {
            let res = app.call(method.clone(), Some(key), path, body.clone()).await;
            if res.status.as_u16() != *want {
                failures.push(format!("{method} {path} with {name} key: {} (want {want}) {}", res.status, res.body));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    let refused = app.op(Some(&revoked), ops::get_team(t)).await;
    assert_eq!(refused.code(), "key_revoked");
    let refused = app.op(Some(&expired), ops::get_team(t)).await;
    assert_eq!(refused.code(), "key_expired");
}
