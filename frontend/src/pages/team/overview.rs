//! The team's overview: what needs attention, the last 24 hours, and what happened lately.

use chrono::{DateTime, Duration, Utc};
use leptos::prelude::*;
use leptos_router::components::A;
use portal_types::{ApiKey, Granularity, KeyStatusFilter, TeamUsage};

use super::use_team;
use crate::api::{self, ActivityFilter, KeyQuery};
use crate::format;
use crate::permissions;
use crate::session::use_auth;

/// Within how many hours of its expiry a pending invitation needs attention.
const INVITATION_HOURS: i64 = 48;

#[component]
pub fn TeamOverviewPage() -> impl IntoView {
    let team = use_team();
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
                    <p class="muted">{members} " · created " {format::date(t.created_at)}</p>
                </section>
            }
        })}
        <NeedsAttention/>
        <LastDay/>
        <RecentActivity/>
    }
}

/// One thing to look at, with where to fix it.
#[derive(Clone)]
struct Item {
    text: String,
    href: String,
    /// `error` for what stops traffic now, `warning` for what will.
    level: &'static str,
}

/// Keys expiring soon or at their limit, failing webhook endpoints, members without the second
/// factor the team requires, invitations about to lapse: each as a link to its screen, only
/// what the caller may see.
#[component]
fn NeedsAttention() -> impl IntoView {
    let auth = use_auth();
    let team = use_team();
    let team_id = team.id();
    let base = format!("/teams/{team_id}");
    // Every working key that expires within 14 days or has used 80% of its monthly limit: the
    // server's narrowing, however many keys the team has.
    let keys = LocalResource::new(move || async move {
        let query = KeyQuery { status: Some(KeyStatusFilter::Attention), ..KeyQuery::default() };
        let keys: Vec<ApiKey> = crate::paged::all_pages(move |cursor: Option<String>| {
            let query = query.clone();
            auth.call(move |t| api::api_keys(t, team_id, query.clone(), cursor.clone()))
        })
        .await
        .unwrap_or_default();
        let now = format::now();
        let mut items = Vec::new();
        for key in &keys {
            if let Some(at) = super::keys::expiring(key, now) {
                items.push(Item {
                    text: format!("API key {} expires {}", key.name, format::relative(at, now)),
                    href: format!("/teams/{team_id}/api-keys/{}", key.id),
                    level: "warning",
                });
            }
        }
        // A limited key's month, from its usage (exact, this instance's unwritten uses too).
        let limited: Vec<&ApiKey> = keys.iter().filter(|k| k.usage_limit.is_some()).collect();
        let months = futures::future::join_all(limited.iter().map(|key| {
            let key_id = key.id;
            let range = super::usage::range_ending_now(60, Granularity::Hour);
            auth.call(move |t| api::key_usage(t, team_id, key_id, range.clone()))
        }))
        .await;
        for (key, month) in limited.into_iter().zip(months) {
            let (Some(limit), Ok(month)) = (key.usage_limit, month) else { continue };
            let used = month.used_this_month;
            if used >= limit {
                items.insert(
                    0,
                    Item {
                        text: format!(
                            "API key {} reached its monthly limit ({} of {})",
                            key.name,
                            format::count(used),
                            format::count(limit)
                        ),
                        href: format!("/teams/{team_id}/api-keys/{}", key.id),
                        level: "error",
                    },
                );
            } else if used * 100 >= limit * portal_types::ATTENTION_LIMIT_PERCENT {
                items.push(Item {
                    text: format!(
                        "API key {} used {} of its monthly limit of {}",
                        key.name,
                        format::count(used),
                        format::count(limit)
                    ),
                    href: format!("/teams/{team_id}/api-keys/{}", key.id),
                    level: "warning",
                });
            }
        }
        items
    });
    let webhooks = LocalResource::new(move || {
        let may = permissions::manage_webhooks(&team.permissions());
        async move {
            if !may {
                return Vec::new();
            }
            let list = auth.call(move |t| api::webhooks(t, team_id)).await.map(|l| l.items).unwrap_or_default();
            list.into_iter()
                .filter_map(|w| {
                    let text = match (w.enabled, w.failing_since) {
                        (false, _) => format!(
                            "Webhook endpoint {} is disabled{}",
                            w.url,
                            w.disabled_reason.map(|r| format!(": {r}")).unwrap_or_default()
                        ),
                        (true, Some(since)) => {
                            format!("Webhook endpoint {} has been failing since {}", w.url, format::date_time(since))
                        }
                        (true, None) => return None,
                    };
                    Some(Item { text, href: format!("/teams/{team_id}/webhooks"), level: "error" })
                })
                .collect::<Vec<_>>()
        }
    });
    let people = LocalResource::new(move || {
        let required = team.get().is_some_and(|t| t.require_two_factor);
        let (may_manage, may_invite) =
            (permissions::manage_team(&team.permissions()), permissions::read_invitations(&team.permissions()));
        async move {
            let mut items = Vec::new();
            let without = match required && may_manage {
                true => auth.call(move |t| api::team_two_factor(t, team_id)).await.map_or(0, |s| s.without_count),
                false => 0,
            };
            if without > 0 {
                items.push(Item {
                    text: match without {
                        1 => "1 member has no second factor, which this team requires".to_owned(),
                        n => format!("{n} members have no second factor, which this team requires"),
                    },
                    href: format!("/teams/{team_id}/members"),
                    level: "warning",
                });
            }
            if may_invite {
                let now = format::now();
                let page =
                    auth.call(move |t| api::invitations(t, team_id, None)).await.map(|p| p.items).unwrap_or_default();
                for invitation in page {
                    let lapses = invitation.expires_at - now;
                    if invitation.state == portal_types::InvitationState::Pending
                        && lapses < Duration::hours(INVITATION_HOURS)
                    {
                        items.push(Item {
                            text: format!(
                                "The invitation of {} lapses {}",
                                invitation.email,
                                format::relative(invitation.expires_at, now)
                            ),
                            href: format!("/teams/{team_id}/members"),
                            level: "warning",
                        });
                    }
                }
            }
            items
        }
    });
    let all = move || {
        let (keys, webhooks, people) = (keys.get()?, webhooks.get()?, people.get()?);
        Some(keys.into_iter().chain(webhooks).chain(people).collect::<Vec<Item>>())
    };
    view! {
        <section class="section needs-attention" aria-labelledby="attention-title">
            <h3 id="attention-title">"Needs attention"</h3>
            {move || match all() {
                None => view! { <p class="muted">"Looking…"</p> }.into_any(),
                Some(items) if items.is_empty() => view! {
                    <p class="muted" data-attention="none">"Nothing: every key works, no limit is near, no endpoint fails."</p>
                }.into_any(),
                Some(items) => view! {
                    <ul class="attention-list" role="list">
                        {items.into_iter().map(|item| view! {
                            <li class=format!("attention {}", item.level)><A href=item.href>{item.text}</A></li>
                        }).collect_view()}
                    </ul>
                }.into_any(),
            }}
            <p class="hint"><A href=format!("{base}/api-keys")>"All API keys"</A></p>
        </section>
    }
}

