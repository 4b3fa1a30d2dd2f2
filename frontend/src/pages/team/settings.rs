//! Team settings, for owners: rename and describe the team, its verified domains and single
//! sign-on, or delete it. Admins see the domains and manage single sign-on.

use leptos::{ev::SubmitEvent, prelude::*};
use leptos_router::{NavigateOptions, components::A, hooks::use_navigate};
use portal_types::UpdateTeamRequest;

use super::use_team;
use crate::api;
use crate::components::{
    ConfirmDialog, Field, FormAlert, Notice, SubmitButton, TextAreaField, field_error, use_toasts,
};
use crate::pages::{DESCRIPTION_MAX, NAME_MAX};
use crate::permissions;
use crate::session::use_auth;
use crate::teams::use_teams;

#[component]
pub fn TeamSettingsPage() -> impl IntoView {
    let team = use_team();
    view! {
        {move || if permissions::manage_team(&team.permissions()) {
            view! {
                <div class="stack">
                    <RenameForm/>
                    <TwoFactorRequirement/>
                    <super::domains::DomainsCard/>
                    <super::sso::SsoCard/>
                    <DangerZone/>
                </div>
            }.into_any()
        } else {
            view! {
                <h2>"Settings"</h2>
                <p>"Only the team's owners can change its settings."</p>
                <Show when=move || permissions::read_domains(&team.permissions())>
                    <super::domains::DomainsCard/>
                </Show>
                <Show when=move || team.permissions().read_sso>
                    <super::sso::SsoCard/>
                </Show>
            }.into_any()
        }}
    }
}

#[component]
fn RenameForm() -> impl IntoView {
    let auth = use_auth();
    let teams = use_teams();
    let team = use_team();
    let team_id = team.id();
    let current = team.get();
    let name = RwSignal::new(current.as_ref().map(|t| t.name.clone()).unwrap_or_default());
    let description = RwSignal::new(current.and_then(|t| t.description).unwrap_or_default());
    let save = Action::new_unsync(move |body: &UpdateTeamRequest| {
        let body = body.clone();
        async move { auth.call(move |t| api::update_team(t, team_id, body.clone())).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(updated)) = save.value().get() {
            team.set(updated);
            teams.reload();
        }
    });
    let outcome = move || save.value().get();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        save.dispatch(UpdateTeamRequest {
            name: Some(name.get_untracked().trim().to_owned().into()),
            // Empty clears the description.
            description: Some(description.get_untracked().trim().to_owned().into()),
            require_two_factor: None,
            require_sso: None,
        });
    };
    view! {
        <form class="card" on:submit=on_submit>
            <h2>"Team details"</h2>
            <FormAlert error=Signal::derive(move || outcome().and_then(Result::err)) fields=&["name", "description"]/>
            <Show when=move || matches!(outcome(), Some(Ok(_)))>
                <Notice>"The team's details have been saved."</Notice>
            </Show>
            <Field label="Team name" name="name" maxlength=NAME_MAX value=name error=field_error(outcome, "name")/>
            <TextAreaField label="Description" name="description" maxlength=DESCRIPTION_MAX value=description
                error=field_error(outcome, "description")/>
            <SubmitButton label="Save changes" pending=save.pending()/>
        </form>
    }
}

