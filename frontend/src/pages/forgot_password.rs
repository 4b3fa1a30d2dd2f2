use leptos::{ev::SubmitEvent, prelude::*};
use leptos_router::components::A;

use crate::api;
use crate::components::{AuthCard, Field, FormAlert, Notice, SubmitButton, field_error};

#[component]
pub fn ForgotPasswordPage() -> impl IntoView {
    let email = RwSignal::new(String::new());
    let request = Action::new_unsync(|email: &String| {
        let email = email.clone();
        async move { api::forgot_password(&email).await }
    });
    let outcome = move || request.value().get();
    let accepted = Memo::new(move |_| outcome().and_then(Result::ok).map(|a| a.message));
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        request.dispatch(email.get_untracked().trim().to_owned());
    };

    view! {
        <AuthCard title="Reset your password">
            {move || match accepted.get() {
                Some(message) => view! {
                    <Notice>
                        <h2>"Check your inbox"</h2>
                        <p>{message}</p>
                    </Notice>
                }.into_any(),
                None => view! {
                    <p>"Enter the e-mail address of your account and we will mail you a link to choose a new password."</p>
                    <form on:submit=on_submit>
                        <FormAlert error=Signal::derive(move || outcome().and_then(Result::err)) fields=&["email"]/>
                        <Field label="E-mail" name="email" kind="email" autocomplete="email" value=email error=field_error(outcome, "email")/>
                        <SubmitButton label="Send reset link" pending=request.pending()/>
                    </form>
                }.into_any(),
            }}
            <p class="aside"><A href="/sign-in">"Back to sign in"</A></p>
        </AuthCard>
    }
}
