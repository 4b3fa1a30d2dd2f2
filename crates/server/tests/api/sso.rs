//! Single sign-on against a real OpenID Connect provider (`oidc-provider`, OpenID Certified, run
//! by e2e/peers/oidc-provider.mjs) and a real DNS server for the verified domain. A "browser"
//! here is a reqwest client with a cookie jar that does not follow redirects: each hop is
//! looked at, and the provider's own sign-in form is filled in.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::AsyncBufReadExt as _;

use crate::domains::DnsServer;
use crate::helpers::*;

const CLIENT_ID: &str = "partner-portal";
const CLIENT_SECRET: &str = "a-client-secret-of-the-test-provider";
/// The tests' public URL is http://127.0.0.1:9: the provider sends browsers there, and the
/// browser here takes them to the instance under test instead.
const REDIRECT_URI: &str = "http://127.0.0.1:9/api/v1/auth/sso/callback";

/// The provider, with its users: `ada` and `bob` at the verified acme.test, `eve` elsewhere.
pub struct Provider {
    child: Option<tokio::process::Child>,
    pub issuer: String,
    config: std::path::PathBuf,
}

impl Provider {
    pub async fn start() -> Self {
        Self::start_at(0, &["key-1"]).await
    }

    async fn start_at(port: u16, kids: &[&str]) -> Self {
        let config = std::env::temp_dir().join(format!("pp-oidc-{}.json", uuid::Uuid::new_v4()));
        let users = json!({
            "ada": {"email": "ada@acme.test", "name": "Ada Lovelace"},
            "bob": {"email": "bob@acme.test", "name": "Bob"},
            "eve": {"email": "eve@elsewhere.test", "name": "Eve"},
            "unverified": {"email": "carol@acme.test", "email_verified": false},
        });
        let body = json!({
            "port": port,
            "clients": [{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "redirect_uris": [REDIRECT_URI]}],
            "users": users,
            "kids": kids,
        });
        let (child, issuer) = start_peer("oidc-provider.mjs", &config, &body).await;
        Self { child: Some(child), issuer: issuer["issuer"].as_str().unwrap().to_owned(), config }
    }

    /// Stops the provider and starts it again at the same address with new signing keys.
    async fn rotate_keys(&mut self, kids: &[&str]) {
        let mut child = self.child.take().unwrap();
        child.kill().await.unwrap();
        let port: u16 = self.issuer.rsplit(':').next().unwrap().parse().unwrap();
        *self = Self::start_at(port, kids).await;
    }

    /// The next token answer carries an ID token rewritten `mode`-wise (see the script).
    pub async fn tamper(&self, mode: &str) {
        let res = new_client().post(format!("{}/__tamper", self.issuer)).json(&json!({"mode": mode})).send().await;
        assert_eq!(res.unwrap().status(), StatusCode::NO_CONTENT);
    }

    pub fn connection(&self, name: &str) -> CreateSsoConnectionRequest {
        CreateSsoConnectionRequest::oidc(name, &self.issuer, CLIENT_ID, CLIENT_SECRET)
    }
}

/// Starts a peer of e2e/peers (a real identity provider, run by node from e2e/node_modules,
/// which `make tools-node` installs) with its configuration written to `config`: the process,
/// and the JSON line it prints once it listens.
pub async fn start_peer(script: &str, config: &std::path::Path, body: &Value) -> (tokio::process::Child, Value) {
    std::fs::write(config, body.to_string()).unwrap();
    let mut child = tokio::process::Command::new("node")
        .arg(format!("{}/../../e2e/peers/{script}", env!("CARGO_MANIFEST_DIR")))
        .arg(config)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../e2e"))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("node runs {script}: {e}"));
    let mut line = String::new();
    tokio::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).await.unwrap();
    let started =
        serde_json::from_str(&line).unwrap_or_else(|_| panic!("{script} prints where it listens (make tools-node)"));
    (child, started)
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.config);
    }
}

/// One browser: its cookie jar, redirects looked at one by one.
pub struct Browser {
    pub client: reqwest::Client,
}

impl Browser {
    pub fn new() -> Self {
        portal_server::webhooks::install_tls_provider();
        let client =
            reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().unwrap();
        Self { client }
    }

    pub async fn get(&self, url: &str) -> reqwest::Response {
        self.client.get(url).send().await.unwrap()
    }

