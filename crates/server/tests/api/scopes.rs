//! Key scopes, the creator's cap, escalation attempts and IP allowlists.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

const SCOPES: [&str; 11] = [
    "team:read",
    "members:read",
    "members:write",
    "invitations:read",
    "invitations:write",
    "api_keys:read",
    "api_keys:write",
    "usage:read",
    "activity:read",
    "webhooks:read",
    "webhooks:write",
];

/// The scopes a key holding `scope` has: a write scope includes its read.
fn held(scope: &str) -> Vec<&str> {
    match scope.strip_suffix(":write") {
        Some(resource) => vec![
            scope,
            if resource == "members" {
                "members:read"
            } else if resource == "invitations" {
                "invitations:read"
            } else if resource == "webhooks" {
                "webhooks:read"
            } else {
                "api_keys:read"
            },
        ],
        None => vec![scope],
    }
}

async fn user_id(app: &TestApp, owner: &str, team: &str, email: &str) -> String {
    let res = app.op(Some(owner), ops::list_members(team, &Page::default())).await;
    res.body["items"].as_array().unwrap().iter().find(|m| m["email"] == email).unwrap()["user_id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn invitation(app: &TestApp, owner: &str, team: &str, email: &str) -> String {
    let res = app
        .op(
            Some(owner),
            ops::create_invitation(
                team,
                &CreateInvitationRequest { email: email.to_string().into(), role: Role::Member, message: None },
            ),
        )
        .await;
    res.body["id"].as_str().unwrap().to_owned()
}

/// An allowlist of `entries`.
fn ips(entries: &[&str]) -> AllowList {
    entries.iter().map(|e| (*e).to_owned()).collect::<Vec<_>>().into()
}

/// A development key "m" that only reads the team.
fn team_reader() -> CreateApiKeyRequest {
    CreateApiKeyRequest {
        name: "m".into(),
        description: None,
        environment: Environment::Development,
        expiration: Expiration::Never,
        usage_limit: None,
        rate_limit: None,
        scopes: Some(vec![Scope::TeamRead]),
        allowed_ips: None,
        alert_thresholds: None,
    }
}

async fn scoped_key(app: &TestApp, token: &str, team: &str, name: &str, scopes: &[&str]) -> (String, String) {
    let body = json!({"name": name, "environment": "development", "expiration": "never", "scopes": scopes});
    app.create_key(token, team, body).await
}

/// Every team endpoint × a key holding exactly each scope: allowed where the table says, 403
/// `insufficient_scope` naming the scope elsewhere; what no key may do is 403 `forbidden`.
#[tokio::test]
async fn scope_matrix_of_team_endpoints() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    app.join(&owner, &team, "steady@example.com", "member").await;
    let steady = user_id(&app, &owner, &team, "steady@example.com").await;
    let resend = invitation(&app, &owner, &team, "resend@example.com").await;
    // The keys acted on hold only `api_keys:read`: a key acts only on keys within its own
    // scopes, so the one holding `api_keys:write` may touch them.
    let (plain, _) = scoped_key(&app, &owner, &team, "plain", &["api_keys:read"]).await;
    let t = &team;
    let mut failures = Vec::new();
    let mut checked = 0;
    for scope in SCOPES {
        // What an allowed call removes or replaces is made afresh for each key.
        let victim_email = format!("victim-{}@example.com", scope.replace(':', "-"));
        app.join(&owner, &team, &victim_email, "member").await;
        let victim = user_id(&app, &owner, &team, &victim_email).await;
        let doomed = invitation(&app, &owner, &team, &format!("doomed-{}@example.com", scope.replace(':', "-"))).await;
        let (rollable, _) = scoped_key(&app, &owner, &team, "rollable", &["api_keys:read"]).await;
        let (revocable, _) = scoped_key(&app, &owner, &team, "revocable", &["api_keys:read"]).await;
        let (compromised, _) = scoped_key(&app, &owner, &team, "compromised", &["api_keys:read"]).await;

        // (method, path, body, the scope it needs; None: no key may)
        let cases: Vec<(Method, String, Option<Value>, Option<&str>)> = vec![
            (Method::GET, format!("/api/v1/teams/{t}"), None, Some("team:read")),
            (Method::PATCH, format!("/api/v1/teams/{t}"), Some(json!({"name": "Renamed"})), None),
            (Method::GET, format!("/api/v1/teams/{t}/members"), None, Some("members:read")),
            (
                Method::PATCH,
                format!("/api/v1/teams/{t}/members/{steady}"),
                Some(json!({"role": "member"})),
                Some("members:write"),
            ),
            (Method::DELETE, format!("/api/v1/teams/{t}/members/{victim}"), None, Some("members:write")),
            (Method::GET, format!("/api/v1/teams/{t}/invitations"), None, Some("invitations:read")),
            (
                Method::POST,
                format!("/api/v1/teams/{t}/invitations"),
                Some(json!({"email": format!("new-{}@example.com", scope.replace(':', "-")), "role": "member"})),
                Some("invitations:write"),
            ),
            (Method::POST, format!("/api/v1/teams/{t}/invitations/{resend}/resend"), None, Some("invitations:write")),
            (Method::DELETE, format!("/api/v1/teams/{t}/invitations/{doomed}"), None, Some("invitations:write")),
            (Method::GET, format!("/api/v1/teams/{t}/activity"), None, Some("activity:read")),
            (Method::GET, format!("/api/v1/teams/{t}/api-keys"), None, Some("api_keys:read")),
            (
                Method::POST,
                format!("/api/v1/teams/{t}/api-keys"),
                Some(
                    json!({"name": "minted", "environment": "development", "expiration": "never", "scopes": ["api_keys:read"]}),
                ),
                Some("api_keys:write"),
            ),
            (Method::GET, format!("/api/v1/teams/{t}/api-keys/{plain}"), None, Some("api_keys:read")),
            (
                Method::PATCH,
                format!("/api/v1/teams/{t}/api-keys/{plain}"),
                Some(json!({"description": "touched"})),
                Some("api_keys:write"),
            ),
            (Method::GET, format!("/api/v1/teams/{t}/api-keys/{plain}/usage"), None, Some("usage:read")),
            (Method::GET, format!("/api/v1/teams/{t}/usage"), None, Some("usage:read")),
            (
                Method::POST,
                format!("/api/v1/teams/{t}/api-keys/{rollable}/roll"),
                Some(json!({"grace_period_seconds": 60})),
                Some("api_keys:write"),
            ),
            (Method::POST, format!("/api/v1/teams/{t}/api-keys/{revocable}/revoke"), None, Some("api_keys:write")),
            (
                Method::POST,
                format!("/api/v1/teams/{t}/api-keys/{compromised}/compromised"),
                Some(json!({})),
                Some("api_keys:write"),
            ),
            (Method::GET, format!("/api/v1/teams/{t}/webhooks"), None, Some("webhooks:read")),
            (
                Method::POST,
                format!("/api/v1/teams/{t}/webhooks"),
                // The test event needs no read scope; other families do (tests/api/webhooks.rs).
                Some(json!({"url": "https://example.com/hook", "event_types": ["webhook.test"]})),
                Some("webhooks:write"),
            ),
            (Method::DELETE, format!("/api/v1/teams/{t}"), None, None),
        ];
        let (_, secret) = scoped_key(&app, &owner, &team, &format!("only {scope}"), &[scope]).await;
        for (method, path, body, needs) in &cases {
            let res = app.call(method.clone(), Some(&secret), path, body.clone()).await;
            checked += 1;
            let allowed = needs.is_some_and(|n| held(scope).contains(&n));
            let ok = if allowed {
                res.status.is_success()
            } else if let Some(needed) = needs {
                res.status == StatusCode::FORBIDDEN
                    && res.body["code"] == "insufficient_scope"
                    && res.body["required_scope"] == *needed
            } else {
                res.status == StatusCode::FORBIDDEN && res.body["code"] == "forbidden"
            };
            if !ok {
                failures.push(format!("{scope}: {method} {path}: {} {}", res.status, res.body));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(checked, 11 * 22);
    // Nothing the refused calls tried happened: the team, the owner and the other keys stand.
    let res = app.get_as(&owner, &format!("/api/v1/teams/{team}")).await;
    assert_eq!(res.body["name"], "Acme");
    let res = app.get_as(&owner, &format!("/api/v1/teams/{team}/api-keys/{plain}")).await;
    assert_eq!((res.body["status"].as_str(), res.body["description"].as_str()), (Some("active"), Some("touched")));
}

/// A key's scopes show in its answers; omitting them keeps full access; `permissions` of a
/// scoped key say what it may do.
#[tokio::test]
async fn scopes_are_shown_and_default_to_full_access() {
    const SERVICE_TOKEN: &str = "service-token-service-token-service-token";
    let app = spawn_app_with(Options::shared(None, &["--service-token", SERVICE_TOKEN])).await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let (full_id, full) = app.simple_key(&owner, &team, "full").await;
    let res = app.get_as(&owner, &format!("/api/v1/teams/{team}/api-keys/{full_id}")).await;
    assert_eq!(res.body["scopes"], json!(SCOPES), "{}", res.body);
    let (ro_id, read_only) = scoped_key(
        &app,
        &owner,
        &team,
        "read-only",
        &["team:read", "members:read", "invitations:read", "api_keys:read", "usage:read", "activity:read"],
    )
    .await;
    let (w_id, _) = scoped_key(&app, &owner, &team, "writer", &["members:write"]).await;
    let res = app.get_as(&owner, &format!("/api/v1/teams/{team}/api-keys/{w_id}")).await;
    assert_eq!(res.body["scopes"], json!(["members:read", "members:write"]));
    let seen = app.get_as(&read_only, &format!("/api/v1/teams/{team}")).await;
    assert_eq!(seen.body["permissions"]["manage_api_keys"], false, "{}", seen.body);
    assert_eq!(seen.body["permissions"]["invite_roles"], json!([]));
    assert_eq!(app.get_as(&full, &format!("/api/v1/teams/{team}")).await.body["permissions"]["manage_api_keys"], true);
    // Each kind of key keeps its own answer of the cached team, whichever asked first.
    let again = app.get_as(&read_only, &format!("/api/v1/teams/{team}")).await;
    assert_eq!(again.body["permissions"]["manage_api_keys"], false, "{}", again.body);
    // The service sees the scopes too.
    let verdict = app
        .api_as(SERVICE_TOKEN)
        .verify_api_key(&portal_types::VerifyKeyRequest { key: read_only, client_ip: None })
        .await;
    let verdict = verdict.unwrap();
    assert!(verdict.valid && verdict.scopes.len() == 6, "{verdict:?}");
    // Bad scope lists change nothing.
    let path = format!("/api/v1/teams/{team}/api-keys");
    for bad in [json!([]), json!(["team:write"]), json!("team:read")] {
        let body = json!({"name": "bad", "environment": "development", "expiration": "never", "scopes": bad});
        let res = app.call(Method::POST, Some(&owner), &path, Some(body)).await;
        assert_eq!(res.status.as_u16(), 422, "{bad}: {}", res.body);
        assert!(res.body["field"].as_str().unwrap().starts_with("scopes"), "{bad}: {}", res.body);
    }
    let res = app.get_as(&owner, &path).await;
    assert_eq!(res.body["items"].as_array().unwrap().len(), 3);
    let _ = ro_id;
}

/// A key with `api_keys:write` may not give more than it has, nor change itself; and a key is
/// capped by its creator's current role, on every use.
#[tokio::test]
async fn keys_cannot_mint_wider_keys_nor_outlast_their_creators_rights() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let path = format!("/api/v1/teams/{team}/api-keys");
    // No monthly limit: a key with one makes no keys (tests/api/escapes.rs).
    let body = CreateApiKeyRequest {
        name: "minter".into(),
        description: None,
        environment: Environment::Development,
        expiration: Expiration::Days30,
        usage_limit: None,
        rate_limit: Some(RateLimit { requests_per_second: 10, burst: 20 }),
        scopes: Some(vec![Scope::ApiKeysWrite, Scope::MembersRead]),
        allowed_ips: Some(ips(&["127.0.0.0/8", "::1"])),
        alert_thresholds: None,
    };
    let (minter_id, minter) = app.create_key(&owner, &team, serde_json::to_value(&body).unwrap()).await;
    // The minter's own settings for a key named "child".
    let child = CreateApiKeyRequest { name: "child".into(), ..body.clone() };
    // Each wider setting is refused, naming the field; nothing is created.
    for (narrow, field) in [
        (CreateApiKeyRequest { scopes: Some(vec![Scope::MembersWrite]), ..child.clone() }, "scopes"),
        (CreateApiKeyRequest { scopes: None, ..child.clone() }, "scopes"),
        (
            CreateApiKeyRequest { rate_limit: Some(RateLimit { requests_per_second: 11, burst: 20 }), ..child.clone() },
            "rate_limit",
        ),
        (CreateApiKeyRequest { rate_limit: None, ..child.clone() }, "rate_limit"),
        (CreateApiKeyRequest { allowed_ips: Some(ips(&["10.0.0.1"])), ..child.clone() }, "allowed_ips"),
        (CreateApiKeyRequest { allowed_ips: None, ..child.clone() }, "allowed_ips"),
    ] {
        let res = app.op(Some(&minter), ops::create_api_key(&team, &narrow)).await;
        assert_eq!((res.status.as_u16(), res.body["field"].as_str()), (403, Some(field)), "{narrow:?}: {}", res.body);
    }
    assert_eq!(app.get_as(&owner, &path).await.body["items"].as_array().unwrap().len(), 1);
    // A key made by a key never outlives it: a longer expiration is cut to the maker's.
    let expires = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    let minter_expires = expires(&app.get_as(&owner, &format!("{path}/{minter_id}")).await.body["expires_at"]);
    for expiration in [Expiration::Never, Expiration::Days180] {
        let res = app
            .op(Some(&minter), ops::create_api_key(&team, &CreateApiKeyRequest { expiration, ..child.clone() }))
            .await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        assert_eq!(expires(&res.body["key"]["expires_at"]), minter_expires);
    }
    // No wider is fine.
    let narrow =
        CreateApiKeyRequest { scopes: Some(vec![Scope::MembersRead]), allowed_ips: Some(ips(&["127.0.0.1"])), ..child };
    let (child_id, _) = app.create_key(&minter, &team, serde_json::to_value(&narrow).unwrap()).await;
    // A full-access key made by the owner may not be rolled, nor widened, by the minter.
    let (full_id, _) = app.simple_key(&owner, &team, "full").await;
    let no_grace = RollApiKeyRequest { grace_period_seconds: 0 };
    let res = app.op(Some(&minter), ops::roll_api_key(&team, &full_id, &no_grace)).await;
    res.assert_problem(403, "insufficient_scope");
    let widen = UpdateApiKeyRequest { scopes: Some(vec![Scope::MembersWrite]), ..Default::default() };
    let res = app.op(Some(&minter), ops::update_api_key(&team, &child_id, &widen)).await;
    res.assert_problem(403, "insufficient_scope");
    let unlimit = UpdateApiKeyRequest { rate_limit: Some(None), ..Default::default() };
    let res = app.op(Some(&minter), ops::update_api_key(&team, &child_id, &unlimit)).await;
    res.assert_problem(403, "forbidden");
    // Nor change itself.
    for change in [
        UpdateApiKeyRequest { scopes: Some(vec![Scope::ApiKeysRead]), ..Default::default() },
        UpdateApiKeyRequest { allowed_ips: Some(None), ..Default::default() },
        UpdateApiKeyRequest { usage_limit: Some(Some(5)), ..Default::default() },
    ] {
        let res = app.op(Some(&minter), ops::update_api_key(&team, &minter_id, &change)).await;
        res.assert_problem(403, "forbidden");
    }
    // Rolling itself keeps its expiry and its month's count: no fresh lifetime, no reset limit.
    let before = app.get_as(&owner, &format!("{path}/{minter_id}")).await.body;
    let res = app.op(Some(&minter), ops::roll_api_key(&team, &minter_id, &no_grace)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let rolled = res.body["secret"].as_str().unwrap().to_owned();
    assert!(expires(&res.body["key"]["expires_at"]) <= expires(&before["expires_at"]), "{}", res.body);
    assert_eq!(res.body["key"]["scopes"], before["scopes"]);
    assert_eq!(res.body["key"]["allowed_ips"], json!(["127.0.0.0/8", "::1"]));

    // The creator's rights cap the key on every use: an admin's key loses its write scopes
    // when the admin is demoted or removed, and keeps reading.
    let admin = app.join(&owner, &team, "admin@example.com", "admin").await;
    let admin_id = user_id(&app, &owner, &team, "admin@example.com").await;
    let (_, admins_key) = app.simple_key(&admin, &team, "admin's key").await;
    let res = app.op(Some(&admins_key), ops::create_api_key(&team, &team_reader())).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    // A key made by that key answers to the admin too.
    let grandchild = res.body["secret"].as_str().unwrap().to_owned();
    let demote =
        app.op(Some(&owner), ops::update_member(&team, &admin_id, &UpdateMemberRequest { role: Role::Member })).await;
    assert_eq!(demote.status, StatusCode::OK);
    let res = app.op(Some(&admins_key), ops::create_api_key(&team, &team_reader())).await;
    res.assert_problem(403, "insufficient_scope");
    assert_eq!(res.body["required_scope"], "api_keys:write");
    assert_eq!(app.get_as(&admins_key, &format!("/api/v1/teams/{team}/members")).await.status, StatusCode::OK);
    assert_eq!(app.get_as(&grandchild, &format!("/api/v1/teams/{team}")).await.status, StatusCode::OK);
    let invite = CreateInvitationRequest { email: "x@example.com".into(), role: Role::Member, message: None };
    let res = app.op(Some(&admins_key), ops::create_invitation(&team, &invite)).await;
    res.assert_problem(403, "insufficient_scope");
    // Promoted again: the key writes again.
    app.op(Some(&owner), ops::update_member(&team, &admin_id, &UpdateMemberRequest { role: Role::Admin })).await;
    let res = app.op(Some(&admins_key), ops::create_api_key(&team, &team_reader())).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    // Removed: reads only.
    assert_eq!(app.op(Some(&owner), ops::remove_member(&team, &admin_id)).await.status, StatusCode::NO_CONTENT);
    app.op(Some(&admins_key), ops::create_api_key(&team, &team_reader()))
        .await
        .assert_problem(403, "insufficient_scope");
    assert_eq!(app.get_as(&admins_key, &format!("/api/v1/teams/{team}/api-keys")).await.status, StatusCode::OK);
    let _ = rolled;
}

/// An allowlisted key answers only to its addresses; a refusal is metered and spends no quota.
#[tokio::test]
async fn ip_allowlists_refuse_other_addresses_even_behind_spoofed_headers() {
    const SERVICE_TOKEN: &str = "service-token-service-token-service-token";
    let app = spawn_app_with(Options::shared(None, &["--service-token", SERVICE_TOKEN])).await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let key = |allowed: &[&str]| CreateApiKeyRequest {
        name: "allowlisted".into(),
        description: None,
        environment: Environment::Development,
        expiration: Expiration::Never,
        usage_limit: Some(10),
        rate_limit: None,
        scopes: None,
        allowed_ips: Some(ips(allowed)),
        alert_thresholds: None,
    };
    let (far_id, far) = app.create_key(&owner, &team, serde_json::to_value(key(&["10.0.0.0/8"])).unwrap()).await;
    let (_, near) = app.create_key(&owner, &team, serde_json::to_value(key(&["127.0.0.1", "::1"])).unwrap()).await;
    let team_path = format!("/api/v1/teams/{team}");
    app.get_as(&far, &team_path).await.assert_problem(403, "ip_not_allowed");
    // A forwarded address from a peer that is not a trusted proxy changes nothing.
    let spoofed = app.client.get(app.url(&team_path)).bearer_auth(&far).header("x-forwarded-for", "10.1.2.3");
    app.send(spoofed).await.assert_problem(403, "ip_not_allowed");
    assert_eq!(app.get_as(&near, &team_path).await.status, StatusCode::OK);
    let usage = app.get_as(&owner, &format!("/api/v1/teams/{team}/api-keys/{far_id}/usage")).await;
    assert_eq!(usage.body["total_requests"], 2, "{}", usage.body);
    assert_eq!(usage.body["status_codes"][0], json!({"status": 403, "count": 2}));
    assert_eq!(usage.body["used_this_month"], 0);
    assert_eq!(usage.body["remaining"], 10);
    // A service that says where the key came from gets the allowlist checked too.
    let verify = |ip: &str| {
        let body = json!({"key": far, "client_ip": ip});
        let req = app.client.post(app.url("/api/v1/keys/verify")).bearer_auth(SERVICE_TOKEN).json(&body);
        app.send(req)
    };
    let res = verify("10.9.8.7").await;
    assert_eq!((res.status, &res.body["valid"]), (StatusCode::OK, &json!(true)), "{}", res.body);
    let res = verify("192.0.2.1").await;
    assert_eq!((&res.body["valid"], &res.body["code"]), (&json!(false), &json!("ip_not_allowed")));
    let res = verify("10.0.0.0/8").await;
    assert_eq!((res.status.as_u16(), res.body["field"].as_str()), (422, Some("client_ip")));
    // Bad lists are refused, naming the field.
    let many: Vec<String> = (0..51).map(|i| format!("10.0.0.{i}")).collect();
    for bad in [vec!["10.0.0.0/33"], vec!["example.com"], many.iter().map(String::as_str).collect()] {
        let res = app.op(Some(&owner), ops::create_api_key(&team, &key(&bad))).await;
        assert_eq!((res.status.as_u16(), res.body["field"].as_str()), (422, Some("allowed_ips")), "{bad:?}");
    }

    // Behind a trusted proxy, the forwarded client address is what the allowlist sees.
    let app = spawn_app_with(Options::shared(None, &["--trusted-proxies", "127.0.0.1/32"])).await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let (_, far) = app.create_key(&owner, &team, serde_json::to_value(key(&["10.0.0.0/8"])).unwrap()).await;
    let team_path = format!("/api/v1/teams/{team}");
    let forwarded = app.client.get(app.url(&team_path)).bearer_auth(&far).header("x-forwarded-for", "10.1.2.3");
    assert_eq!(app.send(forwarded).await.status, StatusCode::OK);
    let outside =
        app.client.get(app.url(&team_path)).bearer_auth(&far).header("x-forwarded-for", "10.1.2.3, 192.0.2.1");
    app.send(outside).await.assert_problem(403, "ip_not_allowed");
}

/// Keys made before scopes existed keep full access, anywhere, without alerts (they have no
/// monthly limit); one made by another key back then (no creator recorded) is not capped.
#[tokio::test]
async fn existing_keys_migrate_to_full_access() {
    use portal_migrations::{Migrator, MigratorTrait};
    use sea_orm::sea_query::{Alias, Query};

    let (_guard, url) = empty_database().await;
    let db = portal_db::connect(&url).await.unwrap();
    Migrator::up(&db, Some(5)).await.unwrap();
    let now = chrono::Utc::now();
    let user = portal_db::users::create(&db, "old@example.com", "Old", "x", now).await.unwrap();
    let secret = portal_domain::keys::generate(portal_types::Environment::Development);
    let hashing = portal_domain::keys::hashing_key("key-hash-key-hash-key-hash-key-hash");
    let key_hash = portal_domain::keys::hash(&hashing, &secret);
    // The team as version 5 stored it (today's code writes columns that came later).
    let team = uuid::Uuid::new_v4();
    let insert_team = Query::insert()
        .into_table(Alias::new("teams"))
        .columns(["id", "name", "created_by", "created_at", "updated_at"].map(Alias::new))
        .values_panic([team.into(), "Acme".into(), user.id.into(), now.into(), now.into()])
        .to_owned();
    sea_orm::ConnectionTrait::execute(&db, &insert_team).await.unwrap();
    let insert_owner = Query::insert()
        .into_table(Alias::new("team_members"))
        .columns(["team_id", "user_id", "role", "joined_at"].map(Alias::new))
        .values_panic([team.into(), user.id.into(), "owner".into(), now.into()])
        .to_owned();
    sea_orm::ConnectionTrait::execute(&db, &insert_owner).await.unwrap();
    let insert_key = Query::insert()
        .into_table(Alias::new("api_keys"))
        .columns(["id", "team_id", "name", "environment", "key_hash", "hint", "created_at"].map(Alias::new))
        .values_panic([
            uuid::Uuid::new_v4().into(),
            team.into(),
            "Öld".into(),
            "development".into(),
            key_hash.clone().into(),
            "pp_dev_old".into(),
            now.into(),
        ])
        .to_owned();
    sea_orm::ConnectionTrait::execute(&db, &insert_key).await.unwrap();
    portal_db::migrate(&db).await.unwrap();
    let key = portal_db::api_keys::find_by_hash(&db, &key_hash).await.unwrap().unwrap();
    assert_eq!(key.scopes, portal_domain::scopes::ScopeSet::FULL);
    assert_eq!((key.row.allowed_ips.as_deref(), key.row.alert_thresholds.as_str(), key.leaked_at), (None, "", None));
    // It still writes: invites, and mints a key.
    let app = spawn_app_with(Options::shared(Some(url.clone()), &[])).await;
    let res = app
        .op(
            Some(&secret),
            ops::create_invitation(
                team,
                &CreateInvitationRequest {
                    email: "new@example.com".to_string().into(),
                    role: Role::Member,
                    message: None,
                },
            ),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    // The upgrade folded its name for search.
    let search = KeyQuery { search: Some("öLD".to_owned()), ..KeyQuery::default() };
    let res = app.op(Some(&secret), ops::list_api_keys(team, &Page::default(), &search)).await;
    assert_eq!(
        res.body["items"].as_array().map(|i| i.iter().map(|k| k["name"].clone()).collect::<Vec<_>>()),
        Some(vec![json!("Öld")]),
        "{}",
        res.body
    );
}

/// Two instances on one PostgreSQL database: demoting a key's creator on one caps the key on
/// the other within a second, although that one had the key cached.
#[tokio::test]
async fn a_demotion_on_one_instance_caps_the_key_on_another() {
    if backend() != "postgres" {
        eprintln!("a_demotion_on_one_instance_caps_the_key_on_another runs on PostgreSQL only");
        return;
    }
    let a = spawn_app_with(Options::shared(None, &[])).await;
    let (owner, _) = a.signed_in("owner@example.com").await;
    let team = a.create_team(&owner, "Acme").await;
    let admin = a.join(&owner, &team, "admin@example.com", "admin").await;
    let admin_id = user_id(&a, &owner, &team, "admin@example.com").await;
    let b = spawn_app_with(Options::shared(Some(a.database_url.clone()), &[])).await;
    let (_, key) = a.simple_key(&admin, &team, "admin's key").await;
    let mint = || ops::create_api_key(&team, &team_reader());
    // B caches the key with its creator an admin.
    assert_eq!(b.op(Some(&key), mint()).await.status, StatusCode::CREATED);
    let demote =
        a.op(Some(&owner), ops::update_member(&team, &admin_id, &UpdateMemberRequest { role: Role::Member })).await;
    assert_eq!(demote.status, StatusCode::OK);
    let demoted_at = std::time::Instant::now();
    loop {
        let res = b.op(Some(&key), mint()).await;
        if res.status == StatusCode::FORBIDDEN {
            assert_eq!(res.body["required_scope"], "api_keys:write");
            break;
        }
        assert_eq!(res.status, StatusCode::CREATED);
        assert!(
            demoted_at.elapsed() < std::time::Duration::from_secs(1),
            "instance B still lets the key write after 1 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(b.get_as(&key, &format!("/api/v1/teams/{team}/members")).await.status, StatusCode::OK);
}
