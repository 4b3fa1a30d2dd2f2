//! The typed Rust client (`crates/client`) against a real portal, as an integrator uses it.

use portal_client::{ActivityFilter, Client, Error, Page, UsageRange};
use portal_types::*;

use crate::helpers::*;

const SERVICE_TOKEN: &str = "service-token-service-token-service-token";

/// Sign-up with the mailed link, a team, a key, a key-authenticated call, verification by a
/// service, usage, paging and revocation: every step through the typed client.
#[tokio::test]
async fn an_integrator_runs_the_whole_journey_with_the_typed_client() {
    let app = spawn_app_with(Options::shared(None, &["--service-token", SERVICE_TOKEN])).await;
    let portal = Client::new(&app.base).unwrap();
    assert_eq!(portal.healthz().await.unwrap().status, "ok");
    assert_eq!(portal.readyz().await.unwrap().status, "ok");

    let signup = SignupRequest {
        email: "ada@example.com".into(),
        name: "Ada Lovelace".into(),
        password: PASSWORD.into(),
        invitation_token: None,
    };
    portal.signup(&signup).await.unwrap();
    let token = app.wait_for_mail("ada@example.com", "Verify your e-mail address").await.token("/verify-email?token=");
    portal.verify_email(&VerifyEmailRequest { token: token.into() }).await.unwrap();
    let session = portal
        .login(&LoginRequest { email: "ada@example.com".into(), password: PASSWORD.into(), sso_link: None })
        .await
        .unwrap();
    let ada = portal.with_token(&session.access_token);
    assert_eq!(ada.get_me().await.unwrap().email, "ada@example.com");

    let team = ada.create_team(&CreateTeamRequest { name: "Acme".into(), description: None }).await.unwrap();
    let created = ada
        .create_api_key(
            team.id,
            &CreateApiKeyRequest {
                name: "Production App".into(),
                description: Some("billing".into()),
                environment: Environment::Production,
                expiration: Expiration::Days90,
                usage_limit: Some(1000),
                rate_limit: Some(RateLimit { requests_per_second: 50, burst: 100 }),
                scopes: None,
                allowed_ips: None,
                alert_thresholds: None,
            },
        )
        .await
        .unwrap();
    assert!(created.secret.starts_with("pp_prod_"));

    // The key acts on its team.
    let integrator = portal.with_token(&created.secret);
    assert_eq!(integrator.get_team(team.id).await.unwrap().name, "Acme");
    let members = integrator.list_members(team.id, Page::first(10)).await.unwrap();
    assert_eq!(members.items.len(), 1);
    assert!(members.next_cursor.is_none());

    // Another service checks the key.
    let service = portal.with_token(SERVICE_TOKEN);
    let verified =
        service.verify_api_key(&VerifyKeyRequest { key: created.secret.clone(), client_ip: None }).await.unwrap();
    assert!(verified.valid);
    assert_eq!(verified.key_id, Some(created.key.id));

    // Usage shows the key's calls: two of its own, and the service's verification.
    let usage = ada.get_api_key_usage(team.id, created.key.id, &UsageRange::default()).await.unwrap();
    assert_eq!(usage.total_requests, 3, "{usage:?}");
    assert_eq!(usage.remaining, Some(997));
    let csv = ada.get_team_usage_csv(team.id, &UsageRange::default()).await.unwrap();
    assert!(csv.starts_with("bucket_start,"), "{csv}");
    let activity = ada
        .list_activity(
            team.id,
            Page::first(5),
            &ActivityFilter { action: Some("key.created".into()), ..Default::default() },
        )
        .await
        .unwrap();
    assert_eq!(activity.items.len(), 1);

    // Revoked: the key is refused at once, with a typed error.
    let revoked = ada.revoke_api_key(team.id, created.key.id).await.unwrap();
    assert_eq!(revoked.status, KeyStatus::Revoked);
    let refused = integrator.get_team(team.id).await.unwrap_err();
    assert_eq!(refused.code(), Some(ErrorCode::KeyRevoked));
    assert_eq!(refused.status(), Some(401));

    // The session: refresh rotates the cookie, logout ends it.
    let refreshed = portal.refresh_session().await.unwrap();
    assert_eq!(refreshed.user.email, "ada@example.com");
    portal.logout().await.unwrap();
    assert_eq!(portal.refresh_session().await.unwrap_err().code(), Some(ErrorCode::InvalidRefreshToken));
}

#[tokio::test]
async fn problems_arrive_as_typed_errors_naming_the_field() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let ada = app.api_as(&owner);
    let err = ada.create_team(&CreateTeamRequest { name: " ".into(), description: None }).await.unwrap_err();
    let Error::Api { problem } = &err else { panic!("{err:?}") };
    assert_eq!(
        (problem.status, problem.code, problem.field.as_deref()),
        (422, ErrorCode::ValidationFailed, Some("name"))
    );

    let team = ada.create_team(&CreateTeamRequest { name: "Acme".into(), description: None }).await.unwrap();
    let err = ada.list_members(team.id, Page::after(10, "not-a-cursor")).await.unwrap_err();
    assert_eq!(err.code(), Some(ErrorCode::ValidationFailed));
    let nobody = app.api().get_team(team.id).await.unwrap_err();
    assert_eq!(nobody.code(), Some(ErrorCode::Unauthorized));
}

/// Paging through a list with `next_cursor` visits every item once.
#[tokio::test]
async fn cursors_page_through_every_key_once() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    for i in 0..7 {
        app.simple_key(&owner, &team, &format!("key {i}")).await;
    }
    let ada = app.api_as(&owner);
    let team: uuid::Uuid = team.parse().unwrap();
    let (mut seen, mut page) = (Vec::new(), Page::first(3));
    loop {
        let keys = ada.list_api_keys(team, page).await.unwrap();
        seen.extend(keys.items.into_iter().map(|k| k.name));
        match keys.next_cursor {
            Some(cursor) => page = Page::after(3, cursor),
            None => break,
        }
    }
    seen.sort();
    assert_eq!(seen, (0..7).map(|i| format!("key {i}")).collect::<Vec<_>>());
}
