use leptos::{ev::SubmitEvent, prelude::*};
use leptos_router::components::A;
use portal_types::SignupRequest;

use super::{NAME_MAX, PASSWORD_HINT, PASSWORD_MAX, PASSWORD_MIN};
use crate::api;
use crate::components::{AuthCard, Field, FormAlert, Notice, SubmitButton, field_error};

#[component]
pub fn SignUpPage() -> impl IntoView {
    let email = RwSignal::new(String::new());
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let signup = Action::new_unsync(|req: &SignupRequest| {
        let req = req.clone();
        async move { api::signup(&req).await }
    });
    let outcome = move || signup.value().get();
    let accepted = Memo::new(move |_| outcome().and_then(Result::ok).map(|a| a.message));
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        signup.dispatch(SignupRequest {
            email: email.get_untracked().trim().to_owned().into(),
            name: name.get_untracked().trim().to_owned().into(),
            password: password.get_untracked().into(),
            invitation_token: None,
        });
    };

    view! {
        <AuthCard title="Create your account">
            {move || match accepted.get() {
                Some(message) => view! {
                    <Notice>
                        <h2>"Check your inbox"</h2>
                        <p>{message}</p>
                        <p>"We sent a link to " <strong>{email.get_untracked()}</strong> ". Open it to verify your address, then sign in."</p>
                    </Notice>
                }.into_any(),
                None => view! {
                    <form on:submit=on_submit>
                        <FormAlert error=Signal::derive(move || outcome().and_then(Result::err)) fields=&["email", "name", "password"]/>
                        <Field label="E-mail" name="email" kind="email" autocomplete="email" value=email error=field_error(outcome, "email")/>
                        <Field label="Name" name="name" autocomplete="name" maxlength=NAME_MAX value=name error=field_error(outcome, "name")/>
                        <Field label="Password" name="password" kind="password" autocomplete="new-password"
                            minlength=PASSWORD_MIN maxlength=PASSWORD_MAX hint=PASSWORD_HINT
                            value=password error=field_error(outcome, "password")/>
                        <SubmitButton label="Create account" pending=signup.pending()/>
                    </form>
                }.into_any(),
            }}
            <p class="aside">"Already have an account? " <A href="/sign-in">"Sign in"</A></p>
        </AuthCard>
    }
}
