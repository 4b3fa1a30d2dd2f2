use leptos::{ev::SubmitEvent, prelude::*};
use portal_types::{ChangePasswordRequest, UpdateMeRequest, User};

use super::{PASSWORD_HINT, PASSWORD_MAX, PASSWORD_MIN};
use crate::api;
use crate::components::{Field, FormAlert, Loading, Notice, SubmitButton, field_error, set_title};
use crate::session::use_auth;

#[component]
pub fn AccountPage() -> impl IntoView {
    set_title("Account");
    let auth = use_auth();
    let me = LocalResource::new(move || auth.call(|token| async move { api::me(&token).await }));
    view! {
        <section class="page">
            <h1>"Account"</h1>
            <Suspense fallback=|| view! { <Loading/> }>
                {move || Suspend::new(async move {
                    match me.await {
                        Ok(user) => view! {
                            <p class="lead">"Signed in as " <strong>{user.email.clone()}</strong></p>
                            <div class="stack">
                                <ProfileForm user/>
                                <ChangePasswordForm/>
                            </div>
                        }.into_any(),
                        Err(e) => view! { <p class="alert error" role="alert">{e.message()}</p> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn ProfileForm(user: User) -> impl IntoView {
    let auth = use_auth();
    let name = RwSignal::new(user.name);
    let save = Action::new_unsync(move |name: &String| {
        let body = UpdateMeRequest { name: Some(name.clone()) };
        async move {
            let user = auth
                .call(|token| {
                    let body = body.clone();
                    async move { api::update_me(&token, &body).await }
                })
                .await?;
            auth.set_user(user);
            Ok(())
        }
    });
    let outcome = move || save.value().get();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        save.dispatch(name.get_untracked().trim().to_owned());
    };
    view! {
        <form class="card" on:submit=on_submit>
            <h2>"Profile"</h2>
            <FormAlert error=Signal::derive(move || outcome().and_then(Result::err)) fields=&["name"]/>
            <Show when=move || matches!(outcome(), Some(Ok(())))>
                <Notice>"Your name has been saved."</Notice>
            </Show>
            <Field label="Name" name="name" autocomplete="name" maxlength=100 value=name error=field_error(outcome, "name")/>
            <SubmitButton label="Save name" pending=save.pending()/>
        </form>
    }
}

#[component]
fn ChangePasswordForm() -> impl IntoView {
    let auth = use_auth();
    let current = RwSignal::new(String::new());
    let new = RwSignal::new(String::new());
    let change = Action::new_unsync(move |body: &ChangePasswordRequest| {
        let body = body.clone();
        async move {
            auth.call(|token| {
                let body = body.clone();
                async move { api::change_password(&token, &body).await }
            })
            .await
        }
    });
    let outcome = move || change.value().get();
    Effect::new(move |_| {
        if let Some(Ok(())) = change.value().get() {
            current.set(String::new());
            new.set(String::new());
        }
    });
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        change.dispatch(ChangePasswordRequest {
            current_password: current.get_untracked(),
            new_password: new.get_untracked(),
        });
    };
    view! {
        <form class="card" on:submit=on_submit>
            <h2>"Password"</h2>
            <FormAlert error=Signal::derive(move || outcome().and_then(Result::err)) fields=&["current_password", "new_password"]/>
            <Show when=move || matches!(outcome(), Some(Ok(())))>
                <Notice>"Your password has been changed."</Notice>
            </Show>
            <Field label="Current password" name="current_password" kind="password" autocomplete="current-password"
                value=current error=field_error(outcome, "current_password")/>
            <Field label="New password" name="new_password" kind="password" autocomplete="new-password"
                minlength=PASSWORD_MIN maxlength=PASSWORD_MAX hint=PASSWORD_HINT
                value=new error=field_error(outcome, "new_password")/>
            <SubmitButton label="Change password" pending=change.pending()/>
        </form>
    }
}