    /// From the portal's start URL through the provider's sign-in page (as `login`) to the
    /// callback URL the provider sends the browser to, made to reach `app`.
    pub async fn through_provider(&self, app: &TestApp, start: &str, login: &str) -> String {
        let res = self.get(&app.url(start)).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "the start sends the browser on");
        let mut next = location(&res);
        let form_action = regex::Regex::new(r#"action="([^"]+)""#).unwrap();
        for _ in 0..10 {
            if let Some(rest) = next.strip_prefix("http://127.0.0.1:9/") {
                return app.url(&format!("/{rest}"));
            }
            let res = self.get(&next).await;
            if res.status().is_redirection() {
                let to = location(&res);
                next = if to.starts_with('/') { format!("{}{to}", origin(&next)) } else { to };
                continue;
            }
            let page = res.text().await.unwrap();
            let action = form_action.captures(&page).expect("a form")[1].to_owned();
            let form: String = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs([("prompt", "login"), ("login", login), ("password", "any password")])
                .finish();
            let res = self
                .client
                .post(if action.starts_with('/') { format!("{}{action}", origin(&next)) } else { action })
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form)
                .send()
                .await
                .unwrap();
            assert!(res.status().is_redirection(), "the provider takes the sign-in: {}", res.status());
            let to = location(&res);
            next = if to.starts_with('/') { format!("{}{to}", origin(&next)) } else { to };
        }
        panic!("the provider did not send the browser back");
    }

    /// Opens a callback URL: where the portal sends the browser next.
    pub async fn arrive(&self, callback: &str) -> String {
        let res = self.get(callback).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        location(&res)
    }

    /// The session the refresh cookie of this browser holds: its access token.
    pub async fn access_token(&self, app: &TestApp) -> Option<String> {
        let res = self.client.post(app.url("/api/v1/auth/refresh")).send().await.unwrap();
        if res.status() != StatusCode::OK {
            return None;
        }
        let body: Value = res.json().await.unwrap();
        body["access_token"].as_str().map(str::to_owned)
    }
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers().get("location").expect("a Location").to_str().unwrap().to_owned()
}

pub fn origin(url: &str) -> String {
    let parsed = reqwest::Url::parse(url).unwrap();
    parsed.origin().ascii_serialization()
}

/// A team with acme.test verified and a connection to `provider`: (app, owner's token, team,
/// connection). The owner's address is at acme.test too.
pub async fn sso_team(flags: &[&str], dns: &DnsServer, provider: &Provider) -> (TestApp, String, String, String) {
    sso_team_with(flags, dns, &provider.connection("Acme IdP")).await
}

/// A team with acme.test verified (members join automatically) and the connection `request`:
/// (app, owner's token, team, connection).
pub async fn sso_team_with(
    flags: &[&str],
    dns: &DnsServer,
    request: &CreateSsoConnectionRequest,
) -> (TestApp, String, String, String) {
    let mut all =
        vec!["--dns-resolver".to_owned(), dns.flag(), "--webhook-allow-http".into(), "--webhook-allow-private".into()];
    all.extend(flags.iter().map(|f| (*f).to_owned()));
    let all: Vec<&str> = all.iter().map(String::as_str).collect();
    let app = spawn_app_with(Options::shared(None, &all)).await;
    let (owner, _) = app.signed_in("owner@acme.test").await;
    let team = app.create_team(&owner, "Acme").await;
    let added = app.op(Some(&owner), ops::add_domain(&team, &AddDomainRequest { domain: "acme.test".into() })).await;
    let domain = added.body["id"].as_str().unwrap().to_owned();
    dns.set("_partner-portal.acme.test", &[added.body["txt_value"].as_str().unwrap()]);
    assert!(app.op(Some(&owner), ops::verify_domain(&team, &domain)).await.body["verified_at"].is_string());
    let automatic = UpdateDomainRequest { join_rule: DomainJoinRule::Automatic };
    assert_eq!(app.op(Some(&owner), ops::update_domain(&team, &domain, &automatic)).await.status, StatusCode::OK);
    let res = app.op(Some(&owner), ops::create_sso_connection(&team, request)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let connection = res.body["id"].as_str().unwrap().to_owned();
    (app, owner, team, connection)
}

pub async fn activity(app: &TestApp, owner: &str, team: &str) -> Vec<(String, String)> {
    let res = app.op(Some(owner), ops::list_activity(team, &Page::default(), &ActivityFilter::default())).await;
    res.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap().to_owned(), e["summary"].as_str().unwrap_or("").to_owned()))
        .collect()
}

