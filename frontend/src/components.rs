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

/// Success messages of changes made in dialogs and lists ("API key Billing revoked."), shown for
/// a while at the foot of the window and announced politely. Provided once, by the app.
#[derive(Clone, Copy)]
pub struct Toasts {
    shown: RwSignal<Vec<(u64, String)>>,
    next: StoredValue<u64>,
}

/// How long a success message stays.
const TOAST_FOR: std::time::Duration = std::time::Duration::from_secs(10);

impl Toasts {
    pub fn provide() {
        provide_context(Toasts { shown: RwSignal::new(Vec::new()), next: StoredValue::new(0) });
    }

    fn dismiss(&self, id: u64) {
        self.shown.try_update(|shown| shown.retain(|(i, _)| *i != id));
    }

    /// Says that a change succeeded (the last three messages stay in view together).
    pub fn notify(&self, message: impl Into<String>) {
        let toasts = *self;
        let id = toasts.next.get_value();
        toasts.next.set_value(id + 1);
        toasts.shown.update(|shown| {
            shown.push((id, message.into()));
            let extra = shown.len().saturating_sub(3);
            shown.drain(..extra);
        });
        set_timeout(move || toasts.dismiss(id), TOAST_FOR);
    }
}

/// The app's success messages (call at a component's creation; `notify` may run later, after
/// an `.await`).
pub fn use_toasts() -> Toasts {
    expect_context::<Toasts>()
}

/// Where [`Toasts::notify`]'s messages show.
#[component]
pub fn ToastArea() -> impl IntoView {
    let toasts = use_toasts();
    view! {
        <div class="toasts" role="status" aria-live="polite">
            <For each=move || toasts.shown.get() key=|(id, _)| *id let:toast>
                <p class="toast">
                    <span>{toast.1}</span>
                    <button type="button" class="icon-button" aria-label="Dismiss"
                        on:click=move |_| toasts.dismiss(toast.0)>"×"</button>
                </p>
            </For>
        </div>
    }
}

