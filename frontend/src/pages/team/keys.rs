//! "API Keys": the team's keys, creating one (its secret shown once), rolling and revoking.

use leptos::{ev::SubmitEvent, prelude::*};
use leptos_router::{components::A, hooks::use_query_map};
use portal_types::{
    ApiKey, CreateApiKeyRequest, CreatedApiKey, Environment, Expiration, KeySort, KeyStatus, KeyStatusFilter, RateLimit,
};
use uuid::Uuid;

use super::access::{AccessFields, AccessInputs, ScopePicker, alerts_to_send};
use super::use_team;
use crate::api::{self, KeyQuery};
use crate::components::{
    ActionError, ConfirmDialog, DialogButtons, EmptyState, Field, FormAlert, Modal, RowActions, SecretStep,
    SelectField, TextAreaField, field_error, loaded, use_toasts,
};
use crate::format;
use crate::paged::{LoadMore, paged};
use crate::pages::{DESCRIPTION_MAX, NAME_MAX, SEARCH_MAX};
use crate::permissions;
use crate::session::use_auth;

#[component]
pub fn ApiKeysPage() -> impl IntoView {
    let auth = use_auth();
    let team = use_team();
    let team_id = team.id();
    // The search, filters and order live in the address: a reload or a shared link keeps them.
    let query = use_query_map();
    let initial = move |name: &str| query.with_untracked(|q| q.get(name)).unwrap_or_default();
    let search = RwSignal::new(initial("q"));
    let environment = RwSignal::new(Environment::parse(&initial("environment")));
    let status = RwSignal::new(KeyStatusFilter::parse(&initial("status")));
    let sort = RwSignal::new(KeySort::parse(&initial("sort")).unwrap_or_default());
    let ended = RwSignal::new(initial("ended") == "shown");
    crate::components::keep_in_address(move || {
        [
            ("q", Some(search.get().trim().to_owned()).filter(|s| !s.is_empty())),
            ("environment", environment.get().map(|e| e.as_str().to_owned())),
            ("status", status.get().map(|s| s.as_str().to_owned())),
            ("sort", Some(sort.get()).filter(|s| *s != KeySort::Created).map(|s| s.as_str().to_owned())),
            ("ended", ended.get().then(|| "shown".to_owned())),
        ]
    });
    let version = RwSignal::new(0u32);
    let narrowed =
        move || search.with(|s| !s.trim().is_empty()) || environment.get().is_some() || status.get().is_some();
    // The version is part of the query: a change to the list loads it again.
    let keys = paged(
        move || {
            let q = KeyQuery {
                search: search.get(),
                environment: environment.get(),
                // Ended keys (revoked, expired, rolled over) only when asked for.
                status: status.get().or((!ended.get()).then_some(KeyStatusFilter::Usable)),
                sort: sort.get(),
            };
            (version.get(), q)
        },
        move |(_, q): (u32, KeyQuery), cursor| async move {
            auth.call(move |t| api::api_keys(t, team_id, q.clone(), cursor.clone())).await
        },
    );
    let reload = move || version.update(|v| *v += 1);
    let clear = move |_| {
        search.set(String::new());
        environment.set(None);
        status.set(None);
        sort.set(KeySort::Created);
    };
    let creating = RwSignal::new(false);
    let revoking = RwSignal::new(None::<ApiKey>);
    let rolling = RwSignal::new(None::<ApiKey>);
    let manages = move || permissions::manage_api_keys(&team.permissions());
    view! {
        <section aria-labelledby="keys-title" class="wide-page">
            <div class="section-head">
                <h2 id="keys-title">"API Keys"</h2>
                <Show when=manages>
                    <button type="button" class="button primary" on:click=move |_| creating.set(true)>"Create API Key"</button>
                </Show>
            </div>
            <Show when=move || !manages()>
                <p class="hint">"Only owners and admins can create, roll or revoke keys."</p>
            </Show>
            <KeyFilters search environment status sort/>
            <div class="list-summary">
                <p class="muted" data-keys="count" role="status">
                    {move || keys.get().and_then(Result::ok).map(|list| {
                        let n = list.len();
                        let more = if keys.has_more() { ", more to load" } else { "" };
                        format!("{n} key{} shown{more}", if n == 1 { "" } else { "s" })
                    })}
                </p>
                <label class="check-inline">
                    <input type="checkbox" prop:checked=move || ended.get() prop:disabled=move || status.get().is_some()
                        on:change=move |ev| ended.set(event_target_checked(&ev))/>
                    " Show ended keys (revoked, expired, rolled over)"
                </label>
                <Show when=move || narrowed() || sort.get() != KeySort::Created>
                    <button type="button" class="button small secondary" on:click=clear>"Clear filters"</button>
                </Show>
            </div>
            <div aria-live="polite" aria-busy=move || keys.pending().then_some("true")>
                {loaded(move || keys.get(), "Loading API keys…", move |list: Vec<ApiKey>| {
                    if !list.is_empty() {
                        view! { <KeyTable list revoking rolling/> }.into_any()
                    } else if narrowed() {
                        view! { <EmptyState><p>"No key matches the search and filters."</p></EmptyState> }.into_any()
                    } else if !ended.get_untracked() {
                        view! { <NoWorkingKeys ended manages=manages()/> }.into_any()
                    } else {
                        view! {
                            <EmptyState>
                                <p>"This team has no API keys yet."</p>
                                {manages().then(|| view! { <p>"Create one to call the API from your application."</p> })}
                            </EmptyState>
                        }.into_any()
                    }
                })}
            </div>
            <LoadMore list=keys what="API keys"/>
            <p class="muted list-footnote">
                "Integrators send a key as " <code>"Authorization: Bearer pp_…"</code>
                ". A key acts for this team only. "
                <A href=format!("/teams/{team_id}/usage")>"See the team's usage"</A> "."
            </p>
        </section>
        <Show when=move || creating.get()>
            <CreateKeyDialog on_close=move || creating.set(false) on_created=reload/>
        </Show>
        {move || revoking.get().map(|key| view! { <RevokeKeyDialog key revoking on_revoked=reload/> })}
        {move || rolling.get().map(|key| view! { <RollKeyDialog key rolling on_rolled=reload/> })}
    }
}

