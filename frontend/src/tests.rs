//! Component tests, run in a real browser by `wasm-bindgen-test-runner`.

use leptos::{prelude::*, wasm_bindgen::JsCast, web_sys::HtmlElement};
use portal_types::Problem;
use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

use crate::api::ApiError;
use crate::components::{Field, FormAlert};

wasm_bindgen_test_configure!(run_in_browser);

fn container() -> HtmlElement {
    let div = document().create_element("div").expect("create div");
    document().body().expect("body").append_child(&div).expect("append");
    div.unchecked_into()
}

fn text_of(root: &HtmlElement, selector: &str) -> Option<String> {
    root.query_selector(selector).expect("valid selector").and_then(|e| e.text_content())
}

fn validation_error(field: &str, detail: &str) -> ApiError {
    ApiError::Problem(Box::new(Problem {
        kind: "/problems/validation_failed".to_owned(),
        title: "Validation failed".to_owned(),
        status: 422,
        detail: Some(detail.to_owned()),
        code: portal_types::ErrorCode::ValidationFailed,
        field: Some(field.to_owned()),
        required_scope: None,
        sso_url: None,
        request_id: None,
    }))
}

#[wasm_bindgen_test]
async fn field_shows_its_error_and_marks_the_input_invalid() {
    let root = container();
    let error = RwSignal::new(None::<String>);
    let value = RwSignal::new(String::new());
    let _mounted = leptos::mount::mount_to(root.clone(), move || {
        view! { <Field label="Password" name="password" kind="password" value error/> }
    });

    let input = root.query_selector("input#password").expect("selector").expect("input rendered");
    assert_eq!(input.get_attribute("aria-invalid"), None);
    assert_eq!(text_of(&root, ".field-error"), None);

    error.set(Some("Use at least 10 characters.".to_owned()));
    leptos::task::tick().await;
    assert_eq!(text_of(&root, ".field-error").as_deref(), Some("Use at least 10 characters."));
    assert_eq!(input.get_attribute("aria-invalid").as_deref(), Some("true"));
    assert_eq!(input.get_attribute("aria-describedby").as_deref(), Some("password-error"));

    error.set(None);
    leptos::task::tick().await;
    assert_eq!(text_of(&root, ".field-error"), None);
    assert_eq!(input.get_attribute("aria-invalid"), None);
}

#[wasm_bindgen_test]
async fn form_alert_leaves_errors_of_its_own_fields_to_the_fields() {
    let root = container();
    let error = RwSignal::new(Some(validation_error("password", "Too short.")));
    let _mounted = leptos::mount::mount_to(root.clone(), move || {
        view! { <FormAlert error fields=&["email", "password"]/> }
    });
    assert_eq!(text_of(&root, ".alert"), None);

    error.set(Some(validation_error("token", "Malformed token.")));
    leptos::task::tick().await;
    assert_eq!(text_of(&root, ".alert").as_deref(), Some("Malformed token."));

    error.set(Some(ApiError::Network));
    leptos::task::tick().await;
    assert_eq!(
        text_of(&root, ".alert").as_deref(),
        Some("Could not reach the server. Check your connection and try again.")
    );
}

#[wasm_bindgen_test]
async fn concurrent_refreshes_share_one_request() {
    let owner = Owner::new();
    owner.set();
    // Starts the start-up refresh (against the test server, which does not know the route).
    let auth = crate::session::Auth::provide();
    let first = auth.refresh();
    let second = auth.refresh();
    assert!(first.ptr_eq(&second), "a second caller must join the refresh in flight");

    let result = first.await;
    assert!(result.is_err());
    assert!(!auth.is_signed_in());

    let later = auth.refresh();
    assert!(!later.ptr_eq(&second), "a finished refresh is not reused");
    let _ = later.await;
}

#[wasm_bindgen_test]
async fn usage_chart_stacks_errors_on_successes_and_skips_empty_buckets() {
    use chrono::{TimeZone, Utc};
    use portal_types::UsagePoint;

    use crate::pages::UsageChart;

    let root = container();
    let at = |h: u32| Utc.with_ymd_and_hms(2026, 1, 1, h, 0, 0).single().expect("valid time");
    let series = vec![
        UsagePoint { start: at(0), success: 3, error: 1, latency: None },
        UsagePoint { start: at(1), success: 0, error: 0, latency: None },
        UsagePoint { start: at(2), success: 5, error: 0, latency: None },
    ];
    let _mounted = leptos::mount::mount_to(
        root.clone(),
        move || view! { <UsageChart series granularity=portal_types::Granularity::Hour/> },
    );
    let count = |selector: &str| root.query_selector_all(selector).expect("valid selector").length();
    assert_eq!(count("rect.bar-success"), 2);
    assert_eq!(count("rect.bar-error"), 1);
    assert_eq!(count("g.bucket title"), 3, "every bucket has a tooltip");
    let label = root.query_selector("svg").expect("selector").expect("svg").get_attribute("aria-label");
    assert_eq!(label.as_deref(), Some("Requests per hour over the period: 9 in total, at most 5 in one hour."));
    // The numbers are also in a table, for screen readers: the non-empty buckets only.
    assert_eq!(count(".chart-data tbody tr"), 2);
    // The time axis is HTML (it keeps its size on a phone), and its first label has the date.
    let first = root.query_selector(".axis-x .axis-label").expect("selector").expect("a label").text_content();
    assert!(first.as_deref().is_some_and(|t| t.contains("Jan") || t.contains("Dec")), "{first:?}");
    assert_eq!(count(".axis-y .axis-label"), 3);
}

#[wasm_bindgen_test]
async fn secret_once_banner_shows_the_secret_and_says_it_is_shown_once() {
    use crate::components::SecretOnceBanner;

    let root = container();
    let secret = "pp_dev_abc123".to_owned();
    let _mounted = leptos::mount::mount_to(root.clone(), move || view! { <SecretOnceBanner secret/> });
    leptos::task::tick().await;
    let block: leptos::web_sys::HtmlTextAreaElement =
        root.query_selector("textarea.secret").expect("selector").expect("textarea").unchecked_into();
    assert_eq!(block.value(), "pp_dev_abc123");
    assert!(block.read_only());
    let warning = text_of(&root, ".warning").unwrap_or_default();
    assert!(warning.contains("only time the secret is shown"), "{warning}");
    assert!(root.query_selector("button").expect("selector").is_some(), "a copy button");
}

#[wasm_bindgen_test]
fn sign_in_follows_only_same_origin_paths() {
    use crate::pages::sign_in::same_origin_path;
    for ok in ["/dashboard", "/teams/3f1c/keys?tab=usage", "/a%2F%2Fb"] {
        assert!(same_origin_path(ok), "{ok} should pass");
    }
    for bad in [
        "//evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        "/\r/evil.example",
        "/\\evil.example",
        "\\/evil.example",
        "https://evil.example",
        "evil.example",
        "/ /evil.example",
        "/\u{a0}/evil.example",
        "",
    ] {
        assert!(!same_origin_path(bad), "{bad:?} must be refused");
    }
}

/// The inputs' limits are the API's (`portal_types::rules`), and the password hint says them.
#[wasm_bindgen_test]
fn inputs_state_the_api_limits() {
    use crate::pages::{NAME_MAX, PASSWORD_HINT, PASSWORD_MAX, PASSWORD_MIN};
    assert_eq!(PASSWORD_HINT, format!("{PASSWORD_MIN} to {PASSWORD_MAX} characters."));
    assert_eq!(NAME_MAX as usize, portal_types::rules::NAME_MAX_CHARS);
}
