use leptos::prelude::*;

use crate::components::set_title;
use crate::session::use_auth;

#[component]
pub fn DashboardPage() -> impl IntoView {
    set_title("Dashboard");
    let auth = use_auth();
    let name = move || auth.user().map(|u| u.name).unwrap_or_default();
    view! {
        <section class="page">
            <h1>"Welcome, " {name}</h1>
            <p class="lead">"This is your Partner Portal. Everything you build with us starts with a team."</p>
            <CreateTeamCard/>
        </section>
    }
}

/// Teams arrive in a later release; until then the card explains what they will do.
#[component]
fn CreateTeamCard() -> impl IntoView {
    view! {
        <article class="card feature-card" aria-labelledby="create-team-title">
            <h2 id="create-team-title">"Create Your Team"</h2>
            <p>
                "Teams let you invite colleagues, give them roles and issue API keys for development "
                "and production. They are coming soon."
            </p>
            <button type="button" class="button primary" disabled aria-describedby="create-team-soon">
                "Create team"
            </button>
            <span id="create-team-soon" class="badge">"Coming soon"</span>
        </article>
    }
}
