use leptos::{ev::SubmitEvent, prelude::*};
use leptos_router::{components::A, hooks::use_query_map};
use portal_types::ResetPasswordRequest;

use super::{PASSWORD_HINT, PASSWORD_MAX, PASSWORD_MIN};
use crate::api;
use crate::components::{AuthCard, Field, FormAlert, LinkNoLongerValid, Notice, SubmitButton, field_error};

#[component]
pub fn ResetPasswordPage() -> impl IntoView {
    let token = use_query_map().with_untracked(|q| q.get("token")).unwrap_or_default();
    let password = RwSignal::new(String::new());
    let reset = Action::new_unsync(|req: &ResetPasswordRequest| {
        let req = req.clone();
        async move { api::reset_password(&req).await }
    });
    let outcome = move || reset.value().get();
    #[derive(Clone, PartialEq)]
    enum Stage {
        Form,
        Done,
        BadLink(api::ApiError),
    }
    let stage = Memo::new(move |_| match outcome() {
        Some(Ok(())) => Stage::Done,
        Some(Err(e)) if e.is_bad_link() => Stage::BadLink(e),
        _ => Stage::Form,
    });
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        reset.dispatch(ResetPasswordRequest { token: token.clone().into(), password: password.get_untracked().into() });
    };
    let on_submit = StoredValue::new_local(on_submit);

    view! {
        <AuthCard title="Choose a new password">
            {move || match stage.get() {
                Stage::Done => view! {
                    <Notice>
                        <h2>"Your password has been changed"</h2>
                        <p>"Sign in with your new password."</p>
                    </Notice>
                    <A href="/sign-in" attr:class="button primary">"Sign in"</A>
                }.into_any(),
                Stage::BadLink(error) => view! {
                    <LinkNoLongerValid error>
                        <A href="/forgot-password" attr:class="button primary">"Request a new link"</A>
                    </LinkNoLongerValid>
                }.into_any(),
                Stage::Form => view! {
                    <form on:submit=move |ev| on_submit.with_value(|f| f(ev))>
                        <FormAlert error=Signal::derive(move || outcome().and_then(Result::err)) fields=&["password"]/>
                        <Field label="New password" name="password" kind="password" autocomplete="new-password"
                            minlength=PASSWORD_MIN maxlength=PASSWORD_MAX hint=PASSWORD_HINT
                            value=password error=field_error(outcome, "password")/>
                        <SubmitButton label="Set new password" pending=reset.pending()/>
                    </form>
                }.into_any(),
            }}
        </AuthCard>
    }
}
