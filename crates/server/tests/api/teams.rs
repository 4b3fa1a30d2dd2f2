//! Teams, members, invitations and activity, through the API.

use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::*;

#[tokio::test]
async fn a_new_team_opens_with_its_creator_as_owner() {
    let app = spawn_app().await;
    let (token, _) = app.signed_in("owner@example.com").await;
    let res = app
        .op(
            Some(&token),
            ops::create_team(&CreateTeamRequest {
                name: " Acme ".to_string().into(),
                description: Some("Partners".to_string().into()),
            }),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.body["name"], "Acme");
    assert_eq!(res.body["role"], "owner");
    assert_eq!(res.body["member_count"], 1);
    assert_eq!(res.body["permissions"]["delete_team"], true, "{}", res.body);
    assert_eq!(res.body["permissions"]["invite_roles"], json!(["member", "admin", "owner"]));
    let id = res.body["id"].as_str().unwrap().to_owned();

    let list = app.op(Some(&token), ops::list_teams(&Page::default())).await;
    assert_eq!(list.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["items"][0]["id"], id.as_str());

    let rename =
        UpdateTeamRequest { name: Some("Acme Ltd".into()), description: Some("".into()), ..Default::default() };
    let res = app.op(Some(&token), ops::update_team(&id, &rename)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["name"], "Acme Ltd");
    assert!(res.body.get("description").is_none(), "an empty description clears it: {}", res.body);

    let res = app
        .op(Some(&token), ops::create_team(&CreateTeamRequest { name: "".to_string().into(), description: None }))
        .await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.field(), "name");
    assert_eq!(
        app.op(Some(&token), ops::list_teams(&Page::default())).await.body["items"].as_array().unwrap().len(),
        1
    );

    let members = app.op(Some(&token), ops::list_members(&id, &Page::default())).await;
    assert_eq!(members.body["items"][0]["role"], "owner");
    assert_eq!(members.body["items"][0]["email"], "owner@example.com");
    assert!(members.body["items"][0]["last_active_at"].is_string(), "sign-in counts as activity: {}", members.body);

    let res = app.op(Some(&token), ops::delete_team(&id)).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    app.op(Some(&token), ops::get_team(&id)).await.assert_problem(404, "not_found");
}

/// `GET /roles` publishes the permission table: what each role may do is what a member of that
/// role is told about their own team.
#[tokio::test]
async fn the_roles_are_the_permission_table() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let admin = app.join(&owner, &team, "admin@example.com", "admin").await;
    let member = app.join(&owner, &team, "member@example.com", "member").await;
    let roles = app.get_as(&member, "/api/v1/roles").await;
    assert_eq!(roles.status, StatusCode::OK, "{}", roles.body);
    let items = roles.body["items"].as_array().unwrap();
    assert_eq!(items.iter().map(|r| r["role"].as_str().unwrap()).collect::<Vec<_>>(), ["owner", "admin", "member"]);
    for (token, role) in [(&owner, "owner"), (&admin, "admin"), (&member, "member")] {
        let own = app.get_as(token, &format!("/api/v1/teams/{team}")).await.body;
        let listed = items.iter().find(|r| r["role"] == role).unwrap();
        assert_eq!(listed["permissions"], own["permissions"], "{role}");
    }
    assert_eq!(app.op(None, ops::list_roles()).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn team_lists_are_cursor_paginated() {
    let app = spawn_app().await;
    let (token, _) = app.signed_in("pager@example.com").await;
    for i in 0..5 {
        app.create_team(&token, &format!("Team {i}")).await;
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = app.op(Some(&token), ops::list_teams(&Page::at(2, cursor.clone()))).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        seen.extend(page.body["items"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap().to_owned()));
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, (0..5).map(|i| format!("Team {i}")).collect::<Vec<_>>());
    let res = app.op(Some(&token), ops::list_teams(&Page::first(0))).await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.field(), "limit");
    let garbage = Page { limit: None, cursor: Some("garbage!".to_owned()) };
    let res = app.op(Some(&token), ops::list_teams(&garbage)).await;
    assert_eq!(res.field(), "cursor");
}

