//! "Team Members": the member list with roles and last activity, the invite dialog and the
//! pending invitations. Management controls appear only for those the server would allow.

use leptos::{ev::SubmitEvent, prelude::*};
use leptos_router::{NavigateOptions, hooks::use_navigate};
use portal_types::{CreateInvitationRequest, Invitation, InvitationState, Member, Role};
use uuid::Uuid;

use super::{CurrentTeam, use_team};
use crate::api::{self, ApiError};
use crate::components::{
    ActionError, ConfirmDialog, DialogButtons, EmptyState, Fetched, Field, FormAlert, Modal, SelectField,
    TextAreaField, field_error, loaded, use_toasts,
};
use crate::format;
use crate::paged::{LoadMore, all_pages, paged};
use crate::pages::MESSAGE_MAX;
use crate::permissions;
use crate::session::{Auth, use_auth};
use crate::teams::use_teams;

/// Every member: the member list is also the role editor, so it is shown whole.
async fn all_members(auth: Auth, team: Uuid) -> Result<Vec<Member>, ApiError> {
    all_pages(|cursor| auth.call(move |t| api::members(t, team, cursor.clone()))).await
}

/// Members with no activity in the team for this long are flagged (the guide: "remove inactive or
/// departed members promptly").
const INACTIVE_DAYS: i64 = 90;

/// Whether `member` has done nothing in the team (nor joined) for [`INACTIVE_DAYS`].
fn inactive(member: &Member, now: chrono::DateTime<chrono::Utc>) -> bool {
    let last = member.last_active_at.map_or(member.joined_at, |at| at.max(member.joined_at));
    now - last >= chrono::Duration::days(INACTIVE_DAYS)
}

#[component]
pub fn MembersPage() -> impl IntoView {
    let toasts = use_toasts();
    let auth = use_auth();
    let team = use_team();
    let team_id = team.id();
    let members = LocalResource::new(move || all_members(auth, team_id));
    let invitations_version = RwSignal::new(0u32);
    let inviting = RwSignal::new(false);
    let can_invite = move || !permissions::invitable_roles(&team.permissions()).is_empty();
    // The member dialogs live here, outside the list they change.
    let dialog = RwSignal::new(None::<MemberDialog>);

    view! {
        <section aria-labelledby="members-title">
            <div class="section-head">
                <h2 id="members-title">"Team Members"</h2>
                <Show when=can_invite>
                    <button type="button" class="button primary" on:click=move |_| inviting.set(true)>
                        "Invite member"
                    </button>
                </Show>
            </div>
            {loaded(move || members.get(), "Loading members…", move |_| view! { <MemberTable members team dialog/> })}
        </section>
        {move || dialog.get().map(|open| {
            let close = move || dialog.set(None);
            match open {
                MemberDialog::Remove(member) => view! { <RemoveMemberDialog member members on_close=close/> }.into_any(),
                MemberDialog::Leave => view! { <LeaveTeamDialog on_close=close/> }.into_any(),
                MemberDialog::ChangeRole { member, to, role, shown } => view! {
                    <ChangeRoleDialog member to role shown on_close=close/>
                }.into_any(),
            }
        })}
        <Show when=move || permissions::read_invitations(&team.permissions())>
            <Invitations version=invitations_version/>
        </Show>
        <Show when=move || inviting.get()>
            <InviteDialog
                on_close=move || inviting.set(false)
                on_invited=move |inv: Invitation| {
                    toasts.notify(format!("Invitation sent to {}.", inv.email));
                    invitations_version.update(|v| *v += 1);
                }
            />
        </Show>
    }
}

/// The dialog open on the members page.
#[derive(Clone)]
enum MemberDialog {
    Remove(Member),
    Leave,
    /// A new role picked in `member`'s row: `role` is the row's role (set when the change is
    /// made), `shown` what its select shows (set back to `role` when it is not).
    ChangeRole {
        member: Member,
        to: Role,
        role: RwSignal<Role>,
        shown: RwSignal<Role>,
    },
}

