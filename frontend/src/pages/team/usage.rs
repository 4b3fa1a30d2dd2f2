//! Usage analytics: one key's ("View Usage") and the whole team's, over a chosen range.

use chrono::{DateTime, Utc};
use leptos::prelude::*;
use leptos_router::{components::A, hooks::use_params_map};
use portal_types::{ApiKey, Environment, Granularity, KeyUsageSummary, TeamUsage, Usage, UsagePoint};
use uuid::Uuid;

use super::access::scope_summary;
use super::keys::{EditKeyDialog, EnvironmentFilter, KeySecretStep};
use super::use_team;
use crate::api::{self, UsageOf, UsageRange};
use crate::components::{ActionError, DialogButtons, EmptyState, Field, Handler, Modal, loaded, use_modal, use_toasts};
use crate::format;
use crate::pages::NAME_MAX;
use crate::permissions;
use crate::session::use_auth;

/// The ranges on offer: label, length in minutes, bucket size.
const RANGES: [(&str, i64, Granularity); 5] = [
    ("1 hour", 60, Granularity::Minute),
    ("24 hours", 24 * 60, Granularity::Hour),
    ("7 days", 7 * 24 * 60, Granularity::Day),
    ("30 days", 30 * 24 * 60, Granularity::Day),
    ("90 days", 90 * 24 * 60, Granularity::Day),
];

/// The range a usage page opens with: the last 24 hours.
const FIRST_RANGE: usize = 1;

/// The last `minutes` up to now, in buckets of `granularity`.
pub(super) fn range_ending_now(minutes: i64, granularity: Granularity) -> UsageRange {
    let to = format::now_ms();
    UsageRange { from: format::iso_ms(to - minutes * 60_000), to: format::iso_ms(to), granularity }
}

fn chosen_range(chosen: usize) -> UsageRange {
    let (_, hours, granularity) = RANGES[chosen];
    range_ending_now(hours, granularity)
}

/// Buttons choosing the range (the chosen one is pressed), and the range's CSV download.
#[component]
fn RangePicker(chosen: RwSignal<usize>, of: UsageOf) -> impl IntoView {
    let auth = use_auth();
    let download = Action::new_unsync(move |_: &()| {
        let range = chosen_range(chosen.get_untracked());
        let name = match of {
            UsageOf::Key(_, key) => format!("usage-key-{key}.csv"),
            UsageOf::Team(team) => format!("usage-team-{team}.csv"),
        };
        async move {
            let csv = auth.call(move |t| api::usage_csv(t, of, range.clone())).await?;
            crate::components::save_file(&name, "text/csv", &csv).map_err(|_| api::ApiError::Unreadable)
        }
    });
    let error = Signal::derive(move || download.value().get().and_then(Result::err));
    view! {
        <div class="section-head usage-toolbar">
            <div class="range-picker" role="group" aria-label="Time range">
                {RANGES.iter().enumerate().map(|(i, (label, _, _))| view! {
                    <button type="button" class="segment" aria-pressed=move || (chosen.get() == i).to_string()
                        on:click=move |_| chosen.set(i)>{*label}</button>
                }).collect_view()}
            </div>
            <button type="button" class="button secondary small" aria-busy=move || download.pending().get().then_some("true")
                on:click=move |_| { download.dispatch(()); }>
                {move || if download.pending().get() { "Preparing…" } else { "Download CSV" }}
            </button>
        </div>
        <ActionError error/>
    }
}

#[component]
pub fn KeyUsagePage() -> impl IntoView {
    // A link from one key's page to another's (its replacement) keeps this route: the page is
    // drawn again for the other key.
    let params = use_params_map();
    let key_id =
        Memo::new(move |_| params.with(|p| p.get("key_id").and_then(|s| Uuid::parse_str(&s).ok())).unwrap_or_default());
    move || view! { <KeyPage key_id=key_id.get()/> }
}