#[component]
pub fn SubmitButton(
    label: &'static str,
    #[prop(into)] pending: Signal<bool>,
    /// Takes access away or deletes: a red button.
    #[prop(optional)]
    danger: bool,
) -> impl IntoView {
    view! {
        <button type="submit" class=if danger { "button danger" } else { "button primary" } disabled=pending aria-busy=move || pending.get().then_some("true")>
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

/// Asked before the user closes a dialog: `false` keeps it open (and the content says why).
type CloseHold = std::sync::Arc<dyn Fn() -> bool + Send + Sync>;

/// What the content of a [`Modal`] can do with it (`use_modal()` inside one): close it, or hold
/// the user's closing back until a question is answered. Cheap to copy.
#[derive(Clone, Copy)]
pub struct ModalControl {
    dialog: NodeRef<leptos::html::Dialog>,
    hold: StoredValue<Option<CloseHold>>,
    /// What had the focus when the dialog opened (the button that opened it).
    opener: StoredValue<Option<leptos::web_sys::Element>, LocalStorage>,
}

impl ModalControl {
    /// Closes the dialog (its `on_close` runs on the `close` event, which removes it). The focus
    /// goes back to what opened it; when that is gone (its row was refreshed behind the dialog),
    /// to the page's main region rather than nowhere.
    pub fn close(&self) {
        let Some(dialog) = self.dialog.get_untracked() else { return };
        if dialog.open() {
            dialog.close();
            self.restore_focus();
        }
    }

    /// What Escape, × and Cancel do: closes unless the content holds it back.
    pub fn request_close(&self) {
        if self.hold.with_value(|hold| hold.as_ref().is_none_or(|may_close| may_close())) {
            self.close();
        }
    }

    /// Asks `may_close` before the user closes the dialog (not when it closes itself).
    pub fn hold_close(&self, may_close: impl Fn() -> bool + Send + Sync + 'static) {
        self.hold.set_value(Some(std::sync::Arc::new(may_close)));
    }

    /// Moves the focus to the first element of the dialog matching `selector`.
    pub fn focus(&self, selector: &str) {
        use leptos::wasm_bindgen::JsCast;
        let found = self.dialog.get_untracked().and_then(|d| d.query_selector(selector).ok().flatten());
        if let Some(el) = found.and_then(|el| el.dyn_into::<leptos::web_sys::HtmlElement>().ok()) {
            let _ = el.focus();
        }
    }

    fn restore_focus(&self) {
        use leptos::wasm_bindgen::JsCast;
        let opener = self.opener.with_value(|o| o.clone());
        match opener.filter(|o| o.is_connected() && o.tag_name() != "BODY") {
            Some(opener) => {
                if let Ok(el) = opener.dyn_into::<leptos::web_sys::HtmlElement>() {
                    let _ = el.focus();
                }
            }
            None => focus_main(),
        }
    }
}

/// Gives the focus to the page's main region (the skip link's target).
fn focus_main() {
    use leptos::wasm_bindgen::JsCast;
    if let Some(main) =
        document().get_element_by_id("main").and_then(|m| m.dyn_into::<leptos::web_sys::HtmlElement>().ok())
    {
        let _ = main.focus();
    }
}

/// The controls of the [`Modal`] around the caller.
pub fn use_modal() -> ModalControl {
    expect_context::<ModalControl>()
}

/// A modal dialog: the native `<dialog>` opened with `showModal()` (a backdrop, the page behind
/// inert, focus kept inside, Escape closes it). Render it only while it is open, and outside any
/// list that reloads, so that it is never taken out of the document while open (that ends its
/// modality). Every way of closing it (×, Escape, Cancel, `close_when`, [`ModalControl::close`])
/// closes the `<dialog>` first, which gives the focus back to its opener, and then runs
/// `on_close`, which should stop rendering it.
#[component]
pub fn Modal(
    #[prop(into)] title: String,
    #[prop(into)] on_close: Handler,
    /// Closes the dialog once this is true (e.g. when its form's action succeeded).
    #[prop(into, optional)]
    close_when: Option<Signal<bool>>,
    children: Children,
) -> impl IntoView {
    let dialog = NodeRef::<leptos::html::Dialog>::new();
    let control = ModalControl { dialog, hold: StoredValue::new(None), opener: StoredValue::new_local(None) };
    provide_context(control);
    Effect::new(move |_| {
        if let Some(d) = dialog.get()
            && !d.open()
        {
            control.opener.set_value(document().active_element());
            let _ = d.show_modal();
            // Start at the first field of a form rather than at the close button.
            let first = ".modal-body input:not([readonly]), .modal-body select, .modal-body textarea:not([readonly])";
            if let Ok(Some(field)) = d.query_selector(first) {
                use leptos::wasm_bindgen::JsCast;
                let _ = field.unchecked_into::<leptos::web_sys::HtmlElement>().focus();
            }
        }
    });
    Effect::new(move |_| {
        if close_when.is_some_and(|when| when.get()) {
            control.close();
        }
    });
    // Removed while open (the page was left): close it, so the focus is not lost with it.
    on_cleanup(move || control.close());
    let title_id = unique_id("dialog-title");
    let labelled_by = title_id.clone();
    view! {
        <dialog node_ref=dialog class="modal" aria-labelledby=labelled_by
            on:cancel=move |ev: leptos::ev::Event| { ev.prevent_default(); control.request_close(); }
            on:close=move |_| {
                let opener = control.opener.try_with_value(|o| o.clone()).flatten();
                on_close.run();
                // What closing changed may take the opener away with its row (a removed member):
                // then the focus goes to the main region rather than nowhere.
                request_animation_frame(move || {
                    let lost = document().active_element().is_none_or(|a| a.tag_name() == "BODY");
                    if lost && !opener.is_some_and(|o| o.is_connected()) {
                        focus_main();
                    }
                });
            }>
            <div class="modal-head">
                <h2 id=title_id>{title}</h2>
                <button type="button" class="icon-button" aria-label="Close" on:click=move |_| control.request_close()>"×"</button>
            </div>
            {children()}
        </dialog>
    }
}

/// The Cancel button of a dialog: closes it as × and Escape do.
#[component]
pub fn CancelButton(#[prop(default = "Cancel")] label: &'static str) -> impl IntoView {
    let modal = use_modal();
    view! { <button type="button" class="button secondary" on:click=move |_| modal.request_close()>{label}</button> }
}

/// The buttons at the end of a dialog's form: Cancel, then the submit button.
#[component]
pub fn DialogButtons(
    label: &'static str,
    #[prop(into)] pending: Signal<bool>,
    #[prop(optional)] danger: bool,
) -> impl IntoView {
    view! {
        <div class="dialog-buttons">
            <CancelButton/>
            <SubmitButton label pending danger/>
        </div>
    }
}

/// Asks before a change to someone's access, saying what it does (`children`); runs `action` on
/// confirmation, shows its error if it fails, and closes once it succeeds.
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
    /// Whether confirming takes access away or deletes (a red button); true unless said otherwise.
    #[prop(default = true)]
    destructive: bool,
    /// What the change does to the page (e.g. a row goes), run once the dialog has closed and
    /// given the focus back, so that the focus does not go with the row.
    #[prop(into, optional)]
    after: Option<Handler>,
) -> impl IntoView {
    let error = Signal::derive(move || action.value().get().and_then(Result::err));
    let done = Signal::derive(move || matches!(action.value().get(), Some(Ok(()))));
    let blocked = move || action.pending().get() || ready.is_some_and(|r| !r.get());
    let on_close = move || {
        if let Some(after) = after.as_ref().filter(|_| matches!(action.value().get_untracked(), Some(Ok(())))) {
            after.run();
        }
        on_close.run();
    };
    view! {
        <Modal title on_close close_when=done>
            <div class="modal-body">
                {children()}
                <ActionError error/>
            </div>
            <div class="modal-actions">
                <CancelButton/>
                <button type="button" class=if destructive { "button danger" } else { "button primary" } disabled=blocked
                    aria-busy=move || action.pending().get().then_some("true")
                    on:click=move |_| { action.dispatch(()); }>
                    {move || if action.pending().get() { "Please wait…" } else { confirm_label }}
                </button>
            </div>
        </Modal>
    }
}

/// What a secret shown once is: it decides the words around it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SecretKind {
    /// A new API key (created, rolled, or replacing a compromised one).
    #[default]
    ApiKey,
    /// The signing secret of a new webhook endpoint.
    SigningSecret,
    /// A webhook endpoint's signing secret after a rotation.
    RotatedSigningSecret,
}