#[tokio::test]
async fn invitation_mail_and_acceptance_join_the_team() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("olivia@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let body = CreateInvitationRequest {
        email: "Bob@Example.com".into(),
        role: Role::Admin,
        message: Some("Welcome <script>alert(1)</script> aboard".into()),
    };
    let res = app.op(Some(&owner), ops::create_invitation(&team, &body)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    assert_eq!(res.body["email"], "bob@example.com");
    assert_eq!(res.body["state"], "pending");

    let mail = app.wait_for_mail("bob@example.com", "Ada Lovelace invited you to join Acme on Partner Portal").await;
    assert!(mail.decoded.contains("as an admin"), "{}", mail.decoded);
    assert!(mail.decoded.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "escaped in HTML: {}", mail.decoded);
    assert!(!mail.decoded.contains("<script>alert(1)</script>\"</p>"), "never raw in HTML");
    let link = mail.link("/invite?token=");
    assert!(link.starts_with("http://127.0.0.1:9/invite?token="), "{link}");
    let token = mail.token("/invite?token=");

    // Duplicates: another pending invitation for the address, or an existing member.
    let res = app
        .op(
            Some(&owner),
            ops::create_invitation(
                &team,
                &CreateInvitationRequest {
                    email: "bob@example.com".to_string().into(),
                    role: Role::Member,
                    message: None,
                },
            ),
        )
        .await;
    res.assert_problem(409, "invitation_pending");
    let res = app
        .op(
            Some(&owner),
            ops::create_invitation(
                &team,
                &CreateInvitationRequest {
                    email: "olivia@example.com".to_string().into(),
                    role: Role::Member,
                    message: None,
                },
            ),
        )
        .await;
    res.assert_problem(409, "already_member");

    let preview = app.op(None, ops::preview_invitation(&token)).await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.body);
    assert_eq!(preview.body["team_name"], "Acme");
    assert_eq!(preview.body["invited_by_name"], "Ada Lovelace");
    assert_eq!(preview.body["role"], "admin");
    assert_eq!(preview.body["state"], "pending");
    assert_eq!(preview.body["account_exists"], false);

    // Someone else, signed in, cannot use the link.
    let (mallory, _) = app.signed_in("mallory@example.com").await;
    let res = app
        .op(Some(&mallory), ops::accept_invitation(&AcceptInvitationRequest { token: token.to_string().into() }))
        .await;
    res.assert_problem(403, "invitation_wrong_account");

    // Sign-up from the link: no verification mail needed, the invitation proved the address.
    let res = app
        .post(
            &app.client,
            "/api/v1/auth/signup",
            json!({"email": "bob@example.com", "name": "Bob", "password": PASSWORD, "invitation_token": token}),
        )
        .await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    let bob = app.login_with(&new_client(), "bob@example.com", PASSWORD).await;
    assert_eq!(bob.status, StatusCode::OK, "{}", bob.body);
    let bob = bob.body["access_token"].as_str().unwrap().to_owned();
    let res =
        app.op(Some(&bob), ops::accept_invitation(&AcceptInvitationRequest { token: token.to_string().into() })).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["role"], "admin");
    assert_eq!(res.body["member_count"], 2);

    let res =
        app.op(Some(&bob), ops::accept_invitation(&AcceptInvitationRequest { token: token.to_string().into() })).await;
    res.assert_problem(410, "invitation_used");
    let preview = app.op(None, ops::preview_invitation(&token)).await;
    assert_eq!(preview.body["state"], "accepted");

    let members = app.op(Some(&owner), ops::list_members(&team, &Page::default())).await;
    let emails: Vec<_> =
        members.body["items"].as_array().unwrap().iter().map(|m| m["email"].as_str().unwrap()).collect();
    assert_eq!(emails, ["olivia@example.com", "bob@example.com"]);
}