#[component]
fn KeyPage(key_id: Uuid) -> impl IntoView {
    let auth = use_auth();
    let team_id = use_team().id();
    let chosen = RwSignal::new(FIRST_RANGE);
    let key = LocalResource::new(move || async move { auth.call(move |t| api::api_key(t, team_id, key_id)).await });
    let usage = LocalResource::new(move || {
        let range = chosen_range(chosen.get());
        async move { auth.call(move |t| api::key_usage(t, team_id, key_id, range.clone())).await }
    });
    let reload = move || {
        key.refetch();
        usage.refetch();
    };
    // The key's dialogs live here, outside the key's view that each change reloads.
    let dialog = RwSignal::new(None::<KeyDialog>);
    view! {
        <p class="back"><A href=format!("/teams/{team_id}/api-keys")>"← All API keys"</A></p>
        {loaded(move || key.get(), "Loading the key…", move |key: ApiKey| view! {
                {key.leaked.clone().map(|leak| view! {
                    <div class="alert error leak-banner" role="alert">
                        <h2>"This key was found public and revoked"</h2>
                        <p>
                            "Found " {leak.url.clone().map(|u| view! { "at " <code class="leak-url">{u}</code> " " })}
                            "(" {leak.source.clone()} "), revoked " {format::date_time(leak.reported_at)} ". "
                            "Create a replacement, remove the secret from where it was found, and check the last requests below."
                        </p>
                    </div>
                })}
                <div class="section-head">
                    <h2>"Usage of " {key.name.clone()}</h2>
                    <span class=format!("env-badge env-{}", key.environment.as_str())>{key.environment.label()}</span>
                </div>
                <p class="muted">
                    <code class="hint-code">{format!("{}…", key.hint)}</code> " · " {key.status.label()}
                    " · created " {format::date(key.created_at)}
                </p>
                <KeyHealth key/>
        })}
        {move || dialog.get().map(|open| {
            let close = move || dialog.set(None);
            match open {
                KeyDialog::Edit(key) => view! { <EditKeyDialog key on_close=close on_saved=reload/> }.into_any(),
                KeyDialog::Compromised(key) => view! {
                    <CompromisedDialog key on_close=close on_reported=reload/>
                }.into_any(),
            }
        })}
        <section id="key-usage" tabindex="-1" aria-label="Requests of this key">
            <RangePicker chosen of=UsageOf::Key(team_id, key_id)/>
            {loaded(move || usage.get(), "Loading usage…", move |usage| view! { <UsageReport usage/> })}
        </section>
        // The settings come after the numbers.
        {move || key.get().and_then(Result::ok).map(|key| view! {
            <KeyAccess key=key.clone() dialog/>
            <KeyLimits key dialog/>
        })}
    }
}

/// How recent a refusal for rate must be to count as "rate limited now", in minutes.
pub(super) const RATE_WINDOW_MINUTES: i64 = 5;

