//! The web app (static files with SPA fallback), security headers, and the error-body safety net.

use std::path::{Path, PathBuf};

use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine as _;
use portal_types::{ErrorCode, PROBLEM_JSON};
use sha2::{Digest, Sha256};

use crate::error::{problem, problem_response};

/// The methods each documented path takes, read from the OpenAPI document: a request for such a
/// path with another method gets 405 with `Allow` (RFC 9110), not 404.
pub struct RouteTable(Vec<(Vec<Option<String>>, HeaderValue)>);

impl RouteTable {
    pub fn from_document(doc: &utoipa::openapi::OpenApi) -> Self {
        let routes = doc
            .paths
            .paths
            .iter()
            .filter_map(|(template, item)| {
                let segments = template
                    .split('/')
                    .map(|s| (!(s.starts_with('{') && s.ends_with('}'))).then(|| s.to_owned()))
                    .collect();
                let methods: Vec<&str> = [
                    ("GET", item.get.is_some()),
                    ("HEAD", item.head.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                    ("OPTIONS", item.options.is_some()),
                ]
                .into_iter()
                .filter_map(|(name, present)| present.then_some(name))
                .collect();
                Some((segments, HeaderValue::from_str(&methods.join(", ")).ok()?))
            })
            .collect();
        Self(routes)
    }

    /// `Allow` of the documented path `path` matches, if any.
    pub fn allow(&self, path: &str) -> Option<&HeaderValue> {
        let parts: Vec<&str> = path.split('/').collect();
        self.0
            .iter()
            .find(|(segments, _)| {
                segments.len() == parts.len()
                    && segments.iter().zip(&parts).all(|(segment, part)| match segment {
                        Some(literal) => literal == part,
                        None => !part.is_empty(),
                    })
            })
            .map(|(_, allow)| allow)
    }
}

fn method_not_allowed(req: &HttpRequest, allow: &HeaderValue) -> HttpResponse {
    let detail = format!("{} {} is not supported; use {}.", req.method(), req.path(), allow.to_str().unwrap_or(""));
    let mut res =
        problem_response(StatusCode::METHOD_NOT_ALLOWED, &problem(ErrorCode::MethodNotAllowed, Some(detail), None));
    res.headers_mut().insert(header::ALLOW, allow.clone());
    res
}

/// Content-Security-Policy of the web app: only this origin, WebAssembly allowed, the inline
/// loader script `frontend/tools/build.mjs` writes into index.html allowed by its hash, no framing.
pub fn app_csp(index_html: Option<&str>) -> String {
    let hashes: String =
        index_html.map(inline_script_hashes).unwrap_or_default().iter().map(|h| format!(" '{h}'")).collect();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; style-src 'self'; img-src 'self' data:; \
         font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// The interactive API docs (vendored Swagger UI) need inline styles.
pub const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
    img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

/// `sha256-...` of the text of every inline `<script>` (one without `src`).
fn inline_script_hashes(html: &str) -> Vec<String> {
    let mut hashes = Vec::new();
    let mut rest = html;
    while let Some(start) = rest.find("<script") {
        rest = &rest[start..];
        let Some(tag_end) = rest.find('>') else { break };
        let tag = &rest[..tag_end];
        let body_start = tag_end + 1;
        let Some(close) = rest[body_start..].find("</script>") else { break };
        let body = &rest[body_start..body_start + close];
        if !tag.contains(" src=") && !body.trim().is_empty() {
            let digest = Sha256::digest(body.as_bytes());
            hashes.push(format!("sha256-{}", base64::engine::general_purpose::STANDARD.encode(digest)));
        }
        rest = &rest[body_start + close..];
    }
    hashes
}

/// The built web app, if there is one.
#[derive(Clone)]
pub struct WebApp {
    pub dir: PathBuf,
    pub index: Option<String>,
}

impl WebApp {
    pub fn load(dir: &Path) -> Self {
        let index = std::fs::read_to_string(dir.join("index.html")).ok();
        if index.is_none() {
            tracing::warn!(dir = %dir.display(), "no built web app found; run `make run` (or `make web`) to build it");
        }
        Self { dir: dir.to_owned(), index }
    }
}

const NOT_BUILT: &str = "<!doctype html><title>Partner Portal</title><h1>Partner Portal</h1>\
<p>The web app is not built. Run <code>make run</code>, or <code>make web</code>, then reload.</p>\
<p>The REST API is at <a href=\"/docs/\">/docs/</a>.</p>";

/// Everything no route claimed: a problem for the API, else the app's index.html (client-side routes).
pub async fn fallback(req: HttpRequest, app: web::Data<WebApp>, routes: web::Data<RouteTable>) -> HttpResponse {
    let path = req.path();
    if let Some(allow) = routes.allow(path) {
        let listed = allow.to_str().unwrap_or("").split(", ").any(|m| m == req.method().as_str());
        if !listed {
            return method_not_allowed(&req, allow);
        }
    }
    // A missing file (`/favicon.ico`, `/app-123.wasm`) is a 404, not the app's page.
    let looks_like_file = path.rsplit('/').next().is_some_and(|last| last.contains('.'));
    if path.starts_with("/api/") || looks_like_file || !(req.method() == Method::GET || req.method() == Method::HEAD) {
        return problem_response(
            StatusCode::NOT_FOUND,
            &problem(ErrorCode::RouteNotFound, Some(format!("No route {} {path}.", req.method())), None),
        );
    }
    match &app.index {
        Some(index) => HttpResponse::Ok()
            .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
            .insert_header((header::CACHE_CONTROL, "no-cache"))
            .body(index.clone()),
        None => HttpResponse::Ok().insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8")).body(NOT_BUILT),
    }
}

/// Safety net: an error answer that is not problem+json yet (a 404 or 405 from routing, an
/// extractor's own error) becomes one, so clients only ever see one error shape.
pub fn problem_for_errors<B>(res: ServiceResponse<B>) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_problem =
        res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if is_problem {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let code = match status {
        StatusCode::BAD_REQUEST => ErrorCode::BadRequest,
        StatusCode::NOT_FOUND => ErrorCode::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ErrorCode::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ErrorCode::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ErrorCode::UnsupportedMediaType,
        s if s.is_server_error() => ErrorCode::InternalError,
        _ => return Ok(ErrorHandlerResponse::Response(res.map_into_left_body())),
    };
    let (req, res) = res.into_parts();
    if code == ErrorCode::MethodNotAllowed
        && let Some(allow) = req.app_data::<web::Data<RouteTable>>().and_then(|t| t.allow(req.path()).cloned())
    {
        let answer = method_not_allowed(&req, &allow);
        return Ok(ErrorHandlerResponse::Response(ServiceResponse::new(req, answer).map_into_right_body()));
    }
    let mut body = problem(code, None, None);
    body.status = status.as_u16();
    let mut answer = problem_response(status, &body);
    for (name, value) in res.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            answer.headers_mut().insert(name.clone(), value.clone());
        }
    }
    Ok(ErrorHandlerResponse::Response(ServiceResponse::new(req, answer).map_into_right_body()))
}

