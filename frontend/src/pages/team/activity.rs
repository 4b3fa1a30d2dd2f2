//! The team's audit log: newest first, filtered by person, action and dates (kept in the
//! address), runs of sign-ins folded, paged with "Load more", and exported whole as CSV or NDJSON.

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
    // The filters live in the address: a reload or a shared link keeps them.
    let query = leptos_router::hooks::use_query_map();
    let initial = move |name: &str| query.with_untracked(|q| q.get(name)).unwrap_or_default();
    let actor = RwSignal::new(initial("who"));
    let action = RwSignal::new(initial("what"));
    let from = RwSignal::new(initial("from"));
    let to = RwSignal::new(initial("to"));
    let kept = |s: RwSignal<String>| Some(s.get()).filter(|v| !v.is_empty());
    crate::components::keep_in_address(move || {
        [("who", kept(actor)), ("what", kept(action)), ("from", kept(from)), ("to", kept(to))]
    });
    // Dates are whole days of the reader's calendar: "to" includes its day.
    let filter = move || ActivityFilter {
        actor: kept(actor),
        action: kept(action),
        from: kept(from).and_then(|d| format::local_day_start(&d, 0)),
        to: kept(to).and_then(|d| format::local_day_start(&d, 1)),
    };
    let narrowed = move || [actor, action, from, to].iter().any(|s| s.with(|v| !v.is_empty()));
    let clear = move |_| {
        for s in [actor, action, from, to] {
            s.set(String::new());
        }
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
            <Filters actor action from to/>
            <Show when=narrowed>
                <button type="button" class="button small secondary" on:click=clear>"Clear filters"</button>
            </Show>
            <ActionError error=export_error/>
            <div aria-live="polite" aria-busy=move || log.pending().then_some("true")>
                {loaded(move || log.get(), "Loading activity…", move |entries: Vec<ActivityEntry>| {
                    if entries.is_empty() {
                        return view! { <EmptyState><p>"No activity matches these filters."</p></EmptyState> }.into_any();
                    }
                    let now = format::now();
                    view! {
                        <ol class="activity-list">
                            // Asked for sign-ins, they are shown one by one.
                            {folded(entries, action.get_untracked() != SIGNED_IN).into_iter().map(|run| match run {
                                Run::One(e) => view! { <Entry entry=e now/> }.into_any(),
                                Run::SignIns(entries) => view! { <SignIns entries now/> }.into_any(),
                            }).collect_view()}
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

/// An entry of the list, or a run of sign-ins shown folded.
enum Run {
    One(ActivityEntry),
    SignIns(Vec<ActivityEntry>),
}

const SIGNED_IN: &str = "auth.signed_in";

/// Runs of two sign-ins or more fold into one line: they are most of a busy team's log, and
/// rarely what one looks for (the "What" filter shows them all).
fn folded(entries: Vec<ActivityEntry>, fold: bool) -> Vec<Run> {
    fn close(run: &mut Vec<ActivityEntry>, runs: &mut Vec<Run>) {
        match run.len() {
            0 => {}
            1 => runs.extend(run.pop().map(Run::One)),
            _ => runs.push(Run::SignIns(std::mem::take(run))),
        }
    }
    let (mut runs, mut run) = (Vec::new(), Vec::new());
    for entry in entries {
        if fold && entry.action == SIGNED_IN {
            run.push(entry);
        } else {
            close(&mut run, &mut runs);
            runs.push(Run::One(entry));
        }
    }
    close(&mut run, &mut runs);
    runs
}

/// A folded run of sign-ins: how many, by whom, when; the entries on request.
#[component]
fn SignIns(entries: Vec<ActivityEntry>, now: chrono::DateTime<chrono::Utc>) -> impl IntoView {
    let mut names: Vec<String> = Vec::new();
    for e in &entries {
        let name = e.actor.as_ref().map_or_else(|| "System".to_owned(), |a| a.name.clone());
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let who = match names.len() {
        1..=3 => names.join(", "),
        n => format!("{} and {} others", names[..2].join(", "), n - 2),
    };
    let (newest, oldest) = (entries[0].created_at, entries[entries.len() - 1].created_at);
    view! {
        <li class="activity-entry folded" data-activity="sign-ins">
            <details>
                <summary>
                    <strong>{format!("{} sign-ins", entries.len())}</strong> " by " {who}
                    <span class="activity-meta">
                        <time datetime=format::iso(oldest) title=format::date_time(oldest)>{format::relative(oldest, now)}</time>
                        {(format::relative(oldest, now) != format::relative(newest, now)).then(|| view! {
                            " – "
                            <time datetime=format::iso(newest) title=format::date_time(newest)>{format::relative(newest, now)}</time>
                        })}
                    </span>
                </summary>
                <ol class="activity-list">
                    {entries.into_iter().map(|e| view! { <Entry entry=e now/> }).collect_view()}
                </ol>
            </details>
        </li>
    }
}

#[component]
fn Filters(
    actor: RwSignal<String>,
    action: RwSignal<String>,
    from: RwSignal<String>,
    to: RwSignal<String>,
) -> impl IntoView {
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
                    {format::actions().map(|(value, label)| {
                        let selected = action.get_untracked() == value;
                        view! { <option value=value selected=selected>{label}</option> }
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="activity-from">"From"</label>
                <input id="activity-from" type="date" prop:value=move || from.get()
                    on:change=move |ev| from.set(event_target_value(&ev))/>
            </div>
            <div class="field">
                <label for="activity-to">"To"</label>
                <input id="activity-to" type="date" prop:value=move || to.get()
                    on:change=move |ev| to.set(event_target_value(&ev))/>
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