#[component]
fn MemberTable(
    members: Fetched<Vec<Member>>,
    team: CurrentTeam,
    dialog: RwSignal<Option<MemberDialog>>,
) -> impl IntoView {
    let auth = use_auth();
    let me = Memo::new(move |_| auth.user().map(|u| u.id));
    let list = move || members.with(|m| m.as_ref().and_then(|r| r.as_ref().ok()).cloned().unwrap_or_default());
    let manages = move || permissions::read_invitations(&team.permissions());
    view! {
        <div class="table-wrap">
            <table class="data-table">
                <caption class="visually-hidden">"Members of the team"</caption>
                <thead>
                    <tr>
                        <th scope="col">"Name"</th>
                        <th scope="col">"Role"</th>
                        <th scope="col">"Joined"</th>
                        <th scope="col">"Last active"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    <For each=list key=|m| (m.user_id, m.role) let:member>
                        <MemberRow member me team dialog/>
                    </For>
                </tbody>
            </table>
        </div>
        <Show when=move || !manages()>
            <p class="hint">"Only owners and admins can change roles or invite people."</p>
        </Show>
    }
}

#[component]
fn MemberRow(
    member: Member,
    me: Memo<Option<Uuid>>,
    team: CurrentTeam,
    dialog: RwSignal<Option<MemberDialog>>,
) -> impl IntoView {
    let user_id = member.user_id;
    let is_me = move || me.get() == Some(user_id);
    // The member's role, and what the select shows: the role, or the one picked while the
    // dialog asks. The select is built again only when the choices change, so that the focus
    // can go back to it when the dialog closes.
    let role = RwSignal::new(member.role);
    let shown = RwSignal::new(member.role);
    let choices = Memo::new(move |_| permissions::role_choices(&team.permissions(), role.get()));
    let may_remove = move || !is_me() && permissions::remove_member(&team.permissions(), role.get());
    let name = member.name.clone();
    let label = format!("Role of {name}");
    let remove_label = format!("Remove {name}");
    let last_active = member.last_active_at;
    let for_dialogs = member.clone();
    view! {
        <tr>
            <td data-label="Name">
                <span class="member-name">{member.name.clone()}</span>
                {move || is_me().then(|| view! { <span class="badge">"You"</span> })}
                {(!is_me() && inactive(&member, format::now())).then(|| view! {
                    <span class="badge status-rolling" title="Remove inactive or departed members promptly: their access stays until you do.">
                        {format!("Inactive {INACTIVE_DAYS}+ days")}
                    </span>
                })}
                <span class="member-email">{member.email.clone()}</span>
            </td>
            <td data-label="Role">
                {
                    let member = for_dialogs.clone();
                    move || {
                        let choices = choices.get();
                        if choices.is_empty() {
                            view! {
                                <span class=move || format!("role-badge role-{}", role.get().as_str())>{move || role.get().label()}</span>
                            }.into_any()
                        } else {
                            let member = member.clone();
                            view! {
                                <select class="inline-select" aria-label=label.clone()
                                    prop:value=move || shown.get().as_str()
                                    on:change=move |ev| {
                                        if let Some(to) = Role::parse(&event_target_value(&ev)) && to != role.get_untracked() {
                                            shown.set(to);
                                            let member = Member { role: role.get_untracked(), ..member.clone() };
                                            dialog.set(Some(MemberDialog::ChangeRole { member, to, role, shown }));
                                        }
                                    }>
                                    {choices.into_iter().map(|r| view! {
                                        <option value=r.as_str() selected=r == role.get_untracked()>{r.label()}</option>
                                    }).collect_view()}
                                </select>
                            }.into_any()
                        }
                    }
                }
            </td>
            <td data-label="Joined"><time datetime=format::iso(member.joined_at)>{format::date(member.joined_at)}</time></td>
            <td data-label="Last active">
                {match last_active {
                    Some(at) => view! {
                        <time datetime=format::iso(at) title=format::date_time(at)>{format::relative(at, format::now())}</time>
                    }.into_any(),
                    None => view! { <span class="muted">"Never"</span> }.into_any(),
                }}
            </td>
            <td class="actions">
                {move || if is_me() {
                    view! {
                        <button type="button" class="button small secondary" on:click=move |_| dialog.set(Some(MemberDialog::Leave))>"Leave team"</button>
                    }.into_any()
                } else if may_remove() {
                    let member = for_dialogs.clone();
                    view! {
                        <button type="button" class="button small danger-outline" aria-label=remove_label.clone()
                            on:click=move |_| dialog.set(Some(MemberDialog::Remove(member.clone())))>"Remove"</button>
                    }.into_any()
                } else {
                    ().into_any()
                }}
            </td>
        </tr>
    }
}