/// The list of working keys is empty: a new team's, or one whose keys have all ended (asked
/// once, then said so, with the way to see them).
#[component]
fn NoWorkingKeys(ended: RwSignal<bool>, manages: bool) -> impl IntoView {
    let auth = use_auth();
    let team_id = use_team().id();
    let any = LocalResource::new(move || async move {
        let query = KeyQuery::default();
        auth.call(move |t| api::api_keys(t, team_id, query.clone(), None)).await.map(|p| !p.items.is_empty())
    });
    view! {
        <EmptyState>
            {move || match any.get() {
                Some(Ok(true)) => view! {
                    <p>"No key of this team works now: the others have ended (revoked, expired or rolled over)."</p>
                    <button type="button" class="button small secondary" on:click=move |_| ended.set(true)>"Show ended keys"</button>
                }.into_any(),
                Some(_) => view! { <p>"This team has no API keys yet."</p> }.into_any(),
                None => ().into_any(),
            }}
            {manages.then(|| view! { <p>"Create one to call the API from your application."</p> })}
        </EmptyState>
    }
}

/// Search, filters and order of the key list.
#[component]
fn KeyFilters(
    search: RwSignal<String>,
    environment: RwSignal<Option<Environment>>,
    status: RwSignal<Option<KeyStatusFilter>>,
    sort: RwSignal<KeySort>,
) -> impl IntoView {
    view! {
        <div class="filters" role="search" aria-label="Find API keys">
            <div class="field grow">
                <label for="keys-search">"Search"</label>
                <input id="keys-search" type="search" maxlength=SEARCH_MAX placeholder="Name or start of the key"
                    prop:value=move || search.get() on:input=move |ev| search.set(event_target_value(&ev))/>
            </div>
            <EnvironmentFilter id="keys-environment" environment/>
            <div class="field">
                <label for="keys-status">"Status"</label>
                <select id="keys-status" on:change=move |ev| status.set(KeyStatusFilter::parse(&event_target_value(&ev)))>
                    <option value="" selected=move || status.get().is_none()>"Any"</option>
                    {KeyStatusFilter::ALL.into_iter().filter(|s| *s != KeyStatusFilter::Usable).map(|s| view! {
                        <option value=s.as_str() selected=move || status.get() == Some(s)>{s.label()}</option>
                    }).collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="keys-sort">"Order"</label>
                <select id="keys-sort"
                    on:change=move |ev| sort.set(KeySort::parse(&event_target_value(&ev)).unwrap_or_default())>
                    {KeySort::ALL.map(|s| view! {
                        <option value=s.as_str() selected=move || sort.get() == s>{s.label()}</option>
                    }).collect_view()}
                </select>
            </div>
        </div>
    }
}

/// "Environment: All, Development, Production", narrowing a list of keys.
#[component]
pub(super) fn EnvironmentFilter(id: &'static str, environment: RwSignal<Option<Environment>>) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>"Environment"</label>
            <select id=id on:change=move |ev| environment.set(Environment::parse(&event_target_value(&ev)))>
                <option value="" selected=move || environment.get().is_none()>"All"</option>
                {[Environment::Development, Environment::Production].map(|e| view! {
                    <option value=e.as_str() selected=move || environment.get() == Some(e)>{e.label()}</option>
                }).collect_view()}
            </select>
        </div>
    }
}

