//! The team's audit log: newest first, filtered by person and action, paged with "Load more",
//! and exported whole as CSV or NDJSON.

use leptos::prelude::*;
use portal_types::{ActivityEntry, ApiKey};

use super::use_team;
use crate::api::{self, ActivityFilter, ApiError, KeyQuery};
use crate::components::{ActionError, EmptyState, loaded, save_file};
use crate::format;
use crate::paged::{LoadMore, all_pages, paged};
use crate::pages::SEARCH_MAX;
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

/// A key as the pickers name it: its name and hint.
fn key_label(key: &ApiKey) -> String {
    format!("{} ({}…)", key.name, key.hint)
}

#[component]
fn Filters(actor: RwSignal<String>, action: RwSignal<String>) -> impl IntoView {
    let auth = use_auth();
    let team_id = use_team().id();
    // Every member; of the keys, the first page of those matching "Find a key" (a team may have
    // thousands), and the key chosen, wherever it is.
    let members =
        LocalResource::new(move || all_pages(move |c| auth.call(move |t| api::members(t, team_id, c.clone()))));
    let key_search = RwSignal::new(String::new());
    let keys = LocalResource::new(move || {
        let query = KeyQuery { search: key_search.get().trim().to_owned(), ..KeyQuery::default() };
        async move { auth.call(move |t| api::api_keys(t, team_id, query.clone(), None)).await }
    });
    let chosen_key = RwSignal::new(None::<(String, String)>);
    let choose = move |id: String| {
        let label = keys.with_untracked(|page| {
            page.as_ref()
                .and_then(|r| r.as_ref().ok())
                .and_then(|page| page.items.iter().find(|k| k.id.to_string() == id).map(key_label))
        });
        chosen_key.set(label.map(|label| (id.clone(), label)));
        actor.set(id);
    };
    let key_options = move || {
        let page = keys.get().and_then(Result::ok)?;
        let selected = actor.get_untracked();
        let mut options: Vec<(String, String)> = page.items.iter().map(|k| (k.id.to_string(), key_label(k))).collect();
        if let Some((id, label)) =
            chosen_key.get().filter(|(id, _)| *id == selected && !options.iter().any(|o| o.0 == *id))
        {
            options.insert(0, (id, label));
        }
        let label =
            if page.next_cursor.is_some() { "API keys (newest matches; find a key to narrow)" } else { "API keys" };
        (!options.is_empty()).then(|| {
            view! {
                <optgroup label=label>
                    {options.into_iter().map(|(id, name)| {
                        let selected = selected == id;
                        view! { <option value=id selected=selected>{name}</option> }
                    }).collect_view()}
                </optgroup>
            }
        })
    };
    view! {
        <div class="filters" role="group" aria-label="Filter activity">
            <div class="field">
                <label for="activity-actor">"Who"</label>
                <select id="activity-actor" prop:value=move || actor.get() on:change=move |ev| choose(event_target_value(&ev))>
                    <option value="">"Everyone"</option>
                    {move || members.get().and_then(Result::ok).map(|members| members.into_iter().map(|m| {
                        let id = m.user_id.to_string();
                        let selected = actor.get_untracked() == id;
                        view! { <option value=id selected=selected>{m.name}</option> }
                    }).collect_view())}
                    {key_options}
                </select>
            </div>
            <div class="field">
                <label for="activity-key-search">"Find a key"</label>
                <input id="activity-key-search" type="search" placeholder="Name or hint" maxlength=SEARCH_MAX
                    prop:value=move || key_search.get() on:input=move |ev| key_search.set(event_target_value(&ev))/>
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
pub(super) fn Entry(entry: ActivityEntry, now: chrono::DateTime<chrono::Utc>) -> impl IntoView {
    let who = entry.actor.as_ref().map_or_else(
        || "System".to_owned(),
        |a| {
            if a.kind == "api_key" { format!("API key {}", a.name) } else { a.name.clone() }
        },
    );
    // As the Sessions card shows them: the device by name (the raw user agent as its title).
    let device = entry.user_agent.as_deref().map(|ua| (format::device(Some(ua)), ua.to_owned()));
    view! {
        <li class="activity-entry">
            <div class="activity-main">
                <strong>{who}</strong> " " <span class="action-label">{format::action(&entry.action)}</span>
                {entry.summary.as_deref().map(|s| view! { <span class="summary">": " {format::with_times(s)}</span> })}
            </div>
            <div class="activity-meta">
                <time datetime=format::iso(entry.created_at) title=format::date_time(entry.created_at)>
                    {format::relative(entry.created_at, now)}
                </time>
                {entry.ip.clone().map(|ip| view! { <span class="client">{ip}</span> })}
                {device.map(|(name, ua)| view! { <span class="client" title=ua>{name}</span> })}
            </div>
        </li>
    }
}
