//! What an operator reads: problem bodies name their request's id, and `PORTAL_LOG_FORMAT=json`
//! logs one JSON object a line, each line of a request carrying its id.

use std::io::BufRead as _;

use serde_json::Value;

use crate::helpers::*;

#[tokio::test]
async fn a_problem_names_its_request_id_which_the_answer_carries() {
    let app = spawn_app().await;
    let res = app.send(app.client.get(app.url("/api/v1/teams"))).await;
    res.assert_problem(401, "unauthorized");
    let header = res.headers.get("x-request-id").expect("x-request-id").to_str().unwrap().to_owned();
    assert_eq!(res.body["request_id"], header.as_str());
    // A caller's own id (a proxy's, say) is kept when it is sane, replaced when it is not.
    let res = app.send(app.client.get(app.url("/api/v1/teams")).header("x-request-id", "edge-7f3a")).await;
    assert_eq!(res.body["request_id"], "edge-7f3a");
    let res = app.send(app.client.get(app.url("/api/v1/teams")).header("x-request-id", "a b\"<c>")).await;
    let replaced = res.body["request_id"].as_str().unwrap();
    assert!(replaced != "a b\"<c>" && !replaced.is_empty());
}

/// The binary itself, serving with JSON logs on stderr: its process, port and log lines.
struct Served {
    child: std::process::Child,
    port: u16,
    lines: std::sync::mpsc::Receiver<String>,
    /// The log line that says it serves, with its ports.
    serving_line: Value,
}

