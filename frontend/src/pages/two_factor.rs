//! The account's two-factor authentication: set-up with the QR code, the recovery codes (copy,
//! download, a new set), and turning it off.

use leptos::{ev::SubmitEvent, prelude::*};
use portal_types::{DisableTwoFactorRequest, TwoFactorSetup, TwoFactorStatus};

use super::{CODE_MAX, CODE_OR_RECOVERY_MAX};
use crate::components::{Field, FormAlert, SubmitButton, copy_text, field_error, loaded, save_file};
use crate::session::use_auth;
use crate::{api, format};

/// What the card shows besides the state.
#[derive(Clone)]
enum Step {
    Idle,
    /// The secret to scan, awaiting a code.
    Scan(TwoFactorSetup),
    /// Recovery codes, shown this once.
    Codes(Vec<String>),
    NewCodes,
    TurnOff,
}

#[component]
pub fn TwoFactorCard() -> impl IntoView {
    let auth = use_auth();
    let step = RwSignal::new(Step::Idle);
    let status = LocalResource::new(move || auth.call(|token| async move { api::two_factor(&token).await }));
    let done = move || {
        step.set(Step::Idle);
        status.refetch();
    };
    view! {
        <section class="card" id="two-factor" aria-labelledby="two-factor-heading">
            <h2 id="two-factor-heading">"Two-factor authentication"</h2>
            {loaded(move || status.get(), "Loading two-factor authentication…", move |status: TwoFactorStatus| {
                view! {
                    {move || match step.get() {
                        Step::Scan(setup) => view! { <ScanStep setup step on_done=done/> }.into_any(),
                        Step::Codes(codes) => view! { <RecoveryCodesPanel codes on_done=done/> }.into_any(),
                        Step::NewCodes => view! { <NewCodesForm step/> }.into_any(),
                        Step::TurnOff => view! { <TurnOffForm on_done=done on_cancel=move || step.set(Step::Idle)/> }.into_any(),
                        Step::Idle if status.enabled => view! {
                            <p>
                                <strong>"On"</strong>" "
                                {status.enabled_at.map(|at| format!("since {}. ", format::date_time(at)))}
                                {format!("{} recovery code{} left.", status.recovery_codes_left,
                                    if status.recovery_codes_left == 1 { "" } else { "s" })}
                            </p>
                            <div class="button-row">
                                <button type="button" class="button secondary" on:click=move |_| step.set(Step::NewCodes)>
                                    "Make new recovery codes"
                                </button>
                                <button type="button" class="button danger-outline" on:click=move |_| step.set(Step::TurnOff)>
                                    "Turn off two-factor authentication"
                                </button>
                            </div>
                        }.into_any(),
                        Step::Idle => view! { <StartForm step/> }.into_any(),
                    }}
                }
            })}
        </section>
    }
}

/// Confirms the password and gets a new secret.
#[component]
fn StartForm(step: RwSignal<Step>) -> impl IntoView {
    let auth = use_auth();
    let password = RwSignal::new(String::new());
    let start = Action::new_unsync(move |password: &String| {
        let password = password.clone();
        async move {
            auth.call(move |token| {
                let password = password.clone();
                async move { api::set_up_two_factor(&token, password).await }
            })
            .await
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(setup)) = start.value().get() {
            step.set(Step::Scan(setup));
        }
    });
    let outcome = move || start.value().get();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        start.dispatch(password.get_untracked());
    };
    view! {
        <p>"Off. Add a second step to signing in: a code from an authenticator app on your phone, so that a stolen password alone cannot open your account and its API keys."</p>
        <form on:submit=on_submit>
            <FormAlert error=Signal::derive(move || outcome().and_then(Result::err)) fields=&["password"]/>
            <Field label="Confirm your password" name="password" kind="password" autocomplete="current-password"
                value=password error=field_error(outcome, "password")/>
            <SubmitButton label="Set up two-factor authentication" pending=start.pending()/>
        </form>
    }
}

/// The QR code and the secret, and the code that turns it on.
#[component]
fn ScanStep(setup: TwoFactorSetup, step: RwSignal<Step>, on_done: impl Fn() + Copy + 'static) -> impl IntoView {
    let auth = use_auth();
    let code = RwSignal::new(String::new());
    let enable = Action::new_unsync(move |code: &String| {
        let code = code.clone();
        async move {
            auth.call(move |token| {
                let code = code.clone();
                async move { api::enable_two_factor(&token, code).await }
            })
            .await
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(codes)) = enable.value().get() {
            step.set(Step::Codes(codes.codes));
        }
    });
    let outcome = move || enable.value().get();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        enable.dispatch(code.get_untracked().trim().to_owned());
    };
    let image = format!(
        "data:image/svg+xml;utf8,{}",
        String::from(leptos::web_sys::js_sys::encode_uri_component(&setup.qr_svg))
    );
    view! {
        <ol class="steps">
            <li>"Scan this QR code with your authenticator app (1Password, Google Authenticator, Authy, Microsoft Authenticator…)."</li>
        </ol>
        <img class="qr-code" src=image width="200" height="200" alt="QR code of the secret for your authenticator app"/>
        <p class="hint">"Cannot scan it? Enter this key in the app instead: "
            <code class="secret-key" data-testid="totp-secret">{setup.secret.clone()}</code></p>
        <form on:submit=on_submit>
            <FormAlert error=Signal::derive(move || outcome().and_then(Result::err)) fields=&["code"]/>
            <Field label="Code from the app" name="code" autocomplete="one-time-code" maxlength=CODE_MAX value=code
                error=field_error(outcome, "code") hint="The 6-digit code the app shows for Partner Portal."/>
            <div class="button-row">
                <SubmitButton label="Turn on" pending=enable.pending()/>
                <button type="button" class="button secondary" on:click=move |_| on_done()>"Cancel"</button>
            </div>
        </form>
    }
}

