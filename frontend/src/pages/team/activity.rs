//! The team's audit log: newest first, filtered by person and action, paged with "Load more".

use leptos::prelude::*;
use portal_types::ActivityEntry;

use super::use_team;
use crate::api::{self, ActivityFilter, ApiError};
use crate::components::{EmptyState, ErrorAlert, Loading, load};
use crate::format;
use crate::session::use_auth;

#[derive(Clone, Default)]
struct Log {
    entries: Vec<ActivityEntry>,
    next: Option<String>,
}

#[component]
pub fn ActivityPage() -> impl IntoView {
    let auth = use_auth();
    let team_id = use_team().id();
    let actor = RwSignal::new(String::new());
    let action = RwSignal::new(String::new());
    let filter = Memo::new(move |_| ActivityFilter {
        actor: Some(actor.get()).filter(|a| !a.is_empty()),
        action: Some(action.get()).filter(|a| !a.is_empty()),
    });
    // `None` while the first page of the current filter loads.
    let log = RwSignal::new(None::<Result<Log, ApiError>>);
    let more = Action::new_unsync(move |cursor: &Option<String>| {
        let (cursor, filter) = (cursor.clone(), filter.get_untracked());
        async move {
            let f = filter.clone();
            let page = auth.call(move |t| api::activity(t, team_id, f.clone(), cursor.clone())).await;
            (filter, page)
        }
    });
    Effect::new(move |_| {
        let _ = filter.get();
        log.set(None);
        more.dispatch(None);
    });
    Effect::new(move |_| {
        let Some((for_filter, page)) = more.value().get() else { return };
        if for_filter != filter.get_untracked() {
            return; // an answer for filters no longer chosen
        }
        log.update(|log| match (log.take(), page) {
            (Some(Ok(mut l)), Ok(page)) => {
                l.entries.extend(page.items);
                l.next = page.next_cursor;
                *log = Some(Ok(l));
            }
            (Some(Ok(l)), Err(_)) => *log = Some(Ok(l)), // shown under the list
            (_, Ok(page)) => *log = Some(Ok(Log { entries: page.items, next: page.next_cursor })),
            (_, Err(e)) => *log = Some(Err(e)),
        });
    });
    let more_error = Signal::derive(move || {
        let loaded = log.with(|l| matches!(l, Some(Ok(_))));
        more.value().get().and_then(|(_, r)| r.err()).filter(|_| loaded)
    });

    view! {
        <section aria-labelledby="activity-title">
            <h2 id="activity-title">"Activity"</h2>
            <Filters actor action/>
            <div aria-live="polite" aria-busy=move || more.pending().get().then_some("true")>
                {move || match log.get() {
                    None => view! { <Loading label="Loading activity…"/> }.into_any(),
                    Some(Err(error)) => view! { <ErrorAlert error/> }.into_any(),
                    Some(Ok(l)) if l.entries.is_empty() => view! {
                        <EmptyState><p>"No activity matches these filters."</p></EmptyState>
                    }.into_any(),
                    Some(Ok(l)) => {
                        let now = format::now();
                        view! {
                            <ol class="activity-list">
                                {l.entries.into_iter().map(|e| view! { <Entry entry=e now/> }).collect_view()}
                            </ol>
                        }.into_any()
                    }
                }}
            </div>
            {move || more_error.get().map(|error| view! { <ErrorAlert error/> })}
            {move || log.with(|l| l.as_ref().and_then(|r| r.as_ref().ok()).and_then(|l| l.next.clone())).map(|next| view! {
                <button type="button" class="button secondary load-more" disabled=more.pending()
                    on:click=move |_| { more.dispatch(Some(next.clone())); }>
                    {move || if more.pending().get() { "Loading…" } else { "Load more" }}
                </button>
            })}
        </section>
    }
}

#[component]
fn Filters(actor: RwSignal<String>, action: RwSignal<String>) -> impl IntoView {
    let auth = use_auth();
    let team_id = use_team().id();
    let members = load(move || async move { auth.call(move |t| api::members(t, team_id, None)).await });
    let keys = load(move || async move { auth.call(move |t| api::api_keys(t, team_id)).await });
    view! {
        <div class="filters" role="group" aria-label="Filter activity">
            <div class="field">
                <label for="activity-actor">"Who"</label>
                <select id="activity-actor" prop:value=move || actor.get() on:change=move |ev| actor.set(event_target_value(&ev))>
                    <option value="">"Everyone"</option>
                    {move || members.get().and_then(Result::ok).map(|page| page.items.into_iter().map(|m| {
                        let id = m.user_id.to_string();
                        let selected = actor.get_untracked() == id;
                        view! { <option value=id selected=selected>{m.name}</option> }
                    }).collect_view())}
                    {move || keys.get().and_then(Result::ok).filter(|page| !page.items.is_empty()).map(|page| view! {
                        <optgroup label="API keys">
                            {page.items.into_iter().map(|k| {
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
