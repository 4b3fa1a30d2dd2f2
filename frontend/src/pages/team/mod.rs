//! A team's screens: one layout (name, role, tabs) around the page of the selected tab.

mod access;
mod activity;
mod domains;
mod keys;
mod members;
mod overview;
mod settings;
mod sso;
mod usage;
mod webhooks;

pub use activity::ActivityPage;
pub use keys::ApiKeysPage;
pub use members::MembersPage;
pub use overview::TeamOverviewPage;
pub use settings::TeamSettingsPage;
#[cfg(test)]
pub(crate) use usage::UsageChart;
pub use usage::{KeyUsagePage, TeamUsagePage};
pub use webhooks::WebhooksPage;

use leptos::prelude::*;
use leptos_router::{
    components::{A, Outlet},
    hooks::use_params_map,
};
use portal_types::{Problem, Role, Team, TeamPermissions};
use uuid::Uuid;

use crate::api::{self, ApiError};
use crate::components::{ErrorAlert, Loading, set_title};
use crate::permissions;
use crate::session::use_auth;

/// The team whose pages are shown, for the pages inside [`TeamLayout`]. Cheap to copy.
#[derive(Clone, Copy)]
pub struct CurrentTeam {
    loaded: RwSignal<Option<Result<Team, ApiError>>>,
    /// A memo, so that renaming the team does not rebuild what depends on the role.
    role: Memo<Role>,
    /// What the user may do here, as the server answered (memo, for the same reason).
    permissions: Memo<TeamPermissions>,
}

pub fn use_team() -> CurrentTeam {
    expect_context::<CurrentTeam>()
}

impl CurrentTeam {
    /// The team (tracked). Pages are only shown once it has loaded.
    pub fn get(&self) -> Option<Team> {
        self.loaded.with(|l| l.as_ref().and_then(|r| r.as_ref().ok()).cloned())
    }

    /// The team's id (not tracked: a page lives for one team).
    pub fn id(&self) -> Uuid {
        self.loaded.with_untracked(|l| l.as_ref().and_then(|r| r.as_ref().ok()).map(|t| t.id)).unwrap_or_default()
    }

    /// The signed-in user's role in the team (tracked); `Member`, the least, until known.
    pub fn role(&self) -> Role {
        self.role.get()
    }

    /// What the signed-in user may do in the team (tracked); nothing until known.
    pub fn permissions(&self) -> TeamPermissions {
        self.permissions.get()
    }

    /// Shows the team as the server returned it after a change.
    pub fn set(&self, team: Team) {
        self.loaded.set(Some(Ok(team)));
    }
}

fn not_found() -> ApiError {
    ApiError::Problem(Box::new(Problem {
        kind: "/problems/not_found".to_owned(),
        title: "Not Found".to_owned(),
        status: 404,
        detail: None,
        code: portal_types::ErrorCode::NotFound,
        field: None,
        required_scope: None,
        sso_url: None,
        request_id: None,
    }))
}

#[component]
pub fn TeamLayout() -> impl IntoView {
    let auth = use_auth();
    let params = use_params_map();
    let team_id = Memo::new(move |_| params.with(|p| p.get("team_id").and_then(|s| Uuid::parse_str(&s).ok())));
    let loaded = RwSignal::new(None::<Result<Team, ApiError>>);
    let role =
        Memo::new(move |_| loaded.with(|l| l.as_ref().and_then(|r| r.as_ref().ok()).map_or(Role::Member, |t| t.role)));
    let permissions = Memo::new(move |_| {
        loaded
            .with(|l| l.as_ref().and_then(|r| r.as_ref().ok()).map(|t| t.permissions.clone()))
            .unwrap_or_else(permissions::nothing)
    });
    let current = CurrentTeam { loaded, role, permissions };
    provide_context(current);
    Effect::new(move |_| {
        let id = team_id.get();
        loaded.set(None);
        leptos::task::spawn_local(async move {
            let result = match id {
                Some(id) => auth.call(move |t| api::team(t, id)).await,
                None => Err(not_found()),
            };
            if team_id.get_untracked() == id {
                loaded.set(Some(result));
            }
        });
    });
    // The pages are built again only when another team is shown, not when this one changes.
    let shown = Memo::new(move |_| loaded.with(|l| l.as_ref().and_then(|r| r.as_ref().ok()).map(|t| t.id)));
    view! {
        <div class="page team-page">
            {move || match loaded.with(|l| l.as_ref().map(|r| r.as_ref().err().cloned())) {
                None => view! { <Loading label="Loading the team…"/> }.into_any(),
                Some(Some(error)) if error.status() == Some(404) => view! {
                    <h1>"Team not found"</h1>
                    <p>"This team does not exist, or you are not one of its members."</p>
                    <A href="/dashboard" attr:class="button primary">"Go to the dashboard"</A>
                    <crate::help::NeedHelp/>
                }.into_any(),
                Some(Some(error)) if error.code() == Some("two_factor_required") => view! {
                    <h1>"Two-factor authentication required"</h1>
                    <p>{error.message()}</p>
                    <A href="/account#two-factor" attr:class="button primary">"Set up two-factor authentication"</A>
                }.into_any(),
                Some(Some(error)) if error.code() == Some("sso_required") => {
                    let start = error.sso_url().unwrap_or_default();
                    view! {
                        <h1>"Single sign-on required"</h1>
                        <p>{error.message()}</p>
                        <a href=start class="button primary" rel="external">"Sign in with SSO"</a>
                    }.into_any()
                }
                Some(Some(error)) => view! { <ErrorAlert error/> }.into_any(),
                Some(None) => ().into_any(),
            }}
            {move || shown.get().map(|id| view! {
                <TeamHeader/>
                <TeamTabs id/>
                <div class="team-content"><Outlet/></div>
            })}
        </div>
    }
}

#[component]
fn TeamHeader() -> impl IntoView {
    let team = use_team();
    let name = move || team.get().map(|t| t.name).unwrap_or_default();
    Effect::new(move |_| set_title(&name()));
    view! {
        <header class="team-header">
            <p class="eyebrow">"Team"</p>
            <h1>{name}</h1>
            <span class=move || format!("role-badge role-{}", team.role().as_str())>
                "Your role: " {move || team.role().label()}
            </span>
        </header>
    }
}

#[component]
fn TeamTabs(id: Uuid) -> impl IntoView {
    let team = use_team();
    let base = format!("/teams/{id}");
    let settings = format!("{base}/settings");
    view! {
        <nav class="tabs" aria-label="Team">
            <A href=base.clone() exact=true>"Overview"</A>
            <A href=format!("{base}/members")>"Members"</A>
            <A href=format!("{base}/activity")>"Activity"</A>
            <A href=format!("{base}/api-keys")>"API Keys"</A>
            <A href=format!("{base}/usage")>"Usage"</A>
            <Show when=move || permissions::manage_webhooks(&team.permissions())>
                <A href=format!("{base}/webhooks")>"Webhooks"</A>
            </Show>
            <Show when=move || permissions::manage_team(&team.permissions())>
                <A href=settings.clone()>"Settings"</A>
            </Show>
        </nav>
    }
}
