//! The team's verified domains (settings): add one, publish its TXT record, check it, choose who
//! with an address there may join. Owners manage them; admins see them.

use leptos::{ev::SubmitEvent, prelude::*};
use portal_types::{DomainJoinRule, TeamDomain};
use uuid::Uuid;

use super::use_team;
use crate::api;
use crate::components::{ConfirmDialog, Field, FormAlert, SubmitButton, field_error, loaded, use_toasts};
use crate::format;
use crate::permissions;
use crate::session::use_auth;

#[component]
pub fn DomainsCard() -> impl IntoView {
    let auth = use_auth();
    let team = use_team();
    let team_id = team.id();
    let may_manage = move || permissions::manage_domains(&team.permissions());
    let list =
        LocalResource::new(move || async move { auth.call(move |t| api::domains(t, team_id)).await.map(|l| l.items) });
    let name = RwSignal::new(String::new());
    let add = Action::new_unsync(move |domain: &String| {
        let domain = domain.clone();
        async move { auth.call(move |t| api::add_domain(t, team_id, domain.clone())).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = add.value().get() {
            name.set(String::new());
            list.refetch();
        }
    });
    let outcome = move || add.value().get();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        add.dispatch(name.get_untracked().trim().to_owned());
    };
    view! {
        <section class="card domains" aria-labelledby="domains-title">
            <h2 id="domains-title">"Verified domains"</h2>
            <p class="hint">
                "Prove that the team owns a domain with a DNS TXT record; then choose whether people with an "
                "address there may join without an invitation."
            </p>
            {loaded(move || list.get(), "Loading domains…", move |items: Vec<TeamDomain>| {
                if items.is_empty() {
                    return view! { <p class="muted">"No domain yet."</p> }.into_any();
                }
                view! {
                    <ul class="domain-list">
                        {items.into_iter().map(|d| view! {
                            <DomainRow domain=d on_change=move || list.refetch()/>
                        }).collect_view()}
                    </ul>
                }.into_any()
            })}
            <Show when=may_manage>
                <form on:submit=on_submit class="domain-add">
                    <FormAlert error=Signal::derive(move || outcome().and_then(Result::err)) fields=&["domain"]/>
                    <Field label="Domain" name="domain" value=name maxlength=253 error=field_error(outcome, "domain")
                        hint="For example example.com: the part of your colleagues' addresses after the @."/>
                    <SubmitButton label="Add domain" pending=add.pending()/>
                </form>
            </Show>
        </section>
    }
}

#[component]
fn DomainRow<F>(domain: TeamDomain, on_change: F) -> impl IntoView
where
    F: Fn() + Copy + Send + Sync + 'static,
{
    let toasts = use_toasts();
    let auth = use_auth();
    let team = use_team();
    let team_id = team.id();
    let may_manage = move || permissions::manage_domains(&team.permissions());
    let id: Uuid = domain.id;
    let name = domain.domain.clone();
    let check = Action::new_unsync(move |_: &()| async move {
        let checked = auth.call(move |t| api::verify_domain(t, team_id, id)).await;
        on_change();
        checked
    });
    let rule = Action::new_unsync(move |rule: &DomainJoinRule| {
        let rule = *rule;
        async move {
            let set = auth.call(move |t| api::set_domain_join_rule(t, team_id, id, rule)).await;
            if set.is_ok() {
                toasts.notify("Join rule saved.");
            }
            set
        }
    });
    let removing = RwSignal::new(false);
    let remove =
        Action::new_unsync(move |_: &()| async move { auth.call(move |t| api::remove_domain(t, team_id, id)).await });
    let error = Signal::derive(move || {
        check.value().get().and_then(Result::err).or_else(|| rule.value().get().and_then(Result::err))
    });
    let verified = domain.verified_at;
    let current = domain.join_rule;
    let (title, remove_label) = (name.clone(), format!("Remove {name}"));
    view! {
        <li class="domain" data-domain=name.clone()>
            <div class="domain-head">
                <strong class="domain-name">{name.clone()}</strong>
                {match verified {
                    Some(at) => view! {
                        <span class="badge badge-ok" data-domain-status="verified" title=format::date_time(at)>"Verified"</span>
                    }.into_any(),
                    None => view! {
                        <span class="badge badge-warning" data-domain-status="pending">"Waiting for its TXT record"</span>
                    }.into_any(),
                }}
            </div>
            {verified.is_none().then(|| view! {
                <p class="small">"Add this TXT record at your DNS provider, then check it:"</p>
                <dl class="txt-record">
                    <div><dt>"Name"</dt><dd><code>{domain.txt_name.clone()}</code></dd></div>
                    <div><dt>"Value"</dt><dd><code>{domain.txt_value.clone()}</code></dd></div>
                </dl>
            })}
            {domain.check_error.clone().filter(|_| verified.is_none()).map(|why| view! {
                <p class="field-error" data-domain="check-error">
                    {domain.checked_at.map(|at| format!("Checked {}: ", format::date_time(at)))} {why}
                </p>
            })}
            <FormAlert error/>
            <Show when=may_manage>
                <div class="button-row">
                    {verified.is_none().then(|| view! {
                        <button type="button" class="button small secondary" disabled=move || check.pending().get()
                            aria-label=format!("Check the TXT record of {}", title)
                            on:click=move |_| { check.dispatch(()); }>
                            {move || if check.pending().get() { "Checking…" } else { "Check now" }}
                        </button>
                    })}
                    <div class="field inline">
                        <label for=format!("join-rule-{id}")>"Who may join"</label>
                        <select id=format!("join-rule-{id}") on:change=move |ev| {
                            if let Some(r) = DomainJoinRule::parse(&event_target_value(&ev)) {
                                rule.dispatch(r);
                            }
                        }>
                            {DomainJoinRule::ALL.map(|r| view! {
                                <option value=r.as_str() selected=r == current>{r.label()}</option>
                            }).collect_view()}
                        </select>
                    </div>
                    <button type="button" class="button small danger-outline" aria-label=remove_label.clone()
                        on:click=move |_| removing.set(true)>"Remove"</button>
                </div>
            </Show>
            <Show when=move || removing.get()>
                <ConfirmDialog title=format!("Remove {}?", domain.domain) confirm_label="Remove domain" action=remove
                    on_close=move || removing.set(false) after=move || on_change()>
                    <p>"People with an address there join only by invitation again. Its TXT record can be deleted."</p>
                </ConfirmDialog>
            </Show>
        </li>
    }
}