#[tokio::test]
async fn resend_replaces_the_link_and_revoke_kills_it() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let first = app.invite(&owner, &team, "carol@example.com", "member").await;
    let list = app.op(Some(&owner), ops::list_invitations(&team, &Page::default())).await;
    let id = list.body["items"][0]["id"].as_str().unwrap().to_owned();

    let res = app.op(Some(&owner), ops::resend_invitation(&team, &id)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.mails().iter().filter(|m| is_invitation_to(m, "carol@example.com")).count() < 2 {
        assert!(Instant::now() < deadline, "the resent mail never arrived");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    let second = app.newest_invitation_token("carol@example.com").await;
    assert_ne!(first, second);
    app.op(None, ops::preview_invitation(&first)).await.assert_problem(404, "invitation_not_found");
    assert_eq!(app.op(None, ops::preview_invitation(&second)).await.body["state"], "pending");

    let res = app.op(Some(&owner), ops::revoke_invitation(&team, &id)).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
    assert_eq!(app.op(None, ops::preview_invitation(&second)).await.body["state"], "revoked");
    let (carol, _) = app.signed_in("carol@example.com").await;
    let res = app
        .op(Some(&carol), ops::accept_invitation(&AcceptInvitationRequest { token: second.to_string().into() }))
        .await;
    res.assert_problem(410, "invitation_revoked");
    let res = app.op(Some(&owner), ops::revoke_invitation(&team, &id)).await;
    res.assert_problem(409, "invitation_closed");
    // A revoked invitation frees the address for a new one.
    app.invite(&owner, &team, "carol@example.com", "member").await;
}

#[tokio::test]
async fn an_expired_invitation_says_so() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let token = app.invite(&owner, &team, "dave@example.com", "member").await;
    // Move the expiry into the past, as 7 days would.
    let db = portal_db::connect(&app.database_url).await.unwrap();
    sea_orm::ConnectionTrait::execute_unprepared(&db, "UPDATE invitations SET expires_at = created_at").await.unwrap();
    db.close().await.ok();
    assert_eq!(app.op(None, ops::preview_invitation(&token)).await.body["state"], "expired");
    let (dave, _) = app.signed_in("dave@example.com").await;
    let res =
        app.op(Some(&dave), ops::accept_invitation(&AcceptInvitationRequest { token: token.to_string().into() })).await;
    res.assert_problem(410, "invitation_expired");
    // The address can be invited again.
    app.invite(&owner, &team, "dave@example.com", "member").await;
}

#[tokio::test]
async fn roles_follow_the_permission_table() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let admin = app.join(&owner, &team, "admin@example.com", "admin").await;
    let member = app.join(&owner, &team, "member@example.com", "member").await;
    let ids = member_ids(&app, &owner, &team).await;
    let role_of = |email: &str| ids.iter().find(|(e, _)| e == email).unwrap().1.clone();
    let (owner_id, admin_id, member_id) =
        (role_of("owner@example.com"), role_of("admin@example.com"), role_of("member@example.com"));
    let patch = |who: &str, id: &str, role: &str| {
        let call = ops::update_member(&team, id, &UpdateMemberRequest { role: Role::parse(role).expect("a role") });
        let (app, who) = (&app, who.to_owned());
        async move { app.op(Some(&who), call).await }
    };

    // Admins move people between member and admin, never to or from owner.
    assert_eq!(patch(&admin, &member_id, "admin").await.status, StatusCode::OK);
    assert_eq!(patch(&admin, &member_id, "member").await.status, StatusCode::OK);
    patch(&admin, &member_id, "owner").await.assert_problem(403, "forbidden");
    patch(&admin, &owner_id, "member").await.assert_problem(403, "forbidden");
    // Members change nothing and cannot see invitations.
    patch(&member, &admin_id, "member").await.assert_problem(403, "forbidden");
    app.op(Some(&member), ops::list_invitations(&team, &Page::default())).await.assert_problem(403, "forbidden");
    // Admins cannot invite owners.
    let res = app
        .op(
            Some(&admin),
            ops::create_invitation(
                &team,
                &CreateInvitationRequest {
                    email: "x@example.com".to_string().into(),
                    role: Role::Owner,
                    message: None,
                },
            ),
        )
        .await;
    res.assert_problem(403, "forbidden");

    // The last owner can be neither demoted, nor removed, nor leave.
    patch(&owner, &owner_id, "admin").await.assert_problem(409, "last_owner");
    let remove = |who: &str, id: &str| {
        let (app, who, call) = (&app, who.to_owned(), ops::remove_member(&team, id));
        async move { app.op(Some(&who), call).await }
    };
    remove(&owner, &owner_id).await.assert_problem(409, "last_owner");
    remove(&admin, &owner_id).await.assert_problem(403, "forbidden");
    // With a second owner, the first may step down.
    assert_eq!(patch(&owner, &admin_id, "owner").await.status, StatusCode::OK);
    assert_eq!(patch(&owner, &owner_id, "admin").await.body["role"], "admin");
    // A member leaves on their own; an owner removes an admin.
    assert_eq!(remove(&member, &member_id).await.status, StatusCode::NO_CONTENT);
    assert_eq!(remove(&admin, &owner_id).await.status, StatusCode::NO_CONTENT, "the new owner removes the old one");
    let left = member_ids(&app, &admin, &team).await;
    assert_eq!(left.len(), 1);
    app.op(Some(&member), ops::get_team(&team)).await.assert_problem(404, "not_found");
}