fn usable(status: KeyStatus) -> bool {
    matches!(status, KeyStatus::Active | KeyStatus::Rolling)
}

/// When `key` expires, if that is near enough to say so (within the days the server's
/// `attention` narrowing uses): in the list, on its page and on the overview.
pub(super) fn expiring(key: &ApiKey, now: chrono::DateTime<chrono::Utc>) -> Option<chrono::DateTime<chrono::Utc>> {
    key.expires_at.filter(|at| *at - now <= chrono::Duration::days(portal_types::ATTENTION_EXPIRY_DAYS))
}

/// What the status column says of a key: a class for its colour, the words, and the key it
/// links to (a rolled key's replacement, or the key a replacement took over from).
fn key_state(
    key: &ApiKey,
    list: &[ApiKey],
    now: chrono::DateTime<chrono::Utc>,
) -> (&'static str, String, Option<(String, Uuid)>) {
    let replaces = list.iter().find(|k| k.replaced_by == Some(key.id)).map(|k| (format!("replaces {}", k.name), k.id));
    let replacement = key.replaced_by.map(|id| {
        let name = list.iter().find(|k| k.id == id).map_or_else(|| "the replacement".to_owned(), |k| k.name.clone());
        (format!("→ {name}"), id)
    });
    if key.leaked.is_some() || key.compromised_at.is_some() {
        return ("status-revoked", "Compromised".to_owned(), replacement);
    }
    match key.status {
        KeyStatus::Revoked => ("status-revoked", "Revoked".to_owned(), replacement),
        KeyStatus::Expired => ("status-muted", "Expired".to_owned(), None),
        KeyStatus::Rolled => ("status-muted", "Rolled over".to_owned(), replacement),
        KeyStatus::Rolling => {
            // How soon it stops; the key's page says when, and what it still receives.
            let ends = key.grace_until.map(|at| format!(", ends {}", format::relative(at, now))).unwrap_or_default();
            ("status-rolling", format!("Rolling{ends}"), replacement)
        }
        KeyStatus::Active => match expiring(key, now).map(|at| (at - now).num_days()) {
            Some(days) => {
                let when = match days {
                    0 => "today".to_owned(),
                    1 => "in 1 day".to_owned(),
                    n => format!("in {n} days"),
                };
                ("status-rolling", format!("Expires {when}"), replaces)
            }
            _ => ("status-active", "Active".to_owned(), replaces),
        },
    }
}

