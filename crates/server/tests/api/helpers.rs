//! A real portal per test: its own database (SQLite file, or a fresh PostgreSQL database when
//! `PORTAL_TEST_DATABASE=postgres`), its own data dir and mail folder, a random port.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Parser;
pub use portal_client::{ActivityFilter, KeyQuery, Page, UsageRange, ops};
use portal_server::{Application, Config, ConfigArgs};
/// The request bodies the tests send through the client's calls.
pub use portal_types::{
    AcceptInvitationRequest, AddDomainRequest, AllowList, ChangePasswordRequest, CreateApiKeyRequest,
    CreateInvitationRequest, CreateSsoConnectionRequest, CreateTeamRequest, CreateWebhookEndpointRequest,
    DeliveryState, DisableTwoFactorRequest, DomainJoinRule, EnableTwoFactorRequest, Environment, EventType, Expiration,
    Granularity, KeySort, KeyStatusFilter, LoginRequest, PasswordConfirmation, RateLimit, ReportCompromisedRequest,
    Role, RollApiKeyRequest, RotateWebhookSecretRequest, Scope, SignupRequest, SsoDiscoveryRequest,
    UpdateApiKeyRequest, UpdateDomainRequest, UpdateMeRequest, UpdateMemberRequest, UpdateSsoConnectionRequest,
    UpdateTeamRequest, UpdateWebhookEndpointRequest, VerifyEmailRequest, VerifyKeyRequest,
};
use reqwest::StatusCode;
use sea_orm::{ConnectionTrait, Database};
use serde_json::{Value, json};

pub const PASSWORD: &str = "correct horse battery";

/// A flag given again (a test's own after the defaults) overrides the earlier one.
#[derive(Parser)]
#[command(args_override_self = true)]
struct Cli {
    #[command(flatten)]
    args: ConfigArgs,
}

/// Which database the tests run on.
pub fn backend() -> &'static str {
    match std::env::var("PORTAL_TEST_DATABASE").as_deref() {
        Ok("postgres") => "postgres",
        _ => "sqlite",
    }
}

fn postgres_base() -> String {
    std::env::var("PORTAL_TEST_POSTGRES_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// A throwaway PostgreSQL database, dropped with the test.
pub struct PgDatabase {
    name: String,
}

impl PgDatabase {
    async fn create() -> (Self, String) {
        let name = format!("pp_test_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(format!("{}/postgres", postgres_base())).await.expect("PostgreSQL is reachable");
        admin.execute_unprepared(&format!("CREATE DATABASE {name}")).await.expect("create test database");
        admin.close().await.ok();
        let url = format!("{}/{name}", postgres_base());
        (Self { name }, url)
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Dropped from a plain thread: the test's runtime may be shutting down.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            rt.block_on(async {
                if let Ok(admin) = Database::connect(format!("{}/postgres", postgres_base())).await {
                    let _ = admin.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).await;
                    admin.close().await.ok();
                }
            });
        })
        .join();
    }
}

pub struct TestApp {
    pub base: String,
    handle: actix_web::dev::ServerHandle,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    pub client: reqwest::Client,
    pub data_dir: PathBuf,
    pub database_url: String,
    _dir: tempfile::TempDir,
    _pg: Option<PgDatabase>,
}

/// Options a test may change before the portal starts.
pub struct Options {
    pub flags: Vec<String>,
    pub web_index: Option<String>,
    /// Share another test app's database (a second instance).
    pub database_url: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self { flags: vec!["--auth-rate-limit".into(), "10000".into()], web_index: None, database_url: None }
    }
}

impl Options {
    /// Options of an instance of one deployment: the secrets every instance shares, and
    /// `database_url` (None: a fresh database) with `extra` flags.
    pub fn shared(database_url: Option<String>, extra: &[&str]) -> Self {
        let mut options = Options { database_url, ..Options::default() };
        for (flag, value) in [
            ("--jwt-secret", "jwt-secret-jwt-secret-jwt-secret-jwt"),
            ("--key-hash-secret", "key-hash-key-hash-key-hash-key-hash"),
        ] {
            options.flags.extend([flag.to_owned(), value.to_owned()]);
        }
        options.flags.extend(extra.iter().map(|f| (*f).to_owned()));
        options
    }
}