/// What needs attention about a key, first on its page: a rate it is going over now, a spent
/// monthly limit, a rolling key's
/// end (and the traffic it still gets), an ended key, an expiry close by. Nothing for a healthy key.
#[component]
fn KeyHealth(key: ApiKey) -> impl IntoView {
    use portal_types::KeyStatus;
    let auth = use_auth();
    let team_id = use_team().id();
    let key_id = key.id;
    // The last hour: what the key still receives, and its month.
    let recent = LocalResource::new(move || async move {
        let range = range_ending_now(60, Granularity::Hour);
        auth.call(move |t| api::key_usage(t, team_id, key_id, range.clone())).await.ok()
    });
    // A key with a rate limit: what it was refused for going too fast, just now.
    let paced = key.rate_limit;
    let throttled = LocalResource::new(move || async move {
        paced?;
        let range = range_ending_now(RATE_WINDOW_MINUTES, Granularity::Minute);
        let usage = auth.call(move |t| api::key_usage(t, team_id, key_id, range.clone())).await.ok()?;
        (usage.outcomes.rate_limited > 0).then_some((usage.outcomes.rate_limited, usage.total_requests))
    });
    let now = format::now();
    let replaced_by = key.replaced_by;
    let replacement = move || {
        replaced_by.map(|id| {
            view! {
                " " <A href=format!("/teams/{team_id}/api-keys/{id}")>"Go to its replacement"</A> "."
            }
        })
    };
    let still = move || {
        recent.get().flatten().map(|u| match u.total_requests {
            0 => "It received no request in the last hour.".to_owned(),
            1 => "It still received 1 request in the last hour: update what sends it.".to_owned(),
            n => format!("It still received {} requests in the last hour: update what sends them.", format::count(n)),
        })
    };
    let ended = match key.status {
        _ if key.leaked.is_some() => None,
        KeyStatus::Revoked if key.compromised_at.is_some() => Some((
            "This key was reported compromised",
            format!(
                "It was revoked {}: every request with it is refused with 401. Check its last requests below for misuse.",
                key.compromised_at.map(format::date_time).unwrap_or_default()
            ),
        )),
        KeyStatus::Revoked => Some(("This key is revoked", "Every request with it is refused with 401.".to_owned())),
        KeyStatus::Expired => Some((
            "This key has expired",
            format!("It stopped working {}.", key.expires_at.map(format::date_time).unwrap_or_default()),
        )),
        KeyStatus::Rolled => {
            Some(("This key was rolled over", "Its replacement took over; it is refused with 401.".to_owned()))
        }
        _ => None,
    };
    let rolling = (key.status == KeyStatus::Rolling).then_some(key.grace_until).flatten();
    let expiring = (key.status == KeyStatus::Active).then(|| super::keys::expiring(&key, now)).flatten();
    let limit = key.usage_limit.filter(|_| matches!(key.status, KeyStatus::Active | KeyStatus::Rolling));
    let spent = move || {
        let usage = recent.get().flatten()?;
        let limit = limit?;
        (usage.used_this_month >= limit).then_some((usage.used_this_month, limit))
    };
    let usable = matches!(key.status, KeyStatus::Active | KeyStatus::Rolling);
    let rate = key.rate_limit;
    view! {
        <div class="key-health" data-key-health="">
            {move || throttled.get().flatten().filter(|_| usable).zip(rate).map(|((refused, total), rate)| view! {
                <div class="alert warning" role="status" data-health="rate">
                    <h2>"Rate limited now"</h2>
                    <p>
                        {format!("{} of its {} requests in the last {RATE_WINDOW_MINUTES} minutes were refused with 429 for going \
                            faster than {} a second (bursts of {}). ",
                            format::count(refused), format::count(total),
                            format::count(rate.requests_per_second.into()), format::count(rate.burst.into()))}
                        "Slow the client down (it should wait the Retry-After seconds), or raise the rate limit under Limits below."
                    </p>
                </div>
            })}
            {move || spent().map(|(used, limit)| view! {
                <div class="alert error" role="alert">
                    <h2>"Monthly limit reached"</h2>
                    <p>
                        {format!("{} of {} requests used this month: every request is refused with 429 until the month ends (UTC). ",
                            format::count(used), format::count(limit))}
                        "Raise the limit under Limits below if the traffic is expected."
                    </p>
                </div>
            })}
            {rolling.map(|until| view! {
                <div class="alert warning" role="status">
                    <h2>{format!("Rolling: this key stops working {}", format::relative(until, now))}</h2>
                    <p>
                        {format!("Its grace period ends {}. ", format::date_time(until))}
                        {still}
                        {replacement()}
                    </p>
                </div>
            })}
            {ended.map(|(title, text)| view! {
                <div class="alert warning" role="status">
                    <h2>{title}</h2>
                    <p>{text} {replacement()}</p>
                </div>
            })}
            {expiring.map(|at| view! {
                <div class="alert warning" role="status">
                    <h2>{format!("This key expires {}", format::relative(at, now))}</h2>
                    <p>{format!("It stops working {}. Roll it before then so that its replacement is in place.", format::date_time(at))}</p>
                </div>
            })}
        </div>
    }
}

/// The dialog open on a key's page.
#[derive(Clone)]
enum KeyDialog {
    Edit(ApiKey),
    Compromised(ApiKey),
}

/// What the key may do and from where, and "Report compromised" for those who manage keys.
#[component]
fn KeyAccess(key: ApiKey, dialog: RwSignal<Option<KeyDialog>>) -> impl IntoView {
    let team = use_team();
    let usable = matches!(key.status, portal_types::KeyStatus::Active | portal_types::KeyStatus::Rolling);
    let may_report = move || usable && permissions::manage_api_keys(&team.permissions());
    let ips = if key.allowed_ips.is_empty() { "Any address".to_owned() } else { key.allowed_ips.join(", ") };
    let alerts = super::access::alerts_summary(key.usage_limit, &key.alert_thresholds);
    let scopes: Vec<&'static str> = key.scopes.iter().map(|s| s.as_str()).collect();
    // Who answers for the key, and how they sign in: keys keep working whatever the team's
    // single sign-on rule, capped by their creator's role.
    let creator = key.creator.clone().map(|c| {
        let how = match (c.member, c.sso_linked) {
            (false, _) => "left the team (the key acts as a member at most)",
            (true, true) => "signs in with SSO",
            (true, false) => "signs in with a password",
        };
        format!("{} · {how}", c.name)
    });
    let key = StoredValue::new(key);
    view! {
        <section class="section key-access" aria-labelledby="access-title">
            <div class="section-head">
                <h3 id="access-title">"Access"</h3>
                <Show when=may_report>
                    <button type="button" class="button small danger-outline"
                        on:click=move |_| dialog.set(Some(KeyDialog::Compromised(key.get_value())))>
                        "Report compromised"
                    </button>
                </Show>
            </div>
            <dl class="stats limits">
                <div><dt>"Scopes"</dt><dd data-access="scopes" title=scopes.join(" ")>{key.with_value(|k| scope_summary(&k.scopes))}</dd></div>
                <div><dt>"Allowed addresses"</dt><dd data-access="ips">{ips}</dd></div>
                <div><dt>"Usage alerts"</dt><dd data-access="alerts">{alerts}</dd></div>
                {creator.map(|c| view! { <div><dt>"Created by"</dt><dd data-access="creator">{c}</dd></div> })}
            </dl>
        </section>
    }
}

