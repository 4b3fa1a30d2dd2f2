//! Building blocks shared by the screens.

use leptos::prelude::*;
use leptos_router::{NavigateOptions, components::Redirect, hooks::use_location};

use crate::api::ApiError;
use crate::session::use_auth;

/// The outcome of a form's action: `None` until the first answer.
pub type Outcome<T> = Option<Result<T, ApiError>>;

/// The error message for `field` from an action's last outcome.
pub fn field_error<T: Send + Sync + 'static>(
    outcome: impl Fn() -> Outcome<T> + Send + Sync + 'static,
    field: &'static str,
) -> Signal<Option<String>> {
    Signal::derive(move || outcome().and_then(Result::err).and_then(|e| e.message_for(field)))
}

/// Sets the browser tab's title.
pub fn set_title(title: &str) {
    document().set_title(&format!("{title} · Partner Portal"));
}

/// A centred card with a heading: the frame of the sign-in style screens.
#[component]
pub fn AuthCard(title: &'static str, children: Children) -> impl IntoView {
    set_title(title);
    view! {
        <section class="card auth-card">
            <h1>{title}</h1>
            {children()}
        </section>
    }
}

/// A labelled input with its error message underneath, linked for screen readers.
#[component]
pub fn Field(
    label: &'static str,
    /// The JSON field name; also the input's id, so `field` in a problem finds it.
    name: &'static str,
    value: RwSignal<String>,
    #[prop(into)] error: Signal<Option<String>>,
    #[prop(default = "text")] kind: &'static str,
    #[prop(optional)] autocomplete: Option<&'static str>,
    #[prop(optional)] minlength: Option<u32>,
    #[prop(optional)] maxlength: Option<u32>,
    #[prop(optional)] hint: Option<&'static str>,
) -> impl IntoView {
    let error_id = format!("{name}-error");
    let hint_id = format!("{name}-hint");
    let described_by = {
        let (error_id, hint_id) = (error_id.clone(), hint_id.clone());
        move || {
            let ids: Vec<&str> =
                [hint.is_some().then_some(hint_id.as_str()), error.with(Option::is_some).then_some(error_id.as_str())]
                    .into_iter()
                    .flatten()
                    .collect();
            (!ids.is_empty()).then(|| ids.join(" "))
        }
    };
    view! {
        <div class="field" class:invalid=move || error.with(Option::is_some)>
            <label for=name>{label}</label>
            <input
                id=name
                name=name
                type=kind
                autocomplete=autocomplete
                minlength=minlength
                maxlength=maxlength
                required
                bind:value=value
                aria-invalid=move || error.with(Option::is_some).then_some("true")
                aria-describedby=described_by
            />
            {hint.map(|hint| view! { <p class="hint" id=hint_id>{hint}</p> })}
            {move || error.get().map(|msg| view! { <p class="field-error" id=error_id.clone()>{msg}</p> })}
        </div>
    }
}

/// The error of a whole form: shown unless it names one of the form's own fields (those are
/// shown next to the field).
#[component]
pub fn FormAlert(
    #[prop(into)] error: Signal<Option<ApiError>>,
    #[prop(default = &[])] fields: &'static [&'static str],
) -> impl IntoView {
    let message = move || error.get().filter(|e| !e.field().is_some_and(|f| fields.contains(&f))).map(|e| e.message());
    view! {
        <div class="alert-slot" role="alert">
            {move || message().map(|msg| view! { <p class="alert error">{msg}</p> })}
        </div>
    }
}

/// A success message, announced politely to screen readers.
#[component]
pub fn Notice(children: Children) -> impl IntoView {
    view! { <div class="alert success" role="status">{children()}</div> }
}

#[component]
pub fn SubmitButton(label: &'static str, #[prop(into)] pending: Signal<bool>) -> impl IntoView {
    view! {
        <button type="submit" class="button primary" disabled=pending aria-busy=move || pending.get().then_some("true")>
            {move || if pending.get() { "Please wait…" } else { label }}
        </button>
    }
}

#[component]
pub fn Loading(#[prop(default = "Loading…")] label: &'static str) -> impl IntoView {
    view! {
        <p class="loading" role="status">
            <span class="spinner" aria-hidden="true"></span>
            {label}
        </p>
    }
}

/// What a mailed link shows when the server refuses its token.
#[component]
pub fn LinkNoLongerValid(error: ApiError, children: Children) -> impl IntoView {
    view! {
        <div class="alert error" role="alert">
            <h2>"This link is no longer valid"</h2>
            <p>"Links in our e-mails work once and expire after a while."</p>
            <p class="detail">{error.message()}</p>
        </div>
        {children()}
    }
}

/// Renders its children only for a signed-in user; sends everyone else to the sign-in screen
/// and back here afterwards.
#[component]
pub fn RequireSignIn(children: ChildrenFn) -> impl IntoView {
    let auth = use_auth();
    let location = use_location();
    // Memos, so that a refreshed token does not re-render (and reset) the page.
    let restored = Memo::new(move |_| auth.restored());
    let signed_in = Memo::new(move |_| auth.is_signed_in());
    let guarded = location.pathname.get_untracked();
    move || {
        let here = location.pathname.get_untracked();
        if !restored.get() {
            view! { <Loading/> }.into_any()
        } else if signed_in.get() {
            children().into_any()
        } else if here != guarded {
            // Signing out navigates away on its own: this page is being left, not protected.
            ().into_any()
        } else {
            let path = format!("/sign-in?next={}", js_sys_encode(&here));
            view! { <Redirect path=path options=NavigateOptions { replace: true, ..Default::default() }/> }.into_any()
        }
    }
}

fn js_sys_encode(s: &str) -> String {
    leptos::web_sys::js_sys::encode_uri_component(s).into()
}
