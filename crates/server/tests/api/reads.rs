//! Reads: every list endpoint stays within a statement budget whatever the page size, so an N+1
//! cannot come back; a page read again costs the database nothing until its team changes, and
//! every change shows in the next read, on every instance.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::*;

/// The statements a request ran, as the portal counted them.
async fn statements(app: &TestApp, token: &str, path: &str) -> u32 {
    let res = app.call(Method::GET, Some(token), path, None).await;
    assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.body);
    res.headers["x-db-statements"].to_str().unwrap().parse().unwrap()
}

/// `total` requests to `path` with `key`, one after the other.
async fn traffic(app: &TestApp, path: &str, key: &str, total: u64) {
    let client = new_client();
    for _ in 0..total {
        let res = client.get(app.url(path)).bearer_auth(key).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
}

/// A gzip answer decoded.
fn gunzip(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(body), &mut out).unwrap();
    out
}

/// (path under the team, statements allowed) for a signed-in user.
/// The membership and the team come from caches on repeated reads, so a list is its own
/// statements only.
const BUDGETS: &[(&str, u32)] = &[
    ("", 1),
    // Each member's last activity is kept on the membership, not grouped from the log.
    ("/members?limit=50", 1),
    ("/invitations?limit=50", 1),
    // The team's page, then its members' sign-ins newer than the page's oldest entry.
    ("/activity?limit=50", 2),
    ("/api-keys?limit=50", 1),
    // Usage reads take this instance's unwritten counts from its buffer: no write, whatever it
    // holds.
    ("/usage", 6),
];