/// An empty database of the backend under test, with nothing migrated: (guard, URL). Keep the
/// guard alive while the database is in use.
pub async fn empty_database() -> (Box<dyn std::any::Any>, String) {
    if backend() == "postgres" {
        let (db, url) = PgDatabase::create().await;
        (Box::new(db), url)
    } else {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("portal.db").display());
        (Box::new(dir), url)
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(Options::default()).await
}

pub async fn spawn_app_with(options: Options) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let data_dir = dir.path().join("data");
    let web_dir = dir.path().join("web");
    std::fs::create_dir_all(&web_dir).expect("web dir");
    if let Some(index) = &options.web_index {
        std::fs::write(web_dir.join("index.html"), index).expect("index.html");
    }
    let (pg, database_url) = if let Some(url) = options.database_url.clone() {
        (None, url)
    } else if backend() == "postgres" {
        let (db, url) = PgDatabase::create().await;
        (Some(db), url)
    } else {
        (None, format!("sqlite://{}?mode=rwc", dir.path().join("portal.db").display()))
    };
    let mut argv: Vec<String> = vec![
        "partner-portal".into(),
        "--bind".into(),
        "127.0.0.1:0".into(),
        "--data-dir".into(),
        data_dir.display().to_string(),
        "--database-url".into(),
        database_url.clone(),
        "--web-dir".into(),
        web_dir.display().to_string(),
        "--public-url".into(),
        "http://127.0.0.1:9".into(),
        "--workers".into(),
        "2".into(),
    ];
    argv.extend(options.flags);
    let args = Cli::try_parse_from(&argv).expect("valid flags").args;
    let config = Config::from_args(args).expect("valid config");
    let app = Application::build(config).await.expect("the portal starts");
    let base = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let task = Some(tokio::spawn(app.run_until_stopped()));
    TestApp { base, handle, task, client: new_client(), data_dir, database_url, _dir: dir, _pg: pg }
}

/// A client with its own cookie jar: one browser.
pub fn new_client() -> reqwest::Client {
    portal_server::webhooks::install_tls_provider();
    reqwest::Client::builder().cookie_store(true).build().expect("client")
}

/// A decoded mail as it was delivered.
#[derive(Debug)]
pub struct Mail {
    pub raw: String,
    pub decoded: String,
}

impl Mail {
    pub fn subject(&self) -> &str {
        self.raw.lines().find_map(|l| l.strip_prefix("Subject: ")).unwrap_or("")
    }

    /// The first link in the mail that contains `path`, e.g. `/verify-email?token=`.
    pub fn link(&self, path: &str) -> String {
        let at = self.decoded.find(path).unwrap_or_else(|| panic!("no {path} link in:\n{}", self.decoded));
        let start = self.decoded[..at].rfind("http").expect("link start");
        let end = self.decoded[at..]
            .find(|c: char| c.is_whitespace() || c == '"' || c == '<')
            .map_or(self.decoded.len(), |e| at + e);
        self.decoded[start..end].to_owned()
    }

    pub fn token(&self, path: &str) -> String {
        let link = self.link(path);
        link.split("token=").nth(1).expect("token in link").to_owned()
    }
}

/// Undoes quoted-printable: soft line breaks and `=XX` escapes.
pub fn decode_qp(raw: &str) -> String {
    let joined = raw.replace("=\r\n", "").replace("=\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && let Some(b) = joined.get(i + 1..i + 3).and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub fn read_mails(dir: &Path) -> Vec<Mail> {
    let mut files: Vec<_> =
        std::fs::read_dir(dir).map(|rd| rd.filter_map(Result::ok).map(|e| e.path()).collect()).unwrap_or_default();
    files.retain(|p| p.extension().is_some_and(|e| e == "eml") || p.parent().is_some_and(|d| d.ends_with("new")));
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let raw = std::fs::read_to_string(&p).expect("mail file");
            Mail { decoded: decode_qp(&raw), raw }
        })
        .collect()
}

