use leptos::{ev::SubmitEvent, prelude::*};
use leptos_router::{
    NavigateOptions,
    components::A,
    hooks::{use_navigate, use_query_map},
};
use portal_types::{LoginRequest, Session, TwoFactorLoginRequest};

use super::{CODE_MAX, CODE_OR_RECOVERY_MAX};
use crate::api::{self, SignIn};
use crate::components::{AuthCard, Field, FormAlert, Notice, SubmitButton, field_error};
use crate::session::use_auth;

/// Whether `next` is a path on this site, so that a crafted sign-in link cannot send the user
/// elsewhere. Browsers drop tabs and newlines from URLs and read `\\` as `/`, so `/\t/evil.example`
/// would become `//evil.example`: any whitespace, control character or backslash is refused.
pub(crate) fn same_origin_path(next: &str) -> bool {
    next.starts_with('/')
        && !next[1..].starts_with('/')
        && !next.chars().any(|c| c.is_whitespace() || c.is_control() || c == '\\')
}

/// What a refused single sign-on says, by the reason the server sent back (`?sso_error=`).
pub(crate) fn sso_refusal(reason: &str) -> &'static str {
    match reason {
        "not_configured" => "Single sign-on is not set up for this team. Sign in with your password.",
        "unknown_user" => {
            "Your identity provider signed you in, but with an address outside the team's verified domains (or one \
             it has not verified). Ask the team's owner to check the connection."
        }
        "provider_error" => "Your identity provider did not sign you in (you may have cancelled). Try again.",
        "provider_unreachable" => "Your identity provider could not be reached. Try again in a moment.",
        "replayed" | "unknown_state" => "This sign-in link was used or has expired. Start again.",
        "other_browser" => "This sign-in was started in another browser. Start it again here.",
        "wrong_request" => {
            "Your identity provider's answer belongs to no sign-in started here. Start again from this page."
        }
        "cross_site" => {
            "Single sign-on starts from this site: enter your work e-mail address and choose Continue with SSO."
        }
        _ => {
            "Your identity provider's answer could not be trusted, so you were not signed in. The team's owners can see why in its activity."
        }
    }
}

#[component]
pub fn SignInPage() -> impl IntoView {
    let auth = use_auth();
    let navigate = use_navigate();
    let query = use_query_map();
    let next = query
        .with_untracked(|q| q.get("next"))
        .filter(|p| same_origin_path(p))
        .unwrap_or_else(|| "/dashboard".to_owned());
    let sso_error = query.with_untracked(|q| q.get("sso_error")).map(|reason| sso_refusal(&reason));
    // An SSO sign-in that found this address's password account: its password links them.
    let sso_link = StoredValue::new(query.with_untracked(|q| q.get("sso_link")));
    let email = RwSignal::new(query.with_untracked(|q| q.get("email")).unwrap_or_default());
    let password = RwSignal::new(String::new());
    // The challenge of the password step, while the account's second factor is asked for.
    let challenge = RwSignal::new(None::<String>);
    // Why the second step went back to the first (its challenge expired or ran out of tries).
    let expired = RwSignal::new(None::<String>);
    let login = Action::new_unsync(|req: &LoginRequest| {
        let req = req.clone();
        async move { api::sign_in(&req).await }
    });
    let sso = Action::new_unsync(|email: &String| {
        let email = email.clone();
        async move { api::discover_sso(&email).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(start)) = sso.value().get() {
            let _ = window().location().set_href(&start.start_url);
        }
    });
    let sso_outcome = move || sso.value().get().map(|r| r.map(|_| ()));
    let sso_failed = Signal::derive(move || sso_outcome().and_then(Result::err));
    // The session, from the password step or the second one.
    let session = RwSignal::new(None::<Session>);
    Effect::new(move |_| match login.value().get() {
        Some(Ok(SignIn::Session(started))) => session.set(Some(started)),
        Some(Ok(SignIn::TwoFactor(step))) => challenge.set(Some(step.challenge)),
        _ => {}
    });
    Effect::new(move |_| {
        if let Some(started) = session.get() {
            auth.signed_in(started);
            navigate(&next, NavigateOptions::default());
        }
    });
    let outcome = move || login.value().get();
    let error = Signal::derive(move || outcome().and_then(Result::err));
    let not_verified = move || error.with(|e| e.as_ref().and_then(|e| e.code()) == Some("email_not_verified"));
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        expired.set(None);
        // The dashboard comes next: its module downloads while the password is checked.
        crate::prefetch_screens();
        login.dispatch(LoginRequest {
            email: email.get_untracked().trim().to_owned().into(),
            password: password.get_untracked().into(),
            sso_link: sso_link.get_value().map(Into::into),
        });
    };
    let linking = sso_link.with_value(Option::is_some);
    view! {
        <Show when=move || challenge.with(Option::is_none) fallback=move || view! {
            <SecondFactor challenge session expired sso_link/>
        }>
            <AuthCard title="Sign in">
                {sso_error.map(|message| view! { <p class="alert error" role="alert">{message}</p> })}
                {linking.then(|| view! {
                    <Notice><p>"Your identity provider signed you in as an address that already has a password here. Enter that password once to link the two; from then on, single sign-on signs you in directly."</p></Notice>
                })}
                <form on:submit=on_submit>
                    {move || expired.get().map(|message| view! { <p class="alert error" role="alert">{message}</p> })}
                    <FormAlert error fields=&["email", "password"]/>
                    <Show when=not_verified>
                        <ResendVerification email/>
                    </Show>
                    <Field label="E-mail" name="email" kind="email" autocomplete="email" value=email error=field_error(outcome, "email")/>
                    <Field label="Password" name="password" kind="password" autocomplete="current-password" value=password error=field_error(outcome, "password")/>
                    <SubmitButton label="Sign in" pending=login.pending()/>
                </form>
                <div class="sso">
                    <FormAlert error=sso_failed fields=&[]/>
                    <button type="button" class="button secondary" disabled=sso.pending()
                        on:click=move |_| { sso.dispatch(email.get_untracked().trim().to_owned()); }>
                        "Continue with SSO"
                    </button>
                    <p class="hint">"Signs you in through your company's identity provider: enter your work e-mail address above."</p>
                </div>
                <p class="aside"><A href="/forgot-password">"Forgot password?"</A></p>
                <p class="aside">"New here? " <A href="/sign-up">"Create an account"</A></p>
            </AuthCard>
        </Show>
    }
}