/// Whether members need two-factor authentication to reach the team (GitHub's setting). The
/// box can be ticked only by an owner who has it on, and before it is turned on the members it
/// would shut out are listed.
#[component]
fn TwoFactorRequirement() -> impl IntoView {
    let auth = use_auth();
    let teams = use_teams();
    let team = use_team();
    let team_id = team.id();
    let required = RwSignal::new(team.get().is_some_and(|t| t.require_two_factor));
    let mine = LocalResource::new(move || auth.call(|token| async move { api::two_factor(&token).await }));
    let readiness = LocalResource::new(move || auth.call(move |t| api::team_two_factor(t, team_id)));
    let save = Action::new_unsync(move |required: &bool| {
        let body = UpdateTeamRequest { require_two_factor: Some(*required), ..Default::default() };
        async move { auth.call(move |t| api::update_team(t, team_id, body.clone())).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(updated)) = save.value().get() {
            required.set(updated.require_two_factor);
            team.set(updated);
            teams.reload();
            readiness.refetch();
        }
    });
    let outcome = move || save.value().get();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        save.dispatch(required.get_untracked());
    };
    // Requiring it without having it oneself would shut the owner out too: the server refuses it.
    let i_lack_it = move || mine.get().and_then(Result::ok).is_some_and(|s| !s.enabled);
    let is_required = move || team.get().is_some_and(|t| t.require_two_factor);
    let blocked = move || !is_required() && i_lack_it();
    view! {
        <form class="card" on:submit=on_submit aria-labelledby="two-factor-title">
            <h2 id="two-factor-title">"Two-factor authentication"</h2>
            <FormAlert error=Signal::derive(move || outcome().and_then(Result::err))/>
            <Show when=move || matches!(outcome(), Some(Ok(_)))>
                <Notice>"The setting has been saved."</Notice>
            </Show>
            <label class="choice">
                <input type="checkbox" id="require_two_factor" name="require_two_factor" prop:checked=required
                    disabled=blocked aria-describedby="require_two_factor-hint"
                    on:change=move |ev| required.set(event_target_checked(&ev))/>
                "Require two-factor authentication for every member"
            </label>
            <p class="hint" id="require_two_factor-hint">
                {move || if blocked() {
                    view! {
                        "You do not have two-factor authentication on, so you cannot require it yet: "
                        <A href="/account#two-factor">"turn it on in your account"</A> " first."
                    }.into_any()
                } else {
                    "Members without it keep their membership, but cannot open the team or use it until they turn it on.".into_any()
                }}
            </p>
            {move || readiness.get().and_then(Result::ok).map(|r| {
                if r.without_count == 0 {
                    return view! { <p class="muted" data-two-factor="ready">"Every member has it on."</p> }.into_any();
                }
                let more = r.without_count.saturating_sub(r.without.len() as u64);
                let heading = if r.required {
                    format!("Shut out until they turn it on ({}):", r.without_count)
                } else {
                    format!("Requiring it would shut out ({}):", r.without_count)
                };
                view! {
                    <div class="two-factor-missing" data-two-factor="missing">
                        <p><strong>{heading}</strong></p>
                        <ul class="plain-list">
                            {r.without.into_iter().map(|m| view! {
                                <li><span class="member-name">{m.name}</span> " " <span class="member-email">{m.email}</span>
                                    " · " {m.role.label()}</li>
                            }).collect_view()}
                        </ul>
                        {(more > 0).then(|| view! { <p class="muted">{format!("and {more} more")}</p> })}
                    </div>
                }.into_any()
            })}
            <SubmitButton label="Save setting" pending=save.pending()/>
        </form>
    }
}

#[component]
fn DangerZone() -> impl IntoView {
    let toasts = use_toasts();
    let auth = use_auth();
    let teams = use_teams();
    let team = use_team();
    let team_id = team.id();
    let navigate = use_navigate();
    let confirming = RwSignal::new(false);
    let typed = RwSignal::new(String::new());
    let name = Memo::new(move |_| team.get().map(|t| t.name).unwrap_or_default());
    let delete =
        Action::new_unsync(move |_: &()| async move { auth.call(move |t| api::delete_team(t, team_id)).await });
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            toasts.notify(format!("Team {} deleted.", name.get_untracked()));
            teams.reload();
            navigate("/dashboard", NavigateOptions { replace: true, ..Default::default() });
        }
    });
    view! {
        <section class="card danger-zone" aria-labelledby="delete-team-title">
            <h2 id="delete-team-title">"Delete this team"</h2>
            <p>"Deleting the team removes its members, invitations and API keys. This cannot be undone."</p>
            <button type="button" class="button danger" on:click=move |_| { typed.set(String::new()); confirming.set(true); }>
                "Delete team"
            </button>
        </section>
        <Show when=move || confirming.get()>
            <ConfirmDialog title=format!("Delete {}?", name.get_untracked()) confirm_label="Delete team forever"
                action=delete ready=Signal::derive(move || typed.with(|t| t.trim() == name.get()))
                on_close=move || confirming.set(false)>
                <p>"Every member loses access and every API key of the team stops working at once."</p>
                <div class="field">
                    <label for="confirm-team-name">"Type " <strong>{name.get_untracked()}</strong> " to confirm"</label>
                    <input id="confirm-team-name" autocomplete="off" bind:value=typed/>
                </div>
            </ConfirmDialog>
        </Show>
    }
}