/// A member's last activity: what they do in the team, and their sign-ins (which count in every
/// team of theirs); not what they do in another team.
#[tokio::test]
async fn last_activity_follows_a_members_own_acts_in_the_team_and_sign_ins() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let a = app.create_team(&owner, "A").await;
    let bob = app.join(&owner, &a, "bob@example.com", "admin").await;
    // Bob's own team.
    let b = app.create_team(&bob, "B").await;
    // Read as Bob (reads are not activity): admin of A, owner of B.
    let last_active = |team: String| {
        let (app, bob) = (&app, bob.clone());
        async move {
            let res = app.get_as(&bob, &format!("/api/v1/teams/{team}/members")).await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.body);
            let bob = res.body["items"].as_array().unwrap().iter().find(|m| m["email"] == "bob@example.com").cloned();
            let at = bob.unwrap_or_else(|| panic!("bob is a member of {team}: {}", res.body))["last_active_at"].clone();
            at.as_str()
                .unwrap_or_else(|| panic!("joining counts as activity: {at}"))
                .parse::<chrono::DateTime<chrono::Utc>>()
                .unwrap()
        }
    };
    let (a0, b0) = (last_active(a.clone()).await, last_active(b.clone()).await);
    // Bob invites someone into A: A sees him active, B does not.
    app.invite(&bob, &a, "carol@example.com", "member").await;
    let (a1, b1) = (last_active(a.clone()).await, last_active(b.clone()).await);
    assert!(a1 > a0, "acting in A counts in A: {a0} → {a1}");
    assert_eq!(b1, b0, "acting in A is not activity in B");
    // A sign-in counts in both.
    assert_eq!(app.login_with(&new_client(), "bob@example.com", PASSWORD).await.status, StatusCode::OK);
    let (a2, b2) = (last_active(a.clone()).await, last_active(b.clone()).await);
    assert!(a2 > a1 && b2 > b1, "a sign-in counts in every team: A {a1} → {a2}, B {b1} → {b2}");
    // Another member's acts are theirs: the owner's changes leave Bob's figure alone.
    app.invite(&owner, &a, "dave@example.com", "member").await;
    assert_eq!(last_active(a.clone()).await, a2);
}

async fn member_ids(app: &TestApp, token: &str, team: &str) -> Vec<(String, String)> {
    let res = app.op(Some(token), ops::list_members(team, &Page::default())).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["email"].as_str().unwrap().to_owned(), m["user_id"].as_str().unwrap().to_owned()))
        .collect()
}

/// Two owners demote each other at the same moment: the last-owner check and the change happen
/// in one transaction, so exactly one of them succeeds.
#[tokio::test]
async fn two_owners_demoting_each_other_at_once_leave_one_owner() {
    let app = spawn_app().await;
    let (first, _) = app.signed_in("first@example.com").await;
    for round in 0..5 {
        let team = app.create_team(&first, &format!("Race {round}")).await;
        let email = format!("second{round}@example.com");
        let second = app.join(&first, &team, &email, "owner").await;
        let ids = member_ids(&app, &first, &team).await;
        let first_id = ids[0].1.clone();
        let second_id = ids[1].1.clone();
        let demote = |who: String, id: String| {
            let client = new_client();
            let url = app.url(&format!("/api/v1/teams/{team}/members/{id}"));
            async move { client.patch(url).bearer_auth(who).json(&json!({"role": "member"})).send().await.unwrap().status() }
        };
        let (a, b) = tokio::join!(demote(first.clone(), second_id), demote(second.clone(), first_id));
        let mut statuses = [a.as_u16(), b.as_u16()];
        statuses.sort();
        // The loser either hits the last-owner rule (409) or, demoted first, lacks the right (403).
        assert!(statuses == [200, 409] || statuses == [200, 403], "round {round}: {statuses:?}");
        let owners = app.op(Some(&first), ops::list_members(&team, &Page::default())).await;
        let owners =
            owners.body["items"].as_array().map(|m| m.iter().filter(|m| m["role"] == "owner").count()).unwrap_or(0);
        let owners = if owners == 0 {
            let res = app.op(Some(&second), ops::list_members(&team, &Page::default())).await;
            res.body["items"].as_array().unwrap().iter().filter(|m| m["role"] == "owner").count()
        } else {
            owners
        };
        assert_eq!(owners, 1, "round {round}");
    }
}

