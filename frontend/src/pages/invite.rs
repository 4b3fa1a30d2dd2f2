//! Where a mailed invitation link lands (`/invite?token=`): shows the team, the inviter and the
//! role, then signs the invitee in or up (the address filled in) and joins the team.

use leptos::{ev::SubmitEvent, prelude::*};
use leptos_router::{
    NavigateOptions,
    components::A,
    hooks::{use_navigate, use_query_map},
};
use portal_types::{InvitationPreview, InvitationState, LoginRequest, SignupRequest, Team};

use super::{NAME_MAX, PASSWORD_HINT, PASSWORD_MAX, PASSWORD_MIN};
use crate::api::{self, ApiError};
use crate::components::{AuthCard, ErrorAlert, Field, FormAlert, Loading, field_error};
use crate::format;
use crate::session::{Auth, use_auth};
use crate::teams::use_teams;

#[component]
pub fn InvitePage() -> impl IntoView {
    let token = use_query_map().with_untracked(|q| q.get("token")).unwrap_or_default();
    let secret = token.clone();
    let preview = LocalResource::new(move || api::preview_invitation(secret.clone()));
    view! {
        <AuthCard title="Team invitation">
            {move || match preview.get() {
                None => view! { <Loading label="Checking your invitation…"/> }.into_any(),
                Some(Ok(p)) if p.state == InvitationState::Pending => view! { <Offer preview=p token=token.clone()/> }.into_any(),
                Some(Ok(p)) => view! { <NoLongerValid state=p.state/> }.into_any(),
                Some(Err(e)) if e.status() == Some(404) => view! { <NotFound/> }.into_any(),
                Some(Err(error)) => view! { <ErrorAlert error/> }.into_any(),
            }}
        </AuthCard>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    view! {
        <div class="alert error" role="alert">
            <h2>"Invitation not found"</h2>
            <p>"This invitation link is not valid. If you were sent a newer invitation, use the link in that e-mail."</p>
        </div>
        <A href="/dashboard" attr:class="button secondary">"Go to the Partner Portal"</A>
    }
}

#[component]
fn NoLongerValid(state: InvitationState) -> impl IntoView {
    let (title, text) = match state {
        InvitationState::Expired => {
            ("This invitation has expired", "Invitations are valid for 7 days. Ask the team for a new one.")
        }
        InvitationState::Accepted => {
            ("This invitation was already accepted", "Sign in to open the team from your dashboard.")
        }
        InvitationState::Revoked | InvitationState::Pending => {
            ("This invitation was revoked", "The team withdrew it. Ask them for a new one if you still need access.")
        }
    };
    view! {
        <div class="alert error" role="alert">
            <h2>{title}</h2>
            <p>{text}</p>
        </div>
        <A href="/dashboard" attr:class="button secondary">"Go to the Partner Portal"</A>
    }
}

/// How the invitee gets an account before joining.
#[derive(Clone)]
enum Join {
    SignUp { name: String, password: String },
    SignIn { password: String },
    AsSignedIn,
}

async fn join(auth: Auth, token: String, email: String, how: Join) -> Result<Team, ApiError> {
    let login =
        |password: String| LoginRequest { email: email.clone().into(), password: password.into(), sso_link: None };
    match how {
        Join::SignUp { name, password } => {
            let signup = SignupRequest {
                email: email.clone().into(),
                name: name.into(),
                password: password.clone().into(),
                invitation_token: Some(token.clone().into()),
            };
            api::signup(&signup).await?;
            // The invitation proved the address: the new account can sign in at once.
            auth.signed_in(api::login(&login(password)).await?);
        }
        Join::SignIn { password } => auth.signed_in(api::login(&login(password)).await?),
        Join::AsSignedIn => {}
    }
    auth.call(move |t| api::accept_invitation(t, token.clone())).await
}

#[component]
fn Offer(preview: InvitationPreview, token: String) -> impl IntoView {
    let auth = use_auth();
    let teams = use_teams();
    let navigate = use_navigate();
    let email = preview.email.clone();
    let accept = Action::new_unsync(move |how: &Join| join(auth, token.clone(), email.clone(), how.clone()));
    Effect::new(move |_| {
        if let Some(Ok(team)) = accept.value().get() {
            teams.reload();
            navigate(&format!("/teams/{}", team.id), NavigateOptions::default());
        }
    });
    let error = Signal::derive(move || accept.value().get().and_then(Result::err));
    let restored = Memo::new(move |_| auth.restored());
    let signed_in_as = Memo::new(move |_| auth.user().map(|u| u.email));
    let invited = preview.email.clone();
    let account_exists = preview.account_exists;
    let for_form = preview.email.clone();
    view! {
        <div class="invitation">
            <p class="lead">
                <strong>{preview.invited_by_name.clone()}</strong> " invited you to join "
                <strong>{preview.team_name.clone()}</strong> " as " <strong>{preview.role.label()}</strong> "."
            </p>
            {preview.message.clone().map(|m| view! {
                <blockquote class="personal-message">
                    <p>{m}</p>
                    <footer>"— " {preview.invited_by_name.clone()}</footer>
                </blockquote>
            })}
            <p class="muted">
                "For " <strong>{preview.email.clone()}</strong> ". Expires "
                <time datetime=format::iso(preview.expires_at)>{format::date_time(preview.expires_at)}</time> "."
            </p>
        </div>
        {move || {
            let email = for_form.clone();
            if accept.pending().get() || matches!(accept.value().get(), Some(Ok(_))) {
                view! { <Loading label="Joining the team…"/> }.into_any()
            } else if !restored.get() {
                view! { <Loading/> }.into_any()
            } else {
                match signed_in_as.get() {
                    Some(me) if me.eq_ignore_ascii_case(&invited) => view! {
                        <AcceptAsSignedIn me accept error/>
                    }.into_any(),
                    Some(me) => view! { <WrongAccount me invited=invited.clone() error/> }.into_any(),
                    None if account_exists => view! { <SignInToJoin email accept error/> }.into_any(),
                    None => view! { <SignUpToJoin email accept error/> }.into_any(),
                }
            }
        }}
    }
}

#[component]
fn AcceptAsSignedIn(
    me: String,
    accept: Action<Join, Result<Team, ApiError>>,
    error: Signal<Option<ApiError>>,
) -> impl IntoView {
    view! {
        <FormAlert error/>
        <AlreadyMember error/>
        <p>"Signed in as " <strong>{me}</strong> "."</p>
        <button type="button" class="button primary wide" on:click=move |_| { accept.dispatch(Join::AsSignedIn); }>
            "Accept invitation"
        </button>
    }
}

/// Signed in with another address than the invited one: the server would refuse.
#[component]
fn WrongAccount(me: String, invited: String, error: Signal<Option<ApiError>>) -> impl IntoView {
    let auth = use_auth();
    let sign_out = Action::new_unsync(move |_: &()| async move {
        let _ = api::logout().await;
        auth.signed_out();
    });
    view! {
        <FormAlert error/>
        <div class="alert error" role="alert">
            <h2>"This invitation is for another account"</h2>
            <p>"It was sent to " <strong>{invited.clone()}</strong> ", but you are signed in as " <strong>{me}</strong> "."</p>
            <p>"Sign out, then sign in or sign up as " <strong>{invited.clone()}</strong> " to join."</p>
        </div>
        <button type="button" class="button primary wide" disabled=sign_out.pending() on:click=move |_| { sign_out.dispatch(()); }>
            {format!("Sign out and continue as {invited}")}
        </button>
    }
}

/// 409 `already_member`: nothing to do but open the team.
#[component]
fn AlreadyMember(error: Signal<Option<ApiError>>) -> impl IntoView {
    view! {
        <Show when=move || error.with(|e| e.as_ref().and_then(|e| e.code()) == Some("already_member"))>
            <A href="/dashboard" attr:class="button secondary">"Go to your teams"</A>
        </Show>
    }
}

#[component]
fn SignInToJoin(
    email: String,
    accept: Action<Join, Result<Team, ApiError>>,
    error: Signal<Option<ApiError>>,
) -> impl IntoView {
    let password = RwSignal::new(String::new());
    let email = RwSignal::new(email);
    let outcome = move || accept.value().get().map(|r| r.map(drop));
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        accept.dispatch(Join::SignIn { password: password.get_untracked() });
    };
    view! {
        <h2>"Sign in to join"</h2>
        <form on:submit=on_submit>
            <FormAlert error fields=&["password"]/>
            <AlreadyMember error/>
            <EmailReadOnly email/>
            <Field label="Password" name="password" kind="password" autocomplete="current-password" value=password
                error=field_error(outcome, "password")/>
            <button type="submit" class="button primary">"Sign in and join"</button>
        </form>
        <p class="aside"><A href="/forgot-password">"Forgot password?"</A></p>
    }
}