/// Asks before changing a member's role, saying what they gain or lose.
#[component]
fn ChangeRoleDialog<F>(
    member: Member,
    to: Role,
    role: RwSignal<Role>,
    shown: RwSignal<Role>,
    on_close: F,
) -> impl IntoView
where
    F: Fn() + Clone + Send + Sync + 'static,
{
    let toasts = use_toasts();
    let auth = use_auth();
    let team = use_team();
    let team_id = team.id();
    let user_id = member.user_id;
    let me = auth.user().map(|u| u.id) == Some(user_id);
    let from = member.role;
    let name = member.name.clone();
    let change = Action::new_unsync(move |_: &()| async move {
        let updated = auth.call(move |t| api::change_role(t, team_id, user_id, to)).await?;
        // One's own new role changes what this page may offer.
        if me && let Ok(t) = auth.call(move |tok| api::team(tok, team_id)).await {
            team.set(t);
        }
        toasts.notify(format!("{} is now {}.", updated.name, updated.role.label().to_lowercase()));
        role.try_set(updated.role);
        Ok(())
    });
    // Not changed (Cancel, or the server refused): the row's select shows the role kept.
    let keep = on_close.clone();
    let on_close = move || {
        shown.try_set(role.get_untracked());
        keep();
    };
    let title = if me {
        format!("Change your role to {}?", to.label())
    } else {
        format!("Make {name} {}?", to.label().to_lowercase())
    };
    // What the change grants or takes away, from what each role may do (the server's table).
    let roles = LocalResource::new(move || auth.call(api::roles));
    let consequence = move || {
        let roles = roles.get()?.ok()?;
        let of = |role: Role| roles.items.iter().find(|r| r.role == role).map(|r| r.permissions.clone());
        Some(permissions::role_change_consequence(&name, me, to == Role::Owner, &of(from)?, &of(to)?))
    };
    // Granting owner, and taking rights away, are the changes to think twice about (a red button).
    let destructive = to == Role::Owner || to > from;
    let confirm_label = if me { "Change my role" } else { "Change role" };
    view! {
        <ConfirmDialog title confirm_label action=change on_close destructive>
            <p data-role-change="consequence">{move || consequence().unwrap_or_else(|| "Their access changes at once.".to_owned())}</p>
        </ConfirmDialog>
    }
}

#[component]
fn RemoveMemberDialog<F>(member: Member, members: Fetched<Vec<Member>>, on_close: F) -> impl IntoView
where
    F: Fn() + Clone + Send + Sync + 'static,
{
    let toasts = use_toasts();
    let auth = use_auth();
    let team = use_team();
    let team_id = team.id();
    let user_id = member.user_id;
    let name = member.name.clone();
    let remove = Action::new_unsync(move |_: &()| {
        let name = name.clone();
        async move {
            auth.call(move |t| api::remove_member(t, team_id, user_id)).await?;
            toasts.notify(format!("{name} was removed from the team."));
            Ok(())
        }
    });
    let row_goes = move || {
        members.update(|m| {
            if let Some(Ok(list)) = m {
                list.retain(|x| x.user_id != user_id);
            }
        })
    };
    let team_name = team.get().map(|t| t.name).unwrap_or_default();
    view! {
        <ConfirmDialog title=format!("Remove {}?", member.name) confirm_label="Remove member" action=remove on_close after=row_goes>
            <p>
                <strong>{member.name.clone()}</strong> " (" <span class="member-email">{member.email.clone()}</span>
                ") will lose access to " <strong>{team_name}</strong>
                " at once. API keys they created keep working, with read access only. You can invite them again later."
            </p>
        </ConfirmDialog>
    }
}

#[component]
fn LeaveTeamDialog<F>(on_close: F) -> impl IntoView
where
    F: Fn() + Clone + Send + Sync + 'static,
{
    let toasts = use_toasts();
    let auth = use_auth();
    let teams = use_teams();
    let team = use_team();
    let navigate = use_navigate();
    let team_id = team.id();
    let team_name = team.get().map(|t| t.name).unwrap_or_default();
    let team_name_left = team_name.clone();
    let leave = Action::new_unsync(move |_: &()| async move {
        let me = auth.user().map(|u| u.id).unwrap_or_default();
        auth.call(move |t| api::remove_member(t, team_id, me)).await
    });
    Effect::new(move |_| {
        if let Some(Ok(())) = leave.value().get() {
            toasts.notify(format!("You left {}.", team_name_left));
            teams.reload();
            navigate("/dashboard", NavigateOptions::default());
        }
    });
    view! {
        <ConfirmDialog title=format!("Leave {team_name}?") confirm_label="Leave team" action=leave on_close>
            <p>"You will lose access to the team at once. To come back, someone has to invite you again."</p>
        </ConfirmDialog>
    }
}