#[tokio::test]
async fn activity_lists_who_did_what_with_filters_and_paging() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let member = app.join(&owner, &team, "member@example.com", "member").await;
    // Sign-ins show from joining on (the owner's, before the team existed, do not).
    assert_eq!(app.login_with(&new_client(), "member@example.com", PASSWORD).await.status, StatusCode::OK);
    let ids = member_ids(&app, &owner, &team).await;
    let member_id = ids[1].1.clone();
    let res =
        app.op(Some(&owner), ops::update_member(&team, &member_id, &UpdateMemberRequest { role: Role::Admin })).await;
    assert_eq!(res.status, StatusCode::OK);

    let activity = app.op(Some(&owner), ops::list_activity(&team, &Page::default(), &ActivityFilter::default())).await;
    assert_eq!(activity.status, StatusCode::OK, "{}", activity.body);
    let actions: Vec<_> =
        activity.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect();
    for expected in ["member.role_changed", "member.joined", "invitation.created", "team.created", "auth.signed_in"] {
        assert!(actions.contains(&expected.to_owned()), "{expected} missing in {actions:?}");
    }
    assert_eq!(actions[0], "member.role_changed", "newest first");
    let newest = &activity.body["items"][0];
    assert_eq!(newest["actor"]["name"], "Ada Lovelace");
    assert_eq!(newest["summary"], "member@example.com: member → admin");
    assert_eq!(newest["ip"], "127.0.0.1", "owners see the client address");

    let joined_by_member = ActivityFilter {
        actor: Some(member_id.parse().unwrap()),
        action: Some("member.joined".to_owned()),
        ..Default::default()
    };
    let filtered = app.op(Some(&owner), ops::list_activity(&team, &Page::default(), &joined_by_member)).await;
    let items = filtered.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", filtered.body);
    assert_eq!(items[0]["actor"]["id"], member_id.as_str());

    // A date range narrows the team's entries and the sign-ins alike.
    let at = |e: &Value| chrono::DateTime::parse_from_rfc3339(e["created_at"].as_str().unwrap()).unwrap().to_utc();
    let items = activity.body["items"].as_array().unwrap();
    let sign_in = items.iter().find(|e| e["action"] == "auth.signed_in").unwrap();
    let (from, to) = (at(sign_in), at(sign_in) + chrono::Duration::milliseconds(1));
    let range = ActivityFilter { from: Some(from), to: Some(to), ..Default::default() };
    let narrowed = app.op(Some(&owner), ops::list_activity(&team, &Page::default(), &range)).await;
    let narrowed = narrowed.body["items"].as_array().unwrap().clone();
    assert!(narrowed.iter().any(|e| e["id"] == sign_in["id"]), "{narrowed:#?}");
    assert!(narrowed.iter().all(|e| at(e) >= from && at(e) < to), "{narrowed:#?}");
    assert!(narrowed.len() < items.len());
    let later = ActivityFilter { from: Some(chrono::Utc::now() + chrono::Duration::hours(1)), ..Default::default() };
    let none = app.op(Some(&owner), ops::list_activity(&team, &Page::default(), &later)).await;
    assert_eq!(none.body["items"], json!([]));
    for (query, field) in
        [("from=yesterday", "from"), ("to=", "to"), ("from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z", "from")]
    {
        let res = app.call(Method::GET, Some(&owner), &format!("/api/v1/teams/{team}/activity?{query}"), None).await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(res.field(), field);
    }

    // Paging walks every entry once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = ops::list_activity(&team, &Page::at(2, cursor.take()), &ActivityFilter::default());
        let page = app.op(Some(&owner), page).await;
        seen.extend(page.body["items"].as_array().unwrap().iter().map(|e| e["id"].as_i64().unwrap()));
        match page.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), actions.len());
    assert!(seen.windows(2).all(|w| w[0] > w[1]));

    // Members read the activity without addresses and user agents... until promoted; here the
    // former member is admin now, so check a fresh member.
    let viewer = app.join(&owner, &team, "viewer@example.com", "member").await;
    let seen_by_member =
        app.op(Some(&viewer), ops::list_activity(&team, &Page::default(), &ActivityFilter::default())).await;
    assert_eq!(seen_by_member.status, StatusCode::OK);
    assert!(
        seen_by_member.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e.get("ip").is_none() && e.get("user_agent").is_none())
    );
    let _ = member;
}

