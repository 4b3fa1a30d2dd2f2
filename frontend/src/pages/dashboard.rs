use leptos::{ev::SubmitEvent, prelude::*};
use leptos_router::{NavigateOptions, components::A, hooks::use_navigate};
use portal_types::{CreateTeamRequest, Team};

use super::{DESCRIPTION_MAX, NAME_MAX};
use crate::api;
use crate::components::{
    DialogButtons, Field, FormAlert, Modal, TextAreaField, field_error, loaded, set_title, use_toasts,
};
use crate::session::use_auth;
use crate::teams::use_teams;

#[component]
pub fn DashboardPage() -> impl IntoView {
    set_title("Dashboard");
    let auth = use_auth();
    let name = move || auth.user().map(|u| u.name).unwrap_or_default();
    view! {
        <section class="page">
            <h1>"Welcome, " {name}</h1>
            <p class="lead">"This is your Partner Portal. Everything you build with us starts with a team."</p>
            <GettingStartedCard/>
            <JoinableTeams/>
            <YourTeams/>
            <CreateTeamCard/>
        </section>
    }
}

/// Where the dismissal of the checklists is kept, per browser.
const CHECKLIST_DISMISSED: &str = "pp.getting-started.dismissed";

fn local_storage() -> Option<leptos::web_sys::Storage> {
    leptos::prelude::window().local_storage().ok().flatten()
}

/// The guide's two Quick Reference checklists, ticked from what exists; dismissable.
#[component]
fn GettingStartedCard() -> impl IntoView {
    let auth = use_auth();
    let teams = use_teams();
    let dismissed =
        RwSignal::new(local_storage().and_then(|s| s.get_item(CHECKLIST_DISMISSED).ok().flatten()).is_some());
    let progress = LocalResource::new(move || {
        // Again when the team list changes (a team created or joined).
        let _ = teams.get();
        async move { auth.call(api::getting_started).await }
    });
    let dismiss = move |_| {
        if let Some(storage) = local_storage() {
            let _ = storage.set_item(CHECKLIST_DISMISSED, "1");
        }
        dismissed.set(true);
    };
    view! {
        <Show when=move || !dismissed.get()>
            {move || progress.get().and_then(Result::ok).map(|p| {
                // Each step links to the screen that does it: of the first team, or to creating one.
                let first = teams.get().and_then(Result::ok).and_then(|l| l.first().map(|t| t.id));
                let at = |page: &str| first.map_or_else(|| "#create-team-title".to_owned(), |id| format!("/teams/{id}/{page}"));
                let team = [
                    ("Create your team", p.team_created, "#create-team-title".to_owned()),
                    ("Invite the members you need", p.members_invited, at("members")),
                    ("Assign appropriate roles", p.roles_assigned, at("members")),
                ];
                let keys = [
                    ("Create a development API key", p.development_key, at("api-keys")),
                    ("Create a production API key (when ready)", p.production_key, at("api-keys")),
                    ("Configure a key in your application (its first request)", p.key_used, at("api-keys")),
                    ("Set up usage monitoring (a monthly limit or a webhook)", p.usage_monitored, at("webhooks")),
                ];
                let done = team.iter().chain(&keys).filter(|(_, d, _)| *d).count();
                view! {
                    <article class="card checklist-card" aria-labelledby="getting-started-title">
                        <div class="section-head">
                            <h2 id="getting-started-title">"Getting started"</h2>
                            <button type="button" class="button small secondary" on:click=dismiss>"Dismiss"</button>
                        </div>
                        <p class="muted">{format!("{done} of 7 steps done.")}</p>
                        <div class="checklists">
                            <Checklist title="Team management" steps=team.to_vec()/>
                            <Checklist title="API key setup" steps=keys.to_vec()/>
                        </div>
                    </article>
                }
            })}
        </Show>
    }
}

#[component]
fn Checklist(title: &'static str, steps: Vec<(&'static str, bool, String)>) -> impl IntoView {
    view! {
        <section class="checklist">
            <h3>{title}</h3>
            <ul role="list">
                {steps.into_iter().map(|(step, done, href)| view! {
                    <li class:done=done>
                        <span aria-hidden="true" class="tick">{if done { "✓" } else { "○" }}</span>
                        <a href=href>{step}</a>
                        <span class="visually-hidden">{if done { " (done)" } else { " (to do)" }}</span>
                    </li>
                }).collect_view()}
            </ul>
        </section>
    }
}

