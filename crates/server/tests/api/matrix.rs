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
    let res = app.call(Method::GET, Some(&owner), &format!("/api/v1/teams/{team}/members"), None).await;
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
            let path = format!("/api/v1/teams/{team}/invitations");
            let res =
                app.call(Method::POST, Some(&owner), &path, Some(json!({"email": email, "role": "member"}))).await;
            res.body["id"].as_str().unwrap().to_owned()
        }
    };
    let (inv1, inv2, inv3) =
        (invitation("i1@example.com").await, invitation("i2@example.com").await, invitation("i3@example.com").await);

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
    assert_eq!(cases.len() * CALLERS.len(), 65);
}