#[tokio::test]
async fn invitations_are_rate_limited_per_team() {
    let mut options = Options::default();
    options.flags.extend(["--invite-rate-limit".to_owned(), "2".to_owned()]);
    let app = spawn_app_with(options).await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    for i in 0..2 {
        let body =
            CreateInvitationRequest { email: format!("p{i}@example.com").into(), role: Role::Member, message: None };
        let res = app.op(Some(&owner), ops::create_invitation(&team, &body)).await;
        assert_eq!(res.status, StatusCode::CREATED);
    }
    let res = app
        .op(
            Some(&owner),
            ops::create_invitation(
                &team,
                &CreateInvitationRequest {
                    email: "p3@example.com".to_string().into(),
                    role: Role::Member,
                    message: None,
                },
            ),
        )
        .await;
    res.assert_problem(429, "rate_limited");
    let other = app.create_team(&owner, "Other").await;
    let res = app
        .op(
            Some(&owner),
            ops::create_invitation(
                &other,
                &CreateInvitationRequest {
                    email: "p3@example.com".to_string().into(),
                    role: Role::Member,
                    message: None,
                },
            ),
        )
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "the limit is per team");
}

/// The activity log exported whole as CSV or NDJSON: every entry that matches the filters,
/// across read batches, with cells a spreadsheet would run as formulas defused.
#[tokio::test]
async fn activity_exports_as_csv_and_ndjson_with_the_same_filters() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let team_path = format!("/api/v1/teams/{team}");
    // More entries than one read batch (1000).
    let renames = 1001;
    for i in 0..renames {
        let name = if i == renames - 1 { "=HYPERLINK(\"x\"), 1".to_owned() } else { format!("Acme {i}") };
        let res = app
            .op(
                Some(&owner),
                ops::update_team(
                    &team,
                    &UpdateTeamRequest { name: Some(name.to_string().into()), ..Default::default() },
                ),
            )
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    }
    let export = |accept: &'static str, query: &'static str| {
        let req = app.client.get(app.url(&format!("{team_path}/activity{query}"))).bearer_auth(&owner);
        async move {
            let res = req.header("accept", accept).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            let headers = res.headers().clone();
            (headers, res.text().await.unwrap())
        }
    };

    let (headers, ndjson) = export("application/x-ndjson", "?action=team.updated").await;
    assert_eq!(headers["content-type"], "application/x-ndjson");
    assert!(headers["content-disposition"].to_str().unwrap().starts_with("attachment; filename=\"activity-"));
    let entries: Vec<serde_json::Value> = ndjson.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(entries.len(), renames, "every entry, across batches");
    assert!(entries.iter().all(|e| e["action"] == "team.updated"));
    let ids: Vec<i64> = entries.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "newest first, each once");

    let (headers, csv) = export("text/csv;q=0.9, application/json;q=0.1", "").await;
    assert_eq!(headers["content-type"], "text/csv; charset=utf-8");
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(
        lines[0],
        "id,created_at,action,actor_type,actor_id,actor_name,target_type,target_id,summary,ip,user_agent"
    );
    assert_eq!(lines.len(), 1 + renames + 1, "header, the renames, team.created");
    assert!(lines.last().unwrap().contains(",\"team.created\","));
    // The newest entry's summary names the hostile team name: quoted, and as text.
    assert!(lines[1].contains(",\"team.updated\","), "{}", lines[1]);
    assert!(!lines[1].contains(",=") && !lines[1].contains(",\"=") && lines[1].contains("\"\"x\"\""), "{}", lines[1]);
    assert!(lines[1].contains(",\"127.0.0.1\","), "owners get addresses: {}", lines[1]);

    // JSON stays the paged answer, and bad filters are refused before anything is sent.
    let page = app.call(Method::GET, Some(&owner), &format!("{team_path}/activity"), None).await;
    assert_eq!(page.body["items"].as_array().unwrap().len(), 50);
    let res = app
        .client
        .get(app.url(&format!("{team_path}/activity?actor=nobody")))
        .bearer_auth(&owner)
        .header("accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// The dashboard's checklists tick from what exists in the user's own teams.
#[tokio::test]
async fn getting_started_ticks_each_step_from_the_users_teams() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let (stranger, _) = app.signed_in("stranger@example.com").await;
    let steps = |token: String| {
        let app = &app;
        async move {
            let res = app.op(Some(&token), ops::get_getting_started()).await;
            assert_eq!(res.status, StatusCode::OK, "{}", res.body);
            res.body
        }
    };
    let done = |body: &serde_json::Value| {
        let mut done: Vec<String> =
            body.as_object().unwrap().iter().filter(|(_, v)| v == &&json!(true)).map(|(k, _)| k.clone()).collect();
        done.sort();
        done
    };
    assert_eq!(done(&steps(owner.clone()).await), [] as [&str; 0]);

    let team = app.create_team(&owner, "Acme").await;
    app.simple_key(&owner, &team, "dev").await;
    assert_eq!(done(&steps(owner.clone()).await), ["development_key", "team_created"]);

    let body = json!({"name": "prod", "environment": "production", "expiration": "never", "usage_limit": 1000});
    let (_, secret) = app.create_key(&owner, &team, body).await;
    assert_eq!(app.op(Some(&secret), ops::get_team(&team)).await.status, StatusCode::OK);
    // The use is written with the next flush of counts (every half second).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while steps(owner.clone()).await["key_used"] != true {
        assert!(std::time::Instant::now() < deadline, "the key's first request never showed");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(
        done(&steps(owner.clone()).await),
        ["development_key", "key_used", "production_key", "team_created", "usage_monitored"]
    );

    let member = app.join(&owner, &team, "member@example.com", "member").await;
    let progress = steps(owner.clone()).await;
    assert_eq!((progress["members_invited"].clone(), progress["roles_assigned"].clone()), (json!(true), json!(false)));
    let ids = member_ids(&app, &owner, &team).await;
    let member_id = ids.iter().find(|(email, _)| email == "member@example.com").unwrap().1.clone();
    assert_eq!(
        app.op(Some(&owner), ops::update_member(&team, &member_id, &UpdateMemberRequest { role: Role::Admin }))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(steps(owner.clone()).await.as_object().unwrap().values().filter(|v| v == &&json!(true)).count(), 7);
    // The member sees the same team's progress; someone in no team sees none of it.
    assert_eq!(steps(member).await["roles_assigned"], true);
    assert_eq!(done(&steps(stranger).await), [] as [&str; 0]);
}

/// Every list ends on its last item: one of exactly `limit` items offers no next page.
#[tokio::test]
async fn every_list_ends_on_its_last_item() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    app.create_team(&owner, "Beta").await;
    app.join(&owner, &team, "ann@example.com", "member").await;
    app.invite(&owner, &team, "bob@example.com", "admin").await;
    let (key, secret) = app.simple_key(&owner, &team, "Checkout").await;
    app.simple_key(&owner, &team, "Billing").await;
    let used = app.op(Some(&secret), ops::get_team(&team)).await;
    assert_eq!(used.status, StatusCode::OK, "{}", used.body);
    assert!(!key.is_empty());

    let team_path = format!("/api/v1/teams/{team}");
    for path in [
        "/api/v1/teams".to_owned(),
        format!("{team_path}/members"),
        format!("{team_path}/invitations"),
        format!("{team_path}/api-keys"),
        format!("{team_path}/api-keys?sort=requests"),
        format!("{team_path}/api-keys?sort=last_used"),
        format!("{team_path}/api-keys?environment=development"),
        format!("{team_path}/activity"),
        format!("{team_path}/activity?action=key.created"),
    ] {
        app.assert_pages_end_exactly(&owner, &path).await;
    }
}