/// The team's last 24 hours: requests by the hour, with the totals.
#[component]
fn LastDay() -> impl IntoView {
    let auth = use_auth();
    let team_id = use_team().id();
    let usage = LocalResource::new(move || async move {
        let range = super::usage::range_ending_now(24 * 60, Granularity::Hour);
        auth.call(move |t| api::team_usage(t, team_id, range.clone())).await.ok()
    });
    view! {
        <section class="section" aria-labelledby="day-title">
            <h3 id="day-title">"Last 24 hours"</h3>
            {move || usage.get().flatten().map(|TeamUsage { usage, .. }| view! {
                <p data-overview="day">
                    {format!("{} requests, {} errors ({}). ", format::count(usage.total_requests), format::count(usage.error), format::percent(usage.error_rate))}
                    <A href=format!("/teams/{team_id}/usage")>"See the team's usage"</A>
                </p>
                <super::usage::UsageChart series=usage.series granularity=Granularity::Hour/>
            })}
        </section>
    }
}

/// The five latest entries of the activity log.
#[component]
fn RecentActivity() -> impl IntoView {
    let auth = use_auth();
    let team_id = use_team().id();
    let entries = LocalResource::new(move || async move {
        auth.call(move |t| api::activity(t, team_id, ActivityFilter::default(), None)).await.ok().map(|p| p.items)
    });
    let now: DateTime<Utc> = format::now();
    view! {
        <section class="section" aria-labelledby="recent-title">
            <h3 id="recent-title">"Recent activity"</h3>
            {move || entries.get().flatten().map(|items| view! {
                <ol class="activity-list">
                    {items.into_iter().take(5).map(|entry| view! { <super::activity::Entry entry now/> }).collect_view()}
                </ol>
                <p class="hint"><A href=format!("/teams/{team_id}/activity")>"All activity"</A></p>
            })}
        </section>
    }
}
