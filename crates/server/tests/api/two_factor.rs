//! Two-factor authentication: set-up, sign-in with a code or a recovery code, replays, skew,
//! expired and exhausted challenges, turning it off, and teams that require it. The codes are
//! computed here by a TOTP of the test's own (RFC 6238 over HMAC-SHA-1), not by the server's.

use hmac::{Hmac, KeyInit, Mac};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::*;

/// RFC 4648 base32 without padding, as the server shows the secret.
fn base32_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let (mut bits, mut value, mut out) = (0u32, 0u32, Vec::new());
    for c in text.bytes() {
        let index = ALPHABET.iter().position(|&a| a == c).expect("base32") as u32;
        value = (value << 5) | index;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((value >> bits) as u8);
            value &= (1 << bits) - 1;
        }
    }
    out
}

/// The 6-digit code of `secret` (base32) at `offset` seconds from now: RFC 6238 with SHA-1.
fn code(secret: &str, offset: i64) -> String {
    code_at(secret, chrono::Utc::now().timestamp() + offset)
}

/// The 6-digit code of `secret` at the Unix time `time`.
fn code_at(secret: &str, time: i64) -> String {
    let time = time as u64;
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(&base32_decode(secret)).unwrap();
    mac.update(&(time / 30).to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let at = usize::from(digest[19] & 0x0f);
    let number = u32::from_be_bytes([digest[at] & 0x7f, digest[at + 1], digest[at + 2], digest[at + 3]]);
    format!("{:06}", number % 1_000_000)
}

/// Turns on two-factor authentication for the user of `token`: (secret, recovery codes, the
/// Unix time whose code turned it on). That code's step is used, so sign-ins after it need a
/// later one or a recovery code.
async fn enrol(app: &TestApp, token: &str) -> (String, Vec<String>, i64) {
    let setup = app
        .op(Some(token), ops::set_up_two_factor(&PasswordConfirmation { password: PASSWORD.to_string().into() }))
        .await;
    assert_eq!(setup.status, StatusCode::OK, "{}", setup.body);
    let secret = setup.body["secret"].as_str().unwrap().to_owned();
    let uri = setup.body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/Partner%20Portal:") && uri.contains(&format!("secret={secret}")), "{uri}");
    assert!(uri.contains("algorithm=SHA1&digits=6&period=30"), "{uri}");
    assert!(setup.body["qr_svg"].as_str().unwrap().starts_with("<svg"));
    let at = chrono::Utc::now().timestamp();
    let enabled = app
        .op(Some(token), ops::enable_two_factor(&EnableTwoFactorRequest { code: code_at(&secret, at).to_string() }))
        .await;
    assert_eq!(enabled.status, StatusCode::OK, "{}", enabled.body);
    let codes: Vec<String> =
        enabled.body["codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    (secret, codes, at)
}

/// The password step: the challenge of an account with two-factor authentication.
async fn challenge(app: &TestApp, browser: &reqwest::Client, email: &str) -> String {
    let res = app.login_with(browser, email, PASSWORD).await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    assert!(res.body.get("access_token").is_none(), "no session before the code: {}", res.body);
    assert!(refresh_cookie_of(&res).is_none(), "no refresh cookie before the code");
    res.body["challenge"].as_str().unwrap().to_owned()
}

async fn second_step(app: &TestApp, browser: &reqwest::Client, challenge: &str, code: &str) -> Response {
    app.post(browser, "/api/v1/auth/login/two-factor", json!({"challenge": challenge, "code": code})).await
}

async fn status(app: &TestApp, token: &str) -> Value {
    let res = app.get_as(token, "/api/v1/me/two-factor").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body
}

async fn audit_actions(app: &TestApp) -> Vec<String> {
    let db = portal_db::connect(&app.database_url).await.unwrap();
    let rows = sea_orm::ConnectionTrait::query_all_raw(
        &db,
        sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT action FROM audit_log ORDER BY created_at, id",
        ),
    )
    .await
    .unwrap();
    rows.iter().map(|r| r.try_get::<String>("", "action").unwrap()).collect()
}

#[tokio::test]
async fn sign_in_asks_for_a_code_that_works_once_within_one_step_of_skew() {
    let app = spawn_app().await;
    let email = "ada@example.com";
    let (token, _) = app.signed_in(email).await;
    assert_eq!(status(&app, &token).await, json!({"enabled": false, "recovery_codes_left": 0}));

    // The set-up needs the password; a code before any set-up, or a wrong one, changes nothing.
    let wrong = app
        .op(Some(&token), ops::set_up_two_factor(&PasswordConfirmation { password: "nope".to_string().into() }))
        .await;
    wrong.assert_problem(422, "wrong_password");
    assert_eq!(wrong.field(), "password");
    app.op(Some(&token), ops::enable_two_factor(&EnableTwoFactorRequest { code: "123456".to_string() }))
        .await
        .assert_problem(409, "two_factor_disabled");
    let setup = app
        .op(Some(&token), ops::set_up_two_factor(&PasswordConfirmation { password: PASSWORD.to_string().into() }))
        .await;
    let secret = setup.body["secret"].as_str().unwrap().to_owned();
    let bad = app
        .op(Some(&token), ops::enable_two_factor(&EnableTwoFactorRequest { code: code(&secret, -300).to_string() }))
        .await;
    bad.assert_problem(422, "invalid_two_factor_code");
    assert_eq!(bad.field(), "code");
    assert_eq!(status(&app, &token).await["enabled"], false, "a set-up not confirmed changes nothing");
    assert_eq!(app.login_with(&new_client(), email, PASSWORD).await.status, StatusCode::OK);

    // Starting again replaces the secret; the new one is confirmed.
    let (secret, codes, at) = enrol(&app, &token).await;
    assert_eq!(codes.len(), 16);
    let on = status(&app, &token).await;
    assert_eq!((on["enabled"].clone(), on["recovery_codes_left"].clone()), (json!(true), json!(16)));
    app.op(Some(&token), ops::set_up_two_factor(&PasswordConfirmation { password: PASSWORD.to_string().into() }))
        .await
        .assert_problem(409, "two_factor_enabled");
    let mail = app.wait_for_mail(email, "Two-factor authentication is on").await;
    assert!(mail.decoded.contains("authenticator app"), "{}", mail.decoded);

    // The password alone no longer signs in.
    let browser = new_client();
    let first = challenge(&app, &browser, email).await;
    // A code three steps old is refused, and says how many tries are left.
    let old = second_step(&app, &browser, &first, &code_at(&secret, at - 90)).await;
    old.assert_problem(422, "invalid_two_factor_code");
    assert!(old.body["detail"].as_str().unwrap().contains("4 tries are left"), "{}", old.body);
    // The code of the step used to turn it on was accepted once already: a replay.
    second_step(&app, &browser, &first, &code_at(&secret, at)).await.assert_problem(422, "invalid_two_factor_code");
    // The next step's code is within the skew: it signs in, and the session works.
    let signed_in = second_step(&app, &browser, &first, &code_at(&secret, at + 30)).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);
    assert!(refresh_cookie_of(&signed_in).is_some());
    let access = signed_in.body["access_token"].as_str().unwrap();
    assert_eq!(app.get_as(access, "/api/v1/me").await.status, StatusCode::OK);
    // The challenge worked once.
    second_step(&app, &browser, &first, &code_at(&secret, at + 30)).await.assert_problem(401, "invalid_challenge");

    // On a new challenge the same code is a replay, and so is any code of an earlier step.
    let second = challenge(&app, &browser, email).await;
    second_step(&app, &browser, &second, &code_at(&secret, at + 30))
        .await
        .assert_problem(422, "invalid_two_factor_code");
    second_step(&app, &browser, &second, &code_at(&secret, at)).await.assert_problem(422, "invalid_two_factor_code");
    second_step(&app, &browser, &second, "not a code").await.assert_problem(422, "invalid_two_factor_code");
    second_step(&app, &browser, "x".repeat(43).as_str(), &code_at(&secret, at + 30))
        .await
        .assert_problem(401, "invalid_challenge");

    let actions = audit_actions(&app).await;
    for action in ["auth.two_factor_enabled", "auth.two_factor_challenged", "auth.two_factor_failed", "auth.signed_in"]
    {
        assert!(actions.iter().any(|a| a == action), "{action} in {actions:?}");
    }
}