#[tokio::test]
async fn a_connection_is_checked_tested_and_signs_people_in_by_the_domain_rule() {
    let dns = DnsServer::start().await;
    let provider = Provider::start().await;
    let (app, owner, team, connection) = sso_team(&[], &dns, &provider).await;
    let redirect = app.op(Some(&owner), ops::list_sso_connections(&team)).await;
    let item = &redirect.body["items"][0];
    assert_eq!(item["redirect_uri"], REDIRECT_URI, "{}", redirect.body);
    assert_eq!(item["status"], "untested");
    assert!(item.get("client_secret").is_none() && !redirect.body.to_string().contains(CLIENT_SECRET));

    // Bad input names its field and changes nothing; an issuer that cannot be discovered says why.
    let conns = format!("/api/v1/teams/{team}/sso/connections");
    let good = json!({"name": "X", "issuer": provider.issuer, "client_id": "a", "client_secret": "b"});
    for (field, value) in [
        ("issuer", json!("not a url")),
        ("issuer", json!("http://127.0.0.1:1")),
        ("issuer", json!("ftp://idp.example")),
        ("client_id", json!("has space")),
        ("client_secret", json!("")),
        ("name", json!("")),
    ] {
        let mut body = good.clone();
        body[field] = value.clone();
        let res = app.call(Method::PATCH, Some(&owner), &format!("{conns}/{connection}"), Some(body)).await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(res.field(), field, "{value}: {}", res.body);
    }
    let res = app
        .call(
            Method::PATCH,
            Some(&owner),
            &format!("{conns}/{connection}"),
            Some(json!({"issuer": "http://127.0.0.1:1"})),
        )
        .await;
    assert!(res.body["detail"].as_str().unwrap().contains("discovery"), "{}", res.body);
    let res = app.op(Some(&owner), ops::create_sso_connection(&team, &provider.connection("Second"))).await;
    res.assert_problem(409, "conflict");
    // Members do not see or touch connections; a key cannot either (no scope reads them).
    let member = app.join(&owner, &team, "member@elsewhere.test", "member").await;
    app.op(Some(&member), ops::list_sso_connections(&team)).await.assert_problem(403, "forbidden");
    let (_, key) = app.simple_key(&owner, &team, "full").await;
    app.op(Some(&key), ops::list_sso_connections(&team)).await.assert_problem(403, "forbidden");

    // "Test connection" runs the flow in the owner's browser and shows the claims received.
    let start = app.op(Some(&owner), ops::test_sso_connection(&team, &connection)).await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.body);
    let browser = Browser::new();
    let back = browser.through_provider(&app, start.body["start_url"].as_str().unwrap(), "ada").await;
    assert_eq!(browser.arrive(&back).await, format!("/teams/{team}/settings?sso_test=done#sso"));
    let listed = app.op(Some(&owner), ops::list_sso_connections(&team)).await;
    let item = &listed.body["items"][0];
    assert_eq!(item["status"], "working", "{}", listed.body);
    assert_eq!(item["test_claims"]["email"], "ada@acme.test");
    assert_eq!(item["test_claims"]["sub"], "ada");
    assert!(browser.access_token(&app).await.is_none(), "a test signs nobody in");
    // The ticket works once.
    let again = Browser::new();
    let res = again.get(&app.url(start.body["start_url"].as_str().unwrap())).await;
    assert_eq!(location(&res), format!("/teams/{team}/settings?sso_test=done#sso"));

    // Home-realm discovery: an address at the verified domain finds the connection.
    let found = app.op(None, ops::discover_sso(&SsoDiscoveryRequest { email: "Ada@ACME.test".into() })).await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    assert_eq!(found.body["connection_name"], "Acme IdP");
    let start = found.body["start_url"].as_str().unwrap().to_owned();
    assert_eq!(start, format!("/api/v1/auth/sso/start?team_id={team}&login_hint=ada%40acme.test"));
    let none = app.op(None, ops::discover_sso(&SsoDiscoveryRequest { email: "x@elsewhere.test".into() })).await;
    none.assert_problem(404, "sso_not_configured");
    assert_eq!(none.field(), "email");

    // The first sign-in creates the account (verified: the domain is the team's), joins the
    // team (the domain joins automatically) and starts a session that says where it started.
    let browser = Browser::new();
    let back = browser.through_provider(&app, &start, "ada").await;
    assert_eq!(browser.arrive(&back).await, format!("/teams/{team}"));
    let ada = browser.access_token(&app).await.expect("signed in");
    let sessions = app.get_as(&ada, "/api/v1/me/sessions").await;
    assert_eq!(sessions.body["items"][0]["started_with"], format!("sso:{connection}"), "{}", sessions.body);
    assert_eq!(sessions.body["items"][0]["sso_connection"], "Acme IdP");
    let teams = app.get_as(&ada, "/api/v1/teams").await;
    assert_eq!(teams.body["items"][0]["role"], "member", "{}", teams.body);
    let me = app.get_as(&ada, "/api/v1/me").await;
    assert_eq!(me.body["email"], "ada@acme.test");
    assert_eq!(me.body["name"], "Ada Lovelace");
    // The same callback again is a replay: refused, nobody signed in.
    for replay in [&browser, &Browser::new()] {
        assert_eq!(replay.arrive(&back).await, "/sign-in?sso_error=replayed");
    }
    // Signing in again finds the linked account.
    let browser = Browser::new();
    let back = browser.through_provider(&app, &start, "ada").await;
    assert_eq!(browser.arrive(&back).await, format!("/teams/{team}"));

    // A user of the provider outside the team's verified domains, and an address the provider
    // has not verified, are refused; the activity says why.
    for (login, why) in [("eve", "eve@elsewhere.test is not at a verified domain"), ("unverified", "not verified")] {
        let browser = Browser::new();
        let back = browser.through_provider(&app, &start, login).await;
        assert_eq!(browser.arrive(&back).await, "/sign-in?sso_error=unknown_user");
        assert!(browser.access_token(&app).await.is_none());
        let entries = activity(&app, &owner, &team).await;
        let failed = entries.iter().find(|(a, _)| a == "sso.sign_in_failed").expect("recorded");
        assert!(failed.1.contains(why), "{failed:?}");
    }
    let entries = activity(&app, &owner, &team).await;
    for action in ["sso.connection_created", "sso.tested", "sso.signed_in", "member.joined_by_domain"] {
        assert!(entries.iter().any(|(a, _)| a == action), "{action} in {entries:?}");
    }
    assert!(!format!("{entries:?}").contains("eyJ"), "no token is recorded");
}