/// Waits (bounded) until `dir` holds a mail to `to` with `subject`.
pub async fn wait_for_mail_in(dir: &Path, to: &str, subject: &str) -> Mail {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(mail) = read_mails(dir)
            .into_iter()
            .find(|m| m.subject() == subject && m.raw.lines().any(|l| l.starts_with("To: ") && l.contains(to)))
        {
            return mail;
        }
        assert!(Instant::now() < deadline, "no mail {subject:?} to {to} arrived in {}", dir.display());
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

pub struct Response {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Response {
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }

    pub fn field(&self) -> &str {
        self.body["field"].as_str().unwrap_or("")
    }

    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(self.code(), code, "{}", self.body);
        let ct = self.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
        assert_eq!(ct, "application/problem+json", "content type of {}", self.body);
        assert_eq!(self.body["status"], status, "{}", self.body);
    }
}

impl TestApp {
    /// Stops the server as SIGTERM would (requests in flight finish) and waits until it is down.
    pub async fn shutdown(&mut self) {
        self.handle.stop(true).await;
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server ran");
        }
    }

    pub fn mail_dir(&self) -> PathBuf {
        self.data_dir.join("mail")
    }

    pub fn mails(&self) -> Vec<Mail> {
        read_mails(&self.mail_dir())
    }

    pub async fn wait_for_mail(&self, to: &str, subject: &str) -> Mail {
        wait_for_mail_in(&self.mail_dir(), to, subject).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Response {
        let res = req.send().await.expect("request");
        let status = res.status();
        let headers = res.headers().clone();
        let text = res.text().await.expect("body");
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Response { status, headers, body }
    }

    pub async fn post(&self, client: &reqwest::Client, path: &str, body: Value) -> Response {
        self.send(client.post(self.url(path)).json(&body)).await
    }

    pub async fn get_as(&self, token: &str, path: &str) -> Response {
        self.send(self.client.get(self.url(path)).bearer_auth(token)).await
    }

    pub async fn signup(&self, email: &str, name: &str, password: &str) -> Response {
        self.post(&self.client, "/api/v1/auth/signup", json!({"email": email, "name": name, "password": password}))
            .await
    }

    pub async fn login_with(&self, client: &reqwest::Client, email: &str, password: &str) -> Response {
        self.post(client, "/api/v1/auth/login", json!({"email": email, "password": password})).await
    }

    /// The typed client of this portal, with a cookie jar of its own, acting as nobody yet.
    pub fn api(&self) -> portal_client::Client {
        portal_client::Client::new(&self.base).expect("the base URL")
    }

    /// The typed client acting with `token` (an access token or API key).
    pub fn api_as(&self, token: &str) -> portal_client::Client {
        self.api().with_token(token)
    }

    /// Signs up, verifies the mailed link, and returns the e-mail address.
    pub async fn verified_user(&self, email: &str) -> String {
        let api = self.api();
        let signup = SignupRequest {
            email: email.to_owned().into(),
            name: "Ada Lovelace".to_owned().into(),
            password: PASSWORD.to_owned().into(),
            invitation_token: None,
        };
        api.signup(&signup).await.expect("sign-up");
        let token = self.wait_for_mail(email, "Verify your e-mail address").await.token("/verify-email?token=");
        api.verify_email(&VerifyEmailRequest { token: token.into() }).await.expect("the mailed link verifies");
        email.to_owned()
    }

    /// A verified, signed-in user: (access token, its own cookie jar).
    pub async fn signed_in(&self, email: &str) -> (String, reqwest::Client) {
        self.verified_user(email).await;
        let client = new_client();
        let res = self.login_with(&client, email, PASSWORD).await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        (res.body["access_token"].as_str().expect("access token").to_owned(), client)
    }
}

