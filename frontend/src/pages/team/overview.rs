use leptos::prelude::*;
use leptos_router::components::A;

use super::use_team;
use crate::format;
use crate::permissions;

#[component]
pub fn TeamOverviewPage() -> impl IntoView {
    let team = use_team();
    let base = format!("/teams/{}", team.id());
    view! {
        {move || team.get().map(|t| {
            let members = match t.member_count { 1 => "1 member".to_owned(), n => format!("{n} members") };
            view! {
                <section aria-labelledby="overview-title">
                    <h2 id="overview-title" class="visually-hidden">"Overview"</h2>
                    {match t.description.clone() {
                        Some(d) => view! { <p class="lead">{d}</p> }.into_any(),
                        None => view! { <p class="lead muted">"No description."</p> }.into_any(),
                    }}
                    <dl class="stats">
                        <div><dt>"Members"</dt><dd>{members}</dd></div>
                        <div><dt>"Your role"</dt><dd>{t.role.label()}</dd></div>
                        <div><dt>"Created"</dt><dd>{format::date(t.created_at)}</dd></div>
                    </dl>
                </section>
            }
        })}
        <div class="link-cards">
            <A href=format!("{base}/members") attr:class="card link-card">
                <strong>"Team Members"</strong>
                <span class="muted">{move || if permissions::read_invitations(&team.permissions()) {
                    "See who is in the team, change roles and invite people."
                } else {
                    "See who is in the team and their roles."
                }}</span>
            </A>
            <A href=format!("{base}/activity") attr:class="card link-card">
                <strong>"Activity"</strong>
                <span class="muted">"Who changed what, and when."</span>
            </A>
        </div>
    }
}