/// A team that verified the domain of the user's address and lets its people join: offered
/// with a Join button (the domain's "suggest joining" rule).
#[component]
fn JoinableTeams() -> impl IntoView {
    let auth = use_auth();
    let teams = use_teams();
    let navigate = use_navigate();
    let list = LocalResource::new(move || async move {
        auth.call(|t| async move { api::joinable_teams(&t).await }).await.map(|l| l.items).unwrap_or_default()
    });
    let join = Action::new_unsync(move |team: &uuid::Uuid| {
        let team = *team;
        async move { auth.call(move |t| api::join_team(t, team)).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(team)) = join.value().get() {
            teams.reload();
            navigate(&format!("/teams/{}", team.id), NavigateOptions::default());
        }
    });
    let error = Signal::derive(move || join.value().get().and_then(Result::err));
    view! {
        {move || list.get().filter(|items| !items.is_empty()).map(|items| view! {
            <article class="card joinable-card" aria-labelledby="joinable-title">
                <h2 id="joinable-title">"Teams you can join"</h2>
                <FormAlert error/>
                <ul class="plain-list">
                    {items.into_iter().map(|t| {
                        let id = t.team_id;
                        let label = format!("Join {}", t.team_name);
                        view! {
                            <li class="joinable">
                                <strong>{t.team_name.clone()}</strong>
                                <span class="muted">{format!(" verified {}, the domain of your address.", t.domain)}</span>
                                " "
                                <button type="button" class="button small primary" aria-label=label
                                    disabled=move || join.pending().get() on:click=move |_| { join.dispatch(id); }>"Join"</button>
                            </li>
                        }
                    }).collect_view()}
                </ul>
            </article>
        })}
    }
}

#[component]
fn YourTeams() -> impl IntoView {
    let teams = use_teams();
    view! {
        {loaded(move || teams.get(), "Loading your teams…", move |list: Vec<Team>| {
            (!list.is_empty()).then(|| view! {
                <h2 class="section-title">"Your teams"</h2>
                <ul class="team-grid" role="list">
                    {list.into_iter().map(|team| view! { <TeamTile team/> }).collect_view()}
                </ul>
            })
        })}
    }
}

#[component]
fn TeamTile(team: Team) -> impl IntoView {
    let href = format!("/teams/{}", team.id);
    let members = match team.member_count {
        1 => "1 member".to_owned(),
        n => format!("{n} members"),
    };
    view! {
        <li class="card team-tile">
            <A href=href attr:class="team-tile-link">{team.name.clone()}</A>
            {team.description.clone().map(|d| view! { <p class="muted clamp">{d}</p> })}
            <p class="meta">
                <span class=format!("role-badge role-{}", team.role.as_str())>{team.role.label()}</span>
                <span>{members}</span>
            </p>
        </li>
    }
}

/// Creating a team makes the creator its owner and opens it.
#[component]
fn CreateTeamCard() -> impl IntoView {
    let open = RwSignal::new(false);
    view! {
        <article class="card feature-card" aria-labelledby="create-team-title">
            <h2 id="create-team-title">"Create Your Team"</h2>
            <p>
                "Teams let you invite colleagues, give them roles and issue API keys for development "
                "and production. You will be the team's owner."
            </p>
            <button type="button" class="button primary" on:click=move |_| open.set(true)>"Create team"</button>
        </article>
        <Show when=move || open.get()>
            <CreateTeamDialog on_close=move || open.set(false)/>
        </Show>
    }
}

#[component]
fn CreateTeamDialog<F>(on_close: F) -> impl IntoView
where
    F: Fn() + Clone + Send + Sync + 'static,
{
    let toasts = use_toasts();
    let auth = use_auth();
    let teams = use_teams();
    let navigate = use_navigate();
    let name = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let create = Action::new_unsync(move |body: &CreateTeamRequest| {
        let body = body.clone();
        async move { auth.call(move |t| api::create_team(t, body.clone())).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(team)) = create.value().get() {
            toasts.notify(format!("Team {} created: you are its owner.", team.name));
            teams.reload();
            navigate(&format!("/teams/{}", team.id), NavigateOptions::default());
        }
    });
    let outcome = move || create.value().get();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let description = description.get_untracked().trim().to_owned();
        create.dispatch(CreateTeamRequest {
            name: name.get_untracked().trim().to_owned().into(),
            description: (!description.is_empty()).then_some(description.into()),
        });
    };
    view! {
        <Modal title="Create a team" on_close close_when=Signal::derive(move || matches!(create.value().get(), Some(Ok(_))))>
            <form class="modal-body" on:submit=on_submit>
                <FormAlert error=Signal::derive(move || outcome().and_then(Result::err)) fields=&["name", "description"]/>
                <Field label="Team name" name="name" maxlength=NAME_MAX value=name error=field_error(outcome, "name")/>
                <TextAreaField label="Description" name="description" maxlength=DESCRIPTION_MAX value=description
                    error=field_error(outcome, "description")/>
                <DialogButtons label="Create team" pending=create.pending()/>
            </form>
        </Modal>
    }
}
