//! Building blocks shared by the screens.

use leptos::prelude::*;
use leptos_router::{NavigateOptions, components::Redirect, hooks::use_location};

use crate::api::ApiError;
use crate::session::use_auth;

/// The error message for `field` from an action's last outcome.
pub fn field_error<T: Send + Sync + 'static>(
    outcome: impl Fn() -> Loaded<T> + Send + Sync + 'static,
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
        } else if !here.starts_with(&guarded) {
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

/// A page-unique id for `aria-labelledby` and friends.
pub fn unique_id(prefix: &str) -> String {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static NEXT: AtomicUsize = AtomicUsize::new(1);
    format!("{prefix}-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// An error from the API, announced to screen readers.
#[component]
pub fn ErrorAlert(error: ApiError) -> impl IntoView {
    view! { <p class="alert error" role="alert">{error.message()}</p> }
}

/// The last error of an action, if any (e.g. a failed role change in a list).
#[component]
pub fn ActionError(#[prop(into)] error: Signal<Option<ApiError>>) -> impl IntoView {
    view! {
        <div class="alert-slot" role="alert">
            {move || error.get().map(|e| view! { <p class="alert error">{e.message()}</p> })}
        </div>
    }
}

/// What a list shows when it has nothing in it.
#[component]
pub fn EmptyState(children: Children) -> impl IntoView {
    view! { <div class="empty-state">{children()}</div> }
}

/// Something to run on an event (e.g. closing a dialog). One type for every closure, so that
/// the components taking one are compiled once rather than once per caller.
#[derive(Clone)]
pub struct Handler(std::sync::Arc<dyn Fn() + Send + Sync>);

impl Handler {
    pub fn run(&self) {
        (self.0)()
    }
}

impl<F: Fn() + Send + Sync + 'static> From<F> for Handler {
    fn from(f: F) -> Self {
        Self(std::sync::Arc::new(f))
    }
}

/// A modal dialog (the native `<dialog>`: focus stays inside, Escape closes it). Render it only
/// while it is open; `on_close` runs when the user closes it.
#[component]
pub fn Modal(#[prop(into)] title: String, #[prop(into)] on_close: Handler, children: Children) -> impl IntoView {
    let dialog = NodeRef::<leptos::html::Dialog>::new();
    Effect::new(move |_| {
        if let Some(d) = dialog.get()
            && !d.open()
        {
            let _ = d.show_modal();
            // Start at the first field of a form rather than at the close button.
            let first = ".modal-body input:not([readonly]), .modal-body select, .modal-body textarea";
            if let Ok(Some(field)) = d.query_selector(first) {
                use leptos::wasm_bindgen::JsCast;
                let _ = field.unchecked_into::<leptos::web_sys::HtmlElement>().focus();
            }
        }
    });
    // Closing (rather than only removing) the dialog gives the focus back to what opened it.
    on_cleanup(move || {
        if let Some(d) = dialog.get_untracked()
            && d.open()
        {
            d.close();
        }
    });
    let title_id = unique_id("dialog-title");
    let labelled_by = title_id.clone();
    let close = on_close.clone();
    view! {
        <dialog node_ref=dialog class="modal" aria-labelledby=labelled_by
            on:close=move |_| on_close.run()>
            <div class="modal-head">
                <h2 id=title_id>{title}</h2>
                <button type="button" class="icon-button" aria-label="Close" on:click=move |_| close.run()>"×"</button>
            </div>
            {children()}
        </dialog>
    }
}

/// Asks before something that cannot be undone; runs `action` on confirmation and shows its
/// error if it fails (the caller closes the dialog on success).
#[component]
pub fn ConfirmDialog(
    #[prop(into)] title: String,
    confirm_label: &'static str,
    action: Action<(), Result<(), ApiError>>,
    #[prop(into)] on_close: Handler,
    children: Children,
    /// Whether the user has done what the dialog asks first (e.g. typed a name).
    #[prop(into, optional)]
    ready: Option<Signal<bool>>,
) -> impl IntoView {
    let error = Signal::derive(move || action.value().get().and_then(Result::err));
    let blocked = move || action.pending().get() || ready.is_some_and(|r| !r.get());
    let cancel = on_close.clone();
    view! {
        <Modal title on_close>
            <div class="modal-body">
                {children()}
                <ActionError error/>
            </div>
            <div class="modal-actions">
                <button type="button" class="button secondary" on:click=move |_| cancel.run()>"Cancel"</button>
                <button type="button" class="button danger" disabled=blocked
                    aria-busy=move || action.pending().get().then_some("true")
                    on:click=move |_| { action.dispatch(()); }>
                    {move || if action.pending().get() { "Please wait…" } else { confirm_label }}
                </button>
            </div>
        </Modal>
    }
}

/// A labelled `<select>` over fixed options (`value`, `label`).
#[component]
pub fn SelectField(
    label: &'static str,
    name: &'static str,
    value: RwSignal<String>,
    options: Vec<(String, String)>,
    #[prop(optional)] hint: Option<&'static str>,
    #[prop(into, optional)] error: Signal<Option<String>>,
) -> impl IntoView {
    let hint_id = format!("{name}-hint");
    let error_id = format!("{name}-error");
    view! {
        <div class="field" class:invalid=move || error.with(Option::is_some)>
            <label for=name>{label}</label>
            <select id=name name=name
                aria-describedby=hint.map(|_| hint_id.clone())
                aria-invalid=move || error.with(Option::is_some).then_some("true")
                prop:value=move || value.get()
                on:change=move |ev| value.set(event_target_value(&ev))>
                {options.into_iter().map(|(v, l)| {
                    let selected = value.get_untracked() == v;
                    view! { <option value=v selected=selected>{l}</option> }
                }).collect_view()}
            </select>
            {hint.map(|hint| view! { <p class="hint" id=hint_id>{hint}</p> })}
            {move || error.get().map(|msg| view! { <p class="field-error" id=error_id.clone()>{msg}</p> })}
        </div>
    }
}

/// A labelled, optional multi-line text.
#[component]
pub fn TextAreaField(
    label: &'static str,
    name: &'static str,
    value: RwSignal<String>,
    #[prop(into, optional)] error: Signal<Option<String>>,
    #[prop(optional)] maxlength: Option<u32>,
) -> impl IntoView {
    let error_id = format!("{name}-error");
    view! {
        <div class="field" class:invalid=move || error.with(Option::is_some)>
            <label for=name>{label} <span class="optional">" (optional)"</span></label>
            <textarea id=name name=name rows="3" maxlength=maxlength bind:value=value
                aria-invalid=move || error.with(Option::is_some).then_some("true")></textarea>
            {move || error.get().map(|msg| view! { <p class="field-error" id=error_id.clone()>{msg}</p> })}
        </div>
    }
}

/// An answer of the API, loaded or to a form's action: `None` until the first one.
pub type Loaded<T> = Option<Result<T, ApiError>>;

/// What a screen loads from the API: a local resource (`LocalResource::new(fetch)`), fetched at
/// once, again whenever a signal that `fetch` reads before its first `.await` changes, and on
/// `refetch()`. An answer to an outdated request is dropped.
pub type Fetched<T> = LocalResource<Result<T, ApiError>>;

/// The one way a screen shows what it loads: inside a `<Transition>`, `label` until the first
/// answer, then the one error view or `shown` with the data. A resource read by `value` keeps
/// what is shown while it loads again, so nothing flickers.
pub fn loaded<T, V>(
    value: impl Fn() -> Loaded<T> + Send + Sync + 'static,
    label: &'static str,
    shown: impl Fn(T) -> V + Send + Sync + 'static,
) -> impl IntoView
where
    T: 'static,
    V: IntoView + 'static,
{
    transition(
        label,
        Box::new(move || match value() {
            None => view! { <Loading label/> }.into_any(),
            Some(Err(error)) => view! { <ErrorAlert error/> }.into_any(),
            Some(Ok(data)) => shown(data).into_any(),
        }),
    )
}

/// The `<Transition>` of [`loaded`], built once for every screen (not once per data type).
fn transition(label: &'static str, content: Box<dyn Fn() -> AnyView + Send + Sync>) -> AnyView {
    view! { <Transition fallback=move || view! { <Loading label/> }>{content}</Transition> }.into_any()
}

/// Hands `text` to the browser as a file download of type `mime`.
pub fn save_file(name: &str, mime: &str, text: &str) -> Result<(), leptos::wasm_bindgen::JsValue> {
    use leptos::wasm_bindgen::JsCast;
    use leptos::web_sys::{Blob, BlobPropertyBag, HtmlAnchorElement, Url, js_sys::Array};
    let options = BlobPropertyBag::new();
    options.set_type(mime);
    let blob = Blob::new_with_str_sequence_and_options(&Array::of1(&text.into()), &options)?;
    let url = Url::create_object_url_with_blob(&blob)?;
    let link: HtmlAnchorElement = document().create_element("a")?.unchecked_into();
    link.set_href(&url);
    link.set_download(name);
    link.click();
    // The download has its own copy once started; free the blob a little later.
    set_timeout(move || drop(Url::revoke_object_url(&url)), std::time::Duration::from_secs(30));
    Ok(())
}

/// Puts `text` on the clipboard; false when the browser refused.
pub async fn copy_text(text: &str) -> bool {
    let clipboard = window().navigator().clipboard();
    wasm_bindgen_futures::JsFuture::from(clipboard.write_text(text)).await.is_ok()
}

/// The actions of a table row: stacked in their column on wide screens; where tables become
/// cards, behind an "Actions" button that shows and hides them.
#[component]
pub fn RowActions(#[prop(into)] label: String, children: Children) -> impl IntoView {
    let open = RwSignal::new(false);
    let id = unique_id("row-actions");
    view! {
        <button type="button" class="button small secondary row-menu-toggle"
            aria-expanded=move || open.get().to_string() aria-controls=id.clone()
            on:click=move |_| open.update(|o| *o = !*o)>
            "Actions" <span class="visually-hidden">{format!(" for {label}")}</span> <span aria-hidden="true">" ▾"</span>
        </button>
        <div class="row-actions" class:open=move || open.get() id=id>{children()}</div>
    }
}
