//! The committed OpenAPI document matches the code, and documents every mounted route.

use std::path::Path;

fn manifest_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

#[test]
fn committed_document_matches_the_code() {
    let committed =
        std::fs::read_to_string(manifest_dir().join("../../openapi/openapi.json")).expect("openapi/openapi.json");
    let generated = portal_server::openapi::document_json();
    assert!(committed == generated, "openapi/openapi.json is stale: run `make openapi` and commit it");
}

/// Every actix route macro in the server's source names a documented operation, and no route
/// is mounted around utoipa (`.route(`, `web::resource(`), so nothing escapes the document.
#[test]
fn every_mounted_route_is_documented() {
    let doc = serde_json::to_value(portal_server::openapi::document()).unwrap();
    let paths = doc["paths"].as_object().expect("paths");
    let mut checked = 0;
    for entry in walk(&manifest_dir().join("src")) {
        let source = std::fs::read_to_string(&entry).unwrap();
        assert!(
            !source.contains(".route(") && !source.contains("web::resource("),
            "{}: mount API routes with #[utoipa::path] + a route macro via `service`",
            entry.display()
        );
        for line in source.lines().map(str::trim) {
            for method in ["get", "post", "put", "patch", "delete"] {
                let Some(rest) = line.strip_prefix(&format!("#[{method}(\"")) else { continue };
                let route = rest.split('"').next().unwrap();
                let full = if route.starts_with("/healthz") || route.starts_with("/readyz") {
                    route.to_owned()
                } else {
                    format!("/api/v1{route}")
                };
                let documented = paths.get(&full).and_then(|p| p.get(method));
                assert!(documented.is_some(), "{method} {full} ({}) is not in the OpenAPI document", entry.display());
                checked += 1;
            }
        }
    }
    let operations: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(checked, operations, "each documented operation has exactly one route macro");
    assert!(checked >= 13, "found only {checked} routes: the scan is broken");
}

#[test]
fn operations_have_unique_ids_tags_and_error_responses() {
    let doc = serde_json::to_value(portal_server::openapi::document()).unwrap();
    let mut ids = std::collections::HashSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no operationId"));
            assert!(ids.insert(id.to_owned()), "duplicate operationId {id}");
            assert!(op["tags"].as_array().is_some_and(|t| !t.is_empty()), "{id} has no tag");
            let responses = op["responses"].as_object().unwrap();
            if path.starts_with("/api/") {
                assert!(
                    responses.keys().any(|k| k.starts_with('4') || k.starts_with('5')),
                    "{id} lists no error response"
                );
                for (status, response) in responses.iter().filter(|(k, _)| k.starts_with('4') || k.starts_with('5')) {
                    assert!(
                        response["content"].get("application/problem+json").is_some(),
                        "{id} {status} is not problem+json"
                    );
                }
            }
        }
    }
    let schemes = doc["components"]["securitySchemes"].as_object().unwrap();
    assert!(schemes.contains_key("bearer") && schemes.contains_key("refresh_cookie"));
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}
