//! The team's single sign-on (settings): its connection to an identity provider, OpenID Connect
//! or SAML 2.0 (owners and admins), "Test connection" with the claims received, and whether the
//! team requires SSO (owners).

use leptos::{ev::SubmitEvent, prelude::*};
use portal_types::{
    CreateSsoConnectionRequest, SamlSettings, SsoConnection, SsoProtocol, UpdateSsoConnectionRequest, UpdateTeamRequest,
};
use uuid::Uuid;

use super::use_team;
use crate::api;
use crate::components::{
    ConfirmDialog, Field, FormAlert, Notice, SelectField, SubmitButton, TextAreaField, field_error, loaded,
};
use crate::format;
use crate::pages::NAME_MAX;
use crate::permissions;
use crate::session::use_auth;
use crate::teams::use_teams;

/// Longest client id, secret and issuer the server takes.
const CLIENT_MAX: u32 = portal_types::rules::SSO_CLIENT_MAX_CHARS as u32;
const ISSUER_MAX: u32 = portal_types::rules::SSO_ISSUER_MAX_CHARS as u32;
/// Longest IdP metadata document pasted.
const METADATA_MAX: u32 = portal_types::rules::SSO_METADATA_MAX_CHARS as u32;

/// The IdP's metadata as typed: its URL (fetched by the server), or the XML itself.
fn metadata_fields(typed: &str) -> (Option<String>, Option<String>) {
    let typed = typed.trim();
    if typed.is_empty() {
        (None, None)
    } else if !typed.contains('<') && (typed.starts_with("https://") || typed.starts_with("http://")) {
        (None, Some(typed.to_owned()))
    } else {
        (Some(typed.to_owned()), None)
    }
}

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
                "OpenID Connect or SAML 2.0 provider). People with an address at one of the team's verified domains find it with "
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
    let protocol = RwSignal::new("oidc".to_owned());
    let issuer = RwSignal::new(String::new());
    let client_id = RwSignal::new(String::new());
    let client_secret = RwSignal::new(String::new());
    let metadata = RwSignal::new(String::new());
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
    let saml = move || protocol.get() == "saml";
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let name = name.get_untracked().trim().to_owned();
        let body = if protocol.get_untracked() == "saml" {
            let (xml, url) = metadata_fields(&metadata.get_untracked());
            CreateSsoConnectionRequest {
                idp_metadata: xml.map(Into::into),
                idp_metadata_url: url.map(Into::into),
                ..CreateSsoConnectionRequest::saml(&name, "")
            }
        } else {
            CreateSsoConnectionRequest::oidc(
                &name,
                issuer.get_untracked().trim(),
                client_id.get_untracked().trim(),
                client_secret.get_untracked().trim(),
            )
        };
        add.dispatch(body);
    };
    let origin = window().location().origin().unwrap_or_default();
    let protocols = vec![("oidc".to_owned(), "OpenID Connect".to_owned()), ("saml".to_owned(), "SAML 2.0".to_owned())];
    view! {
        <form on:submit=on_submit class="sso-add">
            <h3>"Connect an identity provider"</h3>
            <FormAlert error=Signal::derive(move || outcome().and_then(Result::err))
                fields=&["name", "issuer", "client_id", "client_secret", "idp_metadata", "idp_metadata_url"]/>
            <Field label="Name" name="sso_name" value=name maxlength=NAME_MAX error=field_error(outcome, "name") hint="For example Okta."/>
            <SelectField label="Protocol" name="protocol" value=protocol options=protocols/>
            <Show when=move || !saml()>
                <p class="small">
                    "Register an OpenID Connect web application at your provider with the redirect URI "
                    <code>{format!("{origin}/api/v1/auth/sso/callback")}</code>
                    " and the scopes openid, email and profile; then enter what it gives you."
                </p>
                <Field label="Issuer URL" name="issuer" kind="url" value=issuer maxlength=ISSUER_MAX error=field_error(outcome, "issuer")
                    hint="For example https://acme.okta.com, https://login.microsoftonline.com/<tenant>/v2.0 or https://accounts.google.com."/>
                <Field label="Client ID" name="client_id" value=client_id maxlength=CLIENT_MAX autocomplete="off" error=field_error(outcome, "client_id")/>
                <Field label="Client secret" name="client_secret" kind="password" autocomplete="off" value=client_secret maxlength=CLIENT_MAX
                    error=field_error(outcome, "client_secret") hint="Kept encrypted; never shown again."/>
            </Show>
            <Show when=saml>
                <p class="small">
                    "Add the connection first if your IdP asks for the portal's entity ID and ACS URL: they appear "
                    "here once it exists. Then paste the IdP's metadata (or its URL)."
                </p>
                <TextAreaField label="IdP metadata: its XML, or its URL" name="idp_metadata" value=metadata maxlength=METADATA_MAX
                    error=metadata_error(outcome)/>
            </Show>
            <SubmitButton label="Add connection" pending=add.pending()/>
        </form>
    }
}