/// The guide's incident response in one step: revoke now, optionally replace, then look at the
/// old key's last requests.
#[component]
fn CompromisedDialog<F, G>(key: ApiKey, on_close: F, on_reported: G) -> impl IntoView
where
    F: Fn() + Clone + Send + Sync + 'static,
    G: Fn() + Clone + Send + Sync + 'static,
{
    let toasts = use_toasts();
    let auth = use_auth();
    let team_id = use_team().id();
    let key_id = key.id;
    let replace = RwSignal::new(true);
    let name = RwSignal::new(format!("{} (replacement)", key.name).chars().take(100).collect::<String>());
    let report = Action::new_unsync(move |body: &portal_types::ReportCompromisedRequest| {
        let body = body.clone();
        async move { auth.call(move |t| api::report_compromised(t, team_id, key_id, body.clone())).await }
    });
    let done = Memo::new(move |_| report.value().get().and_then(Result::ok));
    let reported_name = key.name.clone();
    Effect::new(move |_| {
        if let Some(result) = done.get() {
            toasts.notify(match result.replacement {
                Some(new) => format!("{reported_name} revoked as compromised; {} replaces it.", new.key.name),
                None => format!("{reported_name} revoked as compromised."),
            });
        }
    });
    let close = on_close.clone();
    // Closing after the report: reload the key, and take the user to its last requests.
    let finish = Handler::from(move || {
        close();
        if done.with_untracked(Option::is_none) {
            return;
        }
        on_reported();
        // After the dialog has given the focus back to its opener (it closes as it goes).
        request_animation_frame(|| {
            if let Some(section) = document().get_element_by_id("key-usage") {
                use leptos::wasm_bindgen::JsCast;
                section.scroll_into_view();
                if let Ok(section) = section.dyn_into::<leptos::web_sys::HtmlElement>() {
                    let _ = section.focus();
                }
            }
        });
    });
    let error = Signal::derive(move || report.value().get().and_then(Result::err));
    let outcome = move || report.value().get();
    let hint = key.hint.clone();
    view! {
        <Modal title=format!("Report {} compromised", key.name) on_close=finish>
            {move || match done.get() {
                Some(result) => match result.replacement {
                    Some(created) => view! { <KeySecretStep created/> }.into_any(),
                    None => {
                        let modal = use_modal();
                        view! {
                            <div class="modal-body"><p>"The key is revoked. Requests made with it are refused from now on."</p></div>
                            <div class="modal-actions">
                                <button type="button" class="button primary" on:click=move |_| modal.close()>
                                    "Check its last requests"
                                </button>
                            </div>
                        }.into_any()
                    }
                },
                None => view! {
                    <form class="modal-body" on:submit=move |ev: leptos::ev::SubmitEvent| {
                        ev.prevent_default();
                        let replacement_name = replace.get_untracked().then(|| name.get_untracked().trim().to_owned());
                        report.dispatch(portal_types::ReportCompromisedRequest { replacement_name: replacement_name.map(Into::into) });
                    }>
                        <p>
                            "The key " <code>{format!("{}…", hint.clone())}</code>
                            " is revoked at once on every server: every request with it gets 401. This cannot be undone."
                        </p>
                        <label class="choice">
                            <input type="checkbox" name="replace" prop:checked=replace
                                on:change=move |ev| replace.set(event_target_checked(&ev))/>
                            "Create a replacement with the same settings"
                        </label>
                        <Show when=move || replace.get()>
                            <Field label="Name of the replacement" name="replacement_name" maxlength=NAME_MAX value=name
                                error=crate::components::field_error(outcome, "replacement_name")/>
                        </Show>
                        <p class="hint">
                            "Then update the systems that used the old key, and check its last requests for misuse. "
                            <crate::help::SupportLink text="Report unauthorized usage to support"/>
                        </p>
                        <ActionError error/>
                        <DialogButtons label="Revoke key" pending=report.pending() danger=true/>
                    </form>
                }.into_any(),
            }}
        </Modal>
    }
}

