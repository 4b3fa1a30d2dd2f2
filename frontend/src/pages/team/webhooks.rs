//! "Webhooks": the team's endpoints, adding one (its signing secret shown once), and each
//! endpoint's delivery log with a test event and redelivery.

use leptos::{ev::SubmitEvent, prelude::*};
use portal_types::{
    CreateWebhookEndpointRequest, DeliveryState, EventType, UpdateWebhookEndpointRequest, WebhookDelivery,
    WebhookEndpoint,
};
use uuid::Uuid;

use super::use_team;
use crate::api;
use crate::components::{
    ActionError, ConfirmDialog, DialogButtons, EmptyState, Field, FormAlert, Modal, SecretKind, SecretStep,
    TextAreaField, field_error, loaded, use_toasts,
};
use crate::format;
use crate::paged::{LoadMore, paged};
use crate::pages::{DESCRIPTION_MAX, URL_MAX};
use crate::session::use_auth;

#[component]
pub fn WebhooksPage() -> impl IntoView {
    let auth = use_auth();
    let team_id = use_team().id();
    let endpoints =
        LocalResource::new(move || async move { auth.call(move |t| api::webhooks(t, team_id)).await.map(|l| l.items) });
    let reload = move || endpoints.refetch();
    let adding = RwSignal::new(false);
    let selected = RwSignal::new(None::<Uuid>);
    // The endpoint dialogs live here, outside the list that each change reloads.
    let dialog = RwSignal::new(None::<EndpointDialog>);
    let close_dialog = move || dialog.set(None);
    view! {
        <section aria-labelledby="webhooks-title">
            <div class="section-head">
                <h2 id="webhooks-title">"Webhooks"</h2>
                <button type="button" class="button primary" on:click=move |_| adding.set(true)>"Add endpoint"</button>
            </div>
            <p class="muted">
                "Changes of this team are POSTed to your endpoints as JSON, signed per Standard Webhooks ("
                <code>"webhook-signature"</code> "). Failed deliveries are tried again for about a day and a half."
            </p>
            {loaded(move || endpoints.get(), "Loading endpoints…", move |list: Vec<WebhookEndpoint>| {
                if list.is_empty() {
                    return view! {
                        <EmptyState>
                            <p>"No endpoint receives this team's events yet."</p>
                            <p>"Add one to hear of revoked keys, new members and usage alerts without polling."</p>
                        </EmptyState>
                    }.into_any();
                }
                let shown = list.clone();
                view! {
                    <EndpointTable list selected/>
                    {move || {
                        let id = selected.get()?;
                        let endpoint = shown.iter().find(|e| e.id == id)?.clone();
                        Some(view! { <EndpointDetail endpoint dialog on_change=reload/> })
                    }}
                }.into_any()
            })}
        </section>
        <Show when=move || adding.get()>
            <AddEndpointDialog on_close=move || adding.set(false) on_created=reload/>
        </Show>
        {move || dialog.get().map(|open| match open {
            EndpointDialog::Edit(endpoint) => view! {
                <EditEndpointDialog endpoint on_close=close_dialog on_saved=reload/>
            }.into_any(),
            EndpointDialog::TurnOff(endpoint) => view! {
                <TurnOffDialog endpoint on_close=close_dialog on_done=reload/>
            }.into_any(),
            EndpointDialog::Rotate(endpoint) => view! { <RotateSecretDialog endpoint on_close=close_dialog/> }.into_any(),
            EndpointDialog::Delete(endpoint) => view! {
                <DeleteEndpointDialog endpoint on_close=close_dialog on_deleted=move || { selected.set(None); reload(); }/>
            }.into_any(),
        })}
    }
}

/// The dialog open on the endpoint page, for one endpoint.
#[derive(Clone)]
enum EndpointDialog {
    Edit(WebhookEndpoint),
    TurnOff(WebhookEndpoint),
    Rotate(WebhookEndpoint),
    Delete(WebhookEndpoint),
}

fn status_label(endpoint: &WebhookEndpoint) -> String {
    match (endpoint.enabled, endpoint.failing_since) {
        (false, _) => "Off".to_owned(),
        (true, Some(since)) => format!("Failing since {}", format::date_time(since)),
        (true, None) => "On".to_owned(),
    }
}