impl Served {
    fn start(args: &[&str]) -> Self {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_partner-portal"))
            .args(["--bind", "127.0.0.1:0"])
            .args(args)
            .env("PORTAL_LOG_FORMAT", "json")
            .env_remove("PORTAL_LOG")
            .env_remove("RUST_LOG")
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let (lines_tx, lines) = std::sync::mpsc::channel::<String>();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stderr).lines() {
                if lines_tx.send(line.unwrap_or_default()).is_err() {
                    break;
                }
            }
        });
        let mut served = Self { child, port: 0, lines, serving_line: Value::Null };
        served.serving_line = loop {
            let line = served.next_line();
            if line["message"] == "Partner Portal is serving" {
                break line;
            }
        };
        served.port = served.serving_line["port"].as_u64().unwrap() as u16;
        served
    }

    fn next_line(&self) -> Value {
        let line = self.lines.recv_timeout(std::time::Duration::from_secs(30)).expect("a log line");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"))
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    /// A figure of `/proc/PID/status` in MiB (`VmRSS`, or `VmHWM`: the peak so far).
    fn memory_mib(&self, field: &str) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status.lines().find(|l| l.starts_with(field)).unwrap_or_else(|| panic!("{field} in {status}"));
        let kib: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib / 1024.0
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test]
async fn json_logs_carry_the_request_id_on_every_line_of_a_request() {
    let data = tempfile::tempdir().unwrap();
    let served = Served::start(&["--data-dir", data.path().to_str().unwrap()]);
    let res = reqwest::Client::new()
        .post(served.url("/api/v1/auth/login"))
        .header("x-request-id", "ops-json-1")
        .json(&serde_json::json!({"email": "nobody@example.test", "password": "not the password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["x-request-id"], "ops-json-1");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["request_id"], "ops-json-1");
    // The request's lines (the refused sign-in, the answer's line), each with the id.
    let mut of_request = Vec::new();
    loop {
        let line = served.next_line();
        if line["span"]["request_id"] == "ops-json-1" {
            let done = line["message"] == "request";
            of_request.push(line);
            if done {
                break;
            }
        }
    }
    let last = of_request.last().unwrap();
    assert_eq!((last["status"].as_u64(), last["span"]["path"].as_str()), (Some(401), Some("/api/v1/auth/login")));
    assert!(of_request.len() >= 2, "the sign-in's own line too: {of_request:?}");
}

/// A crowd of wrong sign-ins (a botnet, or many people behind one proxy with the per-address
/// limit raised) meets a bounded password hashing: the binary's peak memory stays low, every
/// request is answered (the overflow 503 `busy` with `Retry-After` at once), and a right
/// password signs in as soon as the crowd is gone.
#[tokio::test]
async fn a_crowd_of_sign_ins_is_answered_within_bounded_memory() {
    const REQUESTS: usize = 400;
    const AT_ONCE: usize = 200;
    let mut app = spawn_app().await;
    let email = app.verified_user("crowded@hashing.test").await;
    app.shutdown().await;
    let served = Served::start(&[
        "--data-dir",
        app.data_dir.to_str().unwrap(),
        "--database-url",
        &app.database_url,
        "--auth-rate-limit",
        "100000",
        "--workers",
        "2",
    ]);
    let client = reqwest::Client::new();
    let sign_in = |email: String, password: &'static str| {
        let req = client.post(served.url("/api/v1/auth/login"));
        async move { req.json(&serde_json::json!({"email": email, "password": password})).send().await.unwrap() }
    };
    // Warm: one sign-in of each kind, so that the figure before the crowd is the serving size.
    assert_eq!(sign_in(email.clone(), PASSWORD).await.status(), 200);
    assert_eq!(sign_in("nobody@hashing.test".into(), "wrong horse").await.status(), 401);
    let before = served.memory_mib("VmRSS:");

    let gate = std::sync::Arc::new(tokio::sync::Semaphore::new(AT_ONCE));
    let mut crowd = tokio::task::JoinSet::new();
    for n in 0..REQUESTS {
        let gate = gate.clone();
        let attempt = sign_in(format!("guess{n}@hashing.test"), "wrong horse battery");
        crowd.spawn(async move {
            let _turn = gate.acquire_owned().await.unwrap();
            let res = attempt.await;
            let status = res.status().as_u16();
            let retry_after = res.headers().get("retry-after").map(|v| v.to_str().unwrap().to_owned());
            let body: Value = res.json().await.unwrap();
            (status, retry_after, body["code"].as_str().unwrap_or_default().to_owned())
        });
    }
    let (mut refused, mut busy) = (0, 0);
    while let Some(answer) = crowd.join_next().await {
        match answer.unwrap() {
            (401, _, code) if code == "invalid_credentials" => refused += 1,
            (503, Some(after), code) if code == "busy" && after.parse::<u64>().is_ok() => busy += 1,
            other => panic!("a sign-in of the crowd was answered {other:?}"),
        }
    }
    let peak = served.memory_mib("VmHWM:");
    eprintln!(
        "{REQUESTS} wrong sign-ins, {AT_ONCE} at once: {refused} checked (401), {busy} busy (503); RSS {before:.1} MiB before, peak {peak:.1} MiB"
    );
    assert_eq!(refused + busy, REQUESTS);
    assert!(busy > 0, "the queue is bounded: some of {AT_ONCE} at once wait no turn");
    assert!(refused >= 2 * 8, "the queue's length of checks is served, not refused");
    assert!(peak <= 200.0, "peak RSS {peak:.1} MiB over the 200 MiB target");
    // The crowd is gone: a right password signs in at once.
    assert_eq!(sign_in(email, PASSWORD).await.status(), 200);
}

/// The value of the sample `name{labels}` in a Prometheus text, 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')))
        .map_or(0.0, |v| v.trim().parse().unwrap())
}

#[tokio::test]
async fn metrics_count_key_checks_by_outcome_and_requests_by_route_template() {
    const SERVICE_TOKEN: &str = "service-token-service-token-service-token";
    let flags = ["--service-token", SERVICE_TOKEN, "--webhook-allow-http", "--webhook-allow-private"];
    let app = spawn_app_with(Options::shared(None, &flags)).await;
    let scrape = || async {
        let res = app.send(app.client.get(app.url("/metrics")).bearer_auth(SERVICE_TOKEN)).await;
        assert_eq!(res.status, 200);
        assert!(res.headers["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
        res.body.as_str().unwrap().to_owned()
    };
    // Only the service's token reads them; a person or a key does not.
    app.send(app.client.get(app.url("/metrics"))).await.assert_problem(401, "unauthorized");
    let (owner, _) = app.signed_in("owner@metrics.test").await;
    let team = app.create_team(&owner, "Measured").await;
    let (_, key) = app.simple_key(&owner, &team, "measured key").await;
    app.send(app.client.get(app.url("/metrics")).bearer_auth(&key)).await.assert_problem(401, "unauthorized");

    // The recorder is the process's: other tests count too, so the counts are compared, not fixed.
    let keys = format!("/api/v1/teams/{team}/api-keys");
    let before = scrape().await;
    let valid = r#"portal_key_verifications_total{outcome="valid"}"#;
    let unknown = r#"portal_key_verifications_total{outcome="unknown"}"#;
    let (valid_before, unknown_before) = (sample(&before, valid), sample(&before, unknown));
    for _ in 0..3 {
        assert_eq!(app.get_as(&key, &keys).await.status, 200);
    }
    let (_, forged) = app.simple_key(&owner, &team, "to be forged").await;
    let forged = format!("{}x", &forged[..forged.len() - 1]);
    app.get_as(&forged, &keys).await.assert_problem(401, "invalid_api_key");
    let after = scrape().await;
    assert!(sample(&after, valid) >= valid_before + 3.0, "{after}");
    assert!(sample(&after, unknown) >= unknown_before + 1.0, "{after}");
    // Routes by their template: ids never become labels.
    let route = r#"route="/api/v1/teams/{team_id}/api-keys""#;
    assert!(after.lines().any(|l| l.starts_with("portal_http_requests_total") && l.contains(route)), "{after}");
    assert!(after.contains("portal_http_request_duration_seconds_bucket"), "{after}");
    assert!(!after.contains(&team), "no id in a label");
    // A refused sign-in is counted by its reason.
    let failed = r#"portal_sign_in_failures_total{reason="invalid_credentials"}"#;
    let failed_before = sample(&after, failed);
    app.login_with(&new_client(), "owner@metrics.test", "not the password")
        .await
        .assert_problem(401, "invalid_credentials");
    assert!(sample(&scrape().await, failed) >= failed_before + 1.0);
    // The usage of those requests is flushed within half a second, and a test webhook is sent:
    // both are counted when they happen (the scrape is repeated until they have).
    let flushes = "portal_usage_flush_rows_count";
    let delivered = r#"portal_webhook_attempts_total{result="delivered"}"#;
    let (flushes_before, delivered_before) = (sample(&after, flushes), sample(&after, delivered));
    // Usage after that reading, so that a flush must follow it (the earlier requests' flush may
    // have come before it).
    assert_eq!(app.get_as(&key, &keys).await.status, 200);
    let receiver = crate::webhooks::Receiver::start(None).await;
    let hook = CreateWebhookEndpointRequest {
        url: receiver.url().into(),
        description: None,
        event_types: vec![EventType::ApiKeyCreated],
        enabled: None,
    };
    let created = app.op(Some(&owner), ops::create_webhook_endpoint(&team, &hook)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let endpoint = created.body["endpoint"]["id"].as_str().unwrap().to_owned();
    assert_eq!(app.op(Some(&owner), ops::send_test_webhook(&team, &endpoint)).await.status, 202);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let now = scrape().await;
        if sample(&now, flushes) > flushes_before && sample(&now, delivered) > delivered_before {
            assert!(now.contains("portal_webhook_attempt_duration_seconds_bucket"));
            assert!(now.contains("portal_usage_flush_duration_seconds_bucket"));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no flush or delivery counted: {now}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The queues and the pools, sampled at the scrape.
    for gauge in [
        "portal_mail_outbox_depth",
        "portal_mail_outbox_oldest_age_seconds",
        "portal_webhook_queue_depth",
        r#"portal_db_pool_connections{pool="writer",state="idle"}"#,
        r#"portal_db_pool_connections{pool="reader",state="busy"}"#,
    ] {
        assert!(after.lines().any(|l| l.starts_with(gauge)), "{gauge} in {after}");
    }
    // A list read twice: read from the database once, then answered from what was kept.
    let members = format!("/api/v1/teams/{team}/members");
    let (hits, reloads) = (r#"portal_kept_pages_total{result="hit"}"#, r#"portal_kept_pages_total{result="reload"}"#);
    let before = scrape().await;
    for _ in 0..2 {
        assert_eq!(app.get_as(&owner, &members).await.status, 200);
    }
    let now = scrape().await;
    assert!(sample(&now, reloads) >= sample(&before, reloads) + 1.0, "{now}");
    assert!(sample(&now, hits) >= sample(&before, hits) + 1.0, "{now}");
}

/// `PORTAL_METRICS_BIND`: a listener of its own for the scraper, without a token, that serves
/// the metrics and nothing else; the main listener still asks for the service token.
#[tokio::test]
async fn the_metrics_listener_serves_metrics_alone() {
    let data = tempfile::tempdir().unwrap();
    let served = Served::start(&["--data-dir", data.path().to_str().unwrap(), "--metrics-bind", "127.0.0.1:0"]);
    let metrics_port = served.serving_line["metrics_port"].as_u64().expect("the serving line names the metrics port");
    assert_ne!(metrics_port, u64::from(served.port));
    let http = reqwest::Client::new();
    let at = |path: &str| format!("http://127.0.0.1:{metrics_port}{path}");
    assert_eq!(http.get(served.url("/healthz")).send().await.unwrap().status(), 200);
    let res = http.get(at("/metrics")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let text = res.text().await.unwrap();
    assert!(text.contains("portal_http_requests_total{route=\"/healthz\""), "{text}");
    for path in ["/healthz", "/api/v1/teams", "/"] {
        assert_eq!(http.get(at(path)).send().await.unwrap().status(), 404, "{path} on the metrics listener");
    }
    assert_eq!(
        http.get(served.url("/metrics")).send().await.unwrap().status(),
        401,
        "the main listener asks for the token"
    );
}