#[component]
pub fn TeamUsagePage() -> impl IntoView {
    let auth = use_auth();
    let team_id = use_team().id();
    let chosen = RwSignal::new(FIRST_RANGE);
    let usage = LocalResource::new(move || {
        let range = chosen_range(chosen.get());
        async move { auth.call(move |t| api::team_usage(t, team_id, range.clone())).await }
    });
    view! {
        <div class="section-head">
            <h2>"Team usage"</h2>
        </div>
        <p class="muted">"Requests made with all of this team's API keys."</p>
        <p class="hint" data-usage="counting">
            "What counts toward monthly limits: every request a key makes, except those its check refuses: "
            "401 (the key does not work) and 429 (its limit is spent, or it went over its rate). "
            "So the total below can be higher than what this month counts against limits."
        </p>
        <RangePicker chosen of=UsageOf::Team(team_id)/>
        {loaded(move || usage.get(), "Loading usage…", move |team_usage: TeamUsage| view! {
            <UsageReport usage=team_usage.usage/>
            <KeyBreakdown keys=team_usage.keys team_id/>
        })}
    }
}

/// A key's monthly limit and rate limit, with "Edit" for those who manage keys.
#[component]
fn KeyLimits(key: ApiKey, dialog: RwSignal<Option<KeyDialog>>) -> impl IntoView {
    let team = use_team();
    let monthly =
        key.usage_limit.map_or_else(|| "None".to_owned(), |l| format!("{} requests a month", format::count(l)));
    let rate = key.rate_limit.map_or_else(
        || "None".to_owned(),
        |r| {
            format!(
                "{} a second, bursts of {}",
                format::count(r.requests_per_second.into()),
                format::count(r.burst.into())
            )
        },
    );
    let usable = matches!(key.status, portal_types::KeyStatus::Active | portal_types::KeyStatus::Rolling);
    let may_edit = move || usable && permissions::manage_api_keys(&team.permissions());
    let key = StoredValue::new(key);
    view! {
        <section class="section key-limits" aria-labelledby="limits-title">
            <div class="section-head">
                <h3 id="limits-title">"Limits"</h3>
                <Show when=may_edit>
                    <button type="button" class="button small secondary"
                        on:click=move |_| dialog.set(Some(KeyDialog::Edit(key.get_value())))
                        aria-label=move || format!("Edit {}", key.with_value(|k| k.name.clone()))>"Edit"</button>
                </Show>
            </div>
            <dl class="stats limits">
                <div><dt>"Monthly limit"</dt><dd data-limit="monthly">{monthly}</dd></div>
                <div><dt>"Rate limit"</dt><dd data-limit="rate">{rate}</dd></div>
            </dl>
        </section>
    }
}

/// How the by-key table is ordered.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ByKeyOrder {
    Requests,
    Errors,
    LastUsed,
}

impl ByKeyOrder {
    const ALL: [(Self, &'static str, &'static str); 3] = [
        (Self::Requests, "requests", "Most requests"),
        (Self::Errors, "errors", "Most errors"),
        (Self::LastUsed, "last_used", "Last used"),
    ];
}