/// A state the portal never issued, a callback from another browser, and a provider's refusal.
#[tokio::test]
async fn forged_and_foreign_callbacks_are_refused() {
    let dns = DnsServer::start().await;
    let provider = Provider::start().await;
    let (app, _owner, team, _) = sso_team(&[], &dns, &provider).await;
    let browser = Browser::new();
    let unknown = format!("/api/v1/auth/sso/callback?state={}&code=abc", "A".repeat(43));
    assert_eq!(browser.arrive(&app.url(&unknown)).await, "/sign-in?sso_error=unknown_state");
    assert_eq!(browser.arrive(&app.url("/api/v1/auth/sso/callback")).await, "/sign-in?sso_error=unknown_state");
    // An attacker's own completed flow, sent to a victim's browser (login CSRF): refused.
    let attacker = Browser::new();
    let back = attacker.through_provider(&app, &format!("/api/v1/auth/sso/start?team_id={team}"), "ada").await;
    let victim = Browser::new();
    assert_eq!(victim.arrive(&back).await, "/sign-in?sso_error=other_browser");
    assert!(victim.access_token(&app).await.is_none());
    // The provider's refusal comes back as its reason.
    let res = attacker.get(&app.url(&format!("/api/v1/auth/sso/start?team_id={team}"))).await;
    let to_provider = reqwest::Url::parse(&location(&res)).unwrap();
    let state = to_provider.query_pairs().find(|(k, _)| k == "state").unwrap().1.into_owned();
    let refusal = app.url(&format!("/api/v1/auth/sso/callback?state={state}&error=access_denied&error_description=no"));
    assert_eq!(attacker.arrive(&refusal).await, "/sign-in?sso_error=provider_error");
    // Another site cannot start a sign-in in the user's browser (its navigation says so).
    let from_elsewhere = browser
        .client
        .get(app.url(&format!("/api/v1/auth/sso/start?team_id={team}")))
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .unwrap();
    assert_eq!(location(&from_elsewhere), "/sign-in?sso_error=cross_site");
    // A team without a connection.
    let res = browser.get(&app.url(&format!("/api/v1/auth/sso/start?team_id={}", uuid::Uuid::new_v4()))).await;
    assert_eq!(location(&res), "/sign-in?sso_error=not_configured");
    let res = browser.get(&app.url("/api/v1/auth/sso/start?team_id=nope")).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

/// ID tokens a hostile or broken provider could send: each refused with its reason, nobody
/// signed in.
#[tokio::test]
async fn hostile_id_tokens_are_refused_with_their_reason() {
    let dns = DnsServer::start().await;
    let provider = Provider::start().await;
    let (app, owner, team, _) = sso_team(&[], &dns, &provider).await;
    let start = format!("/api/v1/auth/sso/start?team_id={team}");
    for (mode, reason) in [
        ("nonce", "wrong_nonce"),
        ("aud", "wrong_audience"),
        ("azp", "wrong_audience"),
        ("iss", "wrong_issuer"),
        ("expired", "expired"),
        ("none", "bad_signature"),
        ("hs256", "bad_signature"),
        ("foreign_key", "bad_signature"),
    ] {
        provider.tamper(mode).await;
        let browser = Browser::new();
        let back = browser.through_provider(&app, &start, "ada").await;
        assert_eq!(browser.arrive(&back).await, format!("/sign-in?sso_error={reason}"), "{mode}");
        assert!(browser.access_token(&app).await.is_none(), "{mode}");
    }
    let entries = activity(&app, &owner, &team).await;
    let failures = entries.iter().filter(|(a, _)| a == "sso.sign_in_failed").count();
    assert_eq!(failures, 8, "{entries:?}");
    // Nobody was created by any of them.
    let members = app.op(Some(&owner), ops::list_members(&team, &Page::default())).await;
    assert_eq!(members.body["items"].as_array().unwrap().len(), 1, "{}", members.body);
    // An untampered sign-in still works.
    let browser = Browser::new();
    let back = browser.through_provider(&app, &start, "ada").await;
    assert_eq!(browser.arrive(&back).await, format!("/teams/{team}"));
}

/// A provider that rotated its signing keys: the portal fetches them again on the unknown key id.
#[tokio::test]
async fn rotated_provider_keys_are_fetched_again() {
    let dns = DnsServer::start().await;
    let mut provider = Provider::start().await;
    let (app, _owner, team, _) = sso_team(&[], &dns, &provider).await;
    provider.rotate_keys(&["key-2"]).await;
    let browser = Browser::new();
    let back = browser.through_provider(&app, &format!("/api/v1/auth/sso/start?team_id={team}"), "ada").await;
    assert_eq!(browser.arrive(&back).await, format!("/teams/{team}"));
    assert!(browser.access_token(&app).await.is_some());
}

/// An address with a password account is linked only once its password is proven.
#[tokio::test]
async fn a_password_account_is_linked_only_after_its_password() {
    let dns = DnsServer::start().await;
    let provider = Provider::start().await;
    let (app, owner, team, connection) = sso_team(&[], &dns, &provider).await;
    app.verified_user("bob@acme.test").await;
    let start = format!("/api/v1/auth/sso/start?team_id={team}");
    let browser = Browser::new();
    let back = browser.through_provider(&app, &start, "bob").await;
    let to = browser.arrive(&back).await;
    let link = to.strip_prefix("/sign-in?sso_link=").expect("on to the password").split('&').next().unwrap().to_owned();
    assert!(to.ends_with("&email=bob%40acme.test"), "{to}");
    assert!(browser.access_token(&app).await.is_none(), "no session before the password");

    let login = |password: &str, link: Option<&str>| LoginRequest {
        email: "bob@acme.test".into(),
        password: password.into(),
        sso_link: link.map(Into::into),
    };
    // The password is proven in the browser that came back from the provider.
    let in_browser = |body: LoginRequest| app.send(browser.client.post(app.url("/api/v1/auth/login")).json(&body));
    in_browser(login("wrong password!", Some(&link))).await.assert_problem(401, "invalid_credentials");
    let res = in_browser(login(PASSWORD, Some(&"B".repeat(43)))).await;
    res.assert_problem(400, "invalid_token");
    assert_eq!(res.field(), "sso_link");
    // Sent to another browser (a phished link), it links nothing, even with the right password.
    let res = app.op(None, ops::login(&login(PASSWORD, Some(&link)))).await;
    res.assert_problem(400, "invalid_token");
    assert_eq!(res.field(), "sso_link");
    // Another account cannot take the link.
    app.verified_user("other@elsewhere.test").await;
    let other = LoginRequest {
        email: "other@elsewhere.test".into(),
        password: PASSWORD.into(),
        sso_link: Some(link.clone().into()),
    };
    in_browser(other).await.assert_problem(400, "invalid_token");

    let res = in_browser(login(PASSWORD, Some(&link))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let bob = res.body["access_token"].as_str().unwrap().to_owned();
    let sessions = app.get_as(&bob, "/api/v1/me/sessions").await;
    assert_eq!(sessions.body["items"][0]["started_with"], format!("sso:{connection}"));
    // It joined by the domain's rule, and the link works once.
    assert_eq!(app.get_as(&bob, "/api/v1/teams").await.body["items"][0]["role"], "member");
    in_browser(login(PASSWORD, Some(&link))).await.assert_problem(400, "invalid_token");
    // From now on the provider signs Bob in directly.
    let browser = Browser::new();
    let back = browser.through_provider(&app, &start, "bob").await;
    assert_eq!(browser.arrive(&back).await, format!("/teams/{team}"));
    assert!(activity(&app, &owner, &team).await.iter().any(|(a, _)| a == "sso.linked"));

    // The key page says how a key's creator signs in: Bob, made an admin, through the provider;
    // the owner with a password.
    let bob_id = app.get_as(&bob, "/api/v1/me").await.body["id"].as_str().unwrap().to_owned();
    let admin = UpdateMemberRequest { role: Role::Admin };
    assert_eq!(app.op(Some(&owner), ops::update_member(&team, &bob_id, &admin)).await.status, StatusCode::OK);
    let (bobs_key, _) = app.simple_key(&bob, &team, "bob's").await;
    let (owners_key, _) = app.simple_key(&owner, &team, "owner's").await;
    let key = app.op(Some(&owner), ops::get_api_key(&team, &bobs_key)).await.body;
    assert_eq!(key["creator"]["name"], "Ada Lovelace", "{key}");
    assert_eq!((key["creator"]["member"].as_bool(), key["creator"]["sso_linked"].as_bool()), (Some(true), Some(true)));
    let key = app.op(Some(&owner), ops::get_api_key(&team, &owners_key)).await.body;
    assert_eq!(key["creator"]["sso_linked"], false, "{key}");
    // Lists leave it out (the key page asks for it).
    let list = app.op(Some(&owner), ops::list_api_keys(&team, &Page::default(), &KeyQuery::default())).await.body;
    assert!(list["items"][0].get("creator").is_none(), "{list}");
}

/// A team that requires SSO: members need a session that started at its provider; owners keep a
/// password way in (recorded); API keys keep working; the connection cannot be removed under it.
#[tokio::test]
async fn required_sso_refuses_members_password_sessions_but_not_owners_or_keys() {
    let dns = DnsServer::start().await;
    let provider = Provider::start().await;
    let (app, owner, team, connection) = sso_team(&[], &dns, &provider).await;
    let member = app.join(&owner, &team, "member@elsewhere.test", "admin").await;
    let (_, key) = app.simple_key(&owner, &team, "integration").await;
    let require = |on: bool| UpdateTeamRequest { require_sso: Some(on), ..Default::default() };
    // Not before the connection has worked.
    let res = app.op(Some(&owner), ops::update_team(&team, &require(true))).await;
    res.assert_problem(409, "conflict");
    assert_eq!(res.field(), "require_sso");
    let start = format!("/api/v1/auth/sso/start?team_id={team}");
    let ada_browser = Browser::new();
    let back = ada_browser.through_provider(&app, &start, "ada").await;
    assert_eq!(ada_browser.arrive(&back).await, format!("/teams/{team}"));
    let ada = ada_browser.access_token(&app).await.unwrap();
    // An admin cannot require it; the owner can.
    app.op(Some(&member), ops::update_team(&team, &require(true))).await.assert_problem(403, "forbidden");
    let res = app.op(Some(&owner), ops::update_team(&team, &require(true))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["require_sso"], true);

    // The admin's password session is refused at once, with where to sign in.
    let res = app.op(Some(&member), ops::get_team(&team)).await;
    res.assert_problem(403, "sso_required");
    assert_eq!(res.body["sso_url"], start, "{}", res.body);
    app.op(Some(&member), ops::list_api_keys(&team, &Page::default(), &KeyQuery::default()))
        .await
        .assert_problem(403, "sso_required");
    // Ada's SSO session, the owner's password session and the key keep working.
    assert_eq!(app.op(Some(&ada), ops::get_team(&team)).await.status, StatusCode::OK);
    assert_eq!(app.op(Some(&owner), ops::get_team(&team)).await.status, StatusCode::OK);
    let keys = app.op(Some(&key), ops::list_api_keys(&team, &Page::default(), &KeyQuery::default())).await;
    assert_eq!(keys.status, StatusCode::OK);
    // An owner's password sign-in is their break-glass, recorded.
    let res = app
        .op(
            None,
            ops::login(&LoginRequest { email: "owner@acme.test".into(), password: PASSWORD.into(), sso_link: None }),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(
        activity(&app, &owner, &team)
            .await
            .iter()
            .any(|(a, s)| a == "sso.break_glass" && s.contains("owner@acme.test"))
    );
    // The connection stays while required.
    app.op(Some(&owner), ops::delete_sso_connection(&team, &connection)).await.assert_problem(409, "conflict");
    // Lifted, the admin is back.
    assert_eq!(app.op(Some(&owner), ops::update_team(&team, &require(false))).await.status, StatusCode::OK);
    assert_eq!(app.op(Some(&member), ops::get_team(&team)).await.status, StatusCode::OK);
    let res = app.op(Some(&owner), ops::delete_sso_connection(&team, &connection)).await;
    assert_eq!(res.status, StatusCode::NO_CONTENT);
}

/// Two instances of one deployment: a flow started on one completes on the other, and the same
/// callback sent to the first is a replay.
#[tokio::test]
async fn a_flow_started_on_one_instance_completes_on_another_once() {
    let dns = DnsServer::start().await;
    let provider = Provider::start().await;
    let (first, _owner, team, _) = sso_team(&[], &dns, &provider).await;
    let flags = ["--dns-resolver", &dns.flag(), "--webhook-allow-http", "--webhook-allow-private"];
    let second = spawn_app_with(Options::shared(Some(first.database_url.clone()), &flags)).await;
    let browser = Browser::new();
    let back = browser.through_provider(&first, &format!("/api/v1/auth/sso/start?team_id={team}"), "ada").await;
    let on_second = back.replace(&first.base, &second.base);
    assert_eq!(browser.arrive(&on_second).await, format!("/teams/{team}"));
    assert!(browser.access_token(&second).await.is_some());
    assert_eq!(browser.arrive(&back).await, "/sign-in?sso_error=replayed");
}

/// A refused SSO sign-in reaches the team's webhook endpoints, signed, with its reason; only
/// people who may read SSO subscribe (no key scope reads it).
#[tokio::test]
async fn refused_sign_ins_reach_webhook_endpoints() {
    let dns = DnsServer::start().await;
    let provider = Provider::start().await;
    let (app, owner, team, _) = sso_team(&[], &dns, &provider).await;
    let receiver = crate::webhooks::Receiver::start(None).await;
    let hook = CreateWebhookEndpointRequest {
        url: receiver.url().into(),
        description: None,
        event_types: vec![EventType::SsoSignInFailed],
        enabled: None,
    };
    let (_, key) = app.simple_key(&owner, &team, "full").await;
    let res = app.op(Some(&key), ops::create_webhook_endpoint(&team, &hook)).await;
    res.assert_problem(403, "forbidden");
    let res = app.op(Some(&owner), ops::create_webhook_endpoint(&team, &hook)).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    receiver.control(json!({"secret": res.body["secret"]})).await;

    let browser = Browser::new();
    let back = browser.through_provider(&app, &format!("/api/v1/auth/sso/start?team_id={team}"), "eve").await;
    assert_eq!(browser.arrive(&back).await, "/sign-in?sso_error=unknown_user");
    let received = receiver.wait_for("the refusal", |r| !r.is_empty()).await;
    assert_eq!(received[0]["verified"], true, "{}", received[0]);
    assert_eq!(received[0]["event"]["type"], "sso.sign_in_failed");
    let summary = received[0]["event"]["data"]["summary"].as_str().unwrap();
    assert!(summary.contains("unknown_user") && summary.contains("eve@elsewhere.test"), "{summary}");
}

/// Pointing a connection at another provider unlinks the users of the old one and ends their SSO
/// sessions: an admin cannot send a linked user's subject from a provider of their own.
#[tokio::test]
async fn another_provider_unlinks_the_users_and_ends_their_sessions() {
    let dns = DnsServer::start().await;
    let provider = Provider::start().await;
    let (app, owner, team, connection) = sso_team(&[], &dns, &provider).await;
    let browser = Browser::new();
    let start = format!("/api/v1/auth/sso/start?team_id={team}");
    let back = browser.through_provider(&app, &start, "ada").await;
    assert_eq!(browser.arrive(&back).await, format!("/teams/{team}"));
    let ada = browser.access_token(&app).await.unwrap();
    assert_eq!(app.get_as(&ada, "/api/v1/me").await.status, StatusCode::OK);

    let elsewhere = Provider::start().await;
    let change = UpdateSsoConnectionRequest { issuer: Some(elsewhere.issuer.clone().into()), ..Default::default() };
    let res = app.op(Some(&owner), ops::update_sso_connection(&team, &connection, &change)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["status"], "untested", "a new provider is untested: {}", res.body);
    // Ada's SSO session ended at once; the same subject at the new provider is nobody yet: her
    // address has an account, so it is offered a link (her password first), not a session.
    app.get_as(&ada, "/api/v1/me").await.assert_problem(401, "unauthorized");
    let browser = Browser::new();
    let back = browser.through_provider(&app, &start, "ada").await;
    assert!(browser.arrive(&back).await.starts_with("/sign-in?sso_link="));
    assert!(browser.access_token(&app).await.is_none());
    let entries = activity(&app, &owner, &team).await;
    let updated = entries.iter().find(|(a, _)| a == "sso.connection_updated").expect("recorded");
    assert!(updated.1.contains("linked users unlinked, 1 SSO sessions ended"), "{updated:?}");
}

/// A "Test connection" ticket tests only its own team's connection.
#[tokio::test]
async fn a_test_ticket_tests_only_its_own_team() {
    let dns = DnsServer::start().await;
    let provider = Provider::start().await;
    let (app, owner, team, connection) = sso_team(&[], &dns, &provider).await;
    let (other_owner, _) = app.signed_in("owner@other.test").await;
    let other = app.create_team(&other_owner, "Other").await;
    let res = app.op(Some(&other_owner), ops::create_sso_connection(&other, &provider.connection("Other IdP"))).await;
    let others = res.body["id"].as_str().unwrap().to_owned();
    let ticket = app.op(Some(&owner), ops::test_sso_connection(&team, &connection)).await.body["start_url"]
        .as_str()
        .unwrap()
        .to_owned();
    let foreign = ticket.replace(&team, &other);
    let browser = Browser::new();
    let res = browser.get(&app.url(&foreign)).await;
    assert_eq!(location(&res), format!("/teams/{other}/settings?sso_test=done#sso"));
    let listed = app.op(Some(&other_owner), ops::list_sso_connections(&other)).await;
    assert_eq!(listed.body["items"][0]["id"], others.as_str());
    assert!(listed.body["items"][0].get("tested_at").is_none(), "{}", listed.body);
    // Nor does a sign-in start at a team that verified no domain.
    let res = browser.get(&app.url(&format!("/api/v1/auth/sso/start?team_id={other}"))).await;
    assert_eq!(location(&res), "/sign-in?sso_error=not_configured");
}

/// Someone signed up with an address of the team's domain and never proved it: the team's
/// provider proves it, and its user gets the account (the unproven password no longer works).
#[tokio::test]
async fn an_unproven_account_at_the_domain_goes_to_the_providers_user() {
    let dns = DnsServer::start().await;
    let provider = Provider::start().await;
    let (app, _owner, team, _) = sso_team(&[], &dns, &provider).await;
    let res = app.signup("ada@acme.test", "Squatter", "a-squatters-password").await;
    assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
    let browser = Browser::new();
    let back = browser.through_provider(&app, &format!("/api/v1/auth/sso/start?team_id={team}"), "ada").await;
    assert_eq!(browser.arrive(&back).await, format!("/teams/{team}"));
    let ada = browser.access_token(&app).await.expect("signed in");
    assert_eq!(app.get_as(&ada, "/api/v1/me").await.body["email"], "ada@acme.test");
    let squatter =
        LoginRequest { email: "ada@acme.test".into(), password: "a-squatters-password".into(), sso_link: None };
    app.op(None, ops::login(&squatter)).await.assert_problem(401, "invalid_credentials");
}
