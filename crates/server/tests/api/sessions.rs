//! Sessions a user can see and end: `GET /me/sessions`, ending one, ending all others; an ended
//! session's access tokens are refused at once, on every instance.

use reqwest::{Method, StatusCode};
use serde_json::Value;

use crate::helpers::*;

/// Signs in again as `email` with a user agent of its own: (access token, its cookie jar).
async fn another_session(app: &TestApp, email: &str, user_agent: &str) -> (String, reqwest::Client) {
    let browser = reqwest::Client::builder().cookie_store(true).user_agent(user_agent).build().unwrap();
    let res = app.login_with(&browser, email, PASSWORD).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    (res.body["access_token"].as_str().unwrap().to_owned(), browser)
}

async fn sessions(app: &TestApp, token: &str) -> Vec<Value> {
    let res = app.get_as(token, "/api/v1/me/sessions").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body["items"].as_array().unwrap().clone()
}

fn current(list: &[Value]) -> &Value {
    let mut current = list.iter().filter(|s| s["current"] == true);
    let found = current.next().expect("the current session is listed");
    assert!(current.next().is_none(), "one current session: {list:?}");
    found
}

async fn refresh(app: &TestApp, browser: &reqwest::Client) -> Response {
    app.send(browser.post(app.url("/api/v1/auth/refresh"))).await
}

#[tokio::test]
async fn sessions_are_listed_with_where_and_how_they_were_used() {
    let app = spawn_app().await;
    let (first, _) = app.signed_in("ada@example.com").await;
    let (second, browser) = another_session(&app, "ada@example.com", "Firefox on a laptop").await;
    let list = sessions(&app, &second).await;
    assert_eq!(list.len(), 2, "{list:?}");
    let this = current(&list);
    assert_eq!(this["user_agent"], "Firefox on a laptop");
    assert_eq!(this["ip"], "127.0.0.1");
    assert_ne!(current(&sessions(&app, &first).await)["id"], this["id"], "each token knows its own session");
    // A refresh uses the session again: a new access token of the same session.
    let renewed = refresh(&app, &browser).await;
    assert_eq!(renewed.status, StatusCode::OK);
    let renewed = renewed.body["access_token"].as_str().unwrap().to_owned();
    let after = sessions(&app, &renewed).await;
    assert_eq!(after.len(), 2);
    assert_eq!(current(&after)["id"], this["id"]);
    assert!(current(&after)["last_used_at"].as_str() >= this["last_used_at"].as_str());
    // Nobody else's sessions show.
    let (other, _) = app.signed_in("grace@example.com").await;
    assert_eq!(sessions(&app, &other).await.len(), 1);
}

#[tokio::test]
async fn an_ended_session_refuses_its_access_and_refresh_tokens_at_once() {
    let app = spawn_app().await;
    let (laptop, laptop_browser) = app.signed_in("ada@example.com").await;
    let (phone, _) = another_session(&app, "ada@example.com", "phone").await;
    let (stranger, _) = app.signed_in("mallory@example.com").await;
    assert_eq!(app.get_as(&laptop, "/api/v1/me").await.status, StatusCode::OK, "cached as open");
    let laptop_id = current(&sessions(&app, &laptop).await)["id"].as_str().unwrap().to_owned();

    // Someone else's session cannot be ended, and is not touched.
    app.op(Some(&stranger), ops::end_session(&laptop_id)).await.assert_problem(404, "session_not_found");
    assert_eq!(app.get_as(&laptop, "/api/v1/me").await.status, StatusCode::OK);

    let res = app.op(Some(&phone), ops::end_session(&laptop_id)).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.body);
    app.get_as(&laptop, "/api/v1/me").await.assert_problem(401, "unauthorized");
    app.get_as(&laptop, "/api/v1/teams").await.assert_problem(401, "unauthorized");
    refresh(&app, &laptop_browser).await.assert_problem(401, "invalid_refresh_token");
    assert_eq!(app.get_as(&phone, "/api/v1/me").await.status, StatusCode::OK, "the other session goes on");
    let left = sessions(&app, &phone).await;
    assert_eq!(left.len(), 1, "{left:?}");
    app.op(Some(&phone), ops::end_session(&laptop_id)).await.assert_problem(404, "session_not_found");
    let malformed = app.call(Method::DELETE, Some(&phone), "/api/v1/me/sessions/nope", None).await;
    assert_eq!(malformed.status, StatusCode::NOT_FOUND, "{}", malformed.body);

    // The audit log has it, with who ended it from where.
    let db = portal_db::connect(&app.database_url).await.unwrap();
    let sql = "SELECT target_id, ip FROM audit_log WHERE action = 'auth.session_ended'";
    let rows = sea_orm::ConnectionTrait::query_all_raw(
        &db,
        sea_orm::Statement::from_string(db.get_database_backend(), sql.to_owned()),
    )
    .await
    .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].try_get::<String>("", "target_id").unwrap(), laptop_id);
}