/// Each key's share of the range: sortable by requests, errors and last use, narrowed by
/// environment.
#[component]
fn KeyBreakdown(keys: Vec<KeyUsageSummary>, team_id: Uuid) -> impl IntoView {
    let order = RwSignal::new(ByKeyOrder::Requests);
    let environment = RwSignal::new(None::<Environment>);
    let any = !keys.is_empty();
    let shown = move || {
        let mut shown: Vec<KeyUsageSummary> =
            keys.iter().filter(|k| environment.get().is_none_or(|e| k.environment == e)).cloned().collect();
        match order.get() {
            ByKeyOrder::Requests => {
                shown.sort_by(|a, b| b.total_requests.cmp(&a.total_requests).then(a.name.cmp(&b.name)))
            }
            ByKeyOrder::Errors => shown.sort_by(|a, b| b.error.cmp(&a.error).then(a.name.cmp(&b.name))),
            ByKeyOrder::LastUsed => shown.sort_by(|a, b| b.last_used_at.cmp(&a.last_used_at).then(a.name.cmp(&b.name))),
        }
        shown
    };
    let now = format::now();
    view! {
        <section class="section" aria-labelledby="by-key-title">
            <h3 id="by-key-title">"By key"</h3>
            {if !any {
                view! { <EmptyState><p>"No key was used in this period."</p></EmptyState> }.into_any()
            } else {
                view! {
                    <div class="filters" role="search" aria-label="Order and narrow the keys">
                        <EnvironmentFilter id="by-key-environment" environment/>
                        <div class="field">
                            <label for="by-key-order">"Order"</label>
                            <select id="by-key-order" on:change=move |ev| {
                                let value = event_target_value(&ev);
                                if let Some((o, _, _)) = ByKeyOrder::ALL.iter().find(|(_, v, _)| *v == value) {
                                    order.set(*o);
                                }
                            }>
                                {ByKeyOrder::ALL.map(|(o, value, label)| view! {
                                    <option value=value selected=move || order.get() == o>{label}</option>
                                }).collect_view()}
                            </select>
                        </div>
                    </div>
                    <div class="table-wrap">
                        <table class="data-table">
                            <caption class="visually-hidden">"Requests by key"</caption>
                            <thead><tr>
                                <th scope="col">"Key"</th>
                                <th scope="col">"Environment"</th>
                                <th scope="col" class="num">"Requests"</th>
                                <th scope="col" class="num">"Errors"</th>
                                <th scope="col">"Last used"</th>
                            </tr></thead>
                            <tbody>
                                {move || shown().into_iter().map(|k| view! {
                                    <tr>
                                        <td data-label="Key"><A href=format!("/teams/{team_id}/api-keys/{}", k.key_id)>{k.name.clone()}</A></td>
                                        <td data-label="Environment">{k.environment.label()}</td>
                                        <td data-label="Requests" class="num">{format::count(k.total_requests)}</td>
                                        <td data-label="Errors" class="num">{format::count(k.error)}</td>
                                        <td data-label="Last used">{match k.last_used_at {
                                            Some(at) => view! {
                                                <time datetime=format::iso(at) title=format::date_time(at)>{format::relative(at, now)}</time>
                                            }.into_any(),
                                            None => view! { <span class="muted">"Never used"</span> }.into_any(),
                                        }}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        </section>
    }
}

/// Totals, the monthly limit, the chart and the status codes of one range.
#[component]
fn UsageReport(usage: Usage) -> impl IntoView {
    let limit = match (usage.usage_limit, usage.remaining) {
        (Some(limit), remaining) => view! {
            {format::count(remaining.unwrap_or(0))}
            <small>{format!("left of {} this month", format::count(limit))}</small>
        }
        .into_any(),
        (None, _) => {
            view! { "Unlimited" <small>{format!("{} counted toward limits this month", format::count(usage.used_this_month))}</small> }
                .into_any()
        }
    };
    let granularity = usage.granularity;
    view! {
        <dl class="stats usage-stats">
            <div><dt>"Total requests"</dt><dd data-stat="total">{format::count(usage.total_requests)}</dd></div>
            <div><dt>"Errors"</dt><dd data-stat="errors">{format::count(usage.error)} <small>{format!("{} error rate", format::percent(usage.error_rate))}</small></dd></div>
            <div><dt>"Latency (median)"</dt><dd data-stat="latency">{match usage.latency {
                Some(p) => view! {
                    {format::millis(p.p50_ms)}
                    <small>{format!("p95 {} · p99 {}", format::millis(p.p95_ms), format::millis(p.p99_ms))}</small>
                }.into_any(),
                None => view! { <span class="muted">"No requests"</span> }.into_any(),
            }}</dd></div>
            <div><dt>"Monthly limit"</dt><dd data-stat="limit">{limit}</dd></div>
        </dl>
        <Outcomes outcomes=usage.outcomes total=usage.total_requests/>
        <UsageChart series=usage.series granularity/>
        <section class="section" aria-labelledby="status-title">
            <h3 id="status-title">"Status codes"</h3>
            {if usage.status_codes.is_empty() {
                view! { <EmptyState><p>"No requests in this period."</p></EmptyState> }.into_any()
            } else {
                view! {
                    <div class="table-wrap">
                        <table class="data-table status-table">
                            <caption class="visually-hidden">"Requests by status code"</caption>
                            <thead><tr><th scope="col">"Status"</th><th scope="col" class="num">"Requests"</th></tr></thead>
                            <tbody>
                                {usage.status_codes.into_iter().map(|c| view! {
                                    <tr>
                                        <td data-label="Status">
                                            <span class=status_class(c.status)>{c.status}</span>
                                        </td>
                                        <td data-label="Requests" class="num">{format::count(c.count)}</td>
                                    </tr>
                                }).collect_view()}
                            </tbody>
                        </table>
                    </div>
                }.into_any()
            }}
        </section>
    }
}

/// The range's answers by what they mean, not one "errors" figure: served, refused for going
/// over the rate, refused for a spent monthly limit, denied (401, 403), the caller's other
/// mistakes (4xx) and the service's failures (5xx).
#[component]
fn Outcomes(outcomes: portal_types::Outcomes, total: u64) -> impl IntoView {
    let outcomes = [
        ("success", "Served", outcomes.success),
        ("rate", "Rate limited (429)", outcomes.rate_limited),
        ("quota", "Monthly limit spent (429)", outcomes.quota_exceeded),
        ("denied", "Denied (401, 403)", outcomes.denied),
        ("client", "Other client errors (4xx)", outcomes.client_error),
        ("server", "Server errors (5xx)", outcomes.server_error),
    ];
    (total > 0).then(|| {
        view! {
            <dl class="outcomes" aria-label="Answers by outcome">
                {outcomes.map(|(id, label, n)| view! {
                    <div class=format!("outcome outcome-{id}") data-outcome=id>
                        <dt>{label}</dt>
                        <dd>{format::count(n)} <small>{format::percent(n as f64 / total as f64)}</small></dd>
                    </div>
                }).collect_view()}
            </dl>
        }
    })
}

fn status_class(status: u16) -> &'static str {
    if status >= 400 { "status-code error" } else { "status-code ok" }
}

// Chart geometry in tenths of a pixel: whole numbers are precise enough, and printing integers
// keeps the float printer out of the WebAssembly file. The axis labels are HTML beside and under
// the drawing, so that they keep their size on a phone while the drawing shrinks; they are placed
// through the CSSOM (`style:` sets properties), which the CSP allows where style attributes are
// refused.
const WIDTH: i32 = 7200;
const HEIGHT: i32 = 2000;
const SIDE: i32 = 40;
const TOP: i32 = 60;
const BOTTOM: i32 = 20;

/// The smallest "nice" number (1, 2, 5 × 10ⁿ) at or above `n`.
fn nice_ceiling(n: u64) -> u64 {
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if step * m >= n {
                return step * m;
            }
        }
        step *= 10;
    }
}

fn unit(granularity: Granularity) -> &'static str {
    match granularity {
        Granularity::Minute => "minute",
        Granularity::Hour => "hour",
        Granularity::Day => "day",
    }
}

/// Requests over time as stacked bars (successes below, errors on top): a plain SVG, with the
/// numbers also in a table for screen readers.
#[component]
pub fn UsageChart(series: Vec<UsagePoint>, granularity: Granularity) -> impl IntoView {
    let max = series.iter().map(|p| p.success + p.error).max().unwrap_or(0);
    let top = nice_ceiling(max.max(1));
    let plot_w = WIDTH - 2 * SIDE;
    let plot_h = HEIGHT - BOTTOM - TOP;
    let n = series.len().max(1) as i32;
    // Each bucket's slot starts at a whole tenth; bars fill 70% of a slot.
    let slot_x = move |i: i32| SIDE + plot_w * i / n;
    let bar = (plot_w * 7 / (10 * n)).max(10);
    let y = move |v: u64| TOP + plot_h - (v as f64 / top as f64 * plot_h as f64).round() as i32;
    // Six labels at most; a phone shows every other one (style.css).
    let label_every = ((n + 5) / 6).max(1);
    let total: u64 = series.iter().map(|p| p.success + p.error).sum();
    let unit = unit(granularity);
    let summary = format!(
        "Requests per {unit} over the period: {} in total, at most {} in one {unit}.",
        format::count(total),
        format::count(max),
    );
    let when = move |at: DateTime<Utc>| {
        if granularity == Granularity::Day { format::date(at) } else { format::date_time(at) }
    };
    let gridlines = [0, top / 2, top];
    // The x labels: the first names its date, and so does every one on a new day.
    let mut day = None;
    let x_labels: Vec<(i32, String)> = series
        .iter()
        .enumerate()
        .filter(|(i, _)| *i as i32 % label_every == 0)
        .map(|(i, p)| {
            let i = i as i32;
            let today = format::short_day(p.start);
            let new_day = day.as_ref() != Some(&today);
            day = Some(today);
            ((slot_x(i) + slot_x(i + 1)) / 2, format::axis_label(p.start, granularity, new_day))
        })
        .collect();
    let y_width = gridlines.iter().map(|v| format::count(*v).len()).max().unwrap_or(1);
    let table_rows = series.clone();
    view! {
        <figure class="chart">
            <figcaption class="chart-head">
                <span>"Requests over time"</span>
                <span class="legend" aria-hidden="true">
                    <span class="swatch swatch-success"></span>"Success"
                    <span class="swatch swatch-error"></span>"Error"
                </span>
            </figcaption>
            <div class="chart-plot">
                <div class="axis-y" aria-hidden="true" style:width=format!("{y_width}ch")>
                    {gridlines.into_iter().map(|v| view! {
                        <span class="axis-label" style:top=format!("calc(100% * {} / {HEIGHT})", y(v))>{format::count(v)}</span>
                    }).collect_view()}
                </div>
                <svg viewBox=format!("0 0 {WIDTH} {HEIGHT}") preserveAspectRatio="none" role="img" aria-label=summary
                    class="chart-svg">
                    {gridlines.into_iter().map(|v| view! {
                        <line x1=SIDE x2=WIDTH - SIDE y1=y(v) y2=y(v) class="gridline" vector-effect="non-scaling-stroke"/>
                    }).collect_view()}
                    {series.into_iter().enumerate().map(|(i, p)| {
                        let i = i as i32;
                        let (start, end) = (slot_x(i), slot_x(i + 1));
                        let x = start + (end - start - bar) / 2;
                        let success_top = y(p.success);
                        let error_top = y(p.success + p.error);
                        let latency = p.latency.map(|l| format!(", median {}, p99 {}", format::millis(l.p50_ms), format::millis(l.p99_ms))).unwrap_or_default();
                        let tip = format!("{}: {} successful, {} errors{latency}", when(p.start), format::count(p.success), format::count(p.error));
                        view! {
                            <g class="bucket">
                                <title>{tip}</title>
                                // Invisible full-height target, so a hover anywhere in the slot shows the numbers.
                                <rect x=start y=TOP width=end - start height=plot_h class="hit"/>
                                {(p.success > 0).then(|| view! {
                                    <rect x=x y=success_top width=bar height=TOP + plot_h - success_top class="bar-success"/>
                                })}
                                {(p.error > 0).then(|| view! {
                                    <rect x=x y=error_top width=bar height=success_top - error_top class="bar-error"/>
                                })}
                            </g>
                        }
                    }).collect_view()}
                </svg>
                <div class="axis-x" aria-hidden="true">
                    {x_labels.into_iter().map(|(x, label)| view! {
                        <span class="axis-label" style:left=format!("calc(100% * {x} / {WIDTH})")>{label}</span>
                    }).collect_view()}
                </div>
            </div>
            <details class="chart-data">
                <summary>"Show the numbers"</summary>
                <div class="table-wrap">
                    <table class="data-table">
                        <thead><tr>
                            <th scope="col">{match granularity {
                                Granularity::Minute => "Minute",
                                Granularity::Hour => "Hour",
                                Granularity::Day => "Day",
                            }}</th>
                            <th scope="col" class="num">"Success"</th>
                            <th scope="col" class="num">"Error"</th>
                            <th scope="col" class="num">"p50"</th>
                            <th scope="col" class="num">"p99"</th>
                        </tr></thead>
                        <tbody>
                            {table_rows.into_iter().filter(|p| p.success + p.error > 0).map(|p| view! {
                                <tr>
                                    <td>{when(p.start)}</td>
                                    <td class="num">{format::count(p.success)}</td>
                                    <td class="num">{format::count(p.error)}</td>
                                    <td class="num">{p.latency.map(|l| format::millis(l.p50_ms))}</td>
                                    <td class="num">{p.latency.map(|l| format::millis(l.p99_ms))}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                </div>
            </details>
        </figure>
    }
}

#[cfg(test)]
mod tests {
    use super::nice_ceiling;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn chart_scales_round_up_to_nice_numbers() {
        assert_eq!(nice_ceiling(1), 1);
        assert_eq!(nice_ceiling(3), 5);
        assert_eq!(nice_ceiling(7), 10);
        assert_eq!(nice_ceiling(11), 20);
        assert_eq!(nice_ceiling(450), 500);
    }
}