#[component]
fn SignUpToJoin(
    email: String,
    accept: Action<Join, Result<Team, ApiError>>,
    error: Signal<Option<ApiError>>,
) -> impl IntoView {
    let name = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let email = RwSignal::new(email);
    let outcome = move || accept.value().get().map(|r| r.map(drop));
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        accept.dispatch(Join::SignUp {
            name: name.get_untracked().trim().to_owned(),
            password: password.get_untracked(),
        });
    };
    view! {
        <h2>"Create your account to join"</h2>
        <form on:submit=on_submit>
            <FormAlert error fields=&["name", "password"]/>
            <EmailReadOnly email/>
            <Field label="Name" name="name" autocomplete="name" maxlength=NAME_MAX value=name error=field_error(outcome, "name")/>
            <Field label="Password" name="password" kind="password" autocomplete="new-password"
                minlength=PASSWORD_MIN maxlength=PASSWORD_MAX hint=PASSWORD_HINT
                value=password error=field_error(outcome, "password")/>
            <button type="submit" class="button primary">"Create account and join"</button>
        </form>
    }
}

/// The invited address: fixed, since the invitation is for it.
#[component]
fn EmailReadOnly(email: RwSignal<String>) -> impl IntoView {
    view! {
        <div class="field">
            <label for="email">"E-mail"</label>
            <input id="email" name="email" type="email" autocomplete="email" readonly aria-describedby="email-hint" prop:value=email/>
            <p class="hint" id="email-hint">"The address the invitation was sent to."</p>
        </div>
    }
}
