//! `make bench`: load the release server with oha, side by side:
//! `/healthz`, a key-authenticated read (`GET /api/v1/teams/{id}`) and `/api/v1/keys/verify`,
//! with 10,000 keys in the database. Prints requests/s, p50/p99 latency and peak RSS, then
//! checks that the usage counts equal the requests oha reports as answered.
//!
//! Environment: `PP_BIN` (server binary, default target/release/partner-portal),
//! `BENCH_DATABASE_URL` (default: SQLite in a temp dir), `BENCH_REQUESTS` (default 60000),
//! `BENCH_CONNECTIONS` (default 32), `BENCH_OUT` (a markdown file to write the table to).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark driver: failing loudly is right

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use portal_types::Environment;
use serde_json::{Value, json};

const KEY_SECRET: &str = "bench-key-hash-secret-bench-key-hash-secret";
const SERVICE_TOKEN: &str = "bench-service-token-bench-service-token";

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct Run {
    name: &'static str,
    answered: u64,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    statuses: Value,
}

fn oha(name: &'static str, url: &str, requests: u64, connections: u64, extra: &[&str]) -> Run {
    let out = Command::new("oha")
        .args(["-n", &requests.to_string(), "-c", &connections.to_string(), "--no-tui", "--output-format", "json"])
        .args(extra)
        .arg(url)
        .output()
        .expect("oha (make bench installs it)");
    assert!(out.status.success(), "oha failed: {}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("oha JSON");
    let statuses = v["statusCodeDistribution"].clone();
    let answered = statuses.as_object().map(|m| m.values().filter_map(Value::as_u64).sum()).unwrap_or(0);
    let pct = |p: &str| v["latencyPercentiles"][p].as_f64().unwrap_or(f64::NAN) * 1000.0;
    Run {
        name,
        answered,
        rps: v["summary"]["requestsPerSec"].as_f64().unwrap_or(0.0),
        p50_ms: pct("p50"),
        p99_ms: pct("p99"),
        statuses,
    }
}

/// Sends a request and reads its JSON answer.
async fn json(request: reqwest::RequestBuilder) -> Value {
    request.send().await.unwrap().json().await.unwrap()
}

fn peak_rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

#[tokio::main]
async fn main() {
    let bin = std::env::var("PP_BIN").unwrap_or_else(|_| "target/release/partner-portal".into());
    let requests: u64 = std::env::var("BENCH_REQUESTS").ok().and_then(|v| v.parse().ok()).unwrap_or(60_000);
    let connections: u64 = std::env::var("BENCH_CONNECTIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(32);
    let dir = tempfile::tempdir().unwrap();
    let database_url = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| format!("sqlite://{}?mode=rwc", dir.path().join("bench.db").display()));
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");

    let child = Command::new(&bin)
        .arg("serve")
        .env("PORTAL_BIND", format!("127.0.0.1:{port}"))
        .env("PORTAL_DATA_DIR", dir.path().join("data"))
        .env("PORTAL_DATABASE_URL", &database_url)
        .env("PORTAL_PUBLIC_URL", &base)
        .env("PORTAL_KEY_HASH_SECRET", KEY_SECRET)
        .env("PORTAL_SERVICE_TOKEN", SERVICE_TOKEN)
        .env("PORTAL_AUTH_RATE_LIMIT", "1000")
        .env("PORTAL_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("the server binary (make bench builds it)");
    let pid = child.id();
    let _server = Server(child);
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(Instant::now() < deadline, "the server did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // A verified owner with a team, through the API.
    let email = "bench@example.com";
    let password = "bench password 1234";
    let res = http
        .post(format!("{base}/api/v1/auth/signup"))
        .json(&json!({"email": email, "name": "Bench", "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 202);
    let mail_dir = dir.path().join("data/mail");
    let token = loop {
        let found = std::fs::read_dir(&mail_dir).ok().and_then(|rd| {
            rd.filter_map(Result::ok).find(|e| e.path().extension().is_some_and(|x| x == "eml")).map(|e| e.path())
        });
        if let Some(path) = found {
            let raw = std::fs::read_to_string(path).unwrap().replace("=\r\n", "").replace("=3D", "=");
            let at = raw.find("token=").unwrap() + 6;
            break raw[at..at + 43].to_owned();
        }
        assert!(Instant::now() < deadline, "no verification mail");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let res =
        http.post(format!("{base}/api/v1/auth/verify-email")).json(&json!({"token": token})).send().await.unwrap();
    assert_eq!(res.status(), 204);
    let session =
        json(http.post(format!("{base}/api/v1/auth/login")).json(&json!({"email": email, "password": password}))).await;
    let jwt = session["access_token"].as_str().unwrap().to_owned();
    let team = json(http.post(format!("{base}/api/v1/teams")).bearer_auth(&jwt).json(&json!({"name": "Bench"}))).await;
    let team_id = team["id"].as_str().unwrap().to_owned();
    let new_key = |name: &str| {
        let (http, base, jwt, team_id) = (http.clone(), base.clone(), jwt.clone(), team_id.clone());
        let body = json!({"name": name, "environment": "production", "expiration": "never"});
        async move {
            let v =
                json(http.post(format!("{base}/api/v1/teams/{team_id}/api-keys")).bearer_auth(jwt).json(&body)).await;
            (v["key"]["id"].as_str().unwrap().parse::<uuid::Uuid>().unwrap(), v["secret"].as_str().unwrap().to_owned())
        }
    };
    let (read_key_id, read_key) = new_key("bench reads").await;
    let (verify_key_id, verify_key) = new_key("bench verify").await;

    // 10,000 more keys, straight into the database.
    let db = portal_db::connect(&database_url).await.unwrap();
    let hashing = portal_domain::keys::hashing_key(KEY_SECRET);
    let team_uuid: uuid::Uuid = team_id.parse().unwrap();
    let seeded = Instant::now();
    let txn = portal_db::TransactionTrait::begin(&db).await.unwrap();
    for i in 0..10_000 {
        let secret = portal_domain::keys::generate(Environment::Development);
        let new = portal_db::api_keys::NewKey {
            team_id: team_uuid,
            name: &format!("seeded {i}"),
            description: None,
            environment: Environment::Development,
            key_hash: &portal_domain::keys::hash(&hashing, &secret),
            hint: &portal_domain::keys::hint(&secret),
            created_by: None,
            expires_at: None,
            usage_limit: None,
            rate_limit: None,
        };
        portal_db::api_keys::create(&txn, new, Utc::now()).await.unwrap();
    }
    txn.commit().await.unwrap();
    eprintln!("seeded 10,000 keys in {:?}", seeded.elapsed());

    let read_url = format!("{base}/api/v1/teams/{team_id}");
    let auth = format!("Authorization: Bearer {read_key}");
    let service = format!("Authorization: Bearer {SERVICE_TOKEN}");
    let verify_body = json!({"key": verify_key}).to_string();
    let verify_args = ["-m", "POST", "-H", &service, "-H", "Content-Type: application/json", "-d", &verify_body];
    // Warm up every path (caches, connections), then measure.
    let warm = 2_000;
    let mut warm_answered = [0u64; 3];
    for round in 0..2 {
        let n = if round == 0 { warm } else { requests };
        let runs = [
            oha("GET /healthz", &format!("{base}/healthz"), n, connections, &[]),
            oha("GET /api/v1/teams/{id} (API key)", &read_url, n, connections, &["-H", &auth]),
            oha("POST /api/v1/keys/verify", &format!("{base}/api/v1/keys/verify"), n, connections, &verify_args),
        ];
        if round == 0 {
            for (i, r) in runs.iter().enumerate() {
                warm_answered[i] = r.answered;
            }
            continue;
        }
        let rss = peak_rss_mib(pid);
        // Counts: the usage endpoint flushes the meter before it reads.
        let usage = |key: uuid::Uuid| {
            let (http, base, jwt, team_id) = (http.clone(), base.clone(), jwt.clone(), team_id.clone());
            async move {
                let v = json(http.get(format!("{base}/api/v1/teams/{team_id}/api-keys/{key}/usage")).bearer_auth(jwt))
                    .await;
                v["total_requests"].as_u64().unwrap_or(0)
            }
        };
        let counted_reads = usage(read_key_id).await;
        let counted_verifies = usage(verify_key_id).await;
        let expected_reads = warm_answered[1] + runs[1].answered;
        let expected_verifies = warm_answered[2] + runs[2].answered;

        let healthz = runs[0].rps;
        let mut table = String::new();
        table.push_str(&format!(
            "{requests} requests per endpoint, {connections} connections, oha; database: {}; 10,000 keys seeded.\n\n",
            if database_url.starts_with("sqlite") { "SQLite" } else { "PostgreSQL" }
        ));
        table.push_str("| endpoint | answered | requests/s | vs /healthz | p50 ms | p99 ms | statuses |\n|---|---:|---:|---:|---:|---:|---|\n");
        for r in &runs {
            table.push_str(&format!(
                "| {} | {} | {:.0} | {:.0}% | {:.2} | {:.2} | {} |\n",
                r.name,
                r.answered,
                r.rps,
                100.0 * r.rps / healthz,
                r.p50_ms,
                r.p99_ms,
                r.statuses
            ));
        }
        table.push_str(&format!("\nPeak RSS of the server: {rss:.1} MiB.\n\n"));
        table.push_str(&format!(
            "Usage counted (warm-up included): reads {counted_reads} of {expected_reads} answered, verifications {counted_verifies} of {expected_verifies} answered: {}.\n",
            if counted_reads == expected_reads && counted_verifies == expected_verifies { "exact" } else { "MISMATCH" }
        ));
        let ratio = runs[1].rps / healthz;
        table.push_str(&format!(
            "\nTargets: key-authenticated throughput ≥ 60% of /healthz: {:.0}% ({}); p99 < 5 ms: {:.2} ms ({}).\n",
            100.0 * ratio,
            if ratio >= 0.6 { "met" } else { "NOT met" },
            runs[1].p99_ms,
            if runs[1].p99_ms < 5.0 { "met" } else { "NOT met" }
        ));
        println!("{table}");
        if let Ok(out) = std::env::var("BENCH_OUT") {
            std::fs::write(out, &table).unwrap();
        }
        assert_eq!(counted_reads, expected_reads, "usage counts must equal the answered reads");
        assert_eq!(counted_verifies, expected_verifies, "usage counts must equal the answered verifications");
    }
}