#[component]
fn EndpointTable(list: Vec<WebhookEndpoint>, selected: RwSignal<Option<Uuid>>) -> impl IntoView {
    view! {
        <div class="table-wrap">
            <table class="data-table">
                <caption class="visually-hidden">"Webhook endpoints"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Endpoint"</th>
                        <th scope="col">"Events"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Last 24 h"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {list.into_iter().map(|endpoint| {
                        let id = endpoint.id;
                        let label = format!("Deliveries of {}", endpoint.url);
                        let stats = match endpoint.stats.success_rate {
                            Some(rate) => format!(
                                "{:.0}% of {} delivered{}",
                                rate * 100.0,
                                endpoint.stats.attempts,
                                endpoint.stats.p50_latency_ms.map(|ms| format!(", {ms} ms median")).unwrap_or_default()
                            ),
                            None => "No deliveries".to_owned(),
                        };
                        view! {
                            <tr>
                                <td data-label="Endpoint">
                                    <code class="endpoint-url">{endpoint.url.clone()}</code>
                                    {endpoint.description.clone().map(|d| view! { <p class="muted small">{d}</p> })}
                                </td>
                                <td data-label="Events">{format!("{}", endpoint.event_types.len())}</td>
                                <td data-label="Status">
                                    {status_label(&endpoint)}
                                    {endpoint.disabled_reason.clone().map(|r| view! { <p class="muted small">{r}</p> })}
                                </td>
                                <td data-label="Last 24 h">{stats}</td>
                                <td class="actions">
                                    <button type="button" class="button small secondary" aria-label=label
                                        aria-pressed=move || (selected.get() == Some(id)).to_string()
                                        on:click=move |_| selected.set(Some(id))>"Deliveries"</button>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// The event types a person can pick (the test event is sent on request only).
fn pickable() -> impl Iterator<Item = EventType> {
    EventType::ALL.iter().copied().filter(|t| *t != EventType::WebhookTest)
}

#[component]
fn AddEndpointDialog<F, G>(on_close: F, on_created: G) -> impl IntoView
where
    F: Fn() + Clone + Send + Sync + 'static,
    G: Fn() + Clone + Send + Sync + 'static,
{
    let toasts = use_toasts();
    let auth = use_auth();
    let team_id = use_team().id();
    let url = RwSignal::new(String::new());
    let description = RwSignal::new(String::new());
    let picked = RwSignal::new(pickable().collect::<Vec<_>>());
    let create = Action::new_unsync(move |body: &CreateWebhookEndpointRequest| {
        let body = body.clone();
        async move { auth.call(move |t| api::create_webhook(t, team_id, body.clone())).await }
    });
    let created = Memo::new(move |_| create.value().get().and_then(Result::ok));
    Effect::new(move |_| {
        if created.with(Option::is_some) {
            toasts.notify("Endpoint added: it receives the events you chose.");
            on_created();
        }
    });
    let outcome = move || create.value().get();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let description = description.get_untracked().trim().to_owned();
        create.dispatch(CreateWebhookEndpointRequest {
            url: url.get_untracked().trim().to_owned().into(),
            description: (!description.is_empty()).then_some(description.into()),
            event_types: picked.get_untracked(),
            enabled: None,
        });
    };
    view! {
        <Modal title="Add a webhook endpoint" on_close>
            {move || match created.get() {
                Some(created) => view! {
                    <SecretStep secret=created.secret kind=SecretKind::SigningSecret>
                        <p><code class="endpoint-url">{created.endpoint.url.clone()}</code> " receives events now."</p>
                    </SecretStep>
                }.into_any(),
                None => view! {
                    <form class="modal-body" on:submit=on_submit>
                        <FormAlert error=Signal::derive(move || outcome().and_then(Result::err))
                            fields=&["url", "description", "event_types"]/>
                        <Field label="Endpoint URL" name="url" kind="url" maxlength=URL_MAX value=url
                            error=field_error(outcome, "url") hint="https://, on a public address."/>
                        <TextAreaField label="Description" name="description" maxlength=DESCRIPTION_MAX value=description
                            error=field_error(outcome, "description")/>
                        <EventPicker picked error=field_error(outcome, "event_types")/>
                        <DialogButtons label="Add endpoint" pending=create.pending()/>
                    </form>
                }.into_any(),
            }}
        </Modal>
    }
}

#[component]
fn EditEndpointDialog<F, G>(endpoint: WebhookEndpoint, on_close: F, on_saved: G) -> impl IntoView
where
    F: Fn() + Clone + Send + Sync + 'static,
    G: Fn() + Copy + Send + Sync + 'static,
{
    let toasts = use_toasts();
    let auth = use_auth();
    let team_id = use_team().id();
    let id = endpoint.id;
    let url = RwSignal::new(endpoint.url);
    let description = RwSignal::new(endpoint.description.unwrap_or_default());
    let picked = RwSignal::new(endpoint.event_types);
    let save = Action::new_unsync(move |body: &UpdateWebhookEndpointRequest| {
        let body = body.clone();
        async move { auth.call(move |t| api::update_webhook(t, team_id, id, body.clone())).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(_)) = save.value().get() {
            toasts.notify("Endpoint saved.");
            on_saved();
        }
    });
    let saved = Signal::derive(move || matches!(save.value().get(), Some(Ok(_))));
    let outcome = move || save.value().get();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        save.dispatch(UpdateWebhookEndpointRequest {
            url: Some(url.get_untracked().trim().to_owned().into()),
            // Empty clears it.
            description: Some(description.get_untracked().trim().to_owned().into()),
            event_types: Some(picked.get_untracked()),
            enabled: None,
        });
    };
    view! {
        <Modal title="Edit the endpoint" on_close close_when=saved>
            <form class="modal-body" on:submit=on_submit>
                <FormAlert error=Signal::derive(move || outcome().and_then(Result::err))
                    fields=&["url", "description", "event_types"]/>
                <Field label="Endpoint URL" name="url" kind="url" maxlength=URL_MAX value=url
                    error=field_error(outcome, "url")/>
                <TextAreaField label="Description" name="description" maxlength=DESCRIPTION_MAX value=description
                    error=field_error(outcome, "description")/>
                <EventPicker picked error=field_error(outcome, "event_types")/>
                <DialogButtons label="Save changes" pending=save.pending()/>
            </form>
        </Modal>
    }
}

#[component]
fn EventPicker(picked: RwSignal<Vec<EventType>>, #[prop(into)] error: Signal<Option<String>>) -> impl IntoView {
    view! {
        <fieldset class="choice-group" id="event_types">
            <legend>"Events to send"</legend>
            {pickable().map(|kind| view! {
                <label class="choice">
                    <input type="checkbox" name="event_types" value=kind.as_str()
                        prop:checked=move || picked.with(|p| p.contains(&kind))
                        on:change=move |ev| {
                            let on = event_target_checked(&ev);
                            picked.update(|p| {
                                p.retain(|t| *t != kind);
                                if on {
                                    p.push(kind);
                                }
                            });
                        }/>
                    <span>
                        <code>{kind.as_str()}</code>
                        <span class="hint event-description">{kind.description()}</span>
                    </span>
                </label>
            }).collect_view()}
            {move || error.get().map(|e| view! { <p class="field-error">{e}</p> })}
        </fieldset>
    }
}

#[component]
fn EndpointDetail<F>(endpoint: WebhookEndpoint, dialog: RwSignal<Option<EndpointDialog>>, on_change: F) -> impl IntoView
where
    F: Fn() + Copy + Send + Sync + 'static,
{
    let toasts = use_toasts();
    let auth = use_auth();
    let team_id = use_team().id();
    let id = endpoint.id;
    let log_version = RwSignal::new(0u32);
    let failed_only = RwSignal::new(false);
    let deliveries = paged(
        move || (log_version.get(), failed_only.get()),
        move |(_, failed), cursor| async move {
            let state = failed.then_some(DeliveryState::Failed);
            auth.call(move |t| api::webhook_deliveries(t, team_id, id, state, cursor.clone())).await
        },
    );
    let refresh = move || log_version.update(|v| *v += 1);
    let test = Action::new_unsync(move |_: &()| async move {
        let sent = auth.call(move |t| api::test_webhook(t, team_id, id)).await;
        if sent.is_ok() {
            toasts.notify("Test event sent: see the log below.");
        }
        refresh();
        sent
    });
    let enabled = endpoint.enabled;
    // Turning on needs no question; turning off asks first (TurnOffDialog).
    let turn_on = Action::new_unsync(move |_: &()| async move {
        let body = UpdateWebhookEndpointRequest { enabled: Some(true), ..Default::default() };
        let changed = auth.call(move |t| api::update_webhook(t, team_id, id, body.clone())).await;
        if changed.is_ok() {
            toasts.notify("Endpoint turned on.");
            on_change();
        }
        changed.map(drop)
    });
    let error = Signal::derive(move || {
        test.value().get().and_then(|r| r.err()).or_else(|| turn_on.value().get().and_then(Result::err))
    });
    let heading = format!("Deliveries to {}", endpoint.url);
    let open = {
        let endpoint = endpoint.clone();
        move |make: fn(WebhookEndpoint) -> EndpointDialog| {
            let endpoint = endpoint.clone();
            move |_| dialog.set(Some(make(endpoint.clone())))
        }
    };
    view! {
        <section class="card endpoint-detail" aria-labelledby="endpoint-title">
            <h3 id="endpoint-title">{heading}</h3>
            <p class="muted small">
                "Events: " {endpoint.event_types.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(", ")}
            </p>
            <div class="button-row">
                <button type="button" class="button secondary" disabled=move || test.pending().get() || !enabled
                    on:click=move |_| { test.dispatch(()); }>"Send test event"</button>
                {if enabled {
                    view! { <button type="button" class="button secondary" on:click=open(EndpointDialog::TurnOff)>"Turn off"</button> }.into_any()
                } else {
                    view! { <button type="button" class="button secondary" on:click=move |_| { turn_on.dispatch(()); }>"Turn on"</button> }.into_any()
                }}
                <button type="button" class="button secondary" on:click=open(EndpointDialog::Edit)>"Edit"</button>
                <button type="button" class="button secondary" on:click=open(EndpointDialog::Rotate)>"Rotate secret"</button>
                <button type="button" class="button danger-outline" on:click=open(EndpointDialog::Delete)>"Delete endpoint"</button>
                // The endpoint's figures move with its log.
                <button type="button" class="button secondary" on:click=move |_| on_change()>"Refresh"</button>
            </div>
            <ActionError error/>
            <label class="choice">
                <input type="checkbox" name="failed_only" prop:checked=failed_only
                    on:change=move |ev| failed_only.set(event_target_checked(&ev))/>
                "Failed deliveries only"
            </label>
            {loaded(move || deliveries.get(), "Loading deliveries…", move |items: Vec<WebhookDelivery>| {
                if items.is_empty() {
                    let text = if failed_only.get_untracked() {
                        "No delivery to this endpoint failed."
                    } else {
                        "Nothing was sent to this endpoint yet. Send a test event to try it."
                    };
                    view! { <EmptyState><p>{text}</p></EmptyState> }.into_any()
                } else {
                    view! { <DeliveryLog items endpoint=id on_redeliver=refresh/> }.into_any()
                }
            })}
            <LoadMore list=deliveries what="deliveries"/>
        </section>
    }
}

/// Asks before turning an endpoint off.
#[component]
fn TurnOffDialog<F, G>(endpoint: WebhookEndpoint, on_close: F, on_done: G) -> impl IntoView
where
    F: Fn() + Clone + Send + Sync + 'static,
    G: Fn() + Copy + Send + Sync + 'static,
{
    let toasts = use_toasts();
    let auth = use_auth();
    let team_id = use_team().id();
    let id = endpoint.id;
    let turn_off = Action::new_unsync(move |_: &()| async move {
        let body = UpdateWebhookEndpointRequest { enabled: Some(false), ..Default::default() };
        let changed = auth.call(move |t| api::update_webhook(t, team_id, id, body.clone())).await;
        if changed.is_ok() {
            toasts.notify("Endpoint turned off.");
            on_done();
        }
        changed.map(drop)
    });
    view! {
        <ConfirmDialog title=format!("Turn off {}?", endpoint.url) confirm_label="Turn off" action=turn_off on_close>
            <p>
                "No events are sent to it while it is off: events of that time are not kept for it, and "
                "deliveries still waiting are given up. You can turn it on again at any time."
            </p>
        </ConfirmDialog>
    }
}

/// Asks before deleting an endpoint with its log.
#[component]
fn DeleteEndpointDialog<F, G>(endpoint: WebhookEndpoint, on_close: F, on_deleted: G) -> impl IntoView
where
    F: Fn() + Clone + Send + Sync + 'static,
    G: Fn() + Copy + Send + Sync + 'static,
{
    let toasts = use_toasts();
    let auth = use_auth();
    let team_id = use_team().id();
    let id = endpoint.id;
    let delete = Action::new_unsync(move |_: &()| async move {
        let deleted = auth.call(move |t| api::delete_webhook(t, team_id, id)).await;
        if deleted.is_ok() {
            toasts.notify("Endpoint deleted.");
        }
        deleted
    });
    view! {
        <ConfirmDialog title=format!("Delete {}?", endpoint.url) confirm_label="Delete endpoint" action=delete on_close
            after=on_deleted>
            <p>"No more events are sent to it, and its delivery log is deleted. This cannot be undone."</p>
        </ConfirmDialog>
    }
}

/// Asks before rotating an endpoint's signing secret, then shows the new one once.
#[component]
fn RotateSecretDialog<F>(endpoint: WebhookEndpoint, on_close: F) -> impl IntoView
where
    F: Fn() + Clone + Send + Sync + 'static,
{
    let toasts = use_toasts();
    let auth = use_auth();
    let team_id = use_team().id();
    let id = endpoint.id;
    let url = endpoint.url;
    let rotate = Action::new_unsync(move |_: &()| async move {
        auth.call(move |t| api::rotate_webhook_secret(t, team_id, id)).await
    });
    let rotated = Memo::new(move |_| rotate.value().get().and_then(Result::ok).map(|r| r.secret));
    Effect::new(move |_| {
        if rotated.with(Option::is_some) {
            toasts.notify("Signing secret rotated.");
        }
    });
    let error = Signal::derive(move || rotate.value().get().and_then(Result::err));
    view! {
        <Modal title="Rotate the signing secret?" on_close>
            {move || match rotated.get() {
                Some(secret) => view! {
                    <SecretStep secret kind=SecretKind::RotatedSigningSecret>
                        <p>"Deliveries are signed with the new secret from now on."</p>
                    </SecretStep>
                }.into_any(),
                None => view! {
                    <form class="modal-body" on:submit=move |ev: SubmitEvent| { ev.prevent_default(); rotate.dispatch(()); }>
                        <p>
                            "A new secret signs every delivery to " <code class="endpoint-url">{url.clone()}</code>
                            " from now on. For the next 24 hours deliveries also carry a signature with the old "
                            "secret, so your endpoint can switch without losing an event; after that, a receiver "
                            "that still checks the old secret refuses them."
                        </p>
                        <ActionError error/>
                        <DialogButtons label="Rotate secret" pending=rotate.pending() danger=true/>
                    </form>
                }.into_any(),
            }}
        </Modal>
    }
}

fn state_label(state: DeliveryState) -> &'static str {
    match state {
        DeliveryState::Pending => "Retrying",
        DeliveryState::Delivered => "Delivered",
        DeliveryState::Failed => "Failed",
    }
}