#[tokio::test]
async fn list_endpoints_keep_their_statement_budget_whatever_the_page_size() {
    // What a page costs the database when it is read: nothing is kept between requests here.
    let app = spawn_app_with(Options::shared(None, &["--debug-statement-count", "--no-read-cache"])).await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let base = format!("/api/v1/teams/{team}");
    let (_, key) = app.simple_key(&owner, &team, "reader").await;
    // Some usage, so that the small team's reads already name a key.
    app.op(Some(&key), ops::get_team(&team)).await;
    let measure = |token: String| {
        let (app, base) = (&app, base.clone());
        async move {
            let mut counts = Vec::new();
            for (path, _) in BUDGETS {
                counts.push(statements(app, &token, &format!("{base}{path}")).await);
            }
            counts
        }
    };
    let small = measure(owner.clone()).await;
    let small_key = measure(key.clone()).await;
    // Grow every list past a page's worth of varied rows.
    for i in 0..12 {
        app.join(&owner, &team, &format!("member{i}@example.com"), if i % 2 == 0 { "member" } else { "admin" }).await;
        app.simple_key(&owner, &team, &format!("key {i}")).await;
        let body =
            CreateInvitationRequest { email: format!("i{i}@example.com").into(), role: Role::Member, message: None };
        app.op(Some(&owner), ops::create_invitation(&team, &body)).await;
    }
    for _ in 0..5 {
        app.op(Some(&key), ops::get_team(&team)).await;
    }
    let large = measure(owner.clone()).await;
    let large_key = measure(key.clone()).await;
    let mut failures = Vec::new();
    for (i, (path, budget)) in BUDGETS.iter().enumerate() {
        eprintln!("{path:24} user {} → {}, key {} → {}", small[i], large[i], small_key[i], large_key[i]);
        if large[i] > small[i] || large_key[i] > small_key[i] {
            failures.push(format!("{path}: statements grow with the page ({} → {})", small[i], large[i]));
        }
        if large[i] > *budget || large_key[i] > *budget {
            failures.push(format!(
                "{path}: {} statements as a user, {} with a key; budget {budget}",
                large[i], large_key[i]
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Usage reads merge what this instance has not written yet instead of writing it first: under
/// traffic and flushes every 50 ms, every read counts each answered request once, never twice,
/// never losing one it counted before, and the last one counts them all.
#[tokio::test]
async fn usage_reads_count_unwritten_requests_exactly_once_while_flushes_run() {
    let app = spawn_app_with(Options::shared(None, &["--debug-statement-count", "--usage-flush-ms", "50"])).await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let (id, key) = app.simple_key(&owner, &team, "busy").await;
    let team_path = format!("/api/v1/teams/{team}");
    let total = 400u64;
    let traffic = traffic(&app, &team_path, &key, total);
    let reads = async {
        let mut seen = Vec::new();
        while seen.last().copied().unwrap_or(0) < total {
            let res = app.op(Some(&owner), ops::get_api_key_usage(&team, &id, &UsageRange::default())).await;
            let (key_total, team_res) = (res.body["total_requests"].as_u64().unwrap(), res.headers.clone());
            assert!(team_res["x-db-statements"].to_str().unwrap().parse::<u32>().unwrap() <= 8);
            seen.push(key_total);
        }
        seen
    };
    let ((), seen) = tokio::join!(traffic, reads);
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "a read lost counts an earlier one had: {seen:?}");
    assert!(seen.iter().all(|&n| n <= total), "a read counted a request twice: {seen:?}");
    assert!(seen.len() > 5, "the reads ran beside the traffic: {seen:?}");
    let team_usage = app.op(Some(&owner), ops::get_team_usage(&team, &UsageRange::default())).await;
    assert_eq!(team_usage.body["usage"]["total_requests"], total);
    assert_eq!(team_usage.body["keys"][0]["total_requests"], total);
    let listed = app.op(Some(&owner), ops::get_api_key(&team, &id)).await;
    assert_eq!(listed.body["request_count"], total);
    // The last use, written or still in this instance's buffer, is the key's.
    assert_eq!(team_usage.body["keys"][0]["last_used_at"], listed.body["last_used_at"]);
}

/// Two instances on one PostgreSQL database: a member removed on one can no longer read the
/// team on the other within a second, although that one had their membership cached.
#[tokio::test]
async fn a_removal_on_one_instance_ends_cached_reads_on_another() {
    if backend() != "postgres" {
        eprintln!("a_removal_on_one_instance_ends_cached_reads_on_another runs on PostgreSQL only");
        return;
    }
    let a = spawn_app_with(Options::shared(None, &[])).await;
    let (owner, _) = a.signed_in("owner@example.com").await;
    let team = a.create_team(&owner, "Acme").await;
    let member = a.join(&owner, &team, "member@example.com", "member").await;
    let b = spawn_app_with(Options::shared(Some(a.database_url.clone()), &[])).await;
    let members = format!("/api/v1/teams/{team}/members");
    let res = b.get_as(&member, &members).await;
    assert_eq!(res.status, StatusCode::OK);
    let id =
        res.body["items"].as_array().unwrap().iter().find(|m| m["email"] == "member@example.com").unwrap()["user_id"]
            .as_str()
            .unwrap()
            .to_owned();
    assert_eq!(b.get_as(&member, &members).await.status, StatusCode::OK, "served from B's cache");
    let removed = a.op(Some(&owner), ops::remove_member(&team, &id)).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    let removed_at = std::time::Instant::now();
    loop {
        let res = b.get_as(&member, &members).await;
        if res.status == StatusCode::NOT_FOUND {
            break;
        }
        assert_eq!(res.status, StatusCode::OK);
        assert!(
            removed_at.elapsed() < std::time::Duration::from_secs(1),
            "B still serves the removed member after 1 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}

/// The upgrade that keeps each member's last activity on the membership fills it from the log:
/// their latest entry in the team, or without a team (a sign-in); never another team's.
#[tokio::test]
async fn the_upgrade_fills_each_members_last_activity_from_the_log() {
    use portal_migrations::{Migrator, MigratorTrait};
    use sea_orm::sea_query::{Alias, Query};

    let (_guard, url) = empty_database().await;
    let db = portal_db::connect(&url).await.unwrap();
    Migrator::up(&db, Some(6)).await.unwrap();
    let at = |minutes_ago: i64| chrono::DateTime::from_timestamp(1_790_000_000 - 60 * minutes_ago, 0).unwrap();
    let insert = |table: &str, columns: &[&str], values: Vec<sea_orm::Value>| {
        let stmt = Query::insert()
            .into_table(Alias::new(table))
            .columns(columns.iter().map(|c| Alias::new(*c)))
            .values_panic(values.into_iter().map(Into::into))
            .to_owned();
        let db = db.clone();
        async move { sea_orm::ConnectionTrait::execute(&db, &stmt).await.unwrap() }
    };
    let ada = portal_db::users::create(&db, "ada@example.com", "Ada", "x", at(500)).await.unwrap().id;
    let idle = portal_db::users::create(&db, "idle@example.com", "Idle", "x", at(500)).await.unwrap().id;
    let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    for team in [a, b] {
        let columns = ["id", "name", "created_by", "created_at", "updated_at"];
        insert("teams", &columns, vec![team.into(), "T".into(), ada.into(), at(400).into(), at(400).into()]).await;
        for user in [ada, idle] {
            let columns = ["team_id", "user_id", "role", "joined_at"];
            insert("team_members", &columns, vec![team.into(), user.into(), "owner".into(), at(400).into()]).await;
        }
    }
    let entry = |team: Option<uuid::Uuid>, action: &'static str, minutes_ago: i64| {
        let columns = ["team_id", "actor_type", "actor_id", "action", "target_type", "created_at"];
        let values = vec![team.into(), "user".into(), ada.into(), action.into(), "team".into(), at(minutes_ago).into()];
        insert("audit_log", &columns, values)
    };
    entry(Some(a), "team.updated", 300).await;
    entry(None, "auth.signed_in", 200).await;
    entry(Some(b), "team.updated", 100).await;
    portal_db::migrate(&db).await.unwrap();

    let last = |team| {
        let db = db.clone();
        async move {
            let rows = portal_db::teams::list_members(&db, team, None, 50).await.unwrap();
            rows.into_iter().map(|m| (m.email, m.last_active_at)).collect::<std::collections::BTreeMap<_, _>>()
        }
    };
    let (in_a, in_b) = (last(a).await, last(b).await);
    assert_eq!(in_a["ada@example.com"], Some(at(200)), "the sign-in is newer than A's own entry: {in_a:?}");
    assert_eq!(in_b["ada@example.com"], Some(at(100)), "{in_b:?}");
    assert_eq!(in_a["idle@example.com"], None, "{in_a:?}");
}

/// The paths under a team that are kept between reads.
const KEPT: &[&str] = &[
    "/members",
    "/invitations",
    "/activity",
    "/api-keys",
    "/api-keys?environment=development&status=active",
    "/api-keys?q=E",
    "/usage",
];

/// Key lists ordered by use: kept too, but only until this instance's next flush.
const KEPT_BY_USE: &[&str] = &["/api-keys?sort=requests", "/api-keys?sort=last_used&environment=development"];

/// A page read again runs no statement; a change to the team makes the next read run its
/// statements again, and another team's change does not.
#[tokio::test]
async fn a_page_read_again_costs_nothing_until_its_team_changes() {
    let app = spawn_app_with(Options::shared(None, &["--debug-statement-count", "--usage-flush-ms", "60000"])).await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let other = app.create_team(&owner, "Other").await;
    let base = format!("/api/v1/teams/{team}");
    app.simple_key(&owner, &team, "reader").await;
    for path in KEPT.iter().chain(KEPT_BY_USE) {
        let first = statements(&app, &owner, &format!("{base}{path}")).await;
        assert!(first > 0, "{path}: the first read runs its statements");
        assert_eq!(statements(&app, &owner, &format!("{base}{path}")).await, 0, "{path}: read again, kept");
    }
    app.simple_key(&owner, &other, "elsewhere").await;
    for path in KEPT.iter().chain(KEPT_BY_USE) {
        assert_eq!(statements(&app, &owner, &format!("{base}{path}")).await, 0, "{path}: another team changed");
    }
    app.simple_key(&owner, &team, "second").await;
    for path in KEPT.iter().chain(KEPT_BY_USE) {
        assert!(statements(&app, &owner, &format!("{base}{path}")).await > 0, "{path}: read again after a change");
    }
}

/// Invites new@example.com into `team`; returns the invitation's id.
async fn invite(app: &TestApp, owner: &str, team: &str) -> String {
    let body = CreateInvitationRequest { email: "new@example.com".into(), role: Role::Member, message: None };
    let res = app.op(Some(owner), ops::create_invitation(team, &body)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    res.body["id"].as_str().unwrap().to_owned()
}

fn items(res: &Response) -> &Vec<serde_json::Value> {
    res.body["items"].as_array().unwrap_or_else(|| panic!("a page: {}", res.body))
}

/// Every kind of change shows in the very next read of a page that was kept before it.
#[tokio::test]
async fn every_change_shows_in_the_next_read_of_a_kept_page() {
    let app = spawn_app_with(Options::shared(None, &["--usage-flush-ms", "60000"])).await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let base = format!("/api/v1/teams/{team}");
    let get = |path: &str| {
        let (app, owner, path) = (&app, owner.clone(), format!("{base}{path}"));
        async move {
            let res = app.get_as(&owner, &path).await;
            assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.body);
            // Read twice: the second answer is the kept one.
            app.get_as(&owner, &path).await
        }
    };
    let name_of =
        |res: &Response, email: &str| items(res).iter().find(|m| m["email"] == email).map(|m| m["name"].clone());

    // Members: a join, a role change, a rename, a sign-in (last activity), a removal.
    get("/members").await;
    let member = app.join(&owner, &team, "member@example.com", "member").await;
    let members = get("/members").await;
    let row = items(&members).iter().find(|m| m["email"] == "member@example.com").expect("the joined member").clone();
    let user_id = row["user_id"].as_str().unwrap().to_owned();
    let changed =
        app.op(Some(&owner), ops::update_member(&team, &user_id, &UpdateMemberRequest { role: Role::Admin })).await;
    assert_eq!(changed.status, StatusCode::OK);
    assert!(items(&get("/members").await).iter().any(|m| m["user_id"] == user_id.as_str() && m["role"] == "admin"));
    let renamed =
        app.op(Some(&member), ops::update_me(&UpdateMeRequest { name: Some("Grace Hopper".to_string().into()) })).await;
    assert_eq!(renamed.status, StatusCode::OK);
    assert_eq!(name_of(&get("/members").await, "member@example.com"), Some(json!("Grace Hopper")));
    let activity = get("/activity").await;
    let before = row["last_active_at"].clone();
    let signed_in = app.login_with(&new_client(), "member@example.com", PASSWORD).await;
    assert_eq!(signed_in.status, StatusCode::OK);
    let after = get("/members").await;
    let after = items(&after).iter().find(|m| m["user_id"] == user_id.as_str()).unwrap()["last_active_at"].clone();
    assert_ne!(after, before, "a sign-in is the member's last activity");
    let newest = |res: &Response| items(res)[0]["action"].clone();
    assert_ne!(newest(&activity), json!("auth.signed_in"));
    assert_eq!(newest(&get("/activity").await), json!("auth.signed_in"), "a member's sign-in shows in the activity");

    // Invitations: created, then revoked.
    get("/invitations").await;
    let invitation = invite(&app, &owner, &team).await;
    let listed = get("/invitations").await;
    assert!(items(&listed).iter().any(|i| i["id"] == invitation.as_str() && i["state"] == "pending"));
    let revoked = app.op(Some(&owner), ops::revoke_invitation(&team, &invitation)).await;
    assert_eq!(revoked.status, StatusCode::NO_CONTENT);
    assert!(
        items(&get("/invitations").await).iter().any(|i| i["id"] == invitation.as_str() && i["state"] == "revoked")
    );

    // Keys: created, renamed, used, revoked; and each change is in the activity.
    get("/api-keys").await;
    let (key_id, key) = app.simple_key(&owner, &team, "first").await;
    let keys = get("/api-keys").await;
    let key_row = |res: &Response| items(res).iter().find(|k| k["id"] == key_id.as_str()).cloned().expect("the key");
    assert_eq!(key_row(&keys)["request_count"], 0);
    assert_eq!(newest(&get("/activity").await), json!("key.created"));
    let rename = UpdateApiKeyRequest { name: Some("renamed".into()), ..Default::default() };
    let renamed = app.op(Some(&owner), ops::update_api_key(&team, &key_id, &rename)).await;
    assert_eq!(renamed.status, StatusCode::OK);
    assert_eq!(key_row(&get("/api-keys").await)["name"], "renamed");
    let usage = get("/usage").await;
    assert_eq!(usage.body["usage"]["total_requests"], 0);
    assert_eq!(app.get_as(&key, &base).await.status, StatusCode::OK);
    assert_eq!(key_row(&get("/api-keys").await)["request_count"], 1, "a request not yet written counts");
    assert_eq!(get("/usage").await.body["usage"]["total_requests"], 1);
    assert_eq!(get(&format!("/api-keys/{key_id}/usage")).await.body["total_requests"], 1);
    let revoked = app.op(Some(&owner), ops::revoke_api_key(&team, &key_id)).await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(key_row(&get("/api-keys").await)["status"], "revoked");
    assert_eq!(newest(&get("/activity").await), json!("key.revoked"));
}

/// Flushes write what was counted and the kept pages move on with them: under traffic and a
/// flush every 50 ms, the key list never counts a request twice or loses one.
#[tokio::test]
async fn kept_key_lists_count_each_request_once_while_flushes_run() {
    let app = spawn_app_with(Options::shared(None, &["--usage-flush-ms", "50"])).await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let (id, key) = app.simple_key(&owner, &team, "busy").await;
    let (team_path, list_path) = (format!("/api/v1/teams/{team}"), format!("/api/v1/teams/{team}/api-keys"));
    let total = 300u64;
    let traffic = traffic(&app, &team_path, &key, total);
    let reads = async {
        let mut seen = Vec::new();
        while seen.last().copied().unwrap_or(0) < total {
            let res = app.get_as(&owner, &list_path).await;
            let row = items(&res).iter().find(|k| k["id"] == id.as_str()).unwrap().clone();
            seen.push(row["request_count"].as_u64().unwrap());
        }
        seen
    };
    let ((), seen) = tokio::join!(traffic, reads);
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "a read lost counts an earlier one had: {seen:?}");
    assert!(seen.iter().all(|&n| n <= total), "a read counted a request twice: {seen:?}");
    assert!(seen.len() > 5, "the reads ran beside the traffic: {seen:?}");
}

/// Two instances on one PostgreSQL database: pages B keeps show A's changes within a second.
#[tokio::test]
async fn a_change_on_one_instance_shows_in_pages_another_kept() {
    if backend() != "postgres" {
        eprintln!("a_change_on_one_instance_shows_in_pages_another_kept runs on PostgreSQL only");
        return;
    }
    let a = spawn_app_with(Options::shared(None, &["--usage-flush-ms", "100"])).await;
    let (owner, _) = a.signed_in("owner@example.com").await;
    let team = a.create_team(&owner, "Acme").await;
    let (key_id, key) = a.simple_key(&owner, &team, "first").await;
    let b = spawn_app_with(Options::shared(Some(a.database_url.clone()), &["--debug-statement-count"])).await;
    let base = format!("/api/v1/teams/{team}");
    // B keeps each page (its listener is up once a read is kept: it reads until one is).
    let kept = |path: String| {
        let (b, owner) = (&b, owner.clone());
        async move {
            let started = std::time::Instant::now();
            loop {
                let res = b.get_as(&owner, &path).await;
                assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.body);
                if res.headers["x-db-statements"] == "0" {
                    return;
                }
                assert!(started.elapsed() < std::time::Duration::from_secs(5), "B never keeps {path}");
            }
        }
    };
    let within_a_second = |path: String, what: &'static str, shows: Box<dyn Fn(&Response) -> bool>| {
        let (b, owner) = (&b, owner.clone());
        async move {
            let changed_at = std::time::Instant::now();
            loop {
                let res = b.get_as(&owner, &path).await;
                if shows(&res) {
                    return;
                }
                assert!(
                    changed_at.elapsed() < std::time::Duration::from_secs(1),
                    "B still shows {path} without {what}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    };
    for path in KEPT {
        kept(format!("{base}{path}")).await;
    }
    let invitation = invite(&a, &owner, &team).await;
    let shows_invitation = move |res: &Response| items(res).iter().any(|i| i["id"] == invitation.as_str());
    within_a_second(format!("{base}/invitations"), "the invitation", Box::new(shows_invitation)).await;
    let revoked = a.op(Some(&owner), ops::revoke_api_key(&team, &key_id)).await;
    assert_eq!(revoked.status, StatusCode::OK);
    let id = key_id.clone();
    let shows_revoked =
        move |res: &Response| items(res).iter().any(|k| k["id"] == id.as_str() && k["status"] == "revoked");
    within_a_second(format!("{base}/api-keys"), "the revocation", Box::new(shows_revoked)).await;
    within_a_second(
        format!("{base}/activity"),
        "the revocation",
        Box::new(|res: &Response| items(res)[0]["action"] == "key.revoked"),
    )
    .await;
    // A's requests, written by A's flush, show in B's kept usage page.
    let (_, live) = a.simple_key(&owner, &team, "live").await;
    kept(format!("{base}/usage")).await;
    assert_eq!(a.get_as(&live, &base).await.status, StatusCode::OK);
    let _ = key;
    within_a_second(
        format!("{base}/usage"),
        "A's request",
        Box::new(|res: &Response| res.body["usage"]["total_requests"] == 1),
    )
    .await;
    // A sign-in on A shows in B's kept member list and activity.
    kept(format!("{base}/activity")).await;
    assert_eq!(a.login_with(&new_client(), "owner@example.com", PASSWORD).await.status, StatusCode::OK);
    within_a_second(
        format!("{base}/activity"),
        "the sign-in",
        Box::new(|res: &Response| items(res)[0]["action"] == "auth.signed_in"),
    )
    .await;
}

/// A kept page goes out gzip-compressed to a client that takes gzip, and it is the same answer
/// as the uncompressed one.
#[tokio::test]
async fn a_kept_page_goes_out_compressed_and_the_same() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    for i in 0..8 {
        app.simple_key(&owner, &team, &format!("key {i}")).await;
    }
    let client = new_client();
    let url = app.url(&format!("/api/v1/teams/{team}/activity"));
    let plain = client.get(&url).bearer_auth(&owner).send().await.unwrap();
    assert_eq!(plain.headers().get("content-encoding"), None);
    let plain = plain.bytes().await.unwrap();
    assert!(plain.len() > 1024, "a page large enough to compress: {} bytes", plain.len());
    for _ in 0..2 {
        let res = client.get(&url).bearer_auth(&owner).header("accept-encoding", "br, gzip").send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.headers()["content-encoding"], "gzip");
        assert_eq!(res.headers()["content-type"], "application/json");
        assert!(res.headers()["vary"].to_str().unwrap().to_ascii_lowercase().contains("accept-encoding"));
        let compressed = res.bytes().await.unwrap();
        assert!(compressed.len() < plain.len() / 2);
        assert_eq!(gunzip(&compressed), plain, "the compressed answer is the same answer");
    }
    let refused = client.get(&url).bearer_auth(&owner).header("accept-encoding", "gzip;q=0").send().await.unwrap();
    assert_eq!(refused.headers().get("content-encoding"), None);
    assert_eq!(refused.bytes().await.unwrap(), plain);
    // A usage page is built per request: a few kilobytes go out as they are, unmarked.
    let usage = app.url(&format!("/api/v1/teams/{team}/usage"));
    let res = client.get(&usage).bearer_auth(&owner).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers().get("content-encoding"), None);
    let body = res.bytes().await.unwrap();
    assert!((1024..8192).contains(&body.len()), "{} bytes", body.len());
    serde_json::from_slice::<serde_json::Value>(&body).unwrap();
}

/// A kept page changes by itself when something on it expires: an invitation, a key.
#[tokio::test]
async fn a_kept_page_shows_what_expired_while_it_was_kept() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let base = format!("/api/v1/teams/{team}");
    let invitation = invite(&app, &owner, &team).await;
    // Straight into the database: an invitation and a key that expire in a moment.
    let db = portal_db::connect(&app.database_url).await.unwrap();
    let expiry = chrono::Utc::now() + chrono::Duration::milliseconds(1500);
    assert!(portal_db::invitations::renew(&db, invitation.parse().unwrap(), "x", expiry).await.unwrap());
    let scopes = portal_domain::scopes::ScopeSet::FULL.to_stored();
    let key = portal_db::api_keys::NewKey {
        team_id: team.parse().unwrap(),
        name: "short-lived",
        description: None,
        environment: portal_types::Environment::Development,
        key_hash: "short-lived hash",
        hint: "pk_dev_sho",
        created_by: None,
        created_by_key: None,
        expires_at: Some(expiry),
        usage_limit: None,
        rate_limit: None,
        scopes: &scopes,
        allowed_ips: None,
        alert_thresholds: "80 100",
    };
    let key = portal_db::api_keys::create(&db, key, chrono::Utc::now()).await.unwrap().id.to_string();
    db.close().await.ok();
    let state = |path: &'static str, id: String, field: &'static str| {
        let (app, owner, path) = (&app, owner.clone(), format!("{base}{path}"));
        async move {
            let res = app.get_as(&owner, &path).await;
            items(&res).iter().find(|i| i["id"] == id.as_str()).unwrap()[field].as_str().unwrap().to_owned()
        }
    };
    // Lists narrowed by status, kept too: the key is on one and comes onto the other.
    let listed = |path: &'static str| {
        let (app, owner, path, key) = (&app, owner.clone(), format!("{base}{path}"), key.clone());
        async move { items(&app.get_as(&owner, &path).await).iter().any(|i| i["id"] == key.as_str()) }
    };
    for _ in 0..2 {
        assert_eq!(state("/invitations", invitation.clone(), "state").await, "pending");
        assert_eq!(state("/api-keys", key.clone(), "status").await, "active");
        assert!(listed("/api-keys?status=active").await);
        assert!(!listed("/api-keys?status=expired").await);
    }
    loop {
        let (invitation, key) =
            (state("/invitations", invitation.clone(), "state").await, state("/api-keys", key.clone(), "status").await);
        if invitation == "expired" && key == "expired" {
            // A list that did not show the key when it was kept shows it now.
            assert!(listed("/api-keys?status=expired").await, "the expired key is among the expired ones");
            assert!(!listed("/api-keys?status=active").await, "and no longer among the active ones");
            break;
        }
        assert!(
            chrono::Utc::now() < expiry + chrono::Duration::seconds(1),
            "still {invitation} and {key} a second after they expired"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A key list whose key in use is encoded again per request goes out compressed (the rest of
/// the page compressed once), the same answer as uncompressed, with the unwritten use counted.
#[tokio::test]
async fn a_key_list_with_a_key_in_use_goes_out_compressed_and_exact() {
    let app = spawn_app_with(Options::shared(None, &["--usage-flush-ms", "60000"])).await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let mut keys = Vec::new();
    for i in 0..20 {
        keys.push(app.simple_key(&owner, &team, &format!("key {i}")).await);
    }
    let client = new_client();
    let list = app.url(&format!("/api/v1/teams/{team}/api-keys"));
    let read = |gzip: bool| {
        let req = client.get(&list).bearer_auth(&owner);
        let req = if gzip { req.header("accept-encoding", "gzip") } else { req };
        async move {
            let res = req.send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK);
            let encoding = res.headers().get("content-encoding").map(|v| v.to_str().unwrap().to_owned());
            let body = res.bytes().await.unwrap().to_vec();
            match encoding.as_deref() {
                Some("gzip") => (true, gunzip(&body)),
                None => (false, body),
                Some(other) => panic!("content-encoding {other}"),
            }
        }
    };
    let count_of = |body: &[u8], id: &str| {
        let page: serde_json::Value = serde_json::from_slice(body).unwrap();
        page["items"].as_array().unwrap().iter().find(|k| k["id"] == id).unwrap()["request_count"].as_u64().unwrap()
    };
    let (used_id, used_key) = &keys[7];
    for n in 1..=3u64 {
        assert_eq!(app.get_as(used_key, &format!("/api/v1/teams/{team}")).await.status, StatusCode::OK);
        let (_, plain) = read(false).await;
        assert!(plain.len() > 8192, "{} bytes", plain.len());
        for _ in 0..2 {
            let (compressed, decoded) = read(true).await;
            assert!(compressed, "a large key list goes out compressed");
            assert_eq!(decoded, plain, "the compressed answer is the same answer");
        }
        assert_eq!(count_of(&plain, used_id), n, "the unwritten use counts");
    }
}

/// This instance's flush moves no page on: usage pages and key lists add what it wrote from
/// memory, exactly, instead of reading again.
#[tokio::test]
async fn a_flush_of_this_instance_moves_no_page_on() {
    let app = spawn_app_with(Options::shared(None, &["--debug-statement-count", "--usage-flush-ms", "50"])).await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let base = format!("/api/v1/teams/{team}");
    let (id, key) = app.simple_key(&owner, &team, "busy").await;
    let key_usage = format!("/api-keys/{id}/usage");
    let paths: Vec<&str> = KEPT.iter().copied().chain([key_usage.as_str()]).collect();
    for path in &paths {
        statements(&app, &owner, &format!("{base}{path}")).await;
        assert_eq!(statements(&app, &owner, &format!("{base}{path}")).await, 0, "{path}: kept");
    }
    assert_eq!(app.get_as(&key, &base).await.status, StatusCode::OK);
    // The flush writes the request within 50 ms.
    let db = portal_db::connect(&app.database_url).await.unwrap();
    let month = portal_domain::usage::month_bounds(chrono::Utc::now()).0;
    let scope = portal_db::usage::Scope::Key(id.parse().unwrap());
    let started = std::time::Instant::now();
    while portal_db::usage::month_requests(&db, scope, month).await.unwrap() == 0 {
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "no flush wrote the request");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let get = |path: String| {
        let (app, owner) = (&app, &owner);
        async move { app.get_as(owner, &path).await }
    };
    let spent = |res: &Response| res.headers["x-db-statements"].to_str().unwrap().parse::<u32>().unwrap();
    let usage = get(format!("{base}/usage")).await;
    assert_eq!(usage.body["usage"]["total_requests"], 1, "counted once: {}", usage.body);
    assert_eq!(usage.body["keys"][0]["total_requests"], 1, "{}", usage.body);
    assert!(spent(&usage) <= 1, "only the name of the key new in the page is read");
    let of_key = get(format!("{base}{key_usage}")).await;
    assert_eq!((of_key.body["total_requests"].clone(), spent(&of_key)), (json!(1), 0), "{}", of_key.body);
    let keys = get(format!("{base}/api-keys")).await;
    assert_eq!((items(&keys)[0]["request_count"].clone(), spent(&keys)), (json!(1), 0), "{}", keys.body);
    for path in &paths {
        assert_eq!(statements(&app, &owner, &format!("{base}{path}")).await, 0, "{path}: kept through the flush");
    }
}

/// A list ordered by use writes the buffered counts first, so its order is this instance's counts
/// of at most half a second ago; a key asking for it again and again (each request counted)
/// cannot make every request a write. The counts shown are exact at once.
#[tokio::test]
async fn lists_ordered_by_use_write_counts_early_at_most_twice_a_second() {
    // The flusher waits a minute: every write here is a list's.
    let app = spawn_app_with(Options::shared(None, &["--debug-statement-count", "--usage-flush-ms", "60000"])).await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let (_, key) = app.simple_key(&owner, &team, "busy").await;
    let path = format!("/api/v1/teams/{team}/api-keys?sort=requests");
    let started = std::time::Instant::now();
    let mut counts = Vec::new();
    for _ in 0..40 {
        counts.push(statements(&app, &key, &path).await);
    }
    let elapsed = started.elapsed().as_millis() as usize;
    let least = *counts.iter().min().unwrap();
    let writing = counts.iter().filter(|&&n| n > least).count();
    assert!(writing <= 1 + elapsed / 500, "{writing} of 40 requests in {elapsed} ms wrote counts: {counts:?}");
    // And the order is the one shown: the busy key's count is exact at once.
    let by_requests = KeyQuery { sort: Some(KeySort::Requests), ..KeyQuery::default() };
    let res = app.op(Some(&owner), ops::list_api_keys(&team, &Page::default(), &by_requests)).await;
    assert_eq!(res.body["items"][0]["request_count"], 40, "{}", res.body);
}
