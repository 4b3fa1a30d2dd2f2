//! The web app is served with an SPA fallback and strict security headers.

use reqwest::StatusCode;

use crate::helpers::*;

const INDEX: &str = "<!doctype html><html><head><script type=\"module\">import init from '/app.js';init('/app_bg.wasm');</script></head><body></body></html>";

#[tokio::test]
async fn client_side_routes_get_the_app_with_a_strict_csp() {
    let app = spawn_app_with(Options { web_index: Some(INDEX.into()), ..Options::default() }).await;
    for path in ["/", "/verify-email?token=abc", "/account"] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        let headers = res.headers().clone();
        assert_eq!(res.text().await.unwrap(), INDEX, "{path}");
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self' 'wasm-unsafe-eval' 'sha256-"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        assert_eq!(headers["x-frame-options"], "DENY");
    }
    // A missing file is a 404, not the app.
    let res = app.client.get(app.url("/favicon.ico")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // API answers carry the headers too.
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(res.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn api_docs_are_served_without_any_cdn() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("swagger"), "{html}");
    for marker in ["https://", "http://"] {
        for line in html.lines().filter(|l| l.contains("src=") || l.contains("href=")) {
            assert!(!line.contains(marker), "external asset in docs: {line}");
        }
    }
    let spec = app.client.get(app.url("/api/v1/openapi.json")).send().await.unwrap();
    assert_eq!(spec.status(), StatusCode::OK);
    assert_eq!(spec.headers()["content-type"], "application/json");
    let spec: serde_json::Value = spec.json().await.unwrap();
    assert_eq!(spec, serde_json::to_value(portal_server::openapi::document()).unwrap());
    let init = app.client.get(app.url("/docs/swagger-initializer.js")).send().await.unwrap().text().await.unwrap();
    assert!(init.contains("\"/api/v1/openapi.json\""), "the Swagger UI reads the served document: {init}");
}

/// Hashed assets are cached for a year without a request; the app's page is asked for again each
/// time, and its ETag makes a return visit a 304.
#[tokio::test]
async fn hashed_assets_are_immutable_and_the_page_is_revalidated() {
    let app = spawn_app_with(Options { web_index: Some(INDEX.into()), ..Options::default() }).await;
    let web_dir = app.data_dir.parent().unwrap().join("web");
    std::fs::write(web_dir.join("app-0123456789abcdef.js"), "export default 1;").unwrap();
    std::fs::write(web_dir.join("robots.txt"), "User-agent: *").unwrap();
    let res = app.client.get(app.url("/app-0123456789abcdef.js")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["cache-control"], "public, max-age=31536000, immutable");
    let res = app.client.get(app.url("/robots.txt")).send().await.unwrap();
    assert!(res.headers().get("cache-control").is_none(), "an unhashed file is not immutable");
    for path in ["/", "/index.html", "/account"] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{path}");
        assert_eq!(res.headers()["cache-control"], "no-cache", "{path}");
    }
    let first = app.client.get(app.url("/")).send().await.unwrap();
    let etag = first.headers()["etag"].clone();
    let again = app.client.get(app.url("/")).header("if-none-match", etag).send().await.unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(again.headers()["cache-control"], "no-cache");
}

/// Files compressed at build time (`make web` writes `.br` and `.gz` beside each) are sent as
/// they are to a browser that takes them, with the type of the original; others get the original.
#[tokio::test]
async fn precompressed_files_are_sent_as_built() {
    let app = spawn_app_with(Options { web_index: Some(INDEX.into()), ..Options::default() }).await;
    let web_dir = app.data_dir.parent().unwrap().join("web");
    let wasm = "app-0123456789abcdef_bg.wasm";
    std::fs::write(web_dir.join(wasm), b"\0asm original").unwrap();
    std::fs::write(web_dir.join(format!("{wasm}.br")), b"brotli bytes").unwrap();
    std::fs::write(web_dir.join(format!("{wasm}.gz")), b"gzip bytes").unwrap();
    for (accept, encoding, body) in [
        (Some("gzip, deflate, br, zstd"), Some("br"), &b"brotli bytes"[..]),
        (Some("gzip"), Some("gzip"), b"gzip bytes"),
        (None, None, b"\0asm original"),
    ] {
        let mut req = app.client.get(app.url(&format!("/{wasm}")));
        if let Some(accept) = accept {
            req = req.header("accept-encoding", accept);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{accept:?}");
        assert_eq!(res.headers().get("content-encoding").map(|v| v.to_str().unwrap()), encoding, "{accept:?}");
        assert_eq!(res.headers()["content-type"], "application/wasm", "{accept:?}");
        assert_eq!(res.headers()["cache-control"], "public, max-age=31536000, immutable");
        if accept.is_some() {
            assert!(res.headers()["vary"].to_str().unwrap().to_lowercase().contains("accept-encoding"));
        }
        assert_eq!(res.bytes().await.unwrap().as_ref(), body, "{accept:?}: sent once, not compressed again");
    }
}

/// The Help menu's links come from the operator's settings, to anyone (a partner who cannot sign
/// in needs them most); an unset one is absent, and shared caches may keep the answer a while.
#[tokio::test]
async fn help_links_are_the_operators_and_public() {
    let app = spawn_app().await;
    let res = app.op(None, ops::get_help_links()).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body, serde_json::json!({ "docs_url": "/docs/" }));
    assert_eq!(res.headers["cache-control"], "public, max-age=300");

    let flags = ["--support-email", "help@example.com", "--community-url", "https://forum.example.com/portal"];
    let app = spawn_app_with(Options::shared(None, &flags)).await;
    let links: portal_types::HelpLinks =
        serde_json::from_value(app.op(None, ops::get_help_links()).await.body).unwrap();
    assert_eq!(links.docs_url.as_deref(), Some("/docs/"));
    assert_eq!(links.support_url.as_deref(), Some("mailto:help@example.com"));
    assert_eq!(links.community_url.as_deref(), Some("https://forum.example.com/portal"));
}