#[tokio::test]
async fn a_recovery_code_signs_in_once_mails_the_user_and_a_new_set_voids_the_old() {
    let app = spawn_app().await;
    let email = "ada@example.com";
    let (token, _) = app.signed_in(email).await;
    let (_, codes, _) = enrol(&app, &token).await;
    let browser = new_client();

    let first = challenge(&app, &browser, email).await;
    // Typed in capitals with spaces, it still reads.
    let typed = codes[0].to_uppercase().replace('-', " ");
    let res = second_step(&app, &browser, &first, &typed).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let mail = app.wait_for_mail(email, "A recovery code was used to sign in").await;
    assert!(mail.decoded.contains("15 unused recovery codes are left"), "{}", mail.decoded);
    let fresh = res.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(status(&app, &fresh).await["recovery_codes_left"], 15);

    let again = challenge(&app, &browser, email).await;
    second_step(&app, &browser, &again, &codes[0]).await.assert_problem(422, "invalid_two_factor_code");

    // A new set needs the password, and voids every old code.
    app.op(Some(&fresh), ops::regenerate_recovery_codes(&PasswordConfirmation { password: "nope".to_string().into() }))
        .await
        .assert_problem(422, "wrong_password");
    let new = app
        .op(
            Some(&fresh),
            ops::regenerate_recovery_codes(&PasswordConfirmation { password: PASSWORD.to_string().into() }),
        )
        .await;
    assert_eq!(new.status, StatusCode::OK, "{}", new.body);
    let new_codes: Vec<String> =
        new.body["codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_owned()).collect();
    assert_eq!(new_codes.len(), 16);
    assert!(new_codes.iter().all(|c| !codes.contains(c)));
    second_step(&app, &browser, &again, &codes[1]).await.assert_problem(422, "invalid_two_factor_code");
    let res = second_step(&app, &browser, &again, &new_codes[0]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);

    // The codes and the secret are stored only hashed and encrypted.
    let db = portal_db::connect(&app.database_url).await.unwrap();
    let stored = sea_orm::ConnectionTrait::query_all_raw(
        &db,
        sea_orm::Statement::from_string(
            db.get_database_backend(),
            "SELECT code_hash AS v FROM recovery_codes UNION ALL SELECT secret AS v FROM two_factor",
        ),
    )
    .await
    .unwrap();
    let stored: Vec<String> = stored.iter().map(|r| r.try_get::<String>("", "v").unwrap()).collect();
    assert_eq!(stored.len(), 17);
    for code in new_codes.iter().chain(&codes) {
        let bare = code.replace('-', "");
        assert!(stored.iter().all(|v| !v.contains(&bare)), "{code} stored in the clear");
    }
    let actions = audit_actions(&app).await;
    for action in ["auth.recovery_code_used", "auth.recovery_codes_regenerated"] {
        assert!(actions.iter().any(|a| a == action), "{action} in {actions:?}");
    }
}

#[tokio::test]
async fn a_challenge_expires_and_takes_five_codes_at_most() {
    let app = spawn_app().await;
    let email = "ada@example.com";
    let (token, _) = app.signed_in(email).await;
    let (secret, codes, _) = enrol(&app, &token).await;
    let browser = new_client();

    let expired = challenge(&app, &browser, email).await;
    let past = chrono::Utc::now() - chrono::Duration::seconds(1);
    set_time(&app.database_url, "login_challenges", "expires_at", None, past).await;
    let db = portal_db::connect(&app.database_url).await.unwrap();
    second_step(&app, &browser, &expired, &code(&secret, 30)).await.assert_problem(401, "invalid_challenge");

    let tried = challenge(&app, &browser, email).await;
    for left in (0..5).rev() {
        let res = second_step(&app, &browser, &tried, "000000").await;
        if res.status == StatusCode::OK {
            panic!("000000 happened to be the code: {}", res.body);
        }
        res.assert_problem(422, "invalid_two_factor_code");
        let detail = res.body["detail"].as_str().unwrap();
        assert!(
            left == 0 && detail.contains("No tries are left") || detail.contains(&format!("{left} tr")),
            "{detail}"
        );
    }
    // Out of tries, even the right code is refused; a new challenge takes it.
    second_step(&app, &browser, &tried, &codes[0]).await.assert_problem(401, "invalid_challenge");
    let fresh = challenge(&app, &browser, email).await;
    assert_eq!(second_step(&app, &browser, &fresh, &codes[0]).await.status, StatusCode::OK);
    // Expired challenges go with the retention task a day later.
    let pruned = portal_server::retention::prune_sessions(&db, chrono::Utc::now() + chrono::Duration::days(2)).await;
    assert!(pruned.unwrap() >= 3, "the three challenges");
}

/// Wrong codes spend the account's budget across challenges: new challenges do not reset it.
#[tokio::test]
async fn wrong_codes_are_throttled_per_account() {
    let mut options = Options::default();
    options.flags.extend(["--signin-failures-per-account".into(), "3".into()]);
    let app = spawn_app_with(options).await;
    let email = "ada@example.com";
    let (token, _) = app.signed_in(email).await;
    let (_, codes, _) = enrol(&app, &token).await;
    for _ in 0..3 {
        let fresh = challenge(&app, &new_client(), email).await;
        second_step(&app, &new_client(), &fresh, "000001").await.assert_problem(422, "invalid_two_factor_code");
    }
    let fresh = challenge(&app, &new_client(), email).await;
    let limited = second_step(&app, &new_client(), &fresh, &codes[0]).await;
    limited.assert_problem(429, "rate_limited");
    assert!(limited.headers.get("retry-after").is_some());
}

/// Two requests with one code (each with a challenge of its own) start one session at most.
#[tokio::test]
async fn one_code_sent_twice_at_once_signs_in_once() {
    let app = spawn_app().await;
    let email = "ada@example.com";
    let (token, _) = app.signed_in(email).await;
    let (secret, _, _) = enrol(&app, &token).await;
    let (a, b) = (new_client(), new_client());
    let (first, second) = (challenge(&app, &a, email).await, challenge(&app, &b, email).await);
    let next = code(&secret, 30);
    let (x, y) = tokio::join!(second_step(&app, &a, &first, &next), second_step(&app, &b, &second, &next));
    let ok = [&x, &y].iter().filter(|r| r.status == StatusCode::OK).count();
    assert_eq!(ok, 1, "{} / {}", x.body, y.body);
}

#[tokio::test]
async fn turning_it_off_needs_the_password_and_a_code() {
    let app = spawn_app().await;
    let email = "ada@example.com";
    let (token, _) = app.signed_in(email).await;
    app.op(
        Some(&token),
        ops::disable_two_factor(&DisableTwoFactorRequest {
            password: PASSWORD.to_string().into(),
            code: "123456".to_string(),
        }),
    )
    .await
    .assert_problem(409, "two_factor_disabled");
    let (secret, codes, _) = enrol(&app, &token).await;
    let path = "/api/v1/me/two-factor/disable";
    let off = |password: &str, code: &str| {
        ops::disable_two_factor(&DisableTwoFactorRequest { password: password.into(), code: code.to_owned() })
    };
    let res = app.op(Some(&token), off("nope", &code(&secret, 30))).await;
    res.assert_problem(422, "wrong_password");
    let res = app.op(Some(&token), off(PASSWORD, "000000")).await;
    res.assert_problem(422, "invalid_two_factor_code");
    app.call(Method::POST, Some(&token), path, Some(json!({"password": PASSWORD})))
        .await
        .assert_problem(422, "validation_failed");
    assert_eq!(status(&app, &token).await["enabled"], true, "nothing changed");
    let res = app.op(Some(&token), off(PASSWORD, &codes[3])).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    assert_eq!(status(&app, &token).await, json!({"enabled": false, "recovery_codes_left": 0}));
    app.wait_for_mail(email, "Two-factor authentication is off").await;
    assert_eq!(
        app.login_with(&new_client(), email, PASSWORD).await.status,
        StatusCode::OK,
        "the password signs in again"
    );
    assert!(audit_actions(&app).await.iter().any(|a| a == "auth.two_factor_disabled"));
}

#[tokio::test]
async fn a_team_that_requires_two_factor_refuses_members_without_it_until_they_enrol() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let member = app.join(&owner, &team, "member@example.com", "admin").await;
    let team_path = format!("/api/v1/teams/{team}");
    let require = UpdateTeamRequest { require_two_factor: Some(true), ..Default::default() };

    // Before requiring it, the owner sees whom it would shut out; admins and members do not.
    let readiness = app.get_as(&owner, &format!("{team_path}/two-factor")).await;
    assert_eq!(readiness.status, StatusCode::OK, "{}", readiness.body);
    assert_eq!(readiness.body["required"], false);
    assert_eq!(readiness.body["without_count"], 2, "{}", readiness.body);
    let emails: Vec<&str> =
        readiness.body["without"].as_array().unwrap().iter().map(|m| m["email"].as_str().unwrap()).collect();
    assert_eq!(emails.len(), 2);
    assert!(emails.contains(&"owner@example.com") && emails.contains(&"member@example.com"), "{emails:?}");
    app.get_as(&member, &format!("{team_path}/two-factor")).await.assert_problem(403, "forbidden");
    // The owner must have it first.
    let refused = app.op(Some(&owner), ops::update_team(&team, &require)).await;
    refused.assert_problem(403, "two_factor_required");
    assert_eq!(refused.field(), "require_two_factor");
    enrol(&app, &owner).await;
    // The owner's token of before the set-up now counts as having it.
    let res = app.op(Some(&owner), ops::update_team(&team, &require)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["require_two_factor"], true);
    let readiness = app.get_as(&owner, &format!("{team_path}/two-factor")).await;
    assert_eq!((readiness.body["required"].clone(), readiness.body["without_count"].clone()), (json!(true), json!(1)));
    assert_eq!(readiness.body["without"][0]["email"], "member@example.com");
    // A member without it keeps the membership, sees the team listed, and gets 403 for the rest.
    let teams = app.get_as(&member, "/api/v1/teams").await;
    assert_eq!(teams.body["items"][0]["require_two_factor"], true, "{}", teams.body);
    for path in [
        team_path.clone(),
        format!("{team_path}/members"),
        format!("{team_path}/api-keys"),
        format!("{team_path}/activity"),
    ] {
        app.get_as(&member, &path).await.assert_problem(403, "two_factor_required");
    }
    let key = dev_key("k");
    app.op(Some(&member), ops::create_api_key(&team, &key)).await.assert_problem(403, "two_factor_required");
    // Someone invited meanwhile cannot join without it; the invitation stays open until they can.
    let invitation = app.invite(&owner, &team, "late@example.com", "member").await;
    let signup =
        json!({"email": "late@example.com", "name": "Late", "password": PASSWORD, "invitation_token": invitation});
    assert_eq!(app.post(&app.client, "/api/v1/auth/signup", signup).await.status, StatusCode::ACCEPTED);
    let late = app.login_with(&new_client(), "late@example.com", PASSWORD).await.body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let accept = AcceptInvitationRequest { token: invitation.into() };
    app.op(Some(&late), ops::accept_invitation(&accept)).await.assert_problem(403, "two_factor_required");
    enrol(&app, &late).await;
    let joined = app.op(Some(&late), ops::accept_invitation(&accept)).await;
    assert_eq!(joined.status, StatusCode::OK, "{}", joined.body);
    // An outsider still learns nothing.
    let (outsider, _) = app.signed_in("outsider@example.com").await;
    app.get_as(&outsider, &team_path).await.assert_problem(404, "not_found");
    // Enrolling lets the same access token in at once.
    let (_, codes, _) = enrol(&app, &member).await;
    assert_eq!(app.get_as(&member, &team_path).await.status, StatusCode::OK);
    // While the team requires it, it cannot be turned off.
    let off = DisableTwoFactorRequest { password: PASSWORD.into(), code: codes[0].clone() };
    app.op(Some(&member), ops::disable_two_factor(&off)).await.assert_problem(403, "two_factor_required");
    // The owner lifts the requirement; then it can.
    let lift = app
        .op(
            Some(&owner),
            ops::update_team(&team, &UpdateTeamRequest { require_two_factor: Some(false), ..Default::default() }),
        )
        .await;
    assert_eq!(lift.body["require_two_factor"], false, "{}", lift.body);
    let res = app.op(Some(&member), ops::disable_two_factor(&off)).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    assert_eq!(app.get_as(&member, &team_path).await.status, StatusCode::OK);
    let summaries = audit_actions(&app).await;
    assert!(summaries.iter().filter(|a| *a == "team.updated").count() >= 2);
}