/// The second step of a sign-in: a code of the authenticator app, or a recovery code. A
/// challenge that expired or ran out of tries goes back to the password step.
#[component]
fn SecondFactor(
    challenge: RwSignal<Option<String>>,
    session: RwSignal<Option<Session>>,
    expired: RwSignal<Option<String>>,
    sso_link: StoredValue<Option<String>>,
) -> impl IntoView {
    let code = RwSignal::new(String::new());
    let recovery = RwSignal::new(false);
    let verify = Action::new_unsync(|req: &TwoFactorLoginRequest| {
        let req = req.clone();
        async move { api::login_two_factor(&req).await }
    });
    Effect::new(move |_| match verify.value().get() {
        Some(Ok(started)) => session.set(Some(started)),
        Some(Err(e)) if e.code() == Some("invalid_challenge") => {
            expired.set(Some(e.message()));
            challenge.set(None);
        }
        _ => {}
    });
    let outcome = move || verify.value().get();
    let error = Signal::derive(move || outcome().and_then(Result::err));
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        if let Some(challenge) = challenge.get_untracked() {
            verify.dispatch(TwoFactorLoginRequest {
                challenge: challenge.into(),
                code: code.get_untracked().trim().to_owned(),
                sso_link: sso_link.get_value().map(Into::into),
            });
        }
    };
    view! {
        <AuthCard title="Two-factor authentication">
            <form on:submit=on_submit>
                <FormAlert error fields=&["code"]/>
                {move || if recovery.get() {
                    view! {
                        <p class="hint">"Enter one of the recovery codes you saved when you turned on two-factor authentication. Each works once."</p>
                        <Field label="Recovery code" name="code" autocomplete="off" maxlength=CODE_OR_RECOVERY_MAX value=code error=field_error(outcome, "code")/>
                    }.into_any()
                } else {
                    view! {
                        <p class="hint">"Open your authenticator app and enter the 6-digit code it shows for Partner Portal."</p>
                        <Field label="Authentication code" name="code" autocomplete="one-time-code" maxlength=CODE_MAX value=code error=field_error(outcome, "code")/>
                    }.into_any()
                }}
                <SubmitButton label="Verify" pending=verify.pending()/>
            </form>
            <p class="aside">
                <button type="button" class="button link" on:click=move |_| { code.set(String::new()); recovery.update(|r| *r = !*r); }>
                    {move || if recovery.get() { "Use your authenticator app instead" } else { "Use a recovery code instead" }}
                </button>
            </p>
            <p class="aside">
                <button type="button" class="button link" on:click=move |_| challenge.set(None)>"Back to sign in"</button>
            </p>
        </AuthCard>
    }
}

/// Sends the verification mail again, for an account that has not followed its link yet.
#[component]
fn ResendVerification(email: RwSignal<String>) -> impl IntoView {
    let resend = Action::new_unsync(|email: &String| {
        let email = email.clone();
        async move { api::resend_verification(&email).await }
    });
    view! {
        {move || match resend.value().get() {
            Some(Ok(accepted)) => view! { <Notice><p>{accepted.message}</p></Notice> }.into_any(),
            Some(Err(e)) => view! { <p class="alert error">{e.message()}</p> }.into_any(),
            None => view! {
                <button type="button" class="button secondary" disabled=resend.pending()
                    on:click=move |_| { resend.dispatch(email.get_untracked().trim().to_owned()); }>
                    "Send the verification e-mail again"
                </button>
            }.into_any(),
        }}
    }
}