#[component]
fn KeyTable(list: Vec<ApiKey>, revoking: RwSignal<Option<ApiKey>>, rolling: RwSignal<Option<ApiKey>>) -> impl IntoView {
    let team = use_team();
    let team_id = team.id();
    let now = format::now();
    let rows: Vec<_> = list.iter().map(|key| (key.clone(), key_state(key, &list, now))).collect();
    view! {
        <div class="table-wrap">
            <table class="data-table key-table">
                <caption class="visually-hidden">"API keys of the team"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Environment"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Expires"</th>
                        <th scope="col">"Last used"</th>
                        <th scope="col" class="num">"Requests"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {rows.into_iter().map(|(key, (class, label, link))| {
                        let status = key.status;
                        let name = key.name.clone();
                        let (for_revoke, for_roll) = (key.clone(), key.clone());
                        let page = format!("/teams/{team_id}/api-keys/{}", key.id);
                        let title = match &key.description {
                            Some(d) => format!("{} ({}…): {d}", key.name, key.hint),
                            None => format!("{} ({}…)", key.name, key.hint),
                        };
                        view! {
                            <tr class:inactive=!usable(status) data-key=key.id.to_string()>
                                <td data-label="Name" class="key-name-cell" title=title>
                                    <div class="one-line">
                                        <A href=page.clone() attr:class="key-name">{key.name.clone()}</A>
                                        <code class="hint-code">{format!("{}…", key.hint)}</code>
                                    </div>
                                </td>
                                <td data-label="Environment">
                                    <span class=format!("env-badge env-{}", key.environment.as_str())>{key.environment.label()}</span>
                                </td>
                                <td data-label="Status" class="key-status">
                                    <KeyStatusLine key_id=key.id limit=key.usage_limit.filter(|_| usable(status))
                                        paced=key.rate_limit.is_some() && usable(status) class label link/>
                                </td>
                                <td data-label="Expires">
                                    {match key.expires_at {
                                        Some(at) => view! {
                                            <time datetime=format::iso(at) title=format::date_time(at)>{format::date(at)}</time>
                                        }.into_any(),
                                        None => view! { <span class="muted">"Never"</span> }.into_any(),
                                    }}
                                </td>
                                <td data-label="Last used">
                                    {match key.last_used_at {
                                        Some(at) => view! {
                                            <time datetime=format::iso(at) title=format::date_time(at)>{format::relative(at, now)}</time>
                                        }.into_any(),
                                        None => view! { <span class="muted">"Never used"</span> }.into_any(),
                                    }}
                                </td>
                                <td data-label="Requests" class="num">{format::count(key.request_count)}</td>
                                <td class="actions">
                                    <RowActions label=name.clone()>
                                        <A href=page attr:class="button small secondary"
                                            attr:aria-label=format!("View usage of {name}")>"View usage"</A>
                                        <Show when=move || permissions::manage_api_keys(&team.permissions()) && usable(status)>
                                            {(status == KeyStatus::Active).then(|| {
                                                let key = for_roll.clone();
                                                view! {
                                                    <button type="button" class="button small secondary"
                                                        aria-label=format!("Roll {}", key.name)
                                                        on:click=move |_| rolling.set(Some(key.clone()))>"Roll"</button>
                                                }
                                            })}
                                            <button type="button" class="button small danger-outline"
                                                aria-label=format!("Revoke {}", for_revoke.name)
                                                on:click={
                                                    let key = for_revoke.clone();
                                                    move |_| revoking.set(Some(key.clone()))
                                                }>"Revoke"</button>
                                        </Show>
                                    </RowActions>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// The status column of a key. For a working key with limits, what its usage says (it counts
/// what this instance has not written yet): its use of the month as a bar and "Limit reached"
/// once spent; "Rate limited" when requests were refused for its rate in the last minutes.
#[component]
fn KeyStatusLine(
    key_id: Uuid,
    /// The monthly limit of a working key.
    limit: Option<u64>,
    /// Whether it is a working key with a rate limit.
    paced: bool,
    class: &'static str,
    label: String,
    link: Option<(String, Uuid)>,
) -> impl IntoView {
    let auth = use_auth();
    let team_id = use_team().id();
    let window = super::usage::RATE_WINDOW_MINUTES;
    let usage = LocalResource::new(move || async move {
        if limit.is_none() && !paced {
            return None;
        }
        let range = super::usage::range_ending_now(window, portal_types::Granularity::Minute);
        auth.call(move |t| api::key_usage(t, team_id, key_id, range.clone())).await.ok()
    });
    let quota = move || limit.zip(usage.get().flatten().map(|u| u.used_this_month));
    let throttled = move || usage.get().flatten().map_or(0, |u| u.outcomes.rate_limited);
    let state = move || match quota() {
        Some((limit, used)) if used >= limit => ("status-revoked", "Limit reached".to_owned(), None),
        _ if throttled() > 0 => (
            "status-rolling",
            "Rate limited".to_owned(),
            Some(format!("{} requests refused for its rate in the last {window} minutes", format::count(throttled()))),
        ),
        _ => (class, label.clone(), None),
    };
    let state_class = state.clone();
    let state_title = state.clone();
    view! {
        <div class="one-line">
            <span class=move || format!("status-dot {}", state_class().0) aria-hidden="true"></span>
            <span data-key-status="" title=move || state_title().2>{move || state().1}</span>
            {move || quota().map(|(limit, used)| {
                let words = format!("{} of {} this month", format::count(used), format::count(limit));
                view! {
                    <meter class="quota" min="0" max=limit.to_string() value=used.min(limit).to_string()
                        high=(limit as f64 * 0.8).to_string() optimum="0" title=words.clone()
                        aria-label=format!("Monthly limit: {words}")></meter>
                }
            })}
            {link.map(|(text, id)| view! {
                <A href=format!("/teams/{team_id}/api-keys/{id}") attr:class="key-link">{text}</A>
            })}
        </div>
    }
}

/// The secret step of the key dialogs: which key is ready, then its secret.
#[component]
pub fn KeySecretStep(created: CreatedApiKey) -> impl IntoView {
    view! {
        <SecretStep secret=created.secret>
            <p>
                <strong class="key-name">{created.key.name.clone()}</strong> " (" {created.key.environment.label()}
                ") is ready."
            </p>
        </SecretStep>
    }
}

#[component]
fn CreateKeyDialog<F, G>(on_close: F, on_created: G) -> impl IntoView
where
    F: Fn() + Clone + Send + Sync + 'static,
    G: Fn() + Clone + Send + Sync + 'static,
{
    let toasts = use_toasts();
    let auth = use_auth();
    let team_id = use_team().id();
    let name = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let environment = RwSignal::new("development".to_owned());
    let expiration = RwSignal::new("never".to_owned());
    let limits = LimitInputs::default();
    let access = AccessInputs::default();
    let create = Action::new_unsync(move |body: &CreateApiKeyRequest| {
        let body = body.clone();
        async move { auth.call(move |t| api::create_api_key(t, team_id, body.clone())).await }
    });
    let created = Memo::new(move |_| create.value().get().and_then(Result::ok));
    // The list shows the new key behind the dialog at once.
    Effect::new(move |_| {
        if let Some(created) = created.get() {
            toasts.notify(format!("API key {} created.", created.key.name));
            on_created();
        }
    });
    let outcome = move || create.value().get();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let Some((usage_limit, rate_limit)) = limits.parse() else { return };
        let Some(chosen) = access.parse() else { return };
        let description = description.get_untracked().trim().to_owned();
        create.dispatch(CreateApiKeyRequest {
            name: name.get_untracked().trim().to_owned().into(),
            description: (!description.is_empty()).then_some(description.into()),
            environment: Environment::parse(&environment.get_untracked()).unwrap_or(Environment::Development),
            expiration: match expiration.get_untracked().as_str() {
                "30d" => Expiration::Days30,
                "90d" => Expiration::Days90,
                "180d" => Expiration::Days180,
                _ => Expiration::Never,
            },
            alert_thresholds: (alerts_to_send(usage_limit, chosen.alert_thresholds)).map(Into::into),
            usage_limit,
            rate_limit,
            scopes: Some(chosen.scopes),
            allowed_ips: Some(chosen.allowed_ips.into()),
        });
    };
    let opt = |v: &str, l: &str| (v.to_owned(), l.to_owned());
    let environments = vec![opt("development", "Development (pp_dev_…)"), opt("production", "Production (pp_prod_…)")];
    let expirations =
        vec![opt("never", "Never"), opt("30d", "In 30 days"), opt("90d", "In 90 days"), opt("180d", "In 180 days")];
    view! {
        <Modal title="Generate API Key" on_close>
            {move || match created.get() {
                Some(created) => view! { <KeySecretStep created/> }.into_any(),
                None => {
                    let (environments, expirations) = (environments.clone(), expirations.clone());
                    view! {
                        <form class="modal-body" on:submit=on_submit>
                            <FormAlert error=Signal::derive(move || outcome().and_then(Result::err))
                                fields=LIMIT_FORM_FIELDS/>
                            <Field label="Name" name="name" maxlength=NAME_MAX value=name error=field_error(outcome, "name")
                                hint="e.g. Production App"/>
                            <TextAreaField label="Description" name="description" maxlength=DESCRIPTION_MAX value=description
                                error=field_error(outcome, "description")/>
                            <SelectField label="Environment" name="environment" value=environment options=environments
                                error=field_error(outcome, "environment")/>
                            <SelectField label="Expires" name="expiration" value=expiration options=expirations
                                error=field_error(outcome, "expiration")/>
                            <ScopePicker inputs=access outcome=Signal::derive(move || outcome().and_then(Result::err))/>
                            <LimitFields inputs=limits outcome=Signal::derive(move || outcome().and_then(Result::err))/>
                            <AccessFields inputs=access outcome=Signal::derive(move || outcome().and_then(Result::err))
                                limited=limits.limited()/>
                            <DialogButtons label="Generate API Key" pending=create.pending()/>
                        </form>
                    }.into_any()
                }
            }}
        </Modal>
    }
}

#[component]
fn RevokeKeyDialog<G>(key: ApiKey, revoking: RwSignal<Option<ApiKey>>, on_revoked: G) -> impl IntoView
where
    G: Fn() + Clone + Send + Sync + 'static,
{
    let toasts = use_toasts();
    let auth = use_auth();
    let team_id = use_team().id();
    let key_id = key.id;
    let revoke = Action::new_unsync(move |_: &()| async move {
        auth.call(move |t| api::revoke_api_key(t, team_id, key_id)).await.map(drop)
    });
    let revoked_name = key.name.clone();
    Effect::new(move |_| {
        if let Some(Ok(())) = revoke.value().get() {
            toasts.notify(format!("API key {revoked_name} revoked."));
            on_revoked();
        }
    });
    // What the key is doing now, so that revoking a key in use is a decision, not a surprise.
    let recent = LocalResource::new(move || async move {
        let range = super::usage::range_ending_now(24 * 60, portal_types::Granularity::Hour);
        auth.call(move |t| api::key_usage(t, team_id, key_id, range.clone())).await.map(|u| u.total_requests)
    });
    let last_used = key.last_used_at;
    let in_use = move || {
        let used = match last_used {
            Some(at) => format!("Last used {}", format::relative(at, format::now())),
            None => "Never used".to_owned(),
        };
        match recent.get() {
            Some(Ok(0)) | None if last_used.is_none() => format!("{used}."),
            Some(Ok(n)) => format!("{used}; {} in the last 24 hours.", requests(n)),
            Some(Err(_)) | None => format!("{used}."),
        }
    };
    view! {
        <ConfirmDialog title=format!("Revoke {}?", key.name) confirm_label="Revoke key" action=revoke
            on_close=move || revoking.set(None)>
            <p class="key-in-use" data-revoke="in-use">{in_use}</p>
            <p>
                "Every request with " <code>{format!("{}…", key.hint)}</code> " is refused at once (401). "
                "This cannot be undone: applications using it need a new key."
            </p>
        </ConfirmDialog>
    }
}

/// "1 request", "1,234 requests".
fn requests(n: u64) -> String {
    format!("{} request{}", format::count(n), if n == 1 { "" } else { "s" })
}

const GRACE_PERIODS: [(u64, &str); 4] =
    [(0, "Immediately"), (3_600, "After 1 hour"), (86_400, "After 24 hours"), (604_800, "After 7 days")];

#[component]
fn RollKeyDialog<G>(key: ApiKey, rolling: RwSignal<Option<ApiKey>>, on_rolled: G) -> impl IntoView
where
    G: Fn() + Clone + Send + Sync + 'static,
{
    let toasts = use_toasts();
    let auth = use_auth();
    let team_id = use_team().id();
    let key_id = key.id;
    let grace = RwSignal::new(86_400u64);
    let roll = Action::new_unsync(move |seconds: &u64| {
        let seconds = *seconds;
        async move { auth.call(move |t| api::roll_api_key(t, team_id, key_id, seconds)).await }
    });
    let created = Memo::new(move |_| roll.value().get().and_then(Result::ok));
    let rolled_name = key.name.clone();
    Effect::new(move |_| {
        if created.with(Option::is_some) {
            toasts.notify(format!("{rolled_name} rolled: move your applications to the new key."));
            on_rolled();
        }
    });
    let error = Signal::derive(move || roll.value().get().and_then(Result::err));
    let name = key.name.clone();
    view! {
        <Modal title=format!("Roll {}", key.name) on_close=move || rolling.set(None)>
            {move || match created.get() {
                Some(created) => view! { <KeySecretStep created/> }.into_any(),
                None => view! {
                    <form class="modal-body" on:submit=move |ev: SubmitEvent| { ev.prevent_default(); roll.dispatch(grace.get_untracked()); }>
                        <p>
                            "Rolling makes a new key with the same settings as " <strong>{name.clone()}</strong>
                            ". Give your applications time to switch: the old key keeps working until the grace period ends."
                        </p>
                        <fieldset class="choice-group">
                            <legend>"Old key stops working"</legend>
                            {GRACE_PERIODS.into_iter().map(|(seconds, label)| view! {
                                <label class="choice">
                                    <input type="radio" name="grace" value=seconds.to_string()
                                        prop:checked=move || grace.get() == seconds
                                        on:change=move |_| grace.set(seconds)/>
                                    {label}
                                </label>
                            }).collect_view()}
                        </fieldset>
                        <ActionError error/>
                        <DialogButtons label="Roll key" pending=roll.pending()/>
                    </form>
                }.into_any(),
            }}
        </Modal>
    }
}

/// Fields of the key forms: their errors show next to the inputs.
const LIMIT_FORM_FIELDS: &[&str] = &[
    "name",
    "description",
    "environment",
    "expiration",
    "usage_limit",
    "rate_limit",
    "rate_limit.requests_per_second",
    "rate_limit.burst",
    "scopes",
    "allowed_ips",
    "alert_thresholds",
];

/// Change a key's name, description and limits; they apply at once on every server.
#[component]
pub fn EditKeyDialog<F, G>(key: ApiKey, on_close: F, on_saved: G) -> impl IntoView
where
    F: Fn() + Clone + Send + Sync + 'static,
    G: Fn() + Clone + Send + Sync + 'static,
{
    let toasts = use_toasts();
    let auth = use_auth();
    let team_id = use_team().id();
    let key_id = key.id;
    let name = RwSignal::new(key.name.clone());
    let description = RwSignal::new(key.description.clone().unwrap_or_default());
    let limits = LimitInputs::of(&key);
    let access = AccessInputs::of(&key);
    let save = Action::new_unsync(move |body: &portal_types::UpdateApiKeyRequest| {
        let body = body.clone();
        async move { auth.call(move |t| api::update_api_key(t, team_id, key_id, body.clone())).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(saved)) = save.value().get() {
            toasts.notify(format!("Changes to {} saved.", saved.name));
            on_saved();
        }
    });
    let saved = Signal::derive(move || matches!(save.value().get(), Some(Ok(_))));
    let outcome = move || save.value().get();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let Some((usage_limit, rate_limit)) = limits.parse() else { return };
        let Some(chosen) = access.parse() else { return };
        let description = description.get_untracked().trim().to_owned();
        save.dispatch(portal_types::UpdateApiKeyRequest {
            name: Some(name.get_untracked().trim().to_owned().into()),
            description: Some((!description.is_empty()).then_some(description.into())),
            alert_thresholds: (alerts_to_send(usage_limit, chosen.alert_thresholds)).map(Into::into),
            usage_limit: Some(usage_limit),
            rate_limit: Some(rate_limit),
            scopes: Some(chosen.scopes),
            allowed_ips: Some(Some(chosen.allowed_ips.into())),
        });
    };
    view! {
        <Modal title=format!("Edit {}", key.name) on_close close_when=saved>
            <form class="modal-body" on:submit=on_submit>
                <FormAlert error=Signal::derive(move || outcome().and_then(Result::err)) fields=LIMIT_FORM_FIELDS/>
                <Field label="Name" name="name" maxlength=NAME_MAX value=name error=field_error(outcome, "name")/>
                <TextAreaField label="Description" name="description" maxlength=DESCRIPTION_MAX value=description
                    error=field_error(outcome, "description")/>
                <ScopePicker inputs=access outcome=Signal::derive(move || outcome().and_then(Result::err))/>
                <LimitFields inputs=limits outcome=Signal::derive(move || outcome().and_then(Result::err))/>
                <AccessFields inputs=access outcome=Signal::derive(move || outcome().and_then(Result::err))
                                limited=limits.limited()/>
                <DialogButtons label="Save changes" pending=save.pending()/>
            </form>
        </Modal>
    }
}

/// The limit inputs of the create and edit dialogs, as typed (empty: no limit).
#[derive(Clone, Copy)]
pub struct LimitInputs {
    pub monthly: RwSignal<String>,
    pub per_second: RwSignal<String>,
    pub burst: RwSignal<String>,
    /// (field, message) of the last local check.
    error: RwSignal<Option<(&'static str, String)>>,
}

impl Default for LimitInputs {
    fn default() -> Self {
        Self {
            monthly: RwSignal::new(String::new()),
            per_second: RwSignal::new(String::new()),
            burst: RwSignal::new(String::new()),
            error: RwSignal::new(None),
        }
    }
}

impl LimitInputs {
    /// Whether a monthly limit is typed (tracked).
    pub fn limited(&self) -> Signal<bool> {
        let monthly = self.monthly;
        Signal::derive(move || monthly.with(|m| !m.trim().is_empty()))
    }

    /// Inputs showing a key's current limits.
    pub fn of(key: &ApiKey) -> Self {
        let inputs = Self::default();
        inputs.monthly.set(key.usage_limit.map(|l| l.to_string()).unwrap_or_default());
        if let Some(rate) = key.rate_limit {
            inputs.per_second.set(rate.requests_per_second.to_string());
            inputs.burst.set(rate.burst.to_string());
        }
        inputs
    }

    /// The limits, or None after showing what is wrong.
    pub fn parse(&self) -> Option<Limits> {
        let parsed =
            parse_limits(&self.monthly.get_untracked(), &self.per_second.get_untracked(), &self.burst.get_untracked());
        self.error.set(parsed.as_ref().err().cloned());
        parsed.ok()
    }
}

fn whole_number(raw: &str) -> Result<Option<u64>, ()> {
    let digits = raw.trim().replace([',', '_', ' '], "");
    if digits.is_empty() {
        return Ok(None);
    }
    match digits.parse::<u64>() {
        Ok(n) if n > 0 => Ok(Some(n)),
        _ => Err(()),
    }
}

/// A monthly limit and a rate limit, each optional.
pub type Limits = (Option<u64>, Option<RateLimit>);

/// Typed limits to the API's: a monthly limit, and a rate limit whose burst defaults to the rate.
/// An error names the field (`usage_limit` or `rate_limit`) and says what is wrong.
pub fn parse_limits(monthly: &str, per_second: &str, burst: &str) -> Result<Limits, (&'static str, String)> {
    let usage_limit = whole_number(monthly)
        .map_err(|_| ("usage_limit", "Enter a whole number of requests, or leave it empty.".to_owned()))?;
    let rate_error = || ("rate_limit", "Enter whole numbers from 1 to 100,000, or leave both empty.".to_owned());
    let per_second = whole_number(per_second).map_err(|_| rate_error())?;
    let burst = whole_number(burst).map_err(|_| rate_error())?;
    let rate_limit = match (per_second, burst) {
        (None, None) => None,
        (None, Some(_)) => return Err(("rate_limit", "Enter the requests per second too.".to_owned())),
        (Some(rate), burst) => {
            let rate = u32::try_from(rate).map_err(|_| rate_error())?;
            let burst = u32::try_from(burst.unwrap_or(u64::from(rate))).map_err(|_| rate_error())?;
            Some(RateLimit { requests_per_second: rate, burst })
        }
    };
    Ok((usage_limit, rate_limit))
}

/// Monthly limit and rate limit inputs, with the local check's or the server's message.
#[component]
pub fn LimitFields(inputs: LimitInputs, #[prop(into)] outcome: Signal<Option<crate::api::ApiError>>) -> impl IntoView {
    let message = move |field: &'static str| {
        Signal::derive(move || {
            inputs.error.get().filter(|(f, _)| *f == field).map(|(_, m)| m).or_else(|| {
                outcome.get().filter(|e| e.field().is_some_and(|f| f.starts_with(field))).map(|e| e.message())
            })
        })
    };
    let (monthly_error, rate_error) = (message("usage_limit"), message("rate_limit"));
    view! {
        <div class="field" class:invalid=move || monthly_error.with(Option::is_some)>
            <label for="usage_limit">"Monthly request limit" <span class="optional">" (optional)"</span></label>
            <input id="usage_limit" name="usage_limit" type="text" inputmode="numeric" autocomplete="off"
                bind:value=inputs.monthly aria-describedby="usage_limit-hint"
                aria-invalid=move || monthly_error.with(Option::is_some).then_some("true")/>
            <p class="hint" id="usage_limit-hint">"Requests per calendar month (UTC), exact across all servers. Empty: unlimited."</p>
            {move || monthly_error.get().map(|m| view! { <p class="field-error">{m}</p> })}
        </div>
        <fieldset class="field choice-group" class:invalid=move || rate_error.with(Option::is_some) id="rate_limit">
            <legend>"Rate limit" <span class="optional">" (optional)"</span></legend>
            <div class="inline-fields">
                <div>
                    <label for="rate_limit_per_second">"Requests per second"</label>
                    <input id="rate_limit_per_second" name="rate_limit_per_second" type="text" inputmode="numeric"
                        autocomplete="off" bind:value=inputs.per_second
                        aria-invalid=move || rate_error.with(Option::is_some).then_some("true")/>
                </div>
                <div>
                    <label for="rate_limit_burst">"Burst"</label>
                    <input id="rate_limit_burst" name="rate_limit_burst" type="text" inputmode="numeric"
                        autocomplete="off" bind:value=inputs.burst aria-describedby="rate_limit-hint"
                        aria-invalid=move || rate_error.with(Option::is_some).then_some("true")/>
                </div>
            </div>
            <p class="hint" id="rate_limit-hint">"Requests allowed at once after a pause; empty: the same as the rate. Beyond it, answers are 429 with Retry-After."</p>
            {move || rate_error.get().map(|m| view! { <p class="field-error">{m}</p> })}
        </fieldset>
    }
}

#[cfg(test)]
mod tests {
    use super::parse_limits;
    use portal_types::RateLimit;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn typed_limits_become_the_apis() {
        assert_eq!(parse_limits("", "", ""), Ok((None, None)));
        assert_eq!(parse_limits("10,000", "", ""), Ok((Some(10_000), None)));
        assert_eq!(
            parse_limits("", "5", ""),
            Ok((None, Some(RateLimit { requests_per_second: 5, burst: 5 }))),
            "the burst defaults to the rate"
        );
        assert_eq!(parse_limits("", "5", "20"), Ok((None, Some(RateLimit { requests_per_second: 5, burst: 20 }))));
        assert_eq!(parse_limits("0", "", "").unwrap_err().0, "usage_limit");
        assert_eq!(parse_limits("", "", "20").unwrap_err().0, "rate_limit");
        assert_eq!(parse_limits("", "fast", "").unwrap_err().0, "rate_limit");
    }
}
