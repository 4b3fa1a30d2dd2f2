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
        code: "validation_failed".to_owned(),
        field: Some(field.to_owned()),
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