/// The error of the IdP's metadata field, whichever of its two names the server gave.
fn metadata_error<T: Send + Sync + 'static>(
    outcome: impl Fn() -> crate::components::Loaded<T> + Copy + Send + Sync + 'static,
) -> Signal<Option<String>> {
    let (xml, url) = (field_error(outcome, "idp_metadata"), field_error(outcome, "idp_metadata_url"));
    Signal::derive(move || xml.get().or_else(|| url.get()))
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
        "incomplete" => ("badge badge-warning", "Needs the IdP's metadata"),
        _ => ("badge badge-warning", "Not tested yet"),
    };
    let incomplete = connection.status == "incomplete";
    let claims = connection.test_claims.as_ref().and_then(|c| serde_json::to_string_pretty(c).ok());
    let name = connection.name.clone();
    let confirm_title = format!("Remove {}?", connection.name);
    view! {
        <div class="sso-connection" data-sso-connection=connection.name.clone()>
            <div class="domain-head">
                <strong>{connection.name.clone()}</strong>
                <span class=badge_class data-sso-status=connection.status.clone()>{badge}</span>
            </div>
            {match connection.saml.clone() {
                Some(saml) => view! { <SamlDetails connection=connection.clone() saml/> }.into_any(),
                None => view! {
                    <dl class="txt-record">
                        <div><dt>"Protocol"</dt><dd>"OpenID Connect"</dd></div>
                        <div><dt>"Issuer"</dt><dd><code>{connection.issuer.clone()}</code></dd></div>
                        <div><dt>"Client ID"</dt><dd><code>{connection.client_id.clone()}</code></dd></div>
                        <div><dt>"Redirect URI"</dt><dd><code>{connection.redirect_uri.clone()}</code></dd></div>
                        <div><dt>"Last sign-in"</dt><dd>{connection.last_sign_in_at.map_or_else(|| "Never".to_owned(), format::date_time)}</dd></div>
                    </dl>
                }.into_any(),
            }}
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
            <Show when=move || may_manage() && connection.protocol == SsoProtocol::Saml>
                <SamlMetadataForm id open=incomplete allow_idp_initiated=connection.saml.as_ref().is_some_and(|s| s.allow_idp_initiated) on_change/>
            </Show>
            <Show when=may_manage>
                <div class="button-row">
                    <Show when=move || !incomplete>
                        <button type="button" class="button small secondary" disabled=move || test.pending().get()
                            on:click=move |_| { test.dispatch(()); }>"Test connection"</button>
                    </Show>
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

/// A SAML connection: what to give the IdP, and what the portal read of it.
#[component]
fn SamlDetails(connection: SsoConnection, saml: SamlSettings) -> impl IntoView {
    let or_none = |value: &str| if value.is_empty() { "Not given yet".to_owned() } else { value.to_owned() };
    view! {
        <dl class="txt-record">
            <div><dt>"Protocol"</dt><dd>"SAML 2.0"</dd></div>
            <div><dt>"Entity ID (give to the IdP)"</dt><dd><code data-saml="entity_id">{saml.entity_id.clone()}</code></dd></div>
            <div><dt>"ACS URL (give to the IdP)"</dt><dd><code data-saml="acs_url">{saml.acs_url.clone()}</code></dd></div>
            <div><dt>"Portal metadata"</dt><dd><a href=saml.metadata_url.clone() target="_blank" rel="noopener">{saml.metadata_url.clone()}</a></dd></div>
            <div><dt>"IdP entity ID"</dt><dd><code>{or_none(&connection.issuer)}</code></dd></div>
            <div><dt>"IdP sign-in URL"</dt><dd><code>{or_none(&saml.idp_sso_url)}</code></dd></div>
            <div><dt>"Sign-ins started at the IdP"</dt><dd>{if saml.allow_idp_initiated { "Accepted" } else { "Refused" }}</dd></div>
            <div><dt>"Last sign-in"</dt><dd>{connection.last_sign_in_at.map_or_else(|| "Never".to_owned(), format::date_time)}</dd></div>
        </dl>
    }
}

/// The IdP's metadata of a SAML connection (given, or replaced), and whether sign-ins started at
/// the IdP are accepted.
#[component]
fn SamlMetadataForm<F>(id: Uuid, open: bool, allow_idp_initiated: bool, on_change: F) -> impl IntoView
where
    F: Fn() + Copy + Send + Sync + 'static,
{
    let auth = use_auth();
    let team_id = use_team().id();
    let metadata = RwSignal::new(String::new());
    let allow = RwSignal::new(allow_idp_initiated);
    let save = Action::new_unsync(move |body: &UpdateSsoConnectionRequest| {
        let body = body.clone();
        async move { auth.call(move |t| api::update_sso_connection(t, team_id, id, body.clone())).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            on_change();
        }
    });
    let outcome = move || save.value().get();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let (xml, url) = metadata_fields(&metadata.get_untracked());
        save.dispatch(UpdateSsoConnectionRequest {
            idp_metadata: xml.map(Into::into),
            idp_metadata_url: url.map(Into::into),
            allow_idp_initiated: Some(allow.get_untracked()),
            ..Default::default()
        });
    };
    view! {
        <details class="saml-metadata" open=open>
            <summary>"IdP metadata and settings"</summary>
            <form on:submit=on_submit>
                <FormAlert error=Signal::derive(move || outcome().and_then(Result::err)) fields=&["idp_metadata", "idp_metadata_url"]/>
                <TextAreaField label="IdP metadata: its XML, or its URL" name="idp_metadata" value=metadata maxlength=METADATA_MAX
                    error=metadata_error(outcome)/>
                <label class="choice">
                    <input type="checkbox" id="allow_idp_initiated" name="allow_idp_initiated" prop:checked=allow
                        aria-describedby="allow_idp_initiated-hint" on:change=move |ev| allow.set(event_target_checked(&ev))/>
                    "Accept sign-ins started at the IdP"
                </label>
                <p class="hint" id="allow_idp_initiated-hint">
                    "Off by default: such a sign-in answers no request of the portal, so it cannot be tied to the "
                    "browser that started it. Turn it on only if your people open the portal from the IdP's dashboard."
                </p>
                <SubmitButton label="Save" pending=save.pending()/>
            </form>
        </details>
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