#[component]
fn InviteDialog<F, G>(on_close: F, on_invited: G) -> impl IntoView
where
    F: Fn() + Clone + Send + Sync + 'static,
    G: Fn(Invitation) + 'static,
{
    let auth = use_auth();
    let team = use_team();
    let team_id = team.id();
    let email = RwSignal::new(String::new());
    let role = RwSignal::new("member".to_owned());
    let message = RwSignal::new(String::new());
    let invite = Action::new_unsync(move |body: &CreateInvitationRequest| {
        let body = body.clone();
        async move { auth.call(move |t| api::invite(t, team_id, body.clone())).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(inv)) = invite.value().get() {
            on_invited(inv);
        }
    });
    let outcome = move || invite.value().get();
    let options: Vec<(String, String)> = permissions::invitable_roles(&team.permissions())
        .into_iter()
        .map(|r| (r.as_str().to_owned(), r.label().to_owned()))
        .collect();
    let on_submit = move |ev: SubmitEvent| {
        ev.prevent_default();
        let message = message.get_untracked().trim().to_owned();
        invite.dispatch(CreateInvitationRequest {
            email: email.get_untracked().trim().to_owned().into(),
            role: Role::parse(&role.get_untracked()).unwrap_or(Role::Member),
            message: (!message.is_empty()).then_some(message.into()),
        });
    };
    view! {
        <Modal title="Invite Team Member" on_close close_when=Signal::derive(move || matches!(invite.value().get(), Some(Ok(_))))>
            <form class="modal-body" on:submit=on_submit>
                <p class="muted">"We will e-mail them a link to join. It works once and expires after 7 days."</p>
                <FormAlert error=Signal::derive(move || outcome().and_then(Result::err)) fields=&["email", "role", "message"]/>
                <Field label="E-mail" name="email" kind="email" autocomplete="off" value=email error=field_error(outcome, "email")/>
                <SelectField label="Role" name="role" value=role options
                    hint="Admins manage members, invitations and API keys. Members can look but not change."
                    error=field_error(outcome, "role")/>
                <TextAreaField label="Personal message" name="message" maxlength=MESSAGE_MAX value=message
                    error=field_error(outcome, "message")/>
                <DialogButtons label="Send invitation" pending=invite.pending()/>
            </form>
        </Modal>
    }
}

#[component]
fn Invitations(version: RwSignal<u32>) -> impl IntoView {
    let toasts = use_toasts();
    let auth = use_auth();
    let team = use_team();
    let team_id = team.id();
    // Pending and earlier invitations, newest first, a page at a time.
    let invitations = paged(
        move || version.get(),
        move |_, cursor| async move { auth.call(move |t| api::invitations(t, team_id, cursor.clone())).await },
    );
    let resend = Action::new_unsync(move |id: &Uuid| {
        let id = *id;
        async move { auth.call(move |t| api::resend_invitation(t, team_id, id)).await }
    });
    Effect::new(move |_| {
        if let Some(Ok(inv)) = resend.value().get() {
            toasts.notify(format!("Invitation to {} sent again.", inv.email));
            version.update(|v| *v += 1);
        }
    });
    let revoking = RwSignal::new(None::<Invitation>);
    let resend_error = Signal::derive(move || resend.value().get().and_then(Result::err));
    view! {
        <section aria-labelledby="invitations-title" class="section">
            <h2 id="invitations-title">"Pending invitations"</h2>
            <ActionError error=resend_error/>
            {loaded(move || invitations.get(), "Loading invitations…", move |all: Vec<Invitation>| {
                let (pending, earlier): (Vec<_>, Vec<_>) =
                    all.into_iter().partition(|i| i.state == InvitationState::Pending);
                view! {
                    {if pending.is_empty() {
                        view! { <EmptyState><p>"No pending invitations."</p></EmptyState> }.into_any()
                    } else {
                        view! { <PendingTable pending resend revoking/> }.into_any()
                    }}
                    {(!earlier.is_empty()).then(|| view! { <EarlierInvitations earlier/> })}
                }
            })}
            <LoadMore list=invitations what="invitations"/>
        </section>
        {move || revoking.get().map(|invitation| view! { <RevokeInvitationDialog invitation revoking version/> })}
    }
}