impl SecretKind {
    fn title(self) -> &'static str {
        match self {
            Self::ApiKey => "Copy your new API key now",
            Self::SigningSecret => "Copy the signing secret now",
            Self::RotatedSigningSecret => "Copy the new signing secret now",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Self::ApiKey => "Your new API key",
            Self::SigningSecret => "Signing secret",
            Self::RotatedSigningSecret => "New signing secret",
        }
    }

    fn advice(self) -> &'static str {
        match self {
            Self::ApiKey => {
                " Store it somewhere safe, such as your secrets manager. It cannot be shown again: if you lose it, roll the key."
            }
            Self::SigningSecret => {
                " Your endpoint verifies each request's signature with it. If you lose it, rotate it."
            }
            Self::RotatedSigningSecret => " Put it in your endpoint's configuration now.",
        }
    }

    fn done(self) -> &'static str {
        match self {
            Self::ApiKey => "I have stored the key",
            Self::SigningSecret | Self::RotatedSigningSecret => "I have stored the secret",
        }
    }
}

/// A secret just made: shown this once, in full, in a wrapping monospace block, with Copy and a
/// clear warning. `copied` says whether Copy worked.
#[component]
pub fn SecretOnceBanner(
    secret: String,
    #[prop(optional)] kind: SecretKind,
    #[prop(optional)] copied: Option<RwSignal<Option<bool>>>,
) -> impl IntoView {
    let copied = copied.unwrap_or_else(|| RwSignal::new(None));
    let value = secret.clone();
    let copy = move |_| {
        let value = value.clone();
        leptos::task::spawn_local(async move { copied.set(Some(copy_text(&value).await)) });
    };
    let field = unique_id("secret");
    // The secret replaces the form that had the focus: move it to the secret (selecting it).
    let block = NodeRef::<leptos::html::Textarea>::new();
    Effect::new(move |_| {
        if let Some(block) = block.get() {
            let _ = block.focus();
        }
    });
    view! {
        <div class="secret-banner" role="alert">
            <h3>{kind.title()}</h3>
            <p class="warning">
                <strong>"This is the only time the secret is shown."</strong>
                {kind.advice()}
            </p>
            <label for=field.clone()>{kind.label()}</label>
            // A textarea: it wraps, so every character is in view at any width, and selects whole.
            <textarea node_ref=block id=field class="secret" readonly rows="2" spellcheck="false" autocomplete="off"
                prop:value=secret
                on:focus=move |ev| {
                    use leptos::wasm_bindgen::JsCast;
                    if let Some(el) = ev.target().and_then(|t| t.dyn_into::<leptos::web_sys::HtmlTextAreaElement>().ok()) {
                        el.select();
                    }
                }></textarea>
            <div class="secret-copy">
                <button type="button" class="button primary" on:click=copy>"Copy"</button>
                <p class="copy-status" role="status">
                    {move || match copied.get() {
                        Some(true) => "Copied to the clipboard.",
                        Some(false) => "Could not copy: select it and copy it yourself.",
                        None => "",
                    }}
                </p>
            </div>
        </div>
    }
}