/// Issue 24: in a team that requires two-factor authentication, a key answers for its creator:
/// one whose creator has not turned it on is refused (403 `two_factor_required`) until they do,
/// on every path (the cached team answer too).
#[tokio::test]
async fn a_keys_creator_without_two_factor_keeps_it_out_of_a_team_that_requires_it() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let admin = app.join(&owner, &team, "admin@example.com", "admin").await;
    let (_, admins_key) = app.simple_key(&admin, &team, "admin's key").await;
    let (_, owners_key) = app.simple_key(&owner, &team, "owner's key").await;
    let team_path = format!("/api/v1/teams/{team}");
    assert_eq!(app.get_as(&admins_key, &team_path).await.status, StatusCode::OK);
    enrol(&app, &owner).await;
    let res = app
        .op(
            Some(&owner),
            ops::update_team(&team, &UpdateTeamRequest { require_two_factor: Some(true), ..Default::default() }),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    for path in [team_path.clone(), format!("{team_path}/members"), format!("{team_path}/api-keys")] {
        app.get_as(&admins_key, &path).await.assert_problem(403, "two_factor_required");
    }
    assert_eq!(app.get_as(&owners_key, &team_path).await.status, StatusCode::OK, "the owner has it on");
    // The creator turns it on: the key works again at once.
    enrol(&app, &admin).await;
    assert_eq!(app.get_as(&admins_key, &format!("{team_path}/members")).await.status, StatusCode::OK);
    assert_eq!(app.get_as(&admins_key, &team_path).await.status, StatusCode::OK);
}