#[component]
fn PendingTable(
    pending: Vec<Invitation>,
    resend: Action<Uuid, Result<Invitation, ApiError>>,
    revoking: RwSignal<Option<Invitation>>,
) -> impl IntoView {
    let team = use_team();
    let now = format::now();
    view! {
        <div class="table-wrap">
            <table class="data-table">
                <caption class="visually-hidden">"Pending invitations"</caption>
                <thead>
                    <tr>
                        <th scope="col">"E-mail"</th>
                        <th scope="col">"Role"</th>
                        <th scope="col">"Invited by"</th>
                        <th scope="col">"Expires"</th>
                        <th scope="col"><span class="visually-hidden">"Actions"</span></th>
                    </tr>
                </thead>
                <tbody>
                    {pending.into_iter().map(|inv| {
                        let id = inv.id;
                        let may_manage = move || permissions::manage_invitation(&team.permissions(), inv.role);
                        let sending = move || resend.pending().get() && resend.input().get() == Some(id);
                        let for_revoke = inv.clone();
                        let email = inv.email.clone();
                        view! {
                            <tr>
                                <td data-label="E-mail" class="wrap-anywhere" title=inv.email.clone()>{inv.email.clone()}</td>
                                <td data-label="Role">{inv.role.label()}</td>
                                <td data-label="Invited by" class="wrap-anywhere">{inv.invited_by_name.clone()}</td>
                                <td data-label="Expires">
                                    <time datetime=format::iso(inv.expires_at) title=format::date_time(inv.expires_at)>
                                        {format::relative(inv.expires_at, now)}
                                    </time>
                                </td>
                                <td class="actions">
                                    <Show when=may_manage>
                                        <button type="button" class="button small secondary" disabled=sending
                                            aria-label=format!("Resend invitation to {email}")
                                            on:click=move |_| { resend.dispatch(id); }>
                                            {move || if sending() { "Sending…" } else { "Resend" }}
                                        </button>
                                        <button type="button" class="button small danger-outline"
                                            aria-label=format!("Revoke invitation to {email}")
                                            on:click={
                                                let inv = for_revoke.clone();
                                                move |_| revoking.set(Some(inv.clone()))
                                            }>
                                            "Revoke"
                                        </button>
                                    </Show>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
}

#[component]
fn EarlierInvitations(earlier: Vec<Invitation>) -> impl IntoView {
    let count = earlier.len();
    view! {
        <details class="earlier">
            <summary>{format!("Earlier invitations ({count})")}</summary>
            <ul class="plain-list">
                {earlier.into_iter().map(|inv| view! {
                    <li>
                        <span>{inv.email.clone()}</span>
                        " · " {inv.role.label()} " · "
                        <span class=format!("state state-{}", inv.state.label().to_lowercase())>
                            {inv.state.label()}
                        </span>
                        " · " <span class="muted">{format!("sent {}", format::date(inv.created_at))}</span>
                    </li>
                }).collect_view()}
            </ul>
        </details>
    }
}

#[component]
fn RevokeInvitationDialog(
    invitation: Invitation,
    revoking: RwSignal<Option<Invitation>>,
    version: RwSignal<u32>,
) -> impl IntoView {
    let toasts = use_toasts();
    let auth = use_auth();
    let team_id = use_team().id();
    let id = invitation.id;
    let revoke =
        Action::new_unsync(
            move |_: &()| async move { auth.call(move |t| api::revoke_invitation(t, team_id, id)).await },
        );
    let email = invitation.email.clone();
    Effect::new(move |_| {
        if let Some(Ok(())) = revoke.value().get() {
            toasts.notify(format!("The invitation to {email} was revoked."));
            version.update(|v| *v += 1);
        }
    });
    view! {
        <ConfirmDialog title="Revoke invitation?" confirm_label="Revoke invitation" action=revoke
            on_close=move || revoking.set(None)>
            <p>"The link mailed to " <strong>{invitation.email.clone()}</strong> " will stop working."</p>
        </ConfirmDialog>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Duration};
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    fn members_are_inactive_after_ninety_days_without_activity() {
        // A fixed moment: `Utc::now` is not available in WebAssembly.
        let now = DateTime::from_timestamp(1_800_000_000, 0).unwrap();
        let member = |joined: i64, active: Option<i64>| Member {
            user_id: Uuid::nil(),
            name: "M".into(),
            email: "m@example.com".into(),
            role: Role::Member,
            joined_at: now - Duration::days(joined),
            last_active_at: active.map(|d| now - Duration::days(d)),
        };
        assert!(!inactive(&member(10, None), now), "joined recently, never active");
        assert!(inactive(&member(120, None), now), "joined long ago, never active");
        assert!(!inactive(&member(400, Some(89)), now));
        assert!(inactive(&member(400, Some(90)), now));
    }
}