/// Recovery codes, shown once, with copy and download.
#[component]
fn RecoveryCodesPanel(codes: Vec<String>, on_done: impl Fn() + Copy + 'static) -> impl IntoView {
    let text = codes.join("\n");
    let copied = RwSignal::new(None::<bool>);
    let copy = {
        let text = text.clone();
        move |_| {
            let text = text.clone();
            leptos::task::spawn_local(async move { copied.set(Some(copy_text(&text).await)) });
        }
    };
    let download = move |_| {
        let file = format!(
            "Partner Portal recovery codes\n\nEach code works once, in place of a code of your authenticator app.\n\n{text}\n"
        );
        let _ = save_file("partner-portal-recovery-codes.txt", "text/plain", &file);
    };
    view! {
        <div class="secret-banner" role="alert">
            <h3>"Save your recovery codes"</h3>
            <p class="warning"><strong>"This is the only time they are shown."</strong>
                " If you lose your phone, each code signs you in once instead of the app. Keep them somewhere safe, such as your password manager."</p>
            <ul class="recovery-codes" aria-label="Recovery codes">
                {codes.into_iter().map(|c| view! { <li><code>{c}</code></li> }).collect_view()}
            </ul>
            <div class="button-row">
                <button type="button" class="button secondary" on:click=copy>"Copy"</button>
                <button type="button" class="button secondary" on:click=download>"Download"</button>
                <button type="button" class="button primary" on:click=move |_| on_done()>"I saved them"</button>
            </div>
            <p class="copy-status" role="status">
                {move || match copied.get() {
                    Some(true) => "Copied to the clipboard.",
                    Some(false) => "Could not copy: select the codes and copy them yourself.",
                    None => "",
                }}
            </p>
        </div>
    }
}

#[component]
fn NewCodesForm(step: RwSignal<Step>) -> impl IntoView {
    let auth = use_auth();
    let password = RwSignal::new(String::new());
    let renew = Action::new_unsync(move |password: &String| {
        let password = password.clone();
        async move {
            auth.call(move |token| {
                let password = password.clone();
                async move { api::regenerate_recovery_codes(&token, password).await }
            })
            .await
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(codes)) = renew.value().get() {
            step.set(Step::Codes(codes.codes));
        }
    });
    let outcome = move || renew.value().get();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        renew.dispatch(password.get_untracked());
    };
    view! {
        <form on:submit=on_submit>
            <p>"A new set of 16 codes replaces the old one: the old codes stop working at once."</p>
            <FormAlert error=Signal::derive(move || outcome().and_then(Result::err)) fields=&["password"]/>
            <Field label="Confirm your password" name="password" kind="password" autocomplete="current-password"
                value=password error=field_error(outcome, "password")/>
            <div class="button-row">
                <SubmitButton label="Make new recovery codes" pending=renew.pending()/>
                <button type="button" class="button secondary" on:click=move |_| step.set(Step::Idle)>"Cancel"</button>
            </div>
        </form>
    }
}

#[component]
fn TurnOffForm(on_done: impl Fn() + Copy + 'static, on_cancel: impl Fn() + Copy + 'static) -> impl IntoView {
    let auth = use_auth();
    let password = RwSignal::new(String::new());
    let code = RwSignal::new(String::new());
    let off = Action::new_unsync(move |body: &DisableTwoFactorRequest| {
        let body = body.clone();
        async move {
            auth.call(move |token| {
                let body = body.clone();
                async move { api::disable_two_factor(&token, &body).await }
            })
            .await
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = off.value().get() {
            on_done();
        }
    });
    let outcome = move || off.value().get();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        off.dispatch(DisableTwoFactorRequest {
            password: password.get_untracked().into(),
            code: code.get_untracked().trim().to_owned(),
        });
    };
    view! {
        <form on:submit=on_submit>
            <p>"Signing in will ask for the password only. Your recovery codes stop working."</p>
            <FormAlert error=Signal::derive(move || outcome().and_then(Result::err)) fields=&["password", "code"]/>
            <Field label="Password" name="password" kind="password" autocomplete="current-password"
                value=password error=field_error(outcome, "password")/>
            <Field label="Code from the app, or a recovery code" name="code" autocomplete="one-time-code" maxlength=CODE_OR_RECOVERY_MAX
                value=code error=field_error(outcome, "code")/>
            <div class="button-row">
                <SubmitButton label="Turn off" pending=off.pending()/>
                <button type="button" class="button secondary" on:click=move |_| on_cancel()>"Cancel"</button>
            </div>
        </form>
    }
}