/// Whether `path` names a file of the built web app whose name carries its content hash (the build
/// writes `name-<16 hex digits>[_bg].{js,wasm,css}`): its content never changes under that name.
pub fn is_hashed_asset(path: &str) -> bool {
    let Some(file) = path.strip_prefix('/').filter(|f| !f.contains('/')) else { return false };
    let Some((stem, ext)) = file.rsplit_once('.') else { return false };
    if !matches!(ext, "js" | "wasm" | "css") {
        return false;
    }
    let stem = stem.strip_suffix("_bg").unwrap_or(stem);
    stem.rsplit_once('-').is_some_and(|(_, hash)| hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// How the web app's files may be cached: a hashed asset for a year without asking again; the
/// app's page (`index.html`, which names the current assets) only after asking (its ETag makes
/// that a 304).
pub fn cache_headers<B>(res: &mut ServiceResponse<B>) {
    let path = res.request().path();
    if path.starts_with("/api/")
        || path.starts_with("/docs")
        || !(res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED)
    {
        return;
    }
    let value = if is_hashed_asset(path) {
        "public, max-age=31536000, immutable"
    } else if res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"))
        || res.status() == StatusCode::NOT_MODIFIED && (path == "/" || path == "/index.html")
    {
        "no-cache"
    } else {
        return;
    };
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(value));
}

/// Security headers on every answer: `csp`, or the docs' own policy under `/docs`.
pub fn security_headers<B>(res: &mut ServiceResponse<B>, csp: &HeaderValue) {
    let csp = if res.request().path().starts_with("/docs") { HeaderValue::from_static(DOCS_CSP) } else { csp.clone() };
    let h = res.headers_mut();
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin"));
    h.insert(header::CONTENT_SECURITY_POLICY, csp);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashed_assets_are_told_from_other_files() {
        for path in [
            "/portal-frontend-d309dd1229d343a2.js",
            "/portal-frontend-d309dd1229d343a2_bg.wasm",
            "/style-97c765e700020b75.css",
        ] {
            assert!(is_hashed_asset(path), "{path}");
        }
        for path in
            ["/", "/index.html", "/app.js", "/style-97c7.css", "/a/b-97c765e700020b75.css", "/x-97c765e700020b75.html"]
        {
            assert!(!is_hashed_asset(path), "{path}");
        }
    }

    #[test]
    fn csp_allows_exactly_the_inline_scripts_of_index_html() {
        let html = r#"<html><head><script type="module">import init from '/app.js'; init();</script>
            <script src="/other.js"></script></head></html>"#;
        let hashes = inline_script_hashes(html);
        assert_eq!(hashes.len(), 1);
        let expected =
            base64::engine::general_purpose::STANDARD.encode(Sha256::digest(b"import init from '/app.js'; init();"));
        assert_eq!(hashes[0], format!("sha256-{expected}"));
        let csp = app_csp(Some(html));
        assert!(csp.contains(&format!("'sha256-{expected}'")));
        assert!(csp.contains("'wasm-unsafe-eval'") && csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline"));
    }
}
