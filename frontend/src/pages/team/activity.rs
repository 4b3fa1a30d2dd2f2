//! The team's audit log: newest first, filtered by person and action, paged with "Load more",
//! and exported whole as CSV or NDJSON.

use leptos::prelude::*;
use portal_types::ActivityEntry;

use super::use_team;
use crate::api::{self, ActivityFilter, ApiError, KeyQuery};
use crate::components::{ActionError, EmptyState, loaded, save_file};
use crate::format;
use crate::paged::{LoadMore, all_pages, paged};
use crate::session::use_auth;

#[component]
pub fn ActivityPage() -> impl IntoView {
    let auth = use_auth();
    let team_id = use_team().id();
    let actor = RwSignal::new(String::new());
    let action = RwSignal::new(String::new());
    let filter = move || ActivityFilter {
        actor: Some(actor.get()).filter(|a| !a.is_empty()),
        action: Some(action.get()).filter(|a| !a.is_empty()),
    };
    let export = Action::new_unsync(move |csv: &bool| {
        let (csv, filter) = (*csv, filter());
        async move {
            let file = auth.call(move |t| api::export_activity(t, team_id, filter.clone(), csv)).await?;
            let (name, mime) = if csv { ("csv", "text/csv") } else { ("ndjson", "application/x-ndjson") };
            save_file(&format!("activity-{team_id}.{name}"), mime, &file).map_err(|_| ApiError::Unreadable)
        }
    });
    let export_error = Signal::derive(move || export.value().get().and_then(Result::err));
    let log = paged(filter, move |filter: ActivityFilter, cursor| async move {
        auth.call(move |t| api::activity(t, team_id, filter.clone(), cursor.clone())).await
    });

    view! {
        <section aria-labelledby="activity-title">
            <div class="section-head">
                <h2 id="activity-title">"Activity"</h2>
                <div class="button-row" role="group" aria-label="Export the activity matching the filters">
                    <button type="button" class="button secondary small" disabled=move || export.pending().get()
                        on:click=move |_| { export.dispatch(true); }>"Export CSV"</button>
                    <button type="button" class="button secondary small" disabled=move || export.pending().get()
                        on:click=move |_| { export.dispatch(false); }>"Export NDJSON"</button>
                </div>
            </div>
            <Filters actor action/>
            <ActionError error=export_error/>
            <div aria-live="polite" aria-busy=move || log.pending().then_some("true")>
                {loaded(move || log.get(), "Loading activity…", move |entries: Vec<ActivityEntry>| {
                    if entries.is_empty() {
                        return view! { <EmptyState><p>"No activity matches these filters."</p></EmptyState> }.into_any();
                    }
                    let now = format::now();
                    view! {
                        <ol class="activity-list">
                            {entries.into_iter().map(|e| view! { <Entry entry=e now/> }).collect_view()}
                        </ol>
                    }.into_any()
                })}
            </div>
            <LoadMore list=log what="activity"/>
        </section>
    }
}

#[component]
fn Filters(actor: RwSignal<String>, action: RwSignal<String>) -> impl IntoView {
    let auth = use_auth();
    let team_id = use_team().id();
    // Pickers list every member and key.
    let members =
        LocalResource::new(move || all_pages(move |c| auth.call(move |t| api::members(t, team_id, c.clone()))));
    let keys = LocalResource::new(move || {
        all_pages(move |c| auth.call(move |t| api::api_keys(t, team_id, KeyQuery::default(), c.clone())))
    });
    view! {
        <div class="filters" role="group" aria-label="Filter activity">
            <div class="field">
                <label for="activity-actor">"Who"</label>
                <select id="activity-actor" prop:value=move || actor.get() on:change=move |ev| actor.set(event_target_value(&ev))>
                    <option value="">"Everyone"</option>
                    {move || members.get().and_then(Result::ok).map(|members| members.into_iter().map(|m| {
                        let id = m.user_id.to_string();
                        let selected = actor.get_untracked() == id;
                        view! { <option value=id selected=selected>{m.name}</option> }
                    }).collect_view())}
                    {move || keys.get().and_then(Result::ok).filter(|keys| !keys.is_empty()).map(|keys| view! {
                        <optgroup label="API keys">
                            {keys.into_iter().map(|k| {
                                let id = k.id.to_string();
                                let selected = actor.get_untracked() == id;
                                view! { <option value=id selected=selected>{format!("{} ({}…)", k.name, k.hint)}</option> }
                            }).collect_view()}
                        </optgroup>
                    })}
                </select>
            </div>
            <div class="field">
                <label for="activity-action">"What"</label>
                <select id="activity-action" prop:value=move || action.get() on:change=move |ev| action.set(event_target_value(&ev))>
                    <option value="">"All actions"</option>
                    {format::actions().map(|(value, label)| view! { <option value=value>{label}</option> }).collect_view()}
                </select>
            </div>
        </div>
    }
}

#[component]
fn Entry(entry: ActivityEntry, now: chrono::DateTime<chrono::Utc>) -> impl IntoView {
    let who = entry.actor.as_ref().map_or_else(
        || "System".to_owned(),
        |a| {
            if a.kind == "api_key" { format!("API key {}", a.name) } else { a.name.clone() }
        },
    );
    let details = match (&entry.ip, &entry.user_agent) {
        (None, None) => None,
        (ip, ua) => Some([ip.clone(), ua.clone()].into_iter().flatten().collect::<Vec<_>>().join(" · ")),
    };
    view! {
        <li class="activity-entry">
            <div class="activity-main">
                <strong>{who}</strong> " " <span class="action-label">{format::action(&entry.action)}</span>
                {entry.summary.clone().map(|s| view! { <span class="summary">": " {s}</span> })}
            </div>
            <div class="activity-meta">
                <time datetime=format::iso(entry.created_at) title=format::date_time(entry.created_at)>
                    {format::relative(entry.created_at, now)}
                </time>
                {details.map(|d| view! { <span class="client">{d}</span> })}
            </div>
        </li>
    }
}