#[component]
fn DeliveryLog<F>(items: Vec<WebhookDelivery>, endpoint: Uuid, on_redeliver: F) -> impl IntoView
where
    F: Fn() + Copy + Send + Sync + 'static,
{
    let toasts = use_toasts();
    let auth = use_auth();
    let team_id = use_team().id();
    let redeliver = Action::new_unsync(move |delivery: &Uuid| {
        let delivery = *delivery;
        async move {
            let sent = auth.call(move |t| api::redeliver_webhook(t, team_id, endpoint, delivery)).await;
            if sent.is_ok() {
                toasts.notify("Delivery queued again.");
            }
            on_redeliver();
            sent
        }
    });
    view! {
        <ActionError error=Signal::derive(move || redeliver.value().get().and_then(Result::err))/>
        <div class="table-wrap">
            <table class="data-table">
                <caption class="visually-hidden">"Delivery log"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Time"</th>
                        <th scope="col">"Event"</th>
                        <th scope="col">"State"</th>
                        <th scope="col">"Attempts"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {items.into_iter().map(|d| {
                        let id = d.id;
                        let now = format::now();
                        let last = d.attempts.first().cloned();
                        let summary = match &last {
                            Some(a) => format!(
                                "{} × · last: {} in {} ms",
                                d.attempts.len(),
                                a.status_code.map_or_else(|| "no answer".to_owned(), |s| s.to_string()),
                                a.latency_ms
                            ),
                            None => "Not tried yet".to_owned(),
                        };
                        let detail = last.and_then(|a| a.error.or(a.response_excerpt));
                        let label = format!("Redeliver {} of {}", d.event_type.as_str(), format::date_time(d.created_at));
                        let next = d.next_attempt_at.map(|at| view! {
                            <br/><small class="muted" data-delivery="next">
                                "Next try " <time datetime=format::iso(at) title=format::date_time(at)>{format::relative(at, now)}</time>
                            </small>
                        });
                        view! {
                            <tr data-delivery=d.id.to_string()>
                                <td data-label="Time">
                                    <time datetime=format::iso(d.created_at)>{format::date_time(d.created_at)}</time>
                                </td>
                                <td data-label="Event">
                                    <code title=d.event_type.description()>{d.event_type.as_str()}</code>
                                </td>
                                <td data-label="State">{state_label(d.state)} {next}</td>
                                <td data-label="Attempts">
                                    {summary}
                                    {detail.map(|text| view! { <pre class="response-excerpt">{text}</pre> })}
                                </td>
                                <td class="actions">
                                    <button type="button" class="button small secondary" aria-label=label
                                        disabled=move || redeliver.pending().get()
                                        on:click=move |_| { redeliver.dispatch(id); }>"Redeliver"</button>
                                </td>
                            </tr>
                            // What was sent and answered, the width of the table.
                            {(!d.attempts.is_empty()).then(|| view! {
                                <tr class="attempt-row">
                                    <td colspan="5"><AttemptDetails body=d.request_body attempts=d.attempts/></td>
                                </tr>
                            })}
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

/// What a delivery sent and got back, attempt by attempt: the request's headers (the signature
/// redacted by the server) and body, and the answer.
#[component]
fn AttemptDetails(body: String, attempts: Vec<portal_types::WebhookAttempt>) -> impl IntoView {
    view! {
        <details class="attempt-details">
            <summary>"Request and answers"</summary>
            <ol class="attempts">
                {attempts.into_iter().map(|a| {
                    let answer = match (a.status_code, &a.error) {
                        (Some(status), _) => format!("Answered {status} in {} ms", a.latency_ms),
                        (None, Some(error)) => format!("No answer: {error}"),
                        (None, None) => "No answer".to_owned(),
                    };
                    view! {
                        <li data-attempt="">
                            <p>
                                <time datetime=format::iso(a.attempted_at)>{format::date_time(a.attempted_at)}</time>
                                " · " {answer}
                            </p>
                            {(!a.request_headers.is_empty()).then(|| view! {
                                <dl class="headers" aria-label="Request headers">
                                    {a.request_headers.into_iter().map(|h| view! {
                                        <div><dt>{h.name}</dt><dd><code>{h.value}</code></dd></div>
                                    }).collect_view()}
                                </dl>
                            })}
                            {a.response_excerpt.map(|text| view! {
                                <p class="small muted">"Answer body (first bytes):"</p>
                                <pre class="response-excerpt">{text}</pre>
                            })}
                        </li>
                    }
                }).collect_view()}
            </ol>
            <p class="small muted">"Request body (the same for every attempt):"</p>
            <pre class="request-body">{body}</pre>
        </details>
    }
}