#[tokio::test]
async fn signing_out_everywhere_else_keeps_only_this_session() {
    let app = spawn_app().await;
    let (here, _) = app.signed_in("ada@example.com").await;
    let (a, a_browser) = another_session(&app, "ada@example.com", "a").await;
    let (b, _) = another_session(&app, "ada@example.com", "b").await;
    let (other_user, _) = app.signed_in("grace@example.com").await;
    let res = app.op(Some(&here), ops::end_other_sessions()).await;
    assert_eq!((res.status, res.body["ended"].clone()), (StatusCode::OK, 2.into()), "{}", res.body);
    for token in [&a, &b] {
        app.get_as(token, "/api/v1/me").await.assert_problem(401, "unauthorized");
    }
    refresh(&app, &a_browser).await.assert_problem(401, "invalid_refresh_token");
    assert_eq!(app.get_as(&here, "/api/v1/me").await.status, StatusCode::OK);
    assert_eq!(sessions(&app, &here).await.len(), 1);
    assert_eq!(app.get_as(&other_user, "/api/v1/me").await.status, StatusCode::OK, "another user's sessions stay");
    let again = app.op(Some(&here), ops::end_other_sessions()).await;
    assert_eq!(again.body["ended"], 0);
}

/// Sessions and refresh tokens that ended 30 days ago are deleted; open ones stay.
#[tokio::test]
async fn sessions_that_ended_a_month_ago_are_deleted() {
    let app = spawn_app().await;
    let (here, _) = app.signed_in("ada@example.com").await;
    let (old, _) = another_session(&app, "ada@example.com", "old").await;
    let old_id = current(&sessions(&app, &old).await)["id"].as_str().unwrap().parse().unwrap();
    let res = app.op(Some(&here), ops::end_other_sessions()).await;
    assert_eq!(res.body["ended"], 1);
    let db = portal_db::connect(&app.database_url).await.unwrap();
    let now = chrono::Utc::now();
    let soon = portal_server::retention::prune_sessions(&db, now + chrono::Duration::days(29)).await.unwrap();
    assert_eq!(soon, 0, "kept for 30 days after it ended");
    let later = portal_server::retention::prune_sessions(&db, now + chrono::Duration::days(31)).await.unwrap();
    assert_eq!(later, 2, "the ended session and its refresh token");
    assert!(!portal_db::sessions::is_open(&db, old_id).await.unwrap());
    assert_eq!(app.get_as(&here, "/api/v1/me").await.status, StatusCode::OK, "the open session stays");
    assert_eq!(sessions(&app, &here).await.len(), 1);
}

/// Two instances on PostgreSQL: signing out on A refuses the access token on B within a second,
/// although B had it cached as open.
#[tokio::test]
async fn a_signed_out_access_token_is_refused_on_another_instance_within_a_second() {
    if backend() != "postgres" {
        return;
    }
    let a = spawn_app_with(Options::shared(None, &[])).await;
    let b = spawn_app_with(Options::shared(Some(a.database_url.clone()), &[])).await;
    let (token, browser) = a.signed_in("ada@example.com").await;
    assert_eq!(b.get_as(&token, "/api/v1/me").await.status, StatusCode::OK, "B caches the session as open");
    assert_eq!(b.get_as(&token, "/api/v1/me").await.status, StatusCode::OK);
    assert_eq!(a.send(browser.post(a.url("/api/v1/auth/logout"))).await.status, StatusCode::NO_CONTENT);
    let started = std::time::Instant::now();
    while b.get_as(&token, "/api/v1/me").await.status == StatusCode::OK {
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "B still accepts the token after a second");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// The upgrade gives every refresh-token family still in use its session: nobody is signed out.
#[tokio::test]
async fn the_upgrade_keeps_everyone_signed_in() {
    use portal_migrations::{Migrator, MigratorTrait};
    use sea_orm::sea_query::{Alias, Expr, ExprTrait as _, Query};

    let (_guard, url) = empty_database().await;
    let db = portal_db::connect(&url).await.unwrap();
    Migrator::up(&db, Some(7)).await.unwrap();
    let now = chrono::Utc::now();
    let ada = portal_db::users::create(&db, "ada@example.com", "Ada", "x", now).await.unwrap().id;
    let (in_use, ended) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let later = now + chrono::Duration::days(30);
    portal_db::sessions::insert(&db, in_use, ada, "a", later, now).await.unwrap();
    portal_db::sessions::insert(&db, in_use, ada, "b", later + chrono::Duration::hours(1), now).await.unwrap();
    portal_db::sessions::insert(&db, ended, ada, "c", later, now).await.unwrap();
    let revoke = Query::update()
        .table(Alias::new("refresh_tokens"))
        .value(Alias::new("revoked_at"), now)
        .and_where(Expr::col(Alias::new("family_id")).eq(ended))
        .to_owned();
    assert_eq!(sea_orm::ConnectionTrait::execute(&db, &revoke).await.unwrap().rows_affected(), 1);
    portal_db::migrate(&db).await.unwrap();
    assert!(portal_db::sessions::is_open(&db, in_use).await.unwrap());
    assert!(!portal_db::sessions::is_open(&db, ended).await.unwrap(), "a signed-out family stays signed out");
    let open = portal_db::sessions::list_open(&db, ada, now).await.unwrap();
    assert_eq!(open.iter().map(|s| s.id).collect::<Vec<_>>(), [in_use]);
    assert_eq!(open[0].expires_at.timestamp(), (later + chrono::Duration::hours(1)).timestamp());
}
