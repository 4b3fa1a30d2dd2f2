//! Every kind of bad input gets problem+json naming what is wrong, and changes nothing.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

#[tokio::test]
async fn bad_input_of_every_kind_is_a_problem_and_changes_nothing() {
    let app = spawn_app().await;
    let signup = app.url("/api/v1/auth/signup");
    let c = &app.client;

    let res = app.send(c.post(&signup).header("content-type", "application/json").body("{\"email\": ")).await;
    res.assert_problem(400, "malformed_json");

    let res = app.send(c.post(&signup).header("content-type", "text/plain").body("email=a")).await;
    res.assert_problem(415, "unsupported_media_type");

    let huge = json!({"email": "big@example.com", "name": "x".repeat(70_000), "password": PASSWORD});
    app.send(c.post(&signup).json(&huge)).await.assert_problem(413, "payload_too_large");

    for (body, field) in [
        (json!({"name": "A", "password": PASSWORD}), "email"),
        (json!({"email": "a@example.com", "name": "A", "password": PASSWORD, "role": "owner"}), "role"),
        (json!({"email": 42, "name": "A", "password": PASSWORD}), "email"),
        (json!({"email": "not-an-address", "name": "A", "password": PASSWORD}), "email"),
        (json!({"email": "a@example.com", "name": "   ", "password": PASSWORD}), "name"),
        (json!({"email": "a@example.com", "name": "A", "password": "short"}), "password"),
    ] {
        let res = app.send(c.post(&signup).json(&body)).await;
        res.assert_problem(422, "validation_failed");
        assert_eq!(res.field(), field, "{body}");
        assert!(res.body["detail"].as_str().unwrap_or("").contains(field), "{}", res.body);
    }

    let res = app.send(c.get(app.url("/api/v1/no-such-thing"))).await;
    res.assert_problem(404, "route_not_found");
    let res = app.send(c.delete(app.url("/api/v1/auth/login"))).await;
    assert_eq!(res.status.as_u16() / 100, 4, "{}", res.body);
    assert_eq!(res.headers["content-type"], "application/problem+json");

    // Nothing was created and no mail was queued by any of the above.
    assert!(app.mails().is_empty(), "no mail after rejected requests");
    let res = app.signup("a@example.com", "A", PASSWORD).await;
    assert_eq!(res.status, StatusCode::ACCEPTED);
    app.wait_for_mail("a@example.com", "Verify your e-mail address").await;
    assert_eq!(app.mails().len(), 1, "a fresh account: the verification mail, not 'already have an account'");
}

#[tokio::test]
async fn responses_carry_a_request_id() {
    let app = spawn_app().await;
    let res = app.send(app.client.get(app.url("/healthz")).header("x-request-id", "abc-123")).await;
    assert_eq!(res.headers["x-request-id"], "abc-123");
    let res = app.send(app.client.get(app.url("/healthz"))).await;
    assert_eq!(res.headers["x-request-id"].len(), 36);
}

#[tokio::test]
async fn readiness_checks_the_database() {
    let app = spawn_app().await;
    let res = app.send(app.client.get(app.url("/readyz"))).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(res.body["status"], "ok");
}

/// Small answers go out as they are (gzip would cost more than it saves); large ones compressed.
#[tokio::test]
async fn only_answers_of_a_kilobyte_or_more_are_compressed() {
    let app = spawn_app().await;
    let small = app.client.get(app.url("/healthz")).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(small.headers().get("content-encoding"), None);
    assert_eq!(small.text().await.unwrap(), r#"{"status":"ok"}"#);
    let large = app.client.get(app.url("/api/v1/openapi.json")).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(large.headers()["content-encoding"], "gzip");
}

/// A documented path asked with a method it does not take answers 405 with `Allow` (RFC 9110),
/// whether no route or the route's own resource refused it.
#[tokio::test]
async fn a_method_a_path_does_not_take_gets_405_with_allow() {
    let app = spawn_app().await;
    let team = uuid::Uuid::new_v4();
    for (method, path, allow) in [
        ("TRACE", "/api/v1/me".to_owned(), "GET, PATCH"),
        ("PUT", format!("/api/v1/teams/{team}"), "GET, PATCH, DELETE"),
        ("DELETE", "/api/v1/auth/login".to_owned(), "POST"),
        ("POST", "/healthz".to_owned(), "GET"),
        ("HEAD", format!("/api/v1/teams/{team}/members"), "GET"),
    ] {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let res = app.send(app.client.request(method.clone(), app.url(&path))).await;
        assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}: {}", res.body);
        assert_eq!(res.headers["allow"], allow, "{method} {path}");
        if method != reqwest::Method::HEAD {
            assert_eq!(res.body["code"], "method_not_allowed");
        }
    }
    // An undocumented path is still simply not found.
    app.send(app.client.put(app.url("/api/v1/nowhere"))).await.assert_problem(404, "route_not_found");
}

/// Bodies are JSON objects, and integers are integers however they are written.
#[tokio::test]
async fn bodies_must_be_objects_and_integral_numbers_are_integers() {
    let app = spawn_app().await;
    let (owner, _) = app.signed_in("owner@example.com").await;
    let team = app.create_team(&owner, "Acme").await;
    let path = format!("/api/v1/teams/{team}");
    for body in [json!([null, null]), json!(["name"]), json!("Acme"), json!(42)] {
        let res = app.call(reqwest::Method::PATCH, Some(&owner), &path, Some(body.clone())).await;
        res.assert_problem(422, "validation_failed");
        assert!(res.body["detail"].as_str().unwrap().contains("JSON object"), "{body}: {}", res.body);
    }
    assert_eq!(app.get_as(&owner, &path).await.body["name"], "Acme", "nothing changed");

    let (key, _) = app.simple_key(&owner, &team, "limited").await;
    let key_path = format!("/api/v1/teams/{team}/api-keys/{key}");
    let res = app.call(reqwest::Method::PATCH, Some(&owner), &key_path, Some(json!({"usage_limit": 2.0}))).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body["usage_limit"], 2);
    let res = app.call(reqwest::Method::PATCH, Some(&owner), &key_path, Some(json!({"usage_limit": 2.5}))).await;
    res.assert_problem(422, "validation_failed");
    assert_eq!(res.field(), "usage_limit");
}
