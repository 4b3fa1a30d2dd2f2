use leptos::{ev::SubmitEvent, prelude::*};
use portal_types::{ChangePasswordRequest, SessionInfo, SessionList, UpdateMeRequest, User};
use uuid::Uuid;

use super::{NAME_MAX, PASSWORD_HINT, PASSWORD_MAX, PASSWORD_MIN};
use crate::components::{Field, FormAlert, Notice, SubmitButton, field_error, loaded, set_title};
use crate::session::use_auth;
use crate::{api, format};

#[component]
pub fn AccountPage() -> impl IntoView {
    set_title("Account");
    let auth = use_auth();
    let me = LocalResource::new(move || auth.call(|token| async move { api::me(&token).await }));
    view! {
        <section class="page">
            <h1>"Account"</h1>
            {loaded(move || me.get(), "Loading your account…", move |user: User| view! {
                <p class="lead">"Signed in as " <strong>{user.email.clone()}</strong></p>
                <div class="stack">
                    <ProfileForm user/>
                    <ChangePasswordForm/>
                    <super::two_factor::TwoFactorCard/>
                    <SessionsCard/>
                </div>
            })}
        </section>
    }
}

#[component]
fn ProfileForm(user: User) -> impl IntoView {
    let auth = use_auth();
    let name = RwSignal::new(user.name);
    let save = Action::new_unsync(move |name: &String| {
        let body = UpdateMeRequest { name: Some(name.clone().into()) };
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
            <Field label="Name" name="name" autocomplete="name" maxlength=NAME_MAX value=name error=field_error(outcome, "name")/>
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
            current_password: current.get_untracked().into(),
            new_password: new.get_untracked().into(),
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

/// Where the account is signed in, with a way to end any other session (its access ends at once).
#[component]
fn SessionsCard() -> impl IntoView {
    let auth = use_auth();
    let sessions = LocalResource::new(move || auth.call(|token| async move { api::sessions(&token).await }));
    // `Some(session)`: that one; `None`: every other one.
    let end = Action::new_unsync(move |target: &Option<Uuid>| {
        let target = *target;
        async move {
            let ended = match target {
                Some(id) => auth.call(move |token| async move { api::end_session(&token, id).await }).await,
                None => auth.call(|token| async move { api::end_other_sessions(&token).await.map(drop) }).await,
            };
            sessions.refetch();
            ended
        }
    });
    let error = Signal::derive(move || end.value().get().and_then(Result::err));
    view! {
        <section class="card" aria-labelledby="sessions-heading">
            <h2 id="sessions-heading">"Sessions"</h2>
            <p class="hint">"Where your account is signed in. Sign out a device you do not recognise: its access ends at once."</p>
            <FormAlert error/>
            {loaded(move || sessions.get(), "Loading your sessions…", move |list: SessionList| {
                let others = list.items.iter().any(|s| !s.current);
                view! {
                    <div class="table-wrap">
                        <table class="data-table">
                            <caption class="visually-hidden">"Your sessions"</caption>
                            <thead>
                                <tr>
                                    <th scope="col">"Device"</th>
                                    <th scope="col">"Address"</th>
                                    <th scope="col">"Signed in"</th>
                                    <th scope="col">"Last used"</th>
                                    <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                                </tr>
                            </thead>
                            <tbody>
                                {list.items.into_iter().map(|session| view! { <SessionRow session end/> }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                    <Show when=move || others>
                        <button type="button" class="button secondary" disabled=move || end.pending().get()
                            on:click=move |_| { end.dispatch(None); }>"Sign out everywhere else"</button>
                    </Show>
                }
            })}
        </section>
    }
}

#[component]
fn SessionRow(session: SessionInfo, end: Action<Option<Uuid>, Result<(), api::ApiError>>) -> impl IntoView {
    let device = format::device(session.user_agent.as_deref());
    let label = format!("Sign out {device}");
    let id = session.id;
    view! {
        <tr>
            <td data-label="Device">
                <span title=session.user_agent.clone().unwrap_or_default()>{device}</span>
            </td>
            <td data-label="Address">{session.ip.clone().unwrap_or_else(|| "Unknown".to_owned())}</td>
            <td data-label="Signed in">
                <time datetime=format::iso(session.created_at)>{format::date_time(session.created_at)}</time>
                <span class="small muted" data-session-method=session.started_with.clone()>
                    {match &session.sso_connection {
                        Some(name) => format!(" with SSO ({name})"),
                        None if session.started_with.starts_with("sso:") => " with SSO".to_owned(),
                        None => " with a password".to_owned(),
                    }}
                </span>
            </td>
            <td data-label="Last used">
                <time datetime=format::iso(session.last_used_at) title=format::date_time(session.last_used_at)>
                    {format::relative(session.last_used_at, format::now())}
                </time>
            </td>
            <td class="actions">
                {if session.current {
                    view! { <span class="badge">"This device"</span> }.into_any()
                } else {
                    view! {
                        <button type="button" class="button small danger-outline" aria-label=label
                            disabled=move || end.pending().get() on:click=move |_| { end.dispatch(Some(id)); }>"Sign out"</button>
                    }.into_any()
                }}
            </td>
        </tr>
    }
}