/// The last step of a dialog that made a secret: what was made (`children`), the secret, and a
/// button that closes the dialog. Closing before Copy worked (by that button, ×, Escape) asks
/// "Have you copied the secret?" first.
#[component]
pub fn SecretStep(secret: String, children: Children, #[prop(optional)] kind: SecretKind) -> impl IntoView {
    let modal = use_modal();
    let copied = RwSignal::new(None::<bool>);
    let asking = RwSignal::new(false);
    // Asked once: a second request (e.g. Escape again) closes.
    modal.hold_close(move || {
        if copied.get_untracked() == Some(true) || asking.get_untracked() {
            true
        } else {
            asking.set(true);
            false
        }
    });
    let why = move || {
        if copied.get() == Some(false) {
            " Copying did not work: select the secret and copy it yourself."
        } else {
            " You have not pressed Copy."
        }
    };
    view! {
        <div class="modal-body">
            {children()}
            <SecretOnceBanner secret kind copied/>
            <Show when=move || asking.get()>
                <div class="alert warning" role="alert">
                    <p><strong>"Have you copied the secret?"</strong> {why}
                    " Once this dialog is closed, nobody can show it again."</p>
                </div>
            </Show>
        </div>
        <div class="modal-actions">
            {move || if asking.get() {
                let back = NodeRef::<leptos::html::Button>::new();
                // The button pressed is gone: the focus goes to the safe answer.
                Effect::new(move |_| if let Some(b) = back.get() { let _ = b.focus(); });
                view! {
                    <button node_ref=back type="button" class="button secondary"
                        on:click=move |_| { asking.set(false); modal.focus("textarea.secret"); }>"Back to the secret"</button>
                    <button type="button" class="button danger" on:click=move |_| modal.close()>"Close without copying"</button>
                }.into_any()
            } else {
                view! {
                    <button type="button" class="button primary" on:click=move |_| modal.request_close()>{kind.done()}</button>
                }.into_any()
            }}
        </div>
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

/// The actions of a table row, in a menu behind its "⋯" button ("Actions for …" to a screen
/// reader); Escape closes it.
#[component]
pub fn RowActions(#[prop(into)] label: String, children: Children) -> impl IntoView {
    let open = RwSignal::new(false);
    let id = unique_id("row-actions");
    // Escape closes the menu and gives the focus back to its button.
    let toggle = NodeRef::<leptos::html::Button>::new();
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" && open.get_untracked() {
            open.set(false);
            if let Some(button) = toggle.get_untracked() {
                let _ = button.focus();
            }
        }
    };
    view! {
        <div class="row-menu" on:keydown=on_keydown>
            <button type="button" class="button small secondary row-menu-toggle" node_ref=toggle
                aria-expanded=move || open.get().to_string() aria-controls=id.clone()
                on:click=move |_| open.update(|o| *o = !*o)>
                <span aria-hidden="true">"⋯"</span> <span class="visually-hidden">{format!("Actions for {label}")}</span>
            </button>
            <div class="row-actions" class:open=move || open.get() id=id>{children()}</div>
        </div>
    }
}

/// Writes a page's search, filters and order into the address as they change (replacing the
/// entry: the back button leaves the page, not each keystroke). `pairs` reads the signals; a
/// pair without a value is left out.
pub fn keep_in_address<const N: usize>(pairs: impl Fn() -> [(&'static str, Option<String>); N] + 'static) {
    let navigate = leptos_router::hooks::use_navigate();
    let location = use_location();
    Effect::new(move |_| {
        let Ok(params) = leptos::web_sys::UrlSearchParams::new() else { return };
        for (name, value) in pairs() {
            if let Some(value) = value {
                params.append(name, &value);
            }
        }
        let query: String = params.to_string().into();
        let wanted = if query.is_empty() { String::new() } else { format!("?{query}") };
        if location.search.get_untracked().trim_start_matches('?') != wanted.trim_start_matches('?') {
            let path = location.pathname.get_untracked();
            navigate(
                &format!("{path}{wanted}"),
                NavigateOptions { replace: true, scroll: false, ..Default::default() },
            );
        }
    });
}
