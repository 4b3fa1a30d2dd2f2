//! The team's single sign-on (settings): its connection to an OpenID Connect provider (owners and
//! admins), "Test connection" with the claims received, and whether the team requires SSO
//! (owners).

use leptos::{ev::SubmitEvent, prelude::*};
use portal_types::{CreateSsoConnectionRequest, SsoConnection, UpdateTeamRequest};
use uuid::Uuid;

use super::use_team;
use crate::api;
use crate::components::{ConfirmDialog, Field, FormAlert, Notice, SubmitButton, field_error, loaded};
use crate::format;
use crate::pages::NAME_MAX;
use crate::permissions;
use crate::session::use_auth;
use crate::teams::use_teams;

/// Longest client id, secret and issuer the server takes.
const CLIENT_MAX: u32 = portal_types::rules::SSO_CLIENT_MAX_CHARS as u32;
const ISSUER_MAX: u32 = portal_types::rules::SSO_ISSUER_MAX_CHARS as u32;

#[component]
pub fn SsoCard() -> impl IntoView {
    let auth = use_auth();
    let team = use_team();
    let team_id = team.id();
    let may_manage = move || team.permissions().manage_sso;
    let list = LocalResource::new(move || async move {
        auth.call(move |t| api::sso_connections(t, team_id)).await.map(|l| l.items)
    });
    let has_one = move || list.get().and_then(Result::ok).is_some_and(|items| !items.is_empty());
    view! {
        <section class="card sso" id="sso" aria-labelledby="sso-title">
            <h2 id="sso-title">"Single sign-on"</h2>
            <p class="hint">
                "Members sign in through your identity provider (Okta, Microsoft Entra ID, Google Workspace or any "
                "OpenID Connect provider). People with an address at one of the team's verified domains find it with "
                "\u{201c}Continue with SSO\u{201d} on the sign-in page."
            </p>
            {loaded(move || list.get(), "Loading single sign-on…", move |items: Vec<SsoConnection>| {
                if items.is_empty() {
                    return view! { <p class="muted">"No connection yet."</p> }.into_any();
                }
                items.into_iter().map(|c| view! { <ConnectionRow connection=c on_change=move || list.refetch()/> }).collect_view().into_any()
            })}
            <Show when=move || may_manage() && list.get().is_some() && !has_one()>
                <AddConnection on_added=move || list.refetch()/>
            </Show>
            <Show when=move || permissions::manage_team(&team.permissions())>
                <SsoRequirement/>
            </Show>
        </section>
    }
}

#[component]
fn AddConnection<F>(on_added: F) -> impl IntoView
where
    F: Fn() + Copy + Send + Sync + 'static,
{
    let auth = use_auth();
    let team_id = use_team().id();
    let name = RwSignal::new(String::new());
    let issuer = RwSignal::new(String::new());
    let client_id = RwSignal::new(String::new());
    let client_secret = RwSignal::new(String::new());
    let add = Action::new_unsync(move |body: &CreateSsoConnectionRequest| {
        let body = body.clone();
        async move { auth.call(move |t| api::create_sso_connection(t, team_id, body.clone())).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = add.value().get() {
            client_secret.set(String::new());
            on_added();
        }
    });
    let outcome = move || add.value().get();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        add.dispatch(CreateSsoConnectionRequest {
            name: name.get_untracked().trim().to_owned().into(),
            issuer: issuer.get_untracked().trim().to_owned().into(),
            client_id: client_id.get_untracked().trim().to_owned().into(),
            client_secret: client_secret.get_untracked().trim().to_owned().into(),
        });
    };
    view! {
        <form on:submit=on_submit class="sso-add">
            <h3>"Connect an identity provider"</h3>
            <p class="small">
                "Register an OpenID Connect web application at your provider with the redirect URI "
                <code>{format!("{}/api/v1/auth/sso/callback", window().location().origin().unwrap_or_default())}</code>
                " and the scopes openid, email and profile; then enter what it gives you."
            </p>
            <FormAlert error=Signal::derive(move || outcome().and_then(Result::err)) fields=&["name", "issuer", "client_id", "client_secret"]/>
            <Field label="Name" name="sso_name" value=name maxlength=NAME_MAX error=field_error(outcome, "name") hint="For example Okta."/>
            <Field label="Issuer URL" name="issuer" kind="url" value=issuer maxlength=ISSUER_MAX error=field_error(outcome, "issuer")
                hint="For example https://acme.okta.com, https://login.microsoftonline.com/<tenant>/v2.0 or https://accounts.google.com."/>
            <Field label="Client ID" name="client_id" value=client_id maxlength=CLIENT_MAX autocomplete="off" error=field_error(outcome, "client_id")/>
            <Field label="Client secret" name="client_secret" kind="password" autocomplete="off" value=client_secret maxlength=CLIENT_MAX
                error=field_error(outcome, "client_secret") hint="Kept encrypted; never shown again."/>
            <SubmitButton label="Add connection" pending=add.pending()/>
        </form>
    }
}

