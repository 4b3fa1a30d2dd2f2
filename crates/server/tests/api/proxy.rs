//! The portal behind real reverse proxies: Debian's nginx and Caddy, each running the snippet
//! shipped in `docs/deploy/` (only ports, certificate and instances put in), with TLS at the
//! proxy, in front of two instances (one on SQLite). Clients come from their own loopback
//! addresses (127.0.0.2, ...), the proxy from 127.0.0.1, the one trusted proxy: sessions,
//! activity, allowlists and sign-in limits see the real client's address whatever the client
//! writes into `X-Forwarded-For`, and `https://` gives a `Secure` refresh cookie.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

/// A port free now (the proxy binds it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn deploy_file(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/deploy").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Replaces `from` in `text`, which must be there.
fn put(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "the deploy snippet no longer has `{from}`");
    text.replace(from, to)
}

/// A self-signed certificate for 127.0.0.1, by the openssl command: (certificate, key).
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let status = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl runs");
    assert!(status.success());
    (cert, key)
}

#[derive(Clone, Copy)]
enum Kind {
    Nginx,
    Caddy,
}

/// A running proxy; stopped when dropped.
struct Proxy {
    child: std::process::Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Proxy {
    /// Starts `kind` on `port` with TLS in front of the instances on `upstreams`, and waits
    /// until it passes a request through.
    async fn start(kind: Kind, port: u16, upstreams: &[u16]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = certificate(dir.path());
        let child = match kind {
            Kind::Nginx => Self::nginx(dir.path(), port, upstreams, (&cert, &key)),
            Kind::Caddy => Self::caddy(dir.path(), port, upstreams, (&cert, &key)),
        };
        let mut proxy = Self { child, base: format!("https://127.0.0.1:{port}"), _dir: dir };
        let client = Client::from(Ipv4Addr::new(127, 0, 0, 9), &proxy.base);
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(res) = client.http.get(client.url("/readyz")).send().await
                && res.status() == StatusCode::OK
            {
                return proxy;
            }
            if let Some(exit) = proxy.child.try_wait().unwrap() {
                panic!("the proxy stopped ({exit}); its error is above");
            }
            assert!(Instant::now() < deadline, "the proxy never passed /readyz through");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn nginx(dir: &Path, port: u16, upstreams: &[u16], (cert, key): (&Path, &Path)) -> std::process::Child {
        let mut site = deploy_file("nginx.conf");
        let servers: String = upstreams.iter().map(|p| format!("server 127.0.0.1:{p};\n    ")).collect();
        site = put(&site, "server 127.0.0.1:8080;\n    server 127.0.0.1:8081;\n    ", &servers);
        site = put(&site, "listen 80;", &format!("listen 127.0.0.1:{};", free_port()));
        site = put(&site, "listen 443 ssl http2;", &format!("listen 127.0.0.1:{port} ssl http2;"));
        site = put(&site, "/etc/ssl/certs/portal.example.com.pem", &cert.display().to_string());
        site = put(&site, "/etc/ssl/private/portal.example.com.key", &key.display().to_string());
        std::fs::write(dir.join("site.conf"), site).unwrap();
        let d = dir.display();
        let main = format!(
            "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;\n\
             events {{ worker_connections 256; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n  \
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n  \
             include {d}/site.conf;\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), main).unwrap();
        std::process::Command::new("nginx")
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(dir.join("nginx.conf"))
            .args(["-e", "stderr"])
            .spawn()
            .expect("nginx runs (make tools-proxy installs it)")
    }

    fn caddy(dir: &Path, port: u16, upstreams: &[u16], (cert, key): (&Path, &Path)) -> std::process::Child {
        let mut site = deploy_file("Caddyfile");
        let to: Vec<String> = upstreams.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        site =
            put(&site, "reverse_proxy 127.0.0.1:8080 127.0.0.1:8081 {", &format!("reverse_proxy {} {{", to.join(" ")));
        site = put(
            &site,
            "portal.example.com {",
            &format!("https://127.0.0.1:{port} {{\n\ttls {} {}", cert.display(), key.display()),
        );
        // The tests' own global options: no admin listener, no redirect listener on port 80.
        let caddyfile = format!("{{\n\tadmin off\n\tauto_https disable_redirects\n}}\n\n{site}");
        std::fs::write(dir.join("Caddyfile"), caddyfile).unwrap();
        std::process::Command::new("caddy")
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(dir.join("Caddyfile"))
            .env("HOME", dir)
            .env("XDG_DATA_HOME", dir.join("data"))
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("caddy runs (make tools-proxy installs it)")
    }
}

/// A client on its own loopback address, talking to `base` (the proxy, or an instance).
struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    fn from(address: Ipv4Addr, base: &str) -> Self {
        let http = reqwest::Client::builder()
            .local_address(IpAddr::V4(address))
            .danger_accept_invalid_certs(true)
            .build()
            .unwrap();
        Self { http, base: base.to_owned() }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends a typed call, with an `X-Forwarded-For` of the client's own making.
    async fn op<T>(&self, token: Option<&str>, call: portal_client::Call<T>, forged: &str) -> Response {
        let method = reqwest::Method::from_bytes(call.method().as_str().as_bytes()).unwrap();
        let mut req = self.http.request(method, self.url(&call.path)).header("x-forwarded-for", forged);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = call.body {
            req = req.header("content-type", "application/json").body(body);
        }
        let res = req.send().await.expect("request");
        let (status, headers) = (res.status(), res.headers().clone());
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Response { status, headers, body }
    }
}

fn login(email: &str, password: &str) -> LoginRequest {
    LoginRequest { email: email.to_owned().into(), password: password.to_owned().into(), sso_link: None }
}

fn allowing(name: &str, block: &str) -> CreateApiKeyRequest {
    CreateApiKeyRequest { allowed_ips: Some(vec![block.to_owned()].into()), ..dev_key(name) }
}

async fn behind(kind: Kind) {
    let tls_port = free_port();
    let flags = [
        "--trusted-proxies",
        "127.0.0.1/32",
        "--client-ip-header",
        "x-forwarded-for",
        "--auth-rate-limit",
        "3",
        "--public-url",
        &format!("https://127.0.0.1:{tls_port}"),
    ];
    let a = spawn_app_with(Options::shared(None, &flags)).await;
    // A second instance of the same deployment where instances share state (PostgreSQL).
    let b = if backend() == "postgres" {
        Some(spawn_app_with(Options::shared(Some(a.database_url.clone()), &flags)).await)
    } else {
        None
    };
    let ports: Vec<u16> =
        [&a].into_iter().chain(b.as_ref()).map(|app| app.base.rsplit(':').next().unwrap().parse().unwrap()).collect();
    let proxy = Proxy::start(kind, tls_port, &ports).await;
    let email = a.verified_user("proxied@example.com").await;
    let client = |last: u8| Client::from(Ipv4Addr::new(127, 0, 0, last), &proxy.base);
    let (alice, eve) = (client(2), client(3));

    // Signing in through the proxy with a forged header: the session is the real client's,
    // and the refresh cookie is Secure (the public URL is https).
    let res = alice.op(None, ops::login(&login(&email, PASSWORD)), "203.0.113.7").await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let cookie = res.headers["set-cookie"].to_str().unwrap();
    assert!(cookie.contains("; Secure") && cookie.contains("HttpOnly"), "{cookie}");
    let token = res.body["access_token"].as_str().unwrap().to_owned();
    let sessions = alice.op(Some(&token), ops::list_sessions(), "203.0.113.7").await;
    assert_eq!(sessions.body["items"][0]["ip"], "127.0.0.2", "{}", sessions.body);

    // Activity records the real client too, through either instance.
    let team = alice
        .op(
            Some(&token),
            ops::create_team(&CreateTeamRequest { name: "Proxied".to_owned().into(), description: None }),
            "198.51.100.1",
        )
        .await;
    assert_eq!(team.status, StatusCode::CREATED, "{}", team.body);
    let team = team.body["id"].as_str().unwrap().to_owned();
    let log =
        alice.op(Some(&token), ops::list_activity(&team, &Page::default(), &ActivityFilter::default()), "x").await;
    let created = log.body["items"].as_array().unwrap().iter().find(|e| e["action"] == "team.created").unwrap().clone();
    assert_eq!(created["ip"], "127.0.0.2", "{created}");

    // Allowlists: a key for 127.0.0.2 works from there whatever the header says; a key for
    // 127.0.0.3 does not, even when the header names 127.0.0.3; from 127.0.0.3 it does.
    let create =
        |name: &str, block: &str| alice.op(Some(&token), ops::create_api_key(&team, &allowing(name, block)), "x");
    let mine = create("alice's", "127.0.0.2/32").await.body["secret"].as_str().unwrap().to_owned();
    let theirs = create("eve's", "127.0.0.3/32").await.body["secret"].as_str().unwrap().to_owned();
    let read = || ops::get_team(&team);
    assert_eq!(alice.op(Some(&mine), read(), "203.0.113.7").await.status, StatusCode::OK);
    alice.op(Some(&theirs), read(), "127.0.0.3").await.assert_problem(403, "ip_not_allowed");
    alice.op(Some(&theirs), read(), "127.0.0.3, 127.0.0.3").await.assert_problem(403, "ip_not_allowed");
    assert_eq!(eve.op(Some(&theirs), read(), "127.0.0.2").await.status, StatusCode::OK);
    // Straight to an instance, not through the proxy: the peer is no trusted proxy, so its
    // header is not read at all.
    let direct = Client::from(Ipv4Addr::new(127, 0, 0, 2), &a.base);
    direct.op(Some(&theirs), read(), "127.0.0.3").await.assert_problem(403, "ip_not_allowed");

    // Sign-in limits count per real client (3 a minute here), across the instances: a fourth
    // try from 127.0.0.4 is refused whatever it claims to be, while 127.0.0.5 still may.
    let (mallory, bob) = (client(4), client(5));
    for n in 0..3 {
        let forged = format!("192.0.2.{n}");
        mallory
            .op(None, ops::login(&login(&email, "wrong horse")), &forged)
            .await
            .assert_problem(401, "invalid_credentials");
    }
    mallory.op(None, ops::login(&login(&email, "wrong horse")), "192.0.2.99").await.assert_problem(429, "rate_limited");
    bob.op(None, ops::login(&login(&email, "wrong horse")), "127.0.0.4")
        .await
        .assert_problem(401, "invalid_credentials");
    drop(proxy);
    drop(b);
}

#[tokio::test]
async fn behind_nginx_the_real_client_address_counts() {
    behind(Kind::Nginx).await;
}

#[tokio::test]
async fn behind_caddy_the_real_client_address_counts() {
    behind(Kind::Caddy).await;
}