impl TestApp {
    /// Sends one of the typed client's calls ([`ops`]) as `token`, and gives back the answer as
    /// it came (its status, headers and problem), for the tests that look at them. A raw
    /// [`TestApp::call`] is for what no client would send: malformed bodies, forged headers.
    pub async fn op<T>(&self, token: Option<&str>, call: portal_client::Call<T>) -> Response {
        let method = reqwest::Method::from_bytes(call.method().as_str().as_bytes()).expect("an HTTP method");
        let mut req = self.client.request(method, self.url(&call.path)).header("accept", call.accept);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = call.body {
            req = req.header("content-type", "application/json").body(body);
        }
        self.send(req).await
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        token: Option<&str>,
        path: &str,
        body: Option<Value>,
    ) -> Response {
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        self.send(req).await
    }

    /// Creates a team as `token`'s user and returns its id.
    pub async fn create_team(&self, token: &str, name: &str) -> String {
        let body = CreateTeamRequest { name: name.to_owned().into(), description: None };
        self.api_as(token).create_team(&body).await.expect("the team is created").id.to_string()
    }

    /// Invites `email` with `role` as `inviter`; returns the token of the mailed link.
    pub async fn invite(&self, inviter: &str, team_id: &str, email: &str, role: &str) -> String {
        let body = CreateInvitationRequest {
            email: email.to_owned().into(),
            role: Role::parse(role).expect("a role"),
            message: None,
        };
        self.api_as(inviter).create_invitation(team_id.parse().unwrap(), &body).await.expect("the invitation is sent");
        self.newest_invitation_token(email).await
    }

    /// The token of the newest invitation mail to `email`, waiting for it if needed.
    pub async fn newest_invitation_token(&self, email: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(mail) = self.mails().into_iter().rev().find(|m| is_invitation_to(m, email)) {
                return mail.token("/invite?token=");
            }
            assert!(Instant::now() < deadline, "no invitation mail to {email}");
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Invites `email` into the team with `role`, signs them up from the link, and accepts:
    /// returns their access token.
    pub async fn join(&self, owner: &str, team_id: &str, email: &str, role: &str) -> String {
        let token = self.invite(owner, team_id, email, role).await;
        let api = self.api();
        let signup = SignupRequest {
            email: email.to_owned().into(),
            name: email.split('@').next().unwrap().to_owned().into(),
            password: PASSWORD.to_owned().into(),
            invitation_token: Some(token.clone().into()),
        };
        api.signup(&signup).await.expect("sign-up from the invitation");
        let session = api
            .login(&LoginRequest {
                email: email.to_owned().into(),
                password: PASSWORD.to_owned().into(),
                sso_link: None,
            })
            .await
            .expect("sign-in");
        api.with_token(&session.access_token)
            .accept_invitation(&AcceptInvitationRequest { token: token.into() })
            .await
            .expect("the invitation is accepted");
        session.access_token
    }
}

pub fn is_invitation_to(mail: &Mail, email: &str) -> bool {
    mail.subject().contains("invited you to join")
        && mail.raw.lines().any(|l| l.starts_with("To: ") && l.contains(email))
}

impl TestApp {
    /// Creates an API key in the team; returns (key id, secret).
    pub async fn create_key(&self, token: &str, team_id: &str, body: Value) -> (String, String) {
        let path = format!("/api/v1/teams/{team_id}/api-keys");
        let res = self.call(reqwest::Method::POST, Some(token), &path, Some(body)).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
        (res.body["key"]["id"].as_str().unwrap().to_owned(), res.body["secret"].as_str().unwrap().to_owned())
    }