#[component]
fn ConnectionRow<F>(connection: SsoConnection, on_change: F) -> impl IntoView
where
    F: Fn() + Copy + Send + Sync + 'static,
{
    let auth = use_auth();
    let team = use_team();
    let team_id = team.id();
    let may_manage = move || team.permissions().manage_sso;
    let id: Uuid = connection.id;
    let test = Action::new_unsync(move |_: &()| async move {
        let started = auth.call(move |t| api::test_sso_connection(t, team_id, id)).await;
        if let Ok(start) = &started {
            let _ = window().location().set_href(&start.start_url);
        }
        started
    });
    let removing = RwSignal::new(false);
    let remove = Action::new_unsync(move |_: &()| async move {
        auth.call(move |t| api::delete_sso_connection(t, team_id, id)).await
    });
    let error = Signal::derive(move || test.value().get().and_then(Result::err));
    let (badge_class, badge) = match connection.status.as_str() {
        "working" => ("badge badge-ok", "Working"),
        "failing" => ("badge badge-danger", "Last test failed"),
        _ => ("badge badge-warning", "Not tested yet"),
    };
    let claims = connection.test_claims.as_ref().and_then(|c| serde_json::to_string_pretty(c).ok());
    let name = connection.name.clone();
    let confirm_title = format!("Remove {}?", connection.name);
    view! {
        <div class="sso-connection" data-sso-connection=connection.name.clone()>
            <div class="domain-head">
                <strong>{connection.name.clone()}</strong>
                <span class=badge_class data-sso-status=connection.status.clone()>{badge}</span>
            </div>
            <dl class="txt-record">
                <div><dt>"Issuer"</dt><dd><code>{connection.issuer.clone()}</code></dd></div>
                <div><dt>"Client ID"</dt><dd><code>{connection.client_id.clone()}</code></dd></div>
                <div><dt>"Redirect URI"</dt><dd><code>{connection.redirect_uri.clone()}</code></dd></div>
                <div><dt>"Last sign-in"</dt><dd>{connection.last_sign_in_at.map_or_else(|| "Never".to_owned(), format::date_time)}</dd></div>
            </dl>
            {connection.tested_at.map(|at| view! {
                <p class="small">"Last test: " {format::date_time(at)}</p>
            })}
            {connection.test_error.clone().map(|why| view! { <p class="field-error" data-sso-test="error">{why}</p> })}
            {claims.map(|claims| view! {
                <details class="sso-claims" open=true>
                    <summary>"Claims received in the last test"</summary>
                    <pre data-sso-test="claims">{claims}</pre>
                </details>
            })}
            <FormAlert error/>
            <Show when=may_manage>
                <div class="button-row">
                    <button type="button" class="button small secondary" disabled=move || test.pending().get()
                        on:click=move |_| { test.dispatch(()); }>"Test connection"</button>
                    <button type="button" class="button small danger-outline" aria-label=format!("Remove {name}")
                        on:click=move |_| removing.set(true)>"Remove"</button>
                </div>
            </Show>
            <Show when=move || removing.get()>
                <ConfirmDialog title=confirm_title.clone() confirm_label="Remove connection" action=remove
                    on_close=move || removing.set(false) after=move || on_change()>
                    <p>"Its users keep their accounts and can sign in with a password after resetting it."</p>
                </ConfirmDialog>
            </Show>
        </div>
    }
}

/// Whether members need a session started at the team's identity provider. Owners keep a
/// password way in (recorded in the activity); API keys keep working.
#[component]
fn SsoRequirement() -> impl IntoView {
    let auth = use_auth();
    let teams = use_teams();
    let team = use_team();
    let team_id = team.id();
    let required = RwSignal::new(team.get().is_some_and(|t| t.require_sso));
    let save = Action::new_unsync(move |required: &bool| {
        let body = UpdateTeamRequest { require_sso: Some(*required), ..Default::default() };
        async move { auth.call(move |t| api::update_team(t, team_id, body.clone())).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(updated)) = save.value().get() {
            required.set(updated.require_sso);
            team.set(updated);
            teams.reload();
        }
    });
    let outcome = move || save.value().get();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        save.dispatch(required.get_untracked());
    };
    view! {
        <form class="sso-requirement" on:submit=on_submit>
            <h3>"Require single sign-on"</h3>
            <FormAlert error=Signal::derive(move || outcome().and_then(Result::err)) fields=&["require_sso"]/>
            <Show when=move || matches!(outcome(), Some(Ok(_)))>
                <Notice>"The setting has been saved."</Notice>
            </Show>
            <label class="choice">
                <input type="checkbox" id="require_sso" name="require_sso" prop:checked=required
                    aria-describedby="require_sso-hint" on:change=move |ev| required.set(event_target_checked(&ev))/>
                "Require single sign-on for every member but owners"
            </label>
            <p class="hint" id="require_sso-hint">
                "Members signed in with a password cannot open the team until they sign in through the identity "
                "provider. Owners keep a password way in for emergencies, recorded in the activity. API keys keep "
                "working. The connection must have worked once (a test or a sign-in)."
            </p>
            <p class="field-error">{move || field_error(outcome, "require_sso").get()}</p>
            <SubmitButton label="Save" pending=save.pending()/>
        </form>
    }
}