    /// Plain development key, no expiry, no limit.
    pub async fn simple_key(&self, token: &str, team_id: &str, name: &str) -> (String, String) {
        let body = dev_key(name);
        let created = self.api_as(token).create_api_key(team_id.parse().unwrap(), &body).await.expect("the key");
        (created.key.id.to_string(), created.secret)
    }
}

/// The request for a plain development key named `name`: no expiry, no limit, every scope, from
/// anywhere (`..dev_key(name)` for one that differs in a field or two).
pub fn dev_key(name: &str) -> CreateApiKeyRequest {
    CreateApiKeyRequest {
        name: name.into(),
        description: None,
        environment: Environment::Development,
        expiration: Expiration::Never,
        usage_limit: None,
        rate_limit: None,
        scopes: None,
        allowed_ips: None,
        alert_thresholds: None,
    }
}

/// What the portals of this test process log, formatted as the binary formats it
/// (`portal_server::init_tracing`). The first call starts the capture.
pub fn captured_logs() -> String {
    use std::sync::{Arc, Mutex, OnceLock};
    struct Writer(Arc<Mutex<Vec<u8>>>);
    impl std::io::Write for Writer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap_or_else(|e| e.into_inner()).extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    static LOGS: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    let logs = LOGS.get_or_init(|| {
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = logs.clone();
        portal_server::init_tracing_with(move || Writer(sink.clone()));
        logs
    });
    String::from_utf8_lossy(&logs.lock().unwrap_or_else(|e| e.into_inner())).into_owned()
}

/// The value of the refresh cookie an answer sets, if it sets one.
pub fn refresh_cookie_of(res: &Response) -> Option<String> {
    res.headers.get_all(reqwest::header::SET_COOKIE).iter().find_map(|v| {
        let v = v.to_str().ok()?;
        let value = v.strip_prefix("pp_refresh=")?.split(';').next()?;
        (!value.is_empty()).then(|| value.to_owned())
    })
}

/// `UPDATE {table} SET {column} = at [WHERE id = id]`, with `at` and `id` bound as the portal
/// binds them (so that SQLite compares them as it compares the portal's own).
pub async fn set_time(
    database_url: &str,
    table: &str,
    column: &str,
    id: Option<&str>,
    at: chrono::DateTime<chrono::Utc>,
) {
    use sea_orm::ConnectionTrait as _;
    let db = portal_db::connect(database_url).await.unwrap();
    let backend = db.get_database_backend();
    let pg = backend == sea_orm::DbBackend::Postgres;
    let mut values: Vec<sea_orm::Value> = vec![at.into()];
    let mut sql = format!("UPDATE {table} SET {column} = {}", if pg { "$1" } else { "?" });
    if let Some(id) = id {
        values.push(uuid::Uuid::parse_str(id).unwrap().into());
        sql.push_str(if pg { " WHERE id = $2" } else { " WHERE id = ?" });
    }
    let done = db.execute_raw(sea_orm::Statement::from_sql_and_values(backend, sql, values)).await.unwrap();
    assert!(done.rows_affected() > 0, "no row of {table} to change");
    db.close().await.ok();
}

impl TestApp {
    /// A list of n items (n ≥ 2) read with `limit=n` ends on its first page, and with
    /// `limit=n-1` its cursor leads to a last page of one item without a cursor: no "next page"
    /// that turns out empty. `path` may carry a query already.
    pub async fn assert_pages_end_exactly(&self, token: &str, path: &str) {
        let join = if path.contains('?') { '&' } else { '?' };
        let page = |query: String| async move {
            let res = self.get_as(token, &format!("{path}{join}{query}")).await;
            assert_eq!(res.status, StatusCode::OK, "{path} {query}: {}", res.body);
            let ids = res.body["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i.get("id").or_else(|| i.get("user_id")).unwrap_or(i).to_string());
            let ids = ids.collect::<Vec<String>>();
            (ids, res.body["next_cursor"].as_str().map(str::to_owned))
        };
        let (all, cursor) = page("limit=100".into()).await;
        let n = all.len();
        assert!(n >= 2 && cursor.is_none(), "{path}: {n} items, cursor {cursor:?}");
        let (items, cursor) = page(format!("limit={n}")).await;
        assert_eq!((items.len(), cursor), (n, None), "{path}: a full last page offers no next page");
        let (first, cursor) = page(format!("limit={}", n - 1)).await;
        let cursor = cursor.unwrap_or_else(|| panic!("{path}: {} of {n} items and no cursor", n - 1));
        let (rest, cursor) = page(format!("limit={}&cursor={cursor}", n - 1)).await;
        assert_eq!((rest.len(), cursor), (1, None), "{path}: the last page");
        assert_eq!([first, rest].concat(), all, "{path}: every item once, in order");
    }
}
